"""DTOs of webhook intake and order intake: what a push means, stored events, sync reports.

No marketplace field names here: `pushes.read_push` turns a push body into a `Push`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from storesync.core.schemas import DTO


class PushKind(StrEnum):
    """What a push asks of StoreSync."""

    ORDER = "order"  # an order changed: fetch it and ingest it
    STOCK = "stock"  # the channel's stock or product status changed: ours is the truth
    RETURN = "return"  # a return or refund changed: fetch the store's returns
    OTHER = "other"  # anything else (tracking numbers, promotions, chat, ...): not used yet


class EventOutcome(StrEnum):
    """What `process_webhook_event` did with an event (also its final status, except SKIPPED)."""

    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"
    SKIPPED = "skipped"  # already claimed by another run, already done, or gone


class IngestOutcome(StrEnum):
    """What ingesting one channel order did to StoreSync's copy of it."""

    CREATED = "created"
    UPDATED = "updated"  # status moved, or platform status / tracking number refreshed
    UNCHANGED = "unchanged"
    STALE = "stale"  # a regressive or illegal status (an old push, out of order): ignored


class Push(DTO):
    """One push notification read in our terms."""

    platform: str
    shop_id: str  # "" for partner-level pushes (no shop)
    event_type: str  # readable, e.g. "order_status" / "ORDER_STATUS_CHANGE"
    kind: PushKind
    dedupe_key: str
    order_id: str = ""  # the platform order id, for ORDER pushes


class WebhookEventDTO(DTO):
    id: uuid.UUID
    store_id: uuid.UUID
    platform: str
    event_type: str
    dedupe_key: str
    status: str
    attempts: int
    error: str
    received_at: datetime
    processed_at: datetime | None


class OrderSyncFailure(DTO):
    platform_order_id: str
    code: str
    message: str


class OrdersSyncReport(DTO):
    """One `sync_orders` run: the window it covered and what it did."""

    store_id: uuid.UUID
    since: datetime
    until: datetime
    fetched: int
    created: int
    updated: int
    unchanged: int
    stale: int
    failed: int
    failures: list[OrderSyncFailure]
    cursor: str  # the store's orders cursor after the run (ISO timestamp, "" if none)
