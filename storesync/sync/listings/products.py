"""Master products made from a store's unmatched listings: one product per platform item, one
variant per listing, then each listing linked to its new variant.

Set-based like the import: the organization's SKUs are loaded once, the products and variants
are created by the catalog in bulk statements (`catalog.bulk.create_products`: its defaults and
handles), and the links are written in executemany UPDATEs. The channel's quantity becomes the
new variant's opening stock at the default location (a new variant with no stock would
otherwise push 0 to every channel and stop sales).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storesync.catalog import bulk as catalog
from storesync.core.bulk import update_rows
from storesync.core.clock import utcnow
from storesync.core.errors import NotFound
from storesync.inventory import service as inventory
from storesync.inventory.items import touch
from storesync.sync.listings.bulk import CHUNK, LISTINGS, VARIANTS, require_store
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

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


@dataclass
class _Plan:
    skus: dict[str, uuid.UUID | None]  # SKU → live variant id (None: a deleted variant has it)
    now: datetime = field(default_factory=utcnow)
    products: list[catalog.NewProduct] = field(default_factory=list)
    # Listings that get a new variant, in the order of the variants asked for.
    creating: list[Any] = field(default_factory=list)
    new_skus: dict[str, int] = field(default_factory=dict)  # SKU → its place in `creating`
    # Listings whose SKU a variant made for another listing has: (listing id, place).
    sharing: list[tuple[uuid.UUID, int]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    opening: list[tuple[uuid.UUID, int]] = field(default_factory=list)

    def add_item(self, listings: Sequence[Any]) -> None:
        title = ""
        variants: list[catalog.NewVariant] = []
        for listing in listings:
            sku = listing_sku(
                listing.platform_sku, listing.platform_item_id, listing.platform_model_id
            )
            if sku in self.new_skus:
                # Made moments ago from another listing: link to it.
                self.sharing.append((listing.id, self.new_skus[sku]))
                continue
            if sku in self.skus:
                # Already in the catalog: link to it.
                existing = self.skus[sku]
                if existing is not None:
                    self._link(listing.id, existing, method="sku", confidence=Decimal("1.0"))
                continue
            if not variants:
                title = listing.title or sku
            price = listing.price if listing.price is not None and listing.price >= 0 else None
            variants.append(
                catalog.NewVariant(
                    sku=sku,
                    name=listing.model_name[:255],
                    price=price,
                    currency=listing.currency or None,
                )
            )
            self.new_skus[sku] = len(self.creating)
            self.creating.append(listing)
        if variants:
            self.products.append(
                catalog.NewProduct(
                    title=title[:255], handle_key=listings[0].platform_item_id, variants=variants
                )
            )

    def link_created(self, variant_ids: Sequence[uuid.UUID]) -> None:
        """Link the listings to the variants the catalog made for them (`variant_ids`: in the
        order asked for), and note each new variant's opening stock."""
        for listing, variant_id in zip(self.creating, variant_ids, strict=True):
            self._link(listing.id, variant_id, method="created", confidence=None)
            if listing.channel_quantity:
                self.opening.append((variant_id, max(int(listing.channel_quantity), 0)))
        for listing_id, place in self.sharing:
            self._link(listing_id, variant_ids[place], method="sku", confidence=Decimal("1.0"))

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


def _catalog_skus(session: Session, ctx: RequestContext) -> dict[str, uuid.UUID | None]:
    """Every SKU of the organization → its live variant (None: a deleted variant has it)."""
    return {
        row.variant_sku: (row.id if row.deleted_at is None else None)
        for row in session.execute(
            sa.select(VARIANTS.c.variant_sku, VARIANTS.c.id, VARIANTS.c.deleted_at).where(
                VARIANTS.c.organization_id == ctx.organization_id
            )
        )
    }


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
    plan = _Plan(_catalog_skus(session, ctx))
    item: list[Any] = []
    for listing in listings:
        if item and item[-1].platform_item_id != listing.platform_item_id:
            plan.add_item(item)
            item = []
        item.append(listing)
    plan.add_item(item)
    plan.link_created(catalog.create_products(session, ctx=ctx, products=plan.products))
    update_rows(session, LISTINGS, plan.links, organization_id=ctx.organization_id, chunk=CHUNK)
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
