"""The stock table the Inventory page shows: one row per variant and location, with the product
and location names, searchable, keyset-paginated by SKU."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import Session

from storesync.catalog.models import Product, ProductVariant
from storesync.core.models import table_of
from storesync.core.pagination import (
    Page,
    clamp_limit,
    contains_pattern,
    decode_typed,
    encode_cursor,
)
from storesync.core.schemas import DTO
from storesync.inventory.models import InventoryItem, Location
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission


class StockRowDTO(DTO):
    inventory_item_id: uuid.UUID
    variant_id: uuid.UUID
    location_id: uuid.UUID
    sku: str
    title: str
    location: str
    on_hand: int
    reserved: int
    available: int
    reorder_point: int


def list_stock(
    session: Session,
    *,
    ctx: RequestContext,
    search: str | None = None,
    low_only: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[StockRowDTO]:
    """Stock rows ordered by SKU then location; `search` matches SKU or product title
    (case-insensitive); `low_only` keeps rows at or below their reorder point. Needs READ."""
    ctx.require(Permission.READ)
    size = clamp_limit(limit)
    items, variants = table_of(InventoryItem), table_of(ProductVariant)
    products, locations = table_of(Product), table_of(Location)
    available = items.c.on_hand - items.c.reserved
    query = (
        sa.select(
            items.c.id,
            items.c.variant_id,
            items.c.location_id,
            variants.c.variant_sku,
            products.c.title,
            locations.c.name,
            items.c.on_hand,
            items.c.reserved,
            available,
            items.c.reorder_point,
        )
        .join(variants, variants.c.id == items.c.variant_id)
        .join(products, products.c.id == variants.c.product_id)
        .join(locations, locations.c.id == items.c.location_id)
        .where(items.c.organization_id == ctx.organization_id)
    )
    if search and search.strip():
        pattern = contains_pattern(search.strip())
        query = query.where(
            sa.or_(
                variants.c.variant_sku.ilike(pattern, escape="\\"),
                products.c.title.ilike(pattern, escape="\\"),
            )
        )
    if low_only:
        query = query.where(available <= items.c.reorder_point)
    if cursor:
        last_sku, last_id = decode_typed(cursor, str, uuid.UUID)
        query = query.where(
            sa.tuple_(variants.c.variant_sku, items.c.id) > sa.tuple_(last_sku, last_id)
        )
    rows = session.execute(query.order_by(variants.c.variant_sku, items.c.id).limit(size + 1)).all()
    page = [
        StockRowDTO(
            inventory_item_id=r[0],
            variant_id=r[1],
            location_id=r[2],
            sku=r[3],
            title=r[4],
            location=r[5],
            on_hand=r[6],
            reserved=r[7],
            available=r[8],
            reorder_point=r[9],
        )
        for r in rows[:size]
    ]
    following = (
        encode_cursor(page[-1].sku, page[-1].inventory_item_id) if len(rows) > size else None
    )
    return Page(items=page, next_cursor=following)
