"""DTOs of reconciliation (what a run found and fixed, the drift it recorded) and of staleness
(which listings' channel stock is behind, per listing and per store)."""

from __future__ import annotations

import uuid
from datetime import datetime

from storesync.core.schemas import DTO


class ReconcileReport(DTO):
    """One reconciliation of a store. Every matched listing falls in exactly one of `checked`
    (compared with the channel), `in_flight` (a push was on its way, so not judged) and
    `missing` (the channel no longer lists it). `drifted` of the checked ones showed another
    quantity than they should; `repaired` of those got the right one pushed during this run.
    `calls` counts the marketplace calls made (reading and pushing)."""

    store_id: uuid.UUID
    job_id: uuid.UUID | None = None
    checked: int = 0
    drifted: int = 0
    repaired: int = 0
    missing: int = 0
    in_flight: int = 0
    calls: int = 0


class DriftDTO(DTO):
    """A listing whose channel stock differed from what it should have been, as reconciliation
    found it: `expected` (what we computed), `found` (what the channel showed; None when the
    channel reported no quantity), and whether the right quantity has since reached it."""

    id: uuid.UUID
    store_id: uuid.UUID
    listing_id: uuid.UUID
    job_id: uuid.UUID | None
    expected: int
    found: int | None
    repaired: bool
    repaired_at: datetime | None
    created_at: datetime
    platform_item_id: str
    platform_model_id: str
    platform_sku: str
    title: str
    model_name: str


class StaleListingDTO(DTO):
    """A listing whose channel has not had its right stock for longer than the threshold.

    `desired_quantity` is what the channel should show now; `last_pushed_quantity` and
    `last_pushed_at` what last reached it and when; `push_status` the state of its outbox row
    ("" when none is waiting), with `last_error` and `attempts`; `stale_since` when it fell
    behind (see `storesync.sync.health.staleness`) and `age_seconds` how long ago that was."""

    listing_id: uuid.UUID
    store_id: uuid.UUID
    store_name: str
    platform: str
    platform_item_id: str
    platform_model_id: str
    sku: str
    title: str
    model_name: str
    desired_quantity: int
    last_pushed_quantity: int | None
    last_pushed_at: datetime | None
    push_status: str
    last_error: str
    attempts: int
    stale_since: datetime
    age_seconds: float


class StoreStalenessDTO(DTO):
    """A store on the dashboard: how many listings are stale, how old the oldest is, and when
    stock last reached the channel for any of its listings."""

    store_id: uuid.UUID
    store_name: str
    platform: str
    status: str
    stale_listings: int
    oldest_stale_since: datetime | None
    oldest_age_seconds: float | None
    last_pushed_at: datetime | None


class StoreConditionDTO(DTO):
    """How a store is doing, for a merchant: `connected`, `trouble` (its marketplace calls
    fail: `message` says why in plain words, `since` since when) or `disconnected` (its token is
    refused or it was disconnected: reconnect)."""

    store_id: uuid.UUID
    state: str
    message: str
    since: datetime | None
