"""The master catalog: products, their variants, search and bulk edits.

Writes need MANAGE_CATALOG, reads READ. Every query filters on the caller's organization
explicitly (SQLite has no row-level security). Deleting is soft (`deleted_at`): a deleted
product keeps its handle and its variants keep their SKUs, so neither can be reused by
another product (the importer restores a deleted product when its handle comes back).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storesync.catalog.bulk import _slug, org_currency
from storesync.catalog.changes import bulk_snapshot, plain, record_bulk, record_variant
from storesync.catalog.errors import HandleTaken, SkuTaken
from storesync.catalog.models import Product, ProductVariant
from storesync.catalog.schemas import (
    PRODUCT_RULES,
    PRODUCT_STATUSES,
    VARIANT_RULES,
    BulkItemResult,
    BulkResult,
    BulkUpdateItem,
    ProductDTO,
    ProductUpdate,
    VariantDTO,
    VariantInput,
    VariantUpdate,
    check_fields,
    clean_fields,
    image_entry,
    status_problem,
)
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, NotFound, ValidationFailed
from storesync.core.pagination import (
    Page,
    clamp_limit,
    contains_pattern,
    decode_cursor,
    encode_cursor,
)
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

MAX_BULK_ITEMS = 5000


def _get_product(session: Session, ctx: RequestContext, product_id: uuid.UUID) -> Product:
    product = session.exec(
        select(Product).where(
            Product.id == product_id,
            Product.organization_id == ctx.organization_id,
            col(Product.deleted_at).is_(None),
        )
    ).first()
    if product is None:
        raise NotFound("product", product_id)
    return product


def load_product(session: Session, *, ctx: RequestContext, product_id: uuid.UUID) -> Product:
    """The product row (not deleted) of the caller's organization, for the catalog's own
    modules; `NotFound` otherwise."""
    return _get_product(session, ctx, product_id)


def handle_from_title(session: Session, *, ctx: RequestContext, title: str) -> str:
    """A free handle made from `title`: its slug, else the slug numbered from 2 (deleted
    products keep their handles, so those count as taken)."""
    base = _slug(title)[:110].strip("-") or "product"
    taken = set(
        session.exec(
            select(Product.handle).where(
                Product.organization_id == ctx.organization_id,
                col(Product.handle).startswith(base, autoescape=True),
            )
        ).all()
    )
    handle, number = base, 2
    while handle in taken:
        handle, number = f"{base}-{number}", number + 1
    return handle


def _get_variant(session: Session, ctx: RequestContext, variant_id: uuid.UUID) -> ProductVariant:
    variant = session.exec(
        select(ProductVariant).where(
            ProductVariant.id == variant_id,
            ProductVariant.organization_id == ctx.organization_id,
            col(ProductVariant.deleted_at).is_(None),
        )
    ).first()
    if variant is None:
        raise NotFound("variant", variant_id)
    return variant


def _ensure_sku_free(
    session: Session, ctx: RequestContext, sku: str, *, except_id: uuid.UUID | None = None
) -> None:
    taken = session.exec(
        select(ProductVariant.id, Product.handle)
        .join(Product, col(Product.id) == col(ProductVariant.product_id))
        .where(
            ProductVariant.organization_id == ctx.organization_id,
            ProductVariant.variant_sku == sku,
        )
    ).first()
    if taken is not None and taken[0] != except_id:
        raise SkuTaken(sku=sku, variant_id=taken[0], handle=taken[1])


def _ensure_handle_free(
    session: Session, ctx: RequestContext, handle: str, *, except_id: uuid.UUID | None = None
) -> None:
    taken = session.exec(
        select(Product.id, Product.deleted_at).where(
            Product.organization_id == ctx.organization_id, Product.handle == handle
        )
    ).first()
    if taken is not None and taken[0] != except_id:
        raise HandleTaken(handle=handle, product_id=taken[0], deleted=taken[1] is not None)


def _variants_of(
    session: Session, ctx: RequestContext, product_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[VariantDTO]]:
    rows = session.exec(
        select(ProductVariant)
        .where(
            ProductVariant.organization_id == ctx.organization_id,
            col(ProductVariant.product_id).in_(product_ids),
            col(ProductVariant.deleted_at).is_(None),
        )
        .order_by(col(ProductVariant.variant_sku))
    ).all()
    grouped: dict[uuid.UUID, list[VariantDTO]] = {pid: [] for pid in product_ids}
    for row in rows:
        grouped[row.product_id].append(VariantDTO.model_validate(row))
    return grouped


def _product_dto(session: Session, ctx: RequestContext, product: Product) -> ProductDTO:
    variants = _variants_of(session, ctx, [product.id])[product.id]
    return ProductDTO.model_validate(product).model_copy(update={"variants": variants})


def _new_variant(
    ctx: RequestContext, product_id: uuid.UUID, variant: VariantInput, currency: str
) -> ProductVariant:
    values = clean_fields(variant.model_dump())
    values["currency"] = values["currency"] or currency
    check_fields(VARIANT_RULES, values)
    sku = values.pop("sku")
    return ProductVariant(
        organization_id=ctx.organization_id, product_id=product_id, variant_sku=sku, **values
    )


def create_product(
    session: Session,
    *,
    ctx: RequestContext,
    title: str,
    handle: str = "",
    description: str = "",
    brand: str = "",
    category: str = "",
    status: str = "active",
    attributes: Mapping[str, Any] | None = None,
    images: Sequence[str] = (),
    variants: Sequence[VariantInput] = (),
    sku: str | None = None,
) -> ProductDTO:
    """Create a product with its variants. A blank `handle` is made from the title (numbered
    when taken); a given one must be free. With no `variants`, it gets one default variant whose
    SKU is `sku` or the handle upper-cased. Raises `ValidationFailed` naming the field,
    `HandleTaken` / `SkuTaken` on conflicts, and writes nothing then. Needs MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    if not handle.strip() and title.strip():
        handle = handle_from_title(session, ctx=ctx, title=title)
    fields = clean_fields({"handle": handle, "title": title, "brand": brand, "category": category})
    check_fields(PRODUCT_RULES, {**fields, "status": status, "images": list(images)})
    wanted = list(variants) or [VariantInput(sku=(sku or fields["handle"].upper()))]
    skus = [v.sku.strip() for v in wanted]
    duplicate = next((s for s in skus if skus.count(s) > 1), None)
    if duplicate is not None:
        raise ValidationFailed("sku", f"{duplicate!r} is given twice", sku=duplicate)
    _ensure_handle_free(session, ctx, fields["handle"])
    product = Product(
        organization_id=ctx.organization_id,
        description=description,
        status=status,
        attributes=dict(attributes or {}),
        images=list(images),
        **fields,
    )
    currency = org_currency(session, ctx)
    rows = [_new_variant(ctx, product.id, v, currency) for v in wanted]
    for row in rows:
        _ensure_sku_free(session, ctx, row.variant_sku)
    session.add(product)
    session.flush()
    session.add_all(rows)
    record(
        session,
        ctx=ctx,
        action="product.create",
        entity_type="product",
        entity_id=product.id,
        after={
            "handle": product.handle,
            "title": product.title,
            "status": product.status,
            "skus": [row.variant_sku for row in rows],
        },
    )
    session.flush()
    return _product_dto(session, ctx, product)


def update_product(
    session: Session, *, ctx: RequestContext, product_id: uuid.UUID, changes: ProductUpdate
) -> ProductDTO:
    """Apply the fields set in `changes` (a new handle must be free). `images` (URLs) replaces
    the images known by URL only; stored images change through `catalog.images`. Needs
    MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    values = clean_fields(changes.model_dump(exclude_unset=True))
    empty: dict[str, Any] = {"attributes": {}, "images": [], "description": ""}
    for field, value in values.items():
        if value is None and field not in empty:
            raise ValidationFailed(field, "must not be empty")
        values[field] = empty[field] if value is None else value
    check_fields(PRODUCT_RULES, values)
    product = _get_product(session, ctx, product_id)
    if "handle" in values and values["handle"] != product.handle:
        _ensure_handle_free(session, ctx, values["handle"], except_id=product.id)
    if "images" in values:
        stored = [i for i in product.images or [] if isinstance(i, dict) and i.get("key")]
        values["images"] = stored + list(values["images"])
    if "attributes" in values:
        values["attributes"] = _clean_attributes(values["attributes"])
    before = {field: getattr(product, field) for field in values}
    for field, value in values.items():
        setattr(product, field, value)
    product.updated_at = utcnow()
    record(
        session,
        ctx=ctx,
        action="product.update",
        entity_type="product",
        entity_id=product.id,
        before=before,
        after=values,
    )
    session.add(product)
    session.flush()
    return _product_dto(session, ctx, product)


MAX_ATTRIBUTES = 50


def _clean_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attribute names trimmed and non-empty, at most 50, names and values bounded."""
    cleaned: dict[str, Any] = {}
    for name, value in attributes.items():
        key = str(name).strip()
        if not key:
            raise ValidationFailed("attributes", "an attribute needs a name")
        if len(key) > 100 or len(str(value)) > 1000:
            raise ValidationFailed("attributes", f"{key[:100]!r} is too long", name=key[:100])
        cleaned[key] = value.strip() if isinstance(value, str) else value
    if len(cleaned) > MAX_ATTRIBUTES:
        raise ValidationFailed("attributes", f"at most {MAX_ATTRIBUTES} attributes")
    return cleaned


def delete_product(session: Session, *, ctx: RequestContext, product_id: uuid.UUID) -> ProductDTO:
    """Soft-delete a product and its variants (handle and SKUs stay reserved). Needs
    MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    product = _get_product(session, ctx, product_id)
    now = utcnow()
    product.deleted_at = now
    product.updated_at = now
    session.add(product)
    record(
        session,
        ctx=ctx,
        action="product.delete",
        entity_type="product",
        entity_id=product.id,
        before={"handle": product.handle, "title": product.title, "status": product.status},
    )
    session.execute(
        sa.update(ProductVariant)
        .where(
            col(ProductVariant.organization_id) == ctx.organization_id,
            col(ProductVariant.product_id) == product.id,
            col(ProductVariant.deleted_at).is_(None),
        )
        .values(deleted_at=now, updated_at=now)
    )
    session.flush()
    return ProductDTO.model_validate(product)


def create_variant(
    session: Session, *, ctx: RequestContext, product_id: uuid.UUID, variant: VariantInput
) -> VariantDTO:
    """Add a variant to a product; its SKU must be unused in the organization (`SkuTaken`).
    Needs MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    product = _get_product(session, ctx, product_id)
    row = _new_variant(ctx, product.id, variant, org_currency(session, ctx))
    _ensure_sku_free(session, ctx, row.variant_sku)
    session.add(row)
    session.flush()
    record(
        session,
        ctx=ctx,
        action="variant.create",
        entity_type="variant",
        entity_id=row.id,
        after={
            "sku": row.variant_sku,
            "product_handle": product.handle,
            "price": plain(row.price),
            "currency": row.currency,
        },
    )
    return VariantDTO.model_validate(row)


def update_variant(
    session: Session, *, ctx: RequestContext, variant_id: uuid.UUID, changes: VariantUpdate
) -> VariantDTO:
    """Apply the fields set in `changes`; a new SKU must be unused (`SkuTaken`). Needs
    MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    values = clean_fields(changes.model_dump(exclude_unset=True))
    nullable = {"price", "cost", "weight_grams", "length_mm", "width_mm", "height_mm"}
    for field, value in values.items():
        if value is None and field not in nullable:
            raise ValidationFailed(field, "must not be empty")
    check_fields(VARIANT_RULES, values)
    variant = _get_variant(session, ctx, variant_id)
    if values.get("image_id"):
        _require_image(session, ctx, variant.product_id, values["image_id"])
    if "sku" in values and values["sku"] != variant.variant_sku:
        _ensure_sku_free(session, ctx, values["sku"], except_id=variant.id)
    if "sku" in values:
        values["variant_sku"] = values.pop("sku")
    before = {field: getattr(variant, field) for field in values}
    for field, value in values.items():
        setattr(variant, field, value)
    variant.updated_at = utcnow()
    record_variant(session, ctx, variant, before)
    session.add(variant)
    session.flush()
    return VariantDTO.model_validate(variant)


def _require_image(
    session: Session, ctx: RequestContext, product_id: uuid.UUID, image_id: str
) -> None:
    product = _get_product(session, ctx, product_id)
    if image_id not in {image_entry(raw)["id"] for raw in product.images or []}:
        raise ValidationFailed("image_id", "is not one of this product's images")


def get_product(session: Session, *, ctx: RequestContext, product_id: uuid.UUID) -> ProductDTO:
    """A product with its variants (ordered by SKU); `NotFound` when absent or deleted."""
    ctx.require(Permission.READ)
    return _product_dto(session, ctx, _get_product(session, ctx, product_id))


def list_products(
    session: Session,
    *,
    ctx: RequestContext,
    search: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ProductDTO]:
    """Non-deleted products ordered by handle, keyset-paginated, each with its variants.
    `search` matches title, handle or a variant's SKU (case-insensitive substring); `status`
    filters on active / draft / archived."""
    ctx.require(Permission.READ)
    size = clamp_limit(limit)
    query = select(Product).where(
        Product.organization_id == ctx.organization_id, col(Product.deleted_at).is_(None)
    )
    if status is not None:
        if status not in PRODUCT_STATUSES:
            raise ValidationFailed("status", status_problem(status) or "")
        query = query.where(Product.status == status)
    if search and search.strip():
        pattern = contains_pattern(search.strip())
        sku_match = (
            select(ProductVariant.id)
            .where(
                col(ProductVariant.product_id) == col(Product.id),
                ProductVariant.organization_id == ctx.organization_id,
                col(ProductVariant.deleted_at).is_(None),
                col(ProductVariant.variant_sku).ilike(pattern, escape="\\"),
            )
            .exists()
        )
        query = query.where(
            sa.or_(
                col(Product.title).ilike(pattern, escape="\\"),
                col(Product.handle).ilike(pattern, escape="\\"),
                sku_match,
            )
        )
    if cursor:
        (after,) = decode_cursor(cursor, parts=1)
        query = query.where(col(Product.handle) > (after or ""))
    rows = session.exec(query.order_by(col(Product.handle)).limit(size + 1)).all()
    page = list(rows[:size])
    variants = _variants_of(session, ctx, [p.id for p in page])
    items = [
        ProductDTO.model_validate(p).model_copy(update={"variants": variants[p.id]}) for p in page
    ]
    next_cursor = encode_cursor(page[-1].handle) if len(rows) > size else None
    return Page[ProductDTO](items=items, next_cursor=next_cursor)


def _item_error(index: int, ref: str, error: AppError) -> BulkItemResult:
    return BulkItemResult(index=index, ref=ref, ok=False, code=error.code, message=error.message)


def _bulk_targets(
    session: Session, ctx: RequestContext, items: Sequence[BulkUpdateItem]
) -> tuple[dict[str, ProductVariant], dict[str, Product], dict[uuid.UUID, list[ProductVariant]]]:
    skus = {i.sku.strip() for i in items if i.sku}
    handles = {i.handle.strip() for i in items if i.handle}
    live_variant = (
        ProductVariant.organization_id == ctx.organization_id,
        col(ProductVariant.deleted_at).is_(None),
    )
    by_sku = {
        v.variant_sku: v
        for v in session.exec(
            select(ProductVariant).where(*live_variant, col(ProductVariant.variant_sku).in_(skus))
        )
    }
    by_handle = {
        p.handle: p
        for p in session.exec(
            select(Product).where(
                Product.organization_id == ctx.organization_id,
                col(Product.deleted_at).is_(None),
                col(Product.handle).in_(handles),
            )
        )
    }
    of_product: dict[uuid.UUID, list[ProductVariant]] = {p.id: [] for p in by_handle.values()}
    for v in session.exec(
        select(ProductVariant).where(
            *live_variant, col(ProductVariant.product_id).in_(list(of_product))
        )
    ):
        of_product[v.product_id].append(by_sku.get(v.variant_sku, v))
    return by_sku, by_handle, of_product


def _apply_bulk_item(
    item: BulkUpdateItem,
    by_sku: Mapping[str, ProductVariant],
    by_handle: Mapping[str, Product],
    of_product: Mapping[uuid.UUID, list[ProductVariant]],
) -> list[uuid.UUID]:
    """Apply one item; returns the variants whose price it set."""
    if bool(item.sku) == bool(item.handle):
        raise ValidationFailed("sku", "give exactly one of sku (a variant) or handle (a product)")
    changes = item.model_dump(include={"price", "cost", "is_active"}, exclude_unset=True)
    if not changes and item.attributes is None:
        raise ValidationFailed("item", "nothing to change")
    if changes.get("is_active", False) is None:
        raise ValidationFailed("is_active", "must be true or false")
    check_fields(VARIANT_RULES, changes)
    now = utcnow()
    if item.sku:
        if item.attributes is not None:
            raise ValidationFailed("attributes", "belong to a product: aim the item at its handle")
        variant = by_sku.get(item.sku.strip())
        if variant is None:
            raise NotFound("variant", item.sku)
        targets = [variant]
    else:
        product = by_handle.get((item.handle or "").strip())
        if product is None:
            raise NotFound("product", item.handle)
        targets = of_product[product.id]
        if item.attributes is not None:
            merged = {**product.attributes, **item.attributes}
            product.attributes = {k: v for k, v in merged.items() if v is not None}
            product.updated_at = now
    for variant in targets:
        for field, value in changes.items():
            setattr(variant, field, value)
        variant.updated_at = now
    return [v.id for v in targets] if "price" in changes else []


def bulk_update(
    session: Session, *, ctx: RequestContext, items: Sequence[BulkUpdateItem]
) -> BulkResult:
    """Change price, cost, active flag and attributes of many variants/products in the caller's
    transaction. Each item is checked on its own: a bad item (unknown SKU, negative price...) is
    reported with its code and message and the others still apply. All good items are written
    in one flush. Needs MANAGE_CATALOG; at most 5,000 items per call."""
    ctx.require(Permission.MANAGE_CATALOG)
    if len(items) > MAX_BULK_ITEMS:
        raise ValidationFailed("items", f"at most {MAX_BULK_ITEMS} items per call")
    by_sku, by_handle, of_product = _bulk_targets(session, ctx, items)
    # What a person's edit may change, before it does: the audit log keeps what it changed.
    before = bulk_snapshot(by_sku, by_handle, of_product) if ctx.is_person_or_key else {}
    results: list[BulkItemResult] = []
    repriced: list[uuid.UUID] = []
    for index, item in enumerate(items):
        ref = (item.sku or item.handle or "").strip()
        try:
            repriced += _apply_bulk_item(item, by_sku, by_handle, of_product)
        except AppError as error:
            results.append(_item_error(index, ref, error))
            continue
        results.append(BulkItemResult(index=index, ref=ref, ok=True))
    if before:
        record_bulk(session, ctx, before, bulk_snapshot(by_sku, by_handle, of_product))
    session.flush()
    failed = sum(1 for r in results if not r.ok)
    return BulkResult(
        items=results,
        succeeded=len(results) - failed,
        failed=failed,
        repriced_variant_ids=sorted(set(repriced)),
    )
