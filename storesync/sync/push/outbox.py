"""The transactional stock outbox.

Any stock change records its variants in the session (`inventory.items.touch`). Just before the
transaction commits, this module computes what every listing of those variants should show on
its channel (allocation share minus safety buffer, floor 0) and upserts one `stock_outbox` row
per listing whose channel quantity must change, in the SAME transaction. After the commit the
dispatcher is told which stores have work; a crash in between loses nothing because the rows
are already committed (the sweeper finds them).
"""

from __future__ import annotations

import functools
import logging
import math
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storesync.channels.models import ChannelListing, Store
from storesync.core.clock import utcnow
from storesync.core.events import Hook, SessionListeners
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.inventory.items import LISTINGS_AGAIN, STOCK_TOUCHED
from storesync.inventory.models import ChannelAllocation, InventoryItem
from storesync.settings import Settings, get_settings
from storesync.sync.models import StockOutbox

log = logging.getLogger(__name__)

LISTINGS = table_of(ChannelListing)
STORES = table_of(Store)
ALLOCATIONS = table_of(ChannelAllocation)
ITEMS = table_of(InventoryItem)
OUTBOX = table_of(StockOutbox)
READY = "outbox_ready"
CAUSED_AT = "outbox_caused_at"
CHUNK = 2000

# Fired after commit with (organization_id, store_id) for every store that has new pushes.
outbox_ready: Hook[[uuid.UUID, uuid.UUID]] = Hook("outbox_ready")


def channel_quantity(available: int, share_percent: Decimal, buffer: int) -> int:
    """What a channel may sell: its share of available stock, minus the safety buffer, >= 0."""
    return max(0, math.floor(max(available, 0) * share_percent / 100) - buffer)


# Built once: these run at every commit that touched stock.
_DESIRED = (
    sa.select(
        LISTINGS.c.id,
        LISTINGS.c.store_id,
        LISTINGS.c.organization_id,
        LISTINGS.c.variant_id,
        LISTINGS.c.last_pushed_quantity,
        ALLOCATIONS.c.share_percent,
        ALLOCATIONS.c.buffer,
        ALLOCATIONS.c.location_id,
        OUTBOX.c.quantity.label("queued_quantity"),
        OUTBOX.c.status.label("queued_status"),
    )
    .join(STORES, STORES.c.id == LISTINGS.c.store_id)
    .outerjoin(ALLOCATIONS, ALLOCATIONS.c.store_id == LISTINGS.c.store_id)
    .outerjoin(OUTBOX, OUTBOX.c.listing_id == LISTINGS.c.id)
    .where(
        LISTINGS.c.variant_id.in_(sa.bindparam("ids", expanding=True)),
        LISTINGS.c.match_status == "matched",
        STORES.c.status == "connected",
    )
)
_AVAILABLE = sa.select(
    ITEMS.c.variant_id, ITEMS.c.location_id, ITEMS.c.on_hand - ITEMS.c.reserved
).where(ITEMS.c.variant_id.in_(sa.bindparam("ids", expanding=True)))


def desired_quantities(session: Session, variant_ids: Iterable[uuid.UUID]) -> list[dict[str, Any]]:
    """For each listing of these variants in a connected store: the quantity its channel should
    show, what was last pushed, and the quantity its outbox row holds while that row still waits
    (pending, in flight or failed; None otherwise)."""
    ids = list(variant_ids)
    if len(ids) > CHUNK:  # PostgreSQL takes at most 65,535 parameters per statement
        return [
            d
            for start in range(0, len(ids), CHUNK)
            for d in desired_quantities(session, ids[start : start + CHUNK])
        ]
    if not ids:
        return []
    rows = session.execute(_DESIRED, {"ids": ids}).all()
    available = _available(session, ids)
    result = []
    for row in rows:
        stock = (
            available.get((row.variant_id, row.location_id), 0)
            if row.location_id
            else available.get((row.variant_id, None), 0)
        )
        share = row.share_percent if row.share_percent is not None else Decimal(100)
        result.append(
            {
                "listing_id": row.id,
                "store_id": row.store_id,
                "organization_id": row.organization_id,
                "quantity": channel_quantity(stock, share, row.buffer or 0),
                "last_pushed": row.last_pushed_quantity,
                "queued": row.queued_quantity if row.queued_status != "done" else None,
            }
        )
    return result


def _available(
    session: Session, variant_ids: list[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID | None], int]:
    """Available per (variant, location) and per (variant, None) = all locations."""
    totals: dict[tuple[uuid.UUID, uuid.UUID | None], int] = {}
    for variant_id, location_id, available in session.execute(_AVAILABLE, {"ids": variant_ids}):
        totals[(variant_id, location_id)] = int(available)
        totals[(variant_id, None)] = totals.get((variant_id, None), 0) + int(available)
    return totals


def note_cause(session: Session, arrived: datetime) -> None:
    """The transaction takes in orders whose pushes arrived at `arrived` (the oldest): the stock
    pushes it queues carry that time, and their confirmation observes the propagation."""
    held = session.info.get(CAUSED_AT)
    session.info[CAUSED_AT] = arrived if held is None else min(held, arrived)


def enqueue(
    session: Session,
    variant_ids: Iterable[uuid.UUID],
    *,
    force: bool = False,
    store_id: uuid.UUID | None = None,
    caused_at: datetime | None = None,
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Upsert outbox rows for listings whose channel quantity must change (every listing with
    `force`, e.g. a full inventory sync; only one store's with `store_id`); returns the
    (organization, store) pairs that now have work.

    A listing is written when its quantity differs from the last one pushed OR from the one its
    outbox row still waits to push (stock going 10 → 9 → 10 before the push must not leave 9
    queued). Re-queuing the quantity a row already holds keeps its attempts (the dispatcher
    reads a retried row back before pushing it again) and leaves a row in flight in flight (so
    no second worker pushes the same quantity at once)."""
    wanted = [
        d
        for d in desired_quantities(session, variant_ids)
        if (
            force
            or d["quantity"] != d["last_pushed"]
            or (d["queued"] is not None and d["quantity"] != d["queued"])
        )
        and store_id in (None, d["store_id"])
    ]
    if not wanted:
        return set()
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "organization_id": d["organization_id"],
            "created_at": now,
            "store_id": d["store_id"],
            "listing_id": d["listing_id"],
            "quantity": d["quantity"],
            "status": "pending",
            "attempts": 0,
            "available_at": now,
            "last_error": "",
            "updated_at": now,
            "caused_at": caused_at,
        }
        # One lock order for every writer: concurrent upserts of overlapping rows cannot deadlock.
        for d in sorted(wanted, key=lambda d: d["listing_id"])
    ]
    statement = _upsert(session.get_bind().dialect.name)
    for start in range(0, len(rows), 2000):
        session.execute(statement, rows[start : start + 2000])
    return {(d["organization_id"], d["store_id"]) for d in wanted}


@functools.cache
def _upsert(dialect: str) -> Any:
    """The outbox upsert, built once per dialect (building it and its cache key per call cost
    more than executing it)."""
    insert = postgresql.insert(OUTBOX) if dialect == "postgresql" else sqlite.insert(OUTBOX)
    statement = insert.on_conflict_do_update(
        index_elements=[OUTBOX.c.listing_id],
        set_={
            "quantity": insert.excluded.quantity,
            "status": sa.case(
                (
                    sa.and_(
                        OUTBOX.c.status == "in_progress",
                        OUTBOX.c.quantity == insert.excluded.quantity,
                    ),
                    "in_progress",
                ),
                else_="pending",
            ),
            "attempts": sa.case(
                (
                    sa.and_(
                        sa.or_(OUTBOX.c.status == "pending", OUTBOX.c.status == "in_progress"),
                        OUTBOX.c.quantity == insert.excluded.quantity,
                    ),
                    OUTBOX.c.attempts,
                ),
                else_=0,
            ),
            "available_at": insert.excluded.available_at,
            "last_error": "",
            "updated_at": insert.excluded.updated_at,
            # A push still waiting keeps the oldest order it carries.
            "caused_at": sa.case(
                (
                    sa.and_(
                        sa.or_(OUTBOX.c.status == "pending", OUTBOX.c.status == "in_progress"),
                        OUTBOX.c.caused_at.is_not(None),
                        sa.or_(
                            insert.excluded.caused_at.is_(None),
                            OUTBOX.c.caused_at < insert.excluded.caused_at,
                        ),
                    ),
                    OUTBOX.c.caused_at,
                ),
                else_=insert.excluded.caused_at,
            ),
        },
    )
    return statement


def _queue_pushes(session: Session) -> None:
    # SQLAlchemy fires before_commit for savepoints too: only the real commit queues (once for
    # everything the transaction touched, not once per reservation of a batch).
    if session.in_nested_transaction():
        return
    touched = session.info.pop(STOCK_TOUCHED, None)
    caused_at = session.info.pop(CAUSED_AT, None)
    if touched:
        queued = enqueue(session, touched, caused_at=caused_at)
        session.info.setdefault(READY, set()).update(queued)
    again = session.info.pop(LISTINGS_AGAIN, None)
    if again:
        # A row in flight with the same quantity stays in flight after `enqueue`: send it back to
        # pending so it is pushed once more (its worker's finish then leaves it pending).
        session.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.listing_id.in_(sorted(again)), OUTBOX.c.status == "in_progress")
            .values(status="pending")
        )


def _announce(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint: the rows are not committed yet
        return
    for organization_id, store_id in session.info.pop(READY, set()):
        try:
            outbox_ready(organization_id, store_id)
        except Exception:  # the sweeper picks the rows up anyway
            log.exception("could not announce outbox work for store %s", store_id)


def _forget(session: Session) -> None:
    # A savepoint rolled back keeps what the transaction touched before it (queuing a variant
    # whose stock did not change after all pushes nothing: enqueue compares quantities).
    if session.in_nested_transaction():
        return
    session.info.pop(STOCK_TOUCHED, None)
    session.info.pop(LISTINGS_AGAIN, None)
    session.info.pop(READY, None)
    session.info.pop(CAUSED_AT, None)


SESSION_LISTENERS: SessionListeners = (
    ("before_commit", _queue_pushes),
    ("after_commit", _announce),
    ("after_rollback", _forget),
)


def lease(settings: Settings | None = None) -> timedelta:
    """How long a claimed row stays its worker's before the sweeper puts it back to pending."""
    return timedelta(seconds=(settings or get_settings()).push_lease_seconds)
