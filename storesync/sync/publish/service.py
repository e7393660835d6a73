"""Publish a master product (its active variants) as a new listing on a store, and keep the
listings' content in step with the master product.

Publishing, for one product and store: the category's attributes and rules (cached per store),
the draft built from the master product and the merchant's form (category, attribute values,
logistics channels, the package when the variants do not give it), every check the platform
would make done first (`checks.problems`, naming the field), then the images uploaded through
the platform's media endpoint, the listing created, its listings linked to the master SKUs and
their stock queued for a push at once. A `Publication` row, claimed before any call, makes two
publishes of the same product to one store at once create one listing.
"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections.abc import Collection, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from PIL import Image
from pydantic import Field
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storesync.catalog.models import Product
from storesync.catalog.schemas import ProductDTO, VariantDTO
from storesync.catalog.service import get_product
from storesync.channels.adapter import PlatformAdapter
from storesync.channels.connections import load_store, open_adapter
from storesync.channels.models import ChannelListing, Store
from storesync.channels.schemas import (
    CategoryDetail,
    ContentUpdate,
    DraftAttribute,
    DraftVariant,
    ListingDraft,
    PublishedListing,
)
from storesync.core.clock import utcnow
from storesync.core.errors import (
    AppError,
    ErrorType,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from storesync.core.ids import new_id
from storesync.core.models import rows_changed, table_of
from storesync.core.schemas import DTO
from storesync.db import session_scope
from storesync.inventory.items import touch
from storesync.settings import Settings
from storesync.storage import Storage, get_storage
from storesync.sync.jobs.progress import ProgressSink, no_progress
from storesync.sync.jobs.schemas import JobKind
from storesync.sync.jobs.service import JobActive, start_job
from storesync.sync.models import Publication
from storesync.sync.prices.rules import price_for, stored_rule
from storesync.sync.publish.categories import category_detail
from storesync.sync.publish.checks import Problem, problems
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

log = logging.getLogger(__name__)

LISTINGS = table_of(ChannelListing)
PUBLICATIONS = table_of(Publication)
MAX_FAILURES = 200
JPEG_QUALITY = 90
# Products a publish job sends at once: the platform calls of one product follow each other, so a
# few in flight keep the store's rate limit, not the round trips, the bound.
PARALLEL_PRODUCTS = 4
# A publish still claimed after this long stopped without a word (its process ended): publishing
# again takes it over (the listing may exist: the failed publish's message says to check).
STALE_CLAIM = timedelta(minutes=15)


class PublishForm(DTO):
    """What the merchant chooses for a store: the platform's category, its attribute values,
    Shopee's logistics channels, and the package when the variants do not give it."""

    category_id: str = Field(min_length=1, max_length=64)
    attributes: list[DraftAttribute] = []
    logistics_ids: list[str] = []
    weight_grams: int | None = Field(default=None, ge=0, le=1_000_000)
    length_cm: int | None = Field(default=None, ge=0, le=1000)
    width_cm: int | None = Field(default=None, ge=0, le=1000)
    height_cm: int | None = Field(default=None, ge=0, le=1000)


class PublishOutcome(DTO):
    product_id: uuid.UUID
    title: str
    ok: bool
    platform_item_id: str = ""
    listings: int = 0
    field: str = ""
    message: str = ""


class PreparedListing(DTO):
    """A draft with its images still as bytes (uploaded only once every check passed)."""

    product: ProductDTO
    draft: ListingDraft
    images: list[tuple[str, bytes]]  # (master image id, JPEG bytes)
    problems: list[Problem]


class PublicationDTO(DTO):
    store_id: uuid.UUID
    product_id: uuid.UUID
    status: str
    platform_item_id: str
    category_id: str
    title_override: str
    description_override: str
    error: str


# -- the draft -----------------------------------------------------------------------------------


def prepare(
    session: Session,
    *,
    ctx: RequestContext,
    store: Store,
    product_id: uuid.UUID,
    form: PublishForm,
    detail: CategoryDetail,
    storage: Storage | None = None,
) -> PreparedListing:
    """The listing the product would become on `store` and what the platform would refuse in
    it (nothing is sent)."""
    product = get_product(session, ctx=ctx, product_id=product_id)
    variants = [v for v in product.variants if v.is_active]
    rule = stored_rule(store.settings)
    found: list[Problem] = []
    drafted: list[DraftVariant] = []
    options = _options(variants)
    for variant, chosen in zip(variants, options, strict=True):
        if variant.price is None:
            found.append(Problem(field=f"variants.{variant.sku}.price", message="has no price"))
            continue
        price, problem = price_for(rule, variant.price, variant.cost, variant.currency)
        if problem:
            found.append(Problem(field=f"variants.{variant.sku}.price", message=problem))
        # The stock is pushed right after the listing exists (the outbox sends the store's
        # share of what is available), so the listing is created with none.
        drafted.append(DraftVariant(sku=variant.sku, options=chosen, price=price, quantity=0))
    weight = form.weight_grams or max((v.weight_grams or 0 for v in variants), default=0)
    images = _images(product, storage)
    draft = ListingDraft(
        title=product.title,
        description=product.description,
        category_id=form.category_id,
        currency=variants[0].currency if variants else "IDR",
        images=[],
        attributes=form.attributes,
        variants=drafted,
        weight_grams=weight,
        length_cm=form.length_cm or _largest_cm(variants, "length_mm"),
        width_cm=form.width_cm or _largest_cm(variants, "width_mm"),
        height_cm=form.height_cm or _largest_cm(variants, "height_mm"),
        logistics_ids=form.logistics_ids,
    )
    found.extend(problems(draft, detail, [len(data) for _, data in images]))
    return PreparedListing(product=product, draft=draft, images=images, problems=found)


def _options(variants: Sequence[VariantDTO]) -> list[dict[str, str]]:
    """Each variant's options as the channel's variations: its own options (in the first
    variant's order); a product whose variants have none sells them by name."""
    if len(variants) <= 1:
        return [dict(v.options) for v in variants]
    names = list(variants[0].options)
    if names and all(list(v.options) == names for v in variants):
        return [dict(v.options) for v in variants]
    return [{"Variant": v.name or v.sku} for v in variants]


def _largest_cm(variants: Sequence[VariantDTO], attribute: str) -> int:
    largest = max((getattr(v, attribute) or 0 for v in variants), default=0)
    return -(-largest // 10)  # millimetres to whole centimetres, rounded up


def _images(
    product: ProductDTO, storage: Storage | None, sent: Collection[str] = ()
) -> list[tuple[str, bytes]]:
    """The product's stored images as JPEG (the one format every platform takes), main first,
    but those already `sent`; an image known only by its URL is not sent."""
    store = storage if storage is not None else get_storage()
    found = []
    for image in product.gallery:
        if not image.key or image.id in sent:
            continue
        stored = store.get(image.key)
        found.append((image.id, _jpeg(stored.data)))
    return found


def _jpeg(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as opened:
        out = io.BytesIO()
        opened.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY)
        return out.getvalue()


def refuse(found: Sequence[Problem]) -> None:
    """`ValidationFailed` naming the first problem's field, with every problem in details."""
    if found:
        first = found[0]
        raise ValidationFailed(
            first.field,
            first.message,
            problems=[p.model_dump() for p in found],
        )


# -- publishing ----------------------------------------------------------------------------------


async def check_publish(
    ctx: RequestContext,
    *,
    store_id: uuid.UUID,
    product_ids: Sequence[uuid.UUID],
    form: PublishForm,
    settings: Settings | None = None,
    engine: Engine | None = None,
    storage: Storage | None = None,
) -> dict[uuid.UUID, list[Problem]]:
    """What the platform would refuse for each product (empty lists: all may be published);
    asks the platform for the category when it is not cached. Needs MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    detail = await category_detail(
        ctx, store_id, form.category_id, settings=settings, engine=engine
    )
    with session_scope(ctx, engine=engine) as session:
        store = load_store(session, ctx, store_id)
        return {
            product_id: prepare(
                session,
                ctx=ctx,
                store=store,
                product_id=product_id,
                form=form,
                detail=detail,
                storage=storage,
            ).problems
            for product_id in product_ids
        }


async def publish_product(
    ctx: RequestContext,
    *,
    store_id: uuid.UUID,
    product_id: uuid.UUID,
    form: PublishForm,
    settings: Settings | None = None,
    engine: Engine | None = None,
    storage: Storage | None = None,
    adapter: PlatformAdapter | None = None,
) -> PublishOutcome:
    """List the product on the store. Refused before any call (`ValidationFailed` naming the
    field) when a check fails, when the product is already published there (`published`) or
    being published (`publishing`); the platform's own refusal is raised with its message (and
    its field in `details["field"]` when it names one) and the publication kept as failed, so
    publishing again retries it. Needs MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    detail = await category_detail(
        ctx, store_id, form.category_id, settings=settings, engine=engine
    )
    with session_scope(ctx, engine=engine) as session:
        store = load_store(session, ctx, store_id)
        if store.status != "connected":
            raise ValidationFailed("store_id", f"store {store.name} is not connected")
        prepared = prepare(
            session,
            ctx=ctx,
            store=store,
            product_id=product_id,
            form=form,
            detail=detail,
            storage=storage,
        )
        refuse(prepared.problems)
    # The claim in a transaction of its own that begins with the write lock (SQLite): after the
    # reads above (images converted, checks run) a commit of another connection made the claim
    # fail ("database is locked"), and holding the lock through them would stall every writer.
    with session_scope(ctx, engine=engine, write_lock=True) as session:
        publication_id = _claim(session, ctx, store_id, product_id, form)
        own = adapter is None
        if own:
            adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
    assert adapter is not None
    try:
        uploaded = {}
        for image_id, data in prepared.images:
            image = await adapter.upload_image(data, f"{image_id}.jpg")
            uploaded[image_id] = image.image_id
        draft = prepared.draft.model_copy(update={"images": list(uploaded.values())})
        listing = await adapter.publish(draft)
    except AppError as error:
        _failed(ctx, engine, publication_id, error.message)
        raise
    except BaseException as error:  # cancelled, or a fault of ours: nothing is left claimed
        _failed(ctx, engine, publication_id, f"interrupted ({type(error).__name__})")
        raise
    finally:
        if own:
            await adapter.connection.http.client.aclose()
    published = {
        "status": "published",
        "platform_item_id": listing.platform_item_id,
        "images": uploaded,
        "error": "",
        "published_at": utcnow(),
        "content_pushed_at": utcnow(),
    }
    try:
        with session_scope(ctx, engine=engine) as session:
            count = _link(session, ctx, store, prepared, listing)
            session.execute(
                sa.update(PUBLICATIONS)
                .where(PUBLICATIONS.c.id == publication_id)
                .values(**published)
            )
            _record_publish(session, ctx, store, product_id, form, listing, count)
    except Exception:
        # The listing exists on the channel: keep that (so it is never published twice); an
        # import of the store's products links its SKUs.
        unlinked = "listed, but its SKUs could not be linked: import the store's products"
        with session_scope(ctx, engine=engine) as session:
            session.execute(
                sa.update(PUBLICATIONS)
                .where(PUBLICATIONS.c.id == publication_id)
                .values(**{**published, "error": unlinked})
            )
        raise
    return PublishOutcome(
        product_id=product_id,
        title=prepared.product.title,
        ok=True,
        platform_item_id=listing.platform_item_id,
        listings=count,
    )


def _record_publish(
    session: Session,
    ctx: RequestContext,
    store: Store,
    product_id: uuid.UUID,
    form: PublishForm,
    listing: PublishedListing,
    count: int,
) -> None:
    record(
        session,
        ctx=ctx,
        action="listing.publish",
        entity_type="product",
        entity_id=product_id,
        after={
            "store": store.name,
            "platform_item_id": listing.platform_item_id,
            "category_id": form.category_id,
            "listings": count,
        },
    )


def _claim(
    session: Session,
    ctx: RequestContext,
    store_id: uuid.UUID,
    product_id: uuid.UUID,
    form: PublishForm,
) -> uuid.UUID:
    """The product's publication on the store, taken for this publish (committed before any
    platform call): a new row, or one taken again: failed, or claimed by a publish that stopped
    (its process ended) over `STALE_CLAIM` ago. `ValidationFailed` when it is published or
    being published."""
    now = utcnow()
    values = {
        "claimed_at": now,
        "status": "publishing",
        "category_id": form.category_id,
        "attributes": [a.model_dump(mode="json") for a in form.attributes],
        "logistics_ids": list(form.logistics_ids),
        "error": "",
        "published_by": ctx.user_id,
    }
    retaken = session.execute(
        sa.update(PUBLICATIONS)
        .where(
            PUBLICATIONS.c.organization_id == ctx.organization_id,
            PUBLICATIONS.c.store_id == store_id,
            PUBLICATIONS.c.product_id == product_id,
            sa.or_(
                PUBLICATIONS.c.status == "failed",
                sa.and_(
                    PUBLICATIONS.c.status == "publishing",
                    PUBLICATIONS.c.claimed_at < now - STALE_CLAIM,
                ),
            ),
        )
        .values(**values)
        .returning(PUBLICATIONS.c.id)
    ).scalar_one_or_none()
    if retaken is not None:
        session.commit()
        return retaken
    row_id = new_id()
    try:
        with session.begin_nested():
            session.execute(
                sa.insert(PUBLICATIONS).values(
                    id=row_id,
                    organization_id=ctx.organization_id,
                    created_at=now,
                    store_id=store_id,
                    product_id=product_id,
                    **values,
                )
            )
    except sa.exc.IntegrityError:
        status = session.execute(
            sa.select(PUBLICATIONS.c.status).where(
                PUBLICATIONS.c.organization_id == ctx.organization_id,
                PUBLICATIONS.c.store_id == store_id,
                PUBLICATIONS.c.product_id == product_id,
            )
        ).scalar_one_or_none()
        if status == "published":
            raise ValidationFailed("product_id", "is already published on this store") from None
        raise ValidationFailed("product_id", "is being published on this store right now") from None
    session.commit()
    return row_id


def _failed(
    ctx: RequestContext, engine: Engine | None, publication_id: uuid.UUID, message: str
) -> None:
    with session_scope(ctx, engine=engine) as session:
        session.execute(
            sa.update(PUBLICATIONS)
            .where(PUBLICATIONS.c.id == publication_id)
            .values(status="failed", error=message[:2000])
        )


def _link(
    session: Session,
    ctx: RequestContext,
    store: Store,
    prepared: PreparedListing,
    listing: PublishedListing,
) -> int:
    """One matched listing per published variant, linked to its master variant, and their
    stock queued for a push when the transaction commits."""
    by_sku = {v.sku: v for v in prepared.product.variants}
    drafted = {v.sku: v for v in prepared.draft.variants}
    now = utcnow()
    rows = []
    for published in listing.variants:
        variant = by_sku.get(published.sku)
        if variant is None:
            log.warning("published SKU %s is not a variant of the product", published.sku)
            continue
        draft = drafted[published.sku]
        rows.append(
            {
                "id": new_id(),
                "organization_id": ctx.organization_id,
                "created_at": now,
                "store_id": store.id,
                "variant_id": variant.id,
                "match_status": "matched",
                "match_method": "published",
                "match_confidence": Decimal(1),
                "platform_item_id": listing.platform_item_id,
                "platform_model_id": published.platform_model_id,
                "platform_sku": published.sku,
                "title": prepared.draft.title[:255],
                "model_name": ", ".join(draft.options.values())[:255],
                "status": "active",
                "price": draft.price,
                "currency": prepared.draft.currency,
                "channel_quantity": 0,
                "raw": {},
                "updated_at": now,
            }
        )
    if rows:
        session.execute(sa.insert(LISTINGS), rows)
        touch(
            session,
            [variant_id for r in rows if isinstance(variant_id := r["variant_id"], uuid.UUID)],
        )
    return len(rows)


def start_publish(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    product_ids: Sequence[uuid.UUID],
    form: PublishForm,
) -> uuid.UUID:
    """Queue a publish job for the products (live progress, a result per product). Needs
    MANAGE_CATALOG and RUN_SYNC."""
    ctx.require(Permission.MANAGE_CATALOG)
    job = start_job(
        session,
        ctx=ctx,
        store_id=store_id,
        kind=JobKind.PUBLISH.value,
        params={
            "product_ids": [str(p) for p in product_ids],
            "form": form.model_dump(mode="json"),
        },
    )
    return job.id


async def publish_products(
    ctx: RequestContext,
    *,
    store_id: uuid.UUID,
    product_ids: Sequence[uuid.UUID],
    form: PublishForm,
    settings: Settings | None = None,
    engine: Engine | None = None,
    progress: ProgressSink = no_progress,
) -> dict[str, Any]:
    """The publish job: each product on its own (one refused does not stop the others), a few
    at once through one adapter (its rate limiter paces them all)."""
    with session_scope(ctx, engine=engine) as session:
        adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
    outcomes: dict[uuid.UUID, PublishOutcome] = {}
    gate = asyncio.Semaphore(PARALLEL_PRODUCTS)
    total = len(product_ids)
    progress(phase="publish", done=0, total=total)

    async def one(product_id: uuid.UUID) -> None:
        async with gate:
            try:
                outcome = await publish_product(
                    ctx,
                    store_id=store_id,
                    product_id=product_id,
                    form=form,
                    settings=settings,
                    engine=engine,
                    adapter=adapter,
                )
            except AppError as error:
                if error.type not in (ErrorType.VALIDATION, ErrorType.NOT_FOUND):
                    raise
                outcome = PublishOutcome(
                    product_id=product_id,
                    title=_title(ctx, engine, product_id),
                    ok=False,
                    field=str(error.details.get("field", "")),
                    message=error.message,
                )
            outcomes[product_id] = outcome
            failed = sum(1 for o in outcomes.values() if not o.ok)
            progress(phase="publish", done=len(outcomes), total=total, failed=failed)

    try:
        # A cancelled job (its progress sink raises) or a store-wide failure stops the others.
        async with asyncio.TaskGroup() as group:
            for product_id in product_ids:
                group.create_task(one(product_id))
    except BaseExceptionGroup as stopped:
        raise stopped.exceptions[0] from None
    finally:
        await adapter.connection.http.client.aclose()
    ordered = [outcomes[p] for p in product_ids if p in outcomes]
    failed = sum(1 for o in ordered if not o.ok)
    return {
        "published": sum(1 for o in ordered if o.ok),
        "failed": failed,
        "listings": sum(o.listings for o in ordered),
        "products": [o.model_dump(mode="json") for o in ordered[:MAX_FAILURES]],
        "failures": [
            {
                "item": f"product {o.title}",
                "code": o.field or "refused",
                "message": (f"{o.field}: " if o.field else "") + o.message[:300],
            }
            for o in ordered
            if not o.ok
        ][:MAX_FAILURES],
    }


def _title(ctx: RequestContext, engine: Engine | None, product_id: uuid.UUID) -> str:
    try:
        with session_scope(ctx, engine=engine) as session:
            return get_product(session, ctx=ctx, product_id=product_id).title
    except NotFound:
        return str(product_id)


# -- content -------------------------------------------------------------------------------------


def publications_of(
    session: Session, *, ctx: RequestContext, product_id: uuid.UUID
) -> list[PublicationDTO]:
    """Where the product is published (or was tried), by store. Needs READ."""
    ctx.require(Permission.READ)
    rows = session.execute(
        sa.select(PUBLICATIONS)
        .where(
            PUBLICATIONS.c.organization_id == ctx.organization_id,
            PUBLICATIONS.c.product_id == product_id,
        )
        .order_by(PUBLICATIONS.c.created_at)
    ).all()
    return [PublicationDTO.model_validate(r._mapping) for r in rows]


def set_override(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    product_id: uuid.UUID,
    title: str,
    description: str,
) -> PublicationDTO:
    """Keep the store's own title or description for the product's listing ("" follows the
    master product); the next content push sends it. Needs MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    if len(title) > 255:
        raise ValidationFailed("title_override", "must be at most 255 characters")
    row = _publication(session, ctx, store_id, product_id)
    before = {
        "title_override": row.title_override,
        "description_override": row.description_override,
    }
    after = {"title_override": title.strip(), "description_override": description.strip()}
    session.execute(sa.update(PUBLICATIONS).where(PUBLICATIONS.c.id == row.id).values(**after))
    record(
        session,
        ctx=ctx,
        action="listing.override",
        entity_type="product",
        entity_id=product_id,
        before=before,
        after=after,
    )
    start_content_push(session, ctx=ctx, store_id=store_id, product_ids=[product_id])
    return PublicationDTO.model_validate({**row._mapping, **after})


def _publication(
    session: Session, ctx: RequestContext, store_id: uuid.UUID, product_id: uuid.UUID
) -> Any:
    row = session.execute(
        sa.select(PUBLICATIONS).where(
            PUBLICATIONS.c.organization_id == ctx.organization_id,
            PUBLICATIONS.c.store_id == store_id,
            PUBLICATIONS.c.product_id == product_id,
            PUBLICATIONS.c.status == "published",
        )
    ).first()
    if row is None:
        raise NotFound("publication", f"{product_id} on store {store_id}")
    return row


def start_content_push(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, product_ids: Sequence[uuid.UUID]
) -> bool:
    """Queue the store's content push for the products; False when one is already queued (it
    reads the products when it runs) or the caller may not run syncs."""
    try:
        start_job(
            session,
            ctx=ctx,
            store_id=store_id,
            kind=JobKind.CONTENT.value,
            params={"product_ids": [str(p) for p in product_ids]},
        )
    except (JobActive, PermissionDenied):
        return False
    return True


# What a content push sends of the master product (a change elsewhere, e.g. its handle or
# status, pushes nothing).
CONTENT_FIELDS = ("title", "description", "attributes", "images")


def content_of(session: Session, product_id: uuid.UUID) -> tuple[Any, ...]:
    """The product's fields a content push sends, to compare before and after a change."""
    product = session.get(Product, product_id)
    return tuple(getattr(product, f, None) for f in CONTENT_FIELDS)


def start_content_pushes_for(
    session: Session, *, ctx: RequestContext, product_ids: Sequence[uuid.UUID]
) -> int:
    """After master products' content changed: queue the content push of every connected store
    where one of them is published; returns how many were queued."""
    if not product_ids:
        return 0
    rows = session.execute(
        sa.select(PUBLICATIONS.c.store_id, PUBLICATIONS.c.product_id).where(
            PUBLICATIONS.c.organization_id == ctx.organization_id,
            PUBLICATIONS.c.product_id.in_(list(product_ids)),
            PUBLICATIONS.c.status == "published",
        )
    ).all()
    by_store: dict[uuid.UUID, list[uuid.UUID]] = {}
    for r in rows:
        by_store.setdefault(r.store_id, []).append(r.product_id)
    queued = 0
    for store_id, products in sorted(by_store.items()):
        if load_store(session, ctx, store_id).status != "connected":
            continue
        queued += start_content_push(
            session, ctx=ctx, store_id=store_id, product_ids=sorted(products)
        )
    return queued


async def push_content(
    ctx: RequestContext,
    *,
    store_id: uuid.UUID,
    product_ids: Sequence[uuid.UUID],
    settings: Settings | None = None,
    engine: Engine | None = None,
    storage: Storage | None = None,
    progress: ProgressSink = no_progress,
) -> dict[str, Any]:
    """The content job: each published product's title and description (or the store's own),
    images (new ones uploaded), attributes, weight and dimensions sent to its listing."""
    with session_scope(ctx, engine=engine) as session:
        rows = session.execute(
            sa.select(PUBLICATIONS).where(
                PUBLICATIONS.c.organization_id == ctx.organization_id,
                PUBLICATIONS.c.store_id == store_id,
                PUBLICATIONS.c.product_id.in_(list(product_ids)),
                PUBLICATIONS.c.status == "published",
            )
        ).all()
        adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
    updated = 0
    failures: list[dict[str, str]] = []
    progress(phase="content", done=0, total=len(rows))
    try:
        for done, row in enumerate(rows, start=1):
            try:
                with session_scope(ctx, engine=engine) as session:
                    product = get_product(session, ctx=ctx, product_id=row.product_id)
                images = dict(row.images or {})
                for image_id, data in _images(product, storage, sent=images):
                    images[image_id] = (
                        await adapter.upload_image(data, f"{image_id}.jpg")
                    ).image_id
                order = [images[g.id] for g in product.gallery if g.id in images]
                variants = [v for v in product.variants if v.is_active]
                weight = max((v.weight_grams or 0 for v in variants), default=0)
                await adapter.update_content(
                    ContentUpdate(
                        platform_item_id=row.platform_item_id,
                        title=row.title_override or product.title,
                        description=row.description_override or product.description,
                        images=order or None,
                        attributes=[DraftAttribute.model_validate(a) for a in row.attributes]
                        or None,
                        weight_grams=weight or None,
                        length_cm=_largest_cm(variants, "length_mm") or None,
                        width_cm=_largest_cm(variants, "width_mm") or None,
                        height_cm=_largest_cm(variants, "height_mm") or None,
                    )
                )
            except (AppError, NotFound) as error:
                if isinstance(error, AppError) and error.retryable:
                    raise
                failures.append(
                    {
                        "item": f"item {row.platform_item_id}",
                        "code": "refused",
                        "message": str(getattr(error, "message", error))[:300],
                    }
                )
                _content_state(ctx, engine, row.id, error=str(getattr(error, "message", error)))
            else:
                updated += 1
                _content_state(ctx, engine, row.id, images=images)
                await _rename_listings(
                    ctx, engine, store_id, row.platform_item_id, row.title_override or product.title
                )
            progress(phase="content", done=done, total=len(rows), failed=len(failures))
    finally:
        await adapter.connection.http.client.aclose()
    return {
        "checked": len(rows),
        "updated": updated,
        "failed": len(failures),
        "failures": failures[:MAX_FAILURES],
    }


def _content_state(
    ctx: RequestContext,
    engine: Engine | None,
    publication_id: uuid.UUID,
    *,
    images: dict[str, str] | None = None,
    error: str = "",
) -> None:
    values: dict[str, Any] = {"error": error[:2000]}
    if images is not None:
        values.update(images=images, content_pushed_at=utcnow())
    with session_scope(ctx, engine=engine) as session:
        session.execute(
            sa.update(PUBLICATIONS).where(PUBLICATIONS.c.id == publication_id).values(**values)
        )


async def _rename_listings(
    ctx: RequestContext, engine: Engine | None, store_id: uuid.UUID, item_id: str, title: str
) -> None:
    """The listings show the title the channel now has."""
    with session_scope(ctx, engine=engine) as session:
        changed = session.execute(
            sa.update(LISTINGS)
            .where(
                LISTINGS.c.organization_id == ctx.organization_id,
                LISTINGS.c.store_id == store_id,
                LISTINGS.c.platform_item_id == item_id,
                LISTINGS.c.title != title[:255],
            )
            .values(title=title[:255], updated_at=utcnow())
        )
        rows_changed(changed)
