"""The set-based half of the listing import: load what is stored once, then write each chunk of
channel variants as bulk INSERTs of new listings and executemany UPDATEs of changed ones,
matching new and still-unmatched listings in memory on the way."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from storesync.channels.schemas import ChannelVariant
from storesync.core.bulk import insert_rows, update_rows
from storesync.core.clock import utcnow
from storesync.core.ids import new_id
from storesync.sync.listings import matching
from storesync.sync.listings.bulk import CHUNK, LISTINGS, PRODUCTS, VARIANTS
from storesync.tenancy.context import RequestContext

# Listings the matcher may (re)consider; matched and ignored ones are a person's decision.
REVIEWABLE = ("unmatched", "suggested")
DATA_FIELDS = (
    "platform_sku",
    "title",
    "model_name",
    "price",
    "currency",
    "channel_quantity",
    "status",
    "raw",
)
MATCH_FIELDS = (
    "variant_id",
    "suggested_variant_id",
    "match_confidence",
    "match_method",
    "match_status",
)

Key = tuple[str, str]


# -- loading ------------------------------------------------------------------------------------


def load_index(session: Session, *, ctx: RequestContext) -> matching.MatchIndex:
    """The organization's live variants (not deleted, nor of a deleted product), indexed for
    matching. Two plain scans joined in memory: a join's plan on freshly bulk-loaded tables
    (no statistics yet) can be a nested loop costing seconds."""
    org = ctx.organization_id
    titles = {
        row.id: row.title
        for row in session.execute(
            sa.select(PRODUCTS.c.id, PRODUCTS.c.title).where(
                PRODUCTS.c.organization_id == org, PRODUCTS.c.deleted_at.is_(None)
            )
        )
    }
    rows = session.execute(
        sa.select(
            VARIANTS.c.id,
            VARIANTS.c.product_id,
            VARIANTS.c.variant_sku,
            VARIANTS.c.name,
            VARIANTS.c.options,
        ).where(VARIANTS.c.organization_id == org, VARIANTS.c.deleted_at.is_(None))
    )
    return matching.build_index(
        matching.MasterVariant(
            id=row.id,
            sku=row.variant_sku,
            product_title=titles[row.product_id],
            name=row.name,
            options={str(k): str(v) for k, v in (row.options or {}).items()},
        )
        for row in rows
        if row.product_id in titles
    )


def load_listings(
    session: Session, ctx: RequestContext, store_id: uuid.UUID
) -> dict[Key, dict[str, Any]]:
    columns = [
        LISTINGS.c[name]
        for name in ("id", "platform_item_id", "platform_model_id", *DATA_FIELDS, *MATCH_FIELDS)
    ]
    rows = session.execute(
        sa.select(*columns).where(
            LISTINGS.c.organization_id == ctx.organization_id, LISTINGS.c.store_id == store_id
        )
    ).mappings()
    return {(row["platform_item_id"], row["platform_model_id"]): dict(row) for row in rows}


# -- writing ------------------------------------------------------------------------------------


def match_fields(match: matching.Match) -> dict[str, Any]:
    """The listing columns that record a matcher verdict."""
    return {
        "variant_id": match.variant_id if match.auto_link else None,
        "suggested_variant_id": None if match.auto_link else match.variant_id,
        "match_confidence": match.confidence,
        "match_method": match.method,
        "match_status": match.match_status,
    }


class Fetched(NamedTuple):
    """A channel variant as the import keeps it between fetching and writing (a plain tuple:
    a fraction of a DTO's memory when a store has 100,000 of them)."""

    platform_item_id: str
    platform_model_id: str
    sku: str
    title: str
    model_name: str
    price: Decimal | None
    currency: str
    quantity: int | None
    status: str
    location_id: str

    @classmethod
    def of(cls, variant: ChannelVariant) -> Fetched:
        return cls(
            variant.platform_item_id,
            variant.platform_model_id,
            variant.sku,
            variant.title,
            variant.model_name,
            variant.price,
            variant.currency,
            variant.quantity,
            variant.status,
            variant.location_id,
        )


def _channel_fields(variant: Fetched, raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "platform_sku": variant.sku.strip()[:100],
        "title": variant.title[:255],
        "model_name": variant.model_name[:255],
        "price": variant.price,
        "currency": (variant.currency or "IDR").upper()[:3],
        "channel_quantity": variant.quantity,
        "status": variant.status[:20],
        # Stock pushes need the channel location (Shopee location, TikTok warehouse).
        "raw": {**raw, "location_id": variant.location_id},
    }


def _differs(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, Decimal) or isinstance(wanted, Decimal):
        if stored is None or wanted is None:
            return stored is not wanted
        return Decimal(stored) != Decimal(wanted)
    return bool(stored != wanted)


def _reviewable(stored: dict[str, Any]) -> bool:
    # A matched listing whose variant was deleted (FK SET NULL) is back in the queue.
    return stored["match_status"] in REVIEWABLE or (
        stored["match_status"] == "matched" and stored["variant_id"] is None
    )


@dataclass
class ListingUpsert:
    """One import's running state: what is stored, what was written, what got linked."""

    session: Session
    ctx: RequestContext
    store_id: uuid.UUID
    index: matching.MatchIndex
    stored: dict[Key, dict[str, Any]]
    now: datetime = field(default_factory=utcnow)
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    linked: set[uuid.UUID] = field(default_factory=set)
    auto_linked: int = 0

    def write(self, variants: Sequence[Fetched]) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for variant in variants:
            self.fetched += 1
            key = (variant.platform_item_id, variant.platform_model_id)
            stored = self.stored.get(key)
            if stored is None:
                inserts.append(self._new_row(variant))
                self.stored[key] = inserts[-1]
                continue
            changes = self._changes(variant, stored)
            if changes:
                stored.update(changes)
                updates.append({**changes, "_id": stored["id"], "updated_at": self.now})
        insert_rows(self.session, LISTINGS, inserts, chunk=CHUNK)
        update_rows(
            self.session, LISTINGS, updates, organization_id=self.ctx.organization_id, chunk=CHUNK
        )

    def _match(self, fields: dict[str, Any]) -> dict[str, Any]:
        match = matching.match_listing(
            self.index,
            sku=fields["platform_sku"],
            title=fields["title"],
            model_name=fields["model_name"],
        )
        if match.auto_link and match.variant_id is not None:
            self.linked.add(match.variant_id)
            self.auto_linked += 1
        return match_fields(match)

    def _new_row(self, variant: Fetched) -> dict[str, Any]:
        self.created += 1
        fields = _channel_fields(variant, {})
        return {
            "id": new_id(),
            "organization_id": self.ctx.organization_id,
            "created_at": self.now,
            "store_id": self.store_id,
            "platform_item_id": variant.platform_item_id,
            "platform_model_id": variant.platform_model_id,
            **fields,
            **self._match(fields),
            "last_pushed_quantity": None,
            "last_pushed_at": None,
            "updated_at": None,
        }

    def _changes(self, variant: Fetched, stored: dict[str, Any]) -> dict[str, Any]:
        fields = _channel_fields(variant, stored["raw"] or {})
        changes = {k: v for k, v in fields.items() if _differs(stored[k], v)}
        if changes:
            self.updated += 1
        else:
            self.unchanged += 1
        if _reviewable(stored):
            verdict = self._match({**stored, **fields})
            changes.update({k: v for k, v in verdict.items() if _differs(stored[k], v)})
        return changes
