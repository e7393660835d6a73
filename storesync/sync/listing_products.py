"""Master products made from a store's unmatched listings: one product per platform item, one
variant per listing, then each listing linked to its new variant.

Set-based like the import: the organization's SKUs and handles are loaded once, products,
variants and links are written in bulk statements. The channel's quantity becomes the new
variant's opening stock at the default location (a new variant with no stock would otherwise
push 0 to every channel and stop sales).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storesync.core.clock import utcnow
from storesync.core.errors import NotFound
from storesync.core.ids import new_id
from storesync.inventory import service as inventory
from storesync.inventory.items import touch
from storesync.sync.listing_bulk import (
    CHUNK,
    LISTINGS,
    PRODUCTS,
    VARIANTS,
    insert_many,
    require_store,
    update_many,
)
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

_SLUG = re.compile(r"[^a-z0-9]+")
_CANDIDATE_COLUMNS = (
    "id",
    "platform_item_id",
    "platform_model_id",
    "platform_sku",
    "title",
    "model_name",
    "price",
    "currency",
    "channel_quantity",
    "match_status",
)


def listing_sku(sku: str, item_id: str, model_id: str) -> str:
    """The master SKU of a listing: its own SKU, or one made from its platform ids."""
    return (sku.strip() or (f"{item_id}-{model_id}" if model_id else item_id))[:100]


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.casefold()).strip("-")[:100].strip("-")


def _free_handle(title: str, item_id: str, taken: set[str]) -> str:
    base = _slug(title) or "item"
    handle = base
    if handle in taken:
        handle = f"{base}-{_slug(item_id)}"[:120]
    number = 2
    while handle in taken:
        handle = f"{base}-{_slug(item_id)}-{number}"[:120]
        number += 1
    taken.add(handle)
    return handle


@dataclass
class _Plan:
    org: uuid.UUID
    skus: dict[str, uuid.UUID | None]  # SKU → live variant id (None: a deleted variant has it)
    handles: set[str]
    now: datetime = field(default_factory=utcnow)
    products: list[dict[str, Any]] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    opening: list[tuple[uuid.UUID, int]] = field(default_factory=list)

    def add_item(self, listings: Sequence[Any]) -> None:
        product_id: uuid.UUID | None = None
        for listing in listings:
            sku = listing_sku(
                listing.platform_sku, listing.platform_item_id, listing.platform_model_id
            )
            if sku in self.skus:
                # Already in the catalog (or made moments ago from another listing): link to it.
                existing = self.skus[sku]
                if existing is not None:
                    self._link(listing.id, existing, method="sku", confidence=Decimal("1.0"))
                continue
            if product_id is None:
                product_id = self._product(listing.title or sku, listing.platform_item_id)
            variant_id = self._variant(product_id, sku, listing)
            self._link(listing.id, variant_id, method="created", confidence=None)
            if listing.channel_quantity:
                self.opening.append((variant_id, max(int(listing.channel_quantity), 0)))

    def _product(self, title: str, item_id: str) -> uuid.UUID:
        product_id = new_id()
        self.products.append(
            {
                "id": product_id,
                "organization_id": self.org,
                "created_at": self.now,
                "handle": _free_handle(title, item_id, self.handles),
                "title": title[:255],
                "description": "",
                "brand": "",
                "category": "",
                "status": "active",
                "attributes": {},
                "images": [],
                "updated_at": None,
                "deleted_at": None,
            }
        )
        return product_id

    def _variant(self, product_id: uuid.UUID, sku: str, listing: Any) -> uuid.UUID:
        variant_id = new_id()
        price = listing.price if listing.price is not None and listing.price >= 0 else None
        self.variants.append(
            {
                "id": variant_id,
                "organization_id": self.org,
                "created_at": self.now,
                "product_id": product_id,
                "variant_sku": sku,
                "name": listing.model_name[:255],
                "options": {},
                "barcode": "",
                "price": price,
                "cost": None,
                "currency": listing.currency or "IDR",
                "weight_grams": None,
                "length_mm": None,
                "width_mm": None,
                "height_mm": None,
                "is_active": True,
                "updated_at": None,
                "deleted_at": None,
            }
        )
        self.skus[sku] = variant_id
        return variant_id

    def _link(
        self, listing_id: uuid.UUID, variant_id: uuid.UUID, *, method: str, confidence: Any
    ) -> None:
        self.links.append(
            {
                "_id": listing_id,
                "variant_id": variant_id,
                "suggested_variant_id": None,
                "match_confidence": confidence,
                "match_method": method,
                "match_status": "matched",
                "updated_at": self.now,
            }
        )


def _candidates(
    session: Session,
    ctx: RequestContext,
    store_id: uuid.UUID,
    listing_ids: Sequence[uuid.UUID] | None,
) -> list[Any]:
    base = sa.select(*(LISTINGS.c[name] for name in _CANDIDATE_COLUMNS)).where(
        LISTINGS.c.organization_id == ctx.organization_id, LISTINGS.c.store_id == store_id
    )
    order = (LISTINGS.c.platform_item_id, LISTINGS.c.platform_model_id)
    if listing_ids is None:
        query = base.where(LISTINGS.c.match_status == "unmatched").order_by(*order)
        return list(session.execute(query))
    wanted = list(dict.fromkeys(listing_ids))
    rows: list[Any] = []
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        rows.extend(session.execute(base.where(LISTINGS.c.id.in_(chunk))))
    missing = set(wanted) - {row.id for row in rows}
    if missing:
        raise NotFound("listing", sorted(missing, key=str)[0])
    chosen = [row for row in rows if row.match_status in ("unmatched", "suggested")]
    return sorted(chosen, key=lambda row: (row.platform_item_id, row.platform_model_id))


def _catalog_keys(session: Session, ctx: RequestContext) -> tuple[dict[str, Any], set[str]]:
    org = ctx.organization_id
    skus = {
        row.variant_sku: (row.id if row.deleted_at is None else None)
        for row in session.execute(
            sa.select(VARIANTS.c.variant_sku, VARIANTS.c.id, VARIANTS.c.deleted_at).where(
                VARIANTS.c.organization_id == org
            )
        )
    }
    handles = set(
        session.execute(sa.select(PRODUCTS.c.handle).where(PRODUCTS.c.organization_id == org))
        .scalars()
        .all()
    )
    return skus, handles


def create_products_from_listings(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    listing_ids: Sequence[uuid.UUID] | None = None,
) -> int:
    """Make master products from a store's listings and link them: one product per platform
    item (handle from its title), one variant per listing (SKU from the listing, or
    "<item id>-<model id>" when it has none), the channel quantity as opening stock. A listing
    whose SKU the catalog already has is linked to that variant instead.

    Without `listing_ids`, every unmatched listing of the store; with them, those of them still
    unmatched or suggested (`NotFound` for an id not in the store). Returns the number of
    products created. Needs MANAGE_CATALOG; flushes, never commits."""
    ctx.require(Permission.MANAGE_CATALOG)
    require_store(session, ctx, store_id)
    listings = _candidates(session, ctx, store_id, listing_ids)
    if not listings:
        return 0
    skus, handles = _catalog_keys(session, ctx)
    plan = _Plan(ctx.organization_id, skus, handles)
    item: list[Any] = []
    for listing in listings:
        if item and item[-1].platform_item_id != listing.platform_item_id:
            plan.add_item(item)
            item = []
        item.append(listing)
    plan.add_item(item)
    insert_many(session, PRODUCTS, plan.products)
    insert_many(session, VARIANTS, plan.variants)
    update_many(session, LISTINGS, plan.links, ctx.organization_id)
    if plan.opening:
        location = inventory.default_location(session, ctx=ctx)
        inventory.set_on_hand_bulk(
            session,
            ctx=ctx,
            lines=[(variant_id, location.id, quantity) for variant_id, quantity in plan.opening],
            reason="opening stock from channel listings",
            reference_type="store",
            reference_id=str(store_id),
        )
    touch(session, {link["variant_id"] for link in plan.links})
    session.flush()
    return len(plan.products)
