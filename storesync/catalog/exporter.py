"""CSV export of the catalog in the importer's format, so an export re-imports to the same state.

One row per non-deleted variant of a non-deleted product, products ordered by handle and
variants by SKU (a canonical order: exporting the same state twice gives the same bytes).
Product fields are repeated on every row, so the file survives sorting in a spreadsheet.
A `stock:<CODE>` column per active location holds on-hand there (blank: no stock row yet).
Rows are streamed in keyset-paginated chunks; the whole catalog is never held in memory.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlmodel import Session

from storesync.catalog.bulk import PRODUCTS, VARIANTS
from storesync.catalog.import_cells import COLUMNS, OPTION_SLOTS, PRODUCT_COLUMNS, STOCK_PREFIX
from storesync.inventory import service as inventory
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

CHUNK = 2000


def _decimal(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _optional(value: int | None) -> str:
    return "" if value is None else str(value)


def _row(
    product: Row[Any],
    variant: Row[Any],
    stock: dict[uuid.UUID, int],
    location_ids: list[uuid.UUID],
) -> list[str]:
    options = list(variant.options.items())[:OPTION_SLOTS]
    option_cells: list[str] = []
    for slot in range(OPTION_SLOTS):
        name, value = options[slot] if slot < len(options) else ("", "")
        option_cells += [name, str(value)]
    attributes = product.attributes or {}
    return [
        product.handle,
        product.title,
        product.description,
        product.brand,
        product.category,
        product.status,
        json.dumps(attributes, sort_keys=True, ensure_ascii=False) if attributes else "",
        # Only images known by URL: stored ones (served at /media/) are not importable URLs.
        "|".join(i for i in product.images or [] if isinstance(i, str)),
        variant.variant_sku,
        variant.name,
        *option_cells,
        variant.barcode,
        _decimal(variant.price),
        _decimal(variant.cost),
        variant.currency,
        _optional(variant.weight_grams),
        _optional(variant.length_mm),
        _optional(variant.width_mm),
        _optional(variant.height_mm),
        "true" if variant.is_active else "false",
        *(_optional(stock.get(location_id)) for location_id in location_ids),
    ]


_VARIANT_COLUMNS = (
    "id",
    "product_id",
    "variant_sku",
    "name",
    "options",
    "barcode",
    "price",
    "cost",
    "currency",
    "weight_grams",
    "length_mm",
    "width_mm",
    "height_mm",
    "is_active",
)


def _products_page(session: Session, ctx: RequestContext, after: str | None) -> list[Row[Any]]:
    query = sa.select(PRODUCTS.c.id, *(PRODUCTS.c[n] for n in ("handle", *PRODUCT_COLUMNS))).where(
        PRODUCTS.c.organization_id == ctx.organization_id, PRODUCTS.c.deleted_at.is_(None)
    )
    if after is not None:
        query = query.where(PRODUCTS.c.handle > after)
    return list(session.execute(query.order_by(PRODUCTS.c.handle).limit(CHUNK)))


def _chunks(session: Session, ctx: RequestContext) -> Iterator[list[tuple[Row[Any], Row[Any]]]]:
    """(product, variant) pairs in handle, SKU order, a page of products at a time (keyset on
    the unique handle, so every page is an index range scan)."""
    after: str | None = None
    while products := _products_page(session, ctx, after):
        by_id = {product.id: product for product in products}
        variants = session.execute(
            sa.select(*(VARIANTS.c[name] for name in _VARIANT_COLUMNS)).where(
                VARIANTS.c.organization_id == ctx.organization_id,
                VARIANTS.c.product_id.in_(list(by_id)),
                VARIANTS.c.deleted_at.is_(None),
            )
        )
        pairs = [(by_id[variant.product_id], variant) for variant in variants]
        pairs.sort(key=lambda pair: (pair[0].handle, pair[1].variant_sku))
        yield pairs
        after = products[-1].handle


def export_catalog(session: Session, *, ctx: RequestContext, out: TextIO) -> int:
    """Write the catalog as CSV to `out` (importer columns plus `stock:<CODE>` per active
    location); returns the number of variant rows written. Needs READ."""
    ctx.require(Permission.READ)
    locations = inventory.list_locations(session, ctx=ctx)
    location_ids = [location.id for location in locations]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*COLUMNS, *(f"{STOCK_PREFIX}{location.code}" for location in locations)])
    written = 0
    for pairs in _chunks(session, ctx):
        stock: dict[uuid.UUID, dict[uuid.UUID, int]] = {v.id: {} for _, v in pairs}
        for level in inventory.stock_levels(session, ctx=ctx, variant_ids=list(stock)):
            stock[level.variant_id][level.location_id] = level.on_hand
        for product, variant in pairs:
            writer.writerow(_row(product, variant, stock[variant.id], location_ids))
        written += len(pairs)
    return written
