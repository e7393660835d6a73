"""Returns fetched from a store's platform since its returns cursor and recorded
(`storesync.fulfilment.returns.record_returns`): run on a return push and after every orders
poll, so a return reaches StoreSync whether or not the push arrives."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from storesync.channels.connections import open_adapter
from storesync.channels.models import Store
from storesync.core.clock import utcnow
from storesync.core.errors import NotFound
from storesync.db import session_scope
from storesync.fulfilment.returns import record_returns
from storesync.fulfilment.schemas import ReturnsSyncReport
from storesync.settings import Settings
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

FIRST_LOOKBACK = timedelta(days=30)  # a store's first returns sync looks this far back
OVERLAP = timedelta(minutes=10)  # a return updated just before the cursor is read again


async def sync_returns(
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> ReturnsSyncReport:
    """Fetch the store's returns updated since its cursor (minus a small overlap; 30 days back
    the first time), record them, and move the cursor to when the fetch began. The marketplace
    call runs outside any transaction. Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    started = utcnow()
    with session_scope(ctx, engine=engine) as session:
        store = session.exec(
            select(Store).where(Store.id == store_id, Store.organization_id == ctx.organization_id)
        ).first()
        if store is None:
            raise NotFound("store", store_id)
        since = _cursor(store.returns_cursor) or started - FIRST_LOOKBACK
        adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
    try:
        found = [r async for r in adapter.fetch_returns(since=since - OVERLAP, until=started)]
    finally:
        with contextlib.suppress(Exception):
            await adapter.connection.http.client.aclose()
    with session_scope(ctx, engine=engine, write_lock=True) as session:
        report = record_returns(session, ctx=ctx, store_id=store_id, returns=found)
        store = session.exec(
            select(Store).where(Store.id == store_id, Store.organization_id == ctx.organization_id)
        ).one()
        previous = _cursor(store.returns_cursor)
        if previous is None or previous < started:  # a concurrent sync may have gone further
            store.returns_cursor = started.isoformat()
    return report


def _cursor(raw: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return value if value is not None and value.tzinfo else None
