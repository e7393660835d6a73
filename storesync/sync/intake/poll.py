"""The polling safety net: fetch a store's orders by time window and ingest each, for pushes
that never came. `sync_orders` keeps a per-store cursor; a window can also be given (back-fill).
Same SQLite discipline as `intake.orders`: HTTP first, then one writing transaction."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from storesync.channels.adapter import PlatformAdapter
from storesync.channels.connections import open_adapter
from storesync.channels.models import Store
from storesync.channels.schemas import ChannelOrder
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, NotFound
from storesync.settings import Settings
from storesync.sync.intake.orders import STORES, _close, _ingest, _side_session
from storesync.sync.intake.schemas import IngestOutcome, OrdersSyncReport, OrderSyncFailure
from storesync.sync.jobs.progress import ProgressSink, no_progress
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

log = logging.getLogger(__name__)

DEFAULT_LOOKBACK = timedelta(days=3)
# An open-ended sync that saw no newer order still moves its cursor to (end - SETTLE): orders
# updated before then would have been listed by now. Keeps the next window short.
SETTLE = timedelta(minutes=5)


# -- polling ----------------------------------------------------------------------


async def sync_orders(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    since: datetime | None = None,
    until: datetime | None = None,
    settings: Settings | None = None,
    progress: ProgressSink = no_progress,
) -> OrdersSyncReport:
    """Fetch the store's orders updated in [since, until) and ingest each (the safety net for
    pushes that never came). Without `since` the window starts at the store's orders cursor
    (or `DEFAULT_LOOKBACK` ago on a first run); without `until` it ends now. The cursor moves
    forward only when the window started at or before it: to the newest `updated_at` seen, or
    (open-ended runs) to `until - SETTLE` when that is later. One order that cannot be ingested
    is reported and skipped; a platform error stops the run (raised, nothing committed).
    Sets `last_synced_at`. `progress` hears phase "fetch" after every order read (total
    unknown: 0), then "ingest" before each order; it may raise `JobCancelled`, which leaves the
    caller's transaction to roll back. Needs RUN_SYNC and PROCESS_ORDERS."""
    ctx.require(Permission.RUN_SYNC)
    ctx.require(Permission.PROCESS_ORDERS)
    end = until or utcnow()
    cursor, adapter = _sync_start(session, ctx, store_id, settings)
    start = since or cursor or end - DEFAULT_LOOKBACK
    fetched: list[ChannelOrder] = []
    try:
        # Collected before the first write (see the module docstring).
        async for order in adapter.fetch_orders(since=start, until=end):
            fetched.append(order)
            progress(phase="fetch", done=len(fetched), total=0)
    finally:
        await _close(adapter)
    _touch_store(session, ctx, store_id)
    counts = dict.fromkeys(IngestOutcome, 0)
    failures: list[OrderSyncFailure] = []
    for done, order in enumerate(sorted(fetched, key=lambda o: o.updated_at)):
        progress(phase="ingest", done=done, total=len(fetched), failed=len(failures))
        try:
            with session.begin_nested():
                _, outcome = _ingest(session, ctx=ctx, store_id=store_id, order=order)
            counts[outcome] += 1
        except AppError as error:
            log.warning(
                "store %s order %s not ingested: %s",
                store_id,
                order.platform_order_id,
                error.message,
            )
            failures.append(
                OrderSyncFailure(
                    platform_order_id=order.platform_order_id,
                    code=error.code,
                    message=error.message,
                )
            )
    progress(phase="ingest", done=len(fetched), total=len(fetched), failed=len(failures))
    newest = max((o.updated_at for o in fetched), default=None)
    next_cursor = _next_cursor(cursor, start, newest, end if until is None else None)
    _save_cursor(session, ctx, store_id, next_cursor)
    return OrdersSyncReport(
        store_id=store_id,
        since=start,
        until=end,
        fetched=len(fetched),
        created=counts[IngestOutcome.CREATED],
        updated=counts[IngestOutcome.UPDATED],
        unchanged=counts[IngestOutcome.UNCHANGED],
        stale=counts[IngestOutcome.STALE],
        failed=len(failures),
        failures=failures,
        cursor=next_cursor.isoformat() if next_cursor else "",
    )


def _sync_start(
    session: Session, ctx: RequestContext, store_id: uuid.UUID, settings: Settings | None
) -> tuple[datetime | None, PlatformAdapter]:
    """The store's cursor and an open adapter, read in a side transaction."""
    with _side_session(session, ctx) as side:
        store = side.exec(
            select(Store).where(Store.id == store_id, Store.organization_id == ctx.organization_id)
        ).first()
        if store is None:
            raise NotFound("store", store_id)
        cursor = _parse_cursor(store.orders_cursor, store_id)
        adapter = open_adapter(side, ctx=ctx, store_id=store_id, settings=settings)
    return cursor, adapter


def _parse_cursor(raw: str, store_id: uuid.UUID) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        log.warning("store %s: unreadable orders cursor %r, starting over", store_id, raw)
        return None
    return value if value.tzinfo else None


def _next_cursor(
    cursor: datetime | None, start: datetime, newest: datetime | None, open_end: datetime | None
) -> datetime | None:
    if cursor is not None and start > cursor:
        return cursor  # a window after a gap: the gap is still unsynced
    candidates = [c for c in (cursor, newest, open_end - SETTLE if open_end else None) if c]
    return max(candidates, default=None)


def _touch_store(session: Session, ctx: RequestContext, store_id: uuid.UUID) -> None:
    """Set `last_synced_at` first: the transaction takes its write lock before it reads."""
    now = utcnow()
    session.execute(
        sa.update(STORES)
        .where(STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id)
        .values(last_synced_at=now, updated_at=now)
    )


def _save_cursor(
    session: Session, ctx: RequestContext, store_id: uuid.UUID, cursor: datetime | None
) -> None:
    if cursor is None:
        return
    session.execute(
        sa.update(STORES)
        .where(STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id)
        .values(orders_cursor=cursor.isoformat())
    )
