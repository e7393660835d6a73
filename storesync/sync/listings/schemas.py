"""DTOs of channel listings and of a listing import."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from storesync.core.schemas import DTO

MATCH_STATUSES = ("matched", "unmatched", "suggested", "ignored")


class ListingDTO(DTO):
    """One sellable unit on a channel and what it is matched (or suggested) to."""

    id: uuid.UUID
    store_id: uuid.UUID
    platform_item_id: str
    platform_model_id: str
    platform_sku: str
    title: str
    model_name: str
    status: str
    price: Decimal | None
    currency: str
    channel_quantity: int | None
    location_id: str
    match_status: str
    variant_id: uuid.UUID | None
    variant_sku: str | None
    suggested_variant_id: uuid.UUID | None
    suggested_sku: str | None
    match_confidence: Decimal | None
    match_method: str
    # The suggested variant's master product, so a person can judge the suggestion: its title
    # and its first image's thumbnail (a /media/ URL, "" when it has none).
    suggested_title: str | None = None
    suggested_thumbnail: str = ""
    last_pushed_quantity: int | None
    last_pushed_at: datetime | None
    created_at: datetime
    updated_at: datetime | None


class ListingImportReport(DTO):
    """What one import did. `created` / `updated` / `unchanged` count the fetched listings by
    their channel data; `matched` the listings this import linked automatically; `suggested`
    and `unmatched` the store's listings now waiting in the review queue (with and without a
    suggestion); `created_products` the master products made from unmatched listings."""

    store_id: uuid.UUID
    fetched: int
    created: int
    updated: int
    unchanged: int
    matched: int
    suggested: int
    unmatched: int
    created_products: int = 0
