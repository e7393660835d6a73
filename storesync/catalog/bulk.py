"""Set-based catalog writes: the row a new product or variant starts as (the catalog's defaults),
handles made from titles, and `create_products`, which creates many products with their
variants in a few bulk statements (master products made from channel listings). The CSV
import's plan (`import_plan`) builds its new rows here too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storesync.catalog.errors import ImportConflict
from storesync.catalog.models import Product, ProductVariant
from storesync.core.bulk import insert_rows
from storesync.core.clock import utcnow
from storesync.core.errors import ValidationFailed
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import Organization
from storesync.tenancy.permissions import Permission

CHUNK = 2000
PRODUCTS = table_of(Product)
VARIANTS = table_of(ProductVariant)
ORGANIZATIONS = table_of(Organization)
PRODUCT_DEFAULTS: dict[str, Any] = {
    "title": "",
    "description": "",
    "brand": "",
    "category": "",
    "status": "active",
    "attributes": {},
    "images": [],
}
VARIANT_DEFAULTS: dict[str, Any] = {
    "name": "",
    "options": {},
    "barcode": "",
    "price": None,
    "cost": None,
    "weight_grams": None,
    "length_mm": None,
    "width_mm": None,
    "height_mm": None,
    "image_id": "",
    "is_active": True,
}
_SLUG = re.compile(r"[^a-z0-9]+")


def org_currency(session: Session, ctx: RequestContext) -> str:
    """The organization's default currency (IDR when unset): a new variant's currency."""
    currency = session.execute(
        sa.select(ORGANIZATIONS.c.default_currency).where(ORGANIZATIONS.c.id == ctx.organization_id)
    ).scalar_one_or_none()
    return currency or "IDR"


def product_row(
    *, organization_id: uuid.UUID, now: datetime, handle: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """A new product's row for `insert_rows`, with a new id: `fields` over the defaults."""
    return {
        **PRODUCT_DEFAULTS,
        **fields,
        "id": new_id(),
        "organization_id": organization_id,
        "created_at": now,
        "handle": handle,
        "updated_at": None,
        "deleted_at": None,
    }


def variant_row(
    *,
    organization_id: uuid.UUID,
    now: datetime,
    product_id: uuid.UUID,
    sku: str,
    currency: str,
    fields: Mapping[str, Any],
) -> dict[str, Any]:
    """A new variant's row for `insert_rows`, with a new id: `fields` over the defaults
    (`currency`, the organization's, unless `fields` has one)."""
    return {
        **VARIANT_DEFAULTS,
        "currency": currency,
        **fields,
        "id": new_id(),
        "organization_id": organization_id,
        "created_at": now,
        "product_id": product_id,
        "variant_sku": sku,
        "updated_at": None,
        "deleted_at": None,
    }


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.casefold()).strip("-")[:100].strip("-")


def free_handle(title: str, key: str, taken: set[str]) -> str:
    """A handle made from `title` that is not in `taken` (and now is): the title's slug, else the
    slug with `key`'s (an id that tells products of the same title apart) appended, else that
    numbered from 2."""
    base = _slug(title) or "item"
    handle = base
    if handle in taken:
        handle = f"{base}-{_slug(key)}"[:120]
    number = 2
    while handle in taken:
        handle = f"{base}-{_slug(key)}-{number}"[:120]
        number += 1
    taken.add(handle)
    return handle


@dataclass(frozen=True, slots=True)
class NewVariant:
    """A variant for `create_products`; `currency=None` takes the organization's default, and
    the fields not given here take the catalog's defaults."""

    sku: str
    name: str = ""
    price: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class NewProduct:
    """A product for `create_products`: its handle is made from `title` (`free_handle`, with
    `handle_key` telling apart products whose titles make the same handle)."""

    title: str
    handle_key: str
    variants: Sequence[NewVariant]


def create_products(
    session: Session, *, ctx: RequestContext, products: Sequence[NewProduct]
) -> list[uuid.UUID]:
    """Create many products with their variants in a few bulk statements, whatever their number:
    the organization's handles are loaded once, and each product gets a free handle made from
    its title. Values are written as given (the field rules are not applied: a channel's SKU may
    hold a space); every SKU must be new to the organization: one given twice is
    `ValidationFailed`, one already stored (or taken meanwhile) `ImportConflict`. Returns the new
    variants' ids in the order given, product by product. Needs MANAGE_CATALOG; writes in the
    caller's transaction, never commits."""
    ctx.require(Permission.MANAGE_CATALOG)
    if not products:
        return []
    seen: set[str] = set()
    for product in products:
        if not product.variants:
            raise ValidationFailed("variants", f"product {product.title!r} has no variant")
        for variant in product.variants:
            if variant.sku in seen:
                raise ValidationFailed("sku", f"{variant.sku!r} is given twice", sku=variant.sku)
            seen.add(variant.sku)
    org, now = ctx.organization_id, utcnow()
    taken = set(
        session.execute(sa.select(PRODUCTS.c.handle).where(PRODUCTS.c.organization_id == org))
        .scalars()
        .all()
    )
    currency = org_currency(session, ctx)
    product_rows: list[dict[str, Any]] = []
    variant_rows: list[dict[str, Any]] = []
    for product in products:
        handle = free_handle(product.title, product.handle_key, taken)
        row = product_row(
            organization_id=org, now=now, handle=handle, fields={"title": product.title}
        )
        product_rows.append(row)
        variant_rows.extend(
            variant_row(
                organization_id=org,
                now=now,
                product_id=row["id"],
                sku=variant.sku,
                currency=variant.currency or currency,
                fields={"name": variant.name, "price": variant.price},
            )
            for variant in product.variants
        )
    try:
        insert_rows(session, PRODUCTS, product_rows, chunk=CHUNK)
        insert_rows(session, VARIANTS, variant_rows, chunk=CHUNK)
    except IntegrityError:
        raise ImportConflict() from None
    return [row["id"] for row in variant_rows]
