"""Reconciliation: read what a channel really shows, compare it with what it should show,
record every difference (`stock_drift`) and repair it through the outbox. No database
transaction is held while the marketplace is read.

1. Reading: every product, paged to the end; `progress(phase="reading")` after every page, so
   a cancelled job stops there having written nothing.
2. Comparing, in one transaction: each matched listing's quantity read against what it should
   show (`outbox.desired_quantities`: allocation share minus buffer, floor 0). A listing is not
   judged (`in_flight`) while a push for it is on its way: its outbox row is pending or in
   progress, or a push reached the channel after reading began (the figure read may predate
   it); that difference is expected, not drift. A difference writes a drift row, records the
   channel's real figure as the listing's `last_pushed_quantity` (so no dispatcher takes the
   repair for a push already made) and queues a forced push. Every listing read gets
   `channel_quantity` = what was read.
3. Repairing: the store's outbox is pushed (one more round for retryable failures) and drift
   whose listing then got a push is marked repaired; a push still deferred goes out with the
   sweeper, and the next run marks its drift repaired.

Run it after the store's orders are in: a sale whose order has not reached us yet looks like
drift, and repairing it offers the sold units again until the order arrives.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storesync.channels.adapter import PlatformAdapter
from storesync.channels.connections import open_adapter
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, NotFound
from storesync.core.ids import new_id
from storesync.db import session_scope
from storesync.settings import Settings
from storesync.sync.health.drift import DRIFT, list_drift, mark_repaired
from storesync.sync.health.schemas import ReconcileReport
from storesync.sync.jobs.progress import ProgressSink, no_progress
from storesync.sync.push import dispatch, outbox
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

__all__ = ["list_drift", "mark_repaired", "reconcile_store"]
LISTINGS = outbox.LISTINGS
OUTBOX = outbox.OUTBOX
STORES = outbox.STORES
IN_FLIGHT = ("pending", "in_progress")
CHUNK = 1000
ROUNDS = 2  # push rounds: a retryable failure gets one more try at once

Key = tuple[str, str]


@dataclass
class _Comparison:
    checked: int = 0
    in_flight: int = 0
    missing: int = 0
    drift_ids: list[uuid.UUID] = field(default_factory=list)


async def reconcile_store(
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    job_id: uuid.UUID | None = None,
    settings: Settings | None = None,
    engine: Engine | None = None,
    progress: ProgressSink = no_progress,
) -> ReconcileReport:
    """Compare every matched listing of a connected store with the stock its channel shows,
    record each difference as a `stock_drift` row (with `job_id`), push the right quantities
    and mark the drift repaired once they reached the channel (see the module docstring for
    what is not judged, and why). Needs RUN_SYNC. A `JobCancelled` raised by `progress`
    propagates: while reading, nothing has been written; later, what was compared stays
    recorded and its queued pushes go out with the sweeper. Commits its own transactions."""
    ctx.require(Permission.RUN_SYNC)
    started = utcnow()
    with session_scope(ctx, engine=engine) as session:
        listed = _require_connected(session, ctx, store_id)
        adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
    seen, calls = await _read_channel(adapter, progress, listed)
    with session_scope(ctx, engine=engine, write_lock=True) as session:  # reads, then writes
        found = _compare(session, ctx, store_id, seen, started, job_id)
    drifted = len(found.drift_ids)
    if drifted:
        progress(phase="repairing", done=0, total=drifted)
        calls += await _push(ctx, store_id, settings, engine)
    with session_scope(ctx, engine=engine) as session:  # also closes earlier runs' drift
        marked = mark_repaired(session, ctx=ctx, store_id=store_id)
    repaired = len(set(marked).intersection(found.drift_ids))
    if drifted:
        progress(phase="repairing", done=repaired, total=drifted)
    return ReconcileReport(
        store_id=store_id,
        job_id=job_id,
        checked=found.checked,
        drifted=drifted,
        repaired=repaired,
        missing=found.missing,
        in_flight=found.in_flight,
        calls=calls,
    )


def _require_connected(session: Session, ctx: RequestContext, store_id: uuid.UUID) -> int:
    """`NotFound` for another organization's store, a sync error unless it is connected (the
    outbox pushes to connected stores only); returns how many listings it has."""
    store = session.execute(
        sa.select(STORES.c.name, STORES.c.status).where(
            STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id
        )
    ).first()
    if store is None:
        raise NotFound("store", store_id)
    name, status = store
    if status != "connected":
        raise AppError(
            ErrorType.SYNC,
            "store_not_connected",
            f"store {name} is {status.replace('_', ' ')}: reconnect it before reconciling",
            details={"store_id": str(store_id), "status": status},
            retryable=False,
        )
    return int(
        session.execute(
            sa.select(sa.func.count()).where(
                LISTINGS.c.organization_id == ctx.organization_id, LISTINGS.c.store_id == store_id
            )
        ).scalar_one()
    )


async def _read_channel(
    adapter: PlatformAdapter, progress: ProgressSink, listed: int
) -> tuple[dict[Key, int | None], int]:
    """Every channel variant's quantity by (item, model), and the calls it took. `progress` is
    told after every page (`page_size` products)."""
    seen: dict[Key, int | None] = {}
    page = adapter.capabilities.page_size
    http = adapter.connection.http
    before = http.calls
    products = 0
    try:
        async for product in adapter.fetch_products():
            for variant in product.variants:
                seen[(variant.platform_item_id, variant.platform_model_id)] = variant.quantity
            products += 1
            if products % page == 0:
                progress(phase="reading", done=len(seen), total=max(listed, len(seen)))
        if products % page or not products:
            progress(phase="reading", done=len(seen), total=len(seen))
    finally:
        calls = http.calls - before
        await http.client.aclose()
    return seen, calls


def _compare(
    session: Session,
    ctx: RequestContext,
    store_id: uuid.UUID,
    seen: dict[Key, int | None],
    started: datetime,
    job_id: uuid.UUID | None,
) -> _Comparison:
    rows = session.execute(
        sa.select(
            LISTINGS.c.id,
            LISTINGS.c.platform_item_id,
            LISTINGS.c.platform_model_id,
            LISTINGS.c.variant_id,
            LISTINGS.c.match_status,
            LISTINGS.c.channel_quantity,
            LISTINGS.c.last_pushed_at,
            OUTBOX.c.status.label("push_status"),
        )
        .outerjoin(OUTBOX, OUTBOX.c.listing_id == LISTINGS.c.id)
        .where(LISTINGS.c.organization_id == ctx.organization_id, LISTINGS.c.store_id == store_id)
    ).all()
    matched = [r for r in rows if r.match_status == "matched" and r.variant_id is not None]
    desired = {
        d["listing_id"]: d["quantity"]
        for d in outbox.desired_quantities(session, {r.variant_id for r in matched})
        if d["store_id"] == store_id
    }
    result = _Comparison()
    readings: dict[uuid.UUID, int | None] = {}
    differs: dict[uuid.UUID, tuple[uuid.UUID, int, int | None]] = {}
    for row in rows:
        key = (row.platform_item_id, row.platform_model_id)
        judged = row.match_status == "matched" and row.variant_id is not None
        if key not in seen:
            if judged:
                result.missing += 1
            continue
        pushed_since = row.last_pushed_at is not None and row.last_pushed_at > started
        if not pushed_since and seen[key] != row.channel_quantity:
            readings[row.id] = seen[key]
        if not judged:
            continue
        if pushed_since or row.push_status in IN_FLIGHT or row.id not in desired:
            result.in_flight += 1
            continue
        result.checked += 1
        if seen[key] != desired[row.id]:
            differs[row.id] = (row.variant_id, desired[row.id], seen[key])
    _record_readings(session, ctx, readings, started)
    drifted = _take_drift(session, ctx, differs, started)
    result.checked -= len(differs) - len(drifted)
    result.in_flight += len(differs) - len(drifted)
    result.drift_ids = _write_drift(session, ctx, store_id, job_id, drifted, differs)
    if drifted:
        outbox.enqueue(session, {differs[i][0] for i in drifted}, force=True, store_id=store_id)
    return result


def _unpushed_since(started: datetime) -> sa.ColumnElement[bool]:
    """The listing got no push after reading began (and none is on its way)."""
    waiting = sa.exists().where(
        OUTBOX.c.listing_id == LISTINGS.c.id, OUTBOX.c.status.in_(IN_FLIGHT)
    )
    return sa.and_(
        sa.or_(LISTINGS.c.last_pushed_at.is_(None), LISTINGS.c.last_pushed_at <= started),
        ~waiting,
    )


def _record_readings(
    session: Session, ctx: RequestContext, readings: dict[uuid.UUID, int | None], started: datetime
) -> None:
    """Store what the channel showed, unless a push reached it since (that figure is newer)."""
    if not readings:
        return
    statement = (
        sa.update(LISTINGS)
        .where(
            LISTINGS.c.id == sa.bindparam("_id"),
            LISTINGS.c.organization_id == ctx.organization_id,
            sa.or_(LISTINGS.c.last_pushed_at.is_(None), LISTINGS.c.last_pushed_at <= started),
        )
        .values(channel_quantity=sa.bindparam("_found"))
    )
    params = [{"_id": i, "_found": q} for i, q in readings.items()]
    for start in range(0, len(params), CHUNK):
        session.connection().execute(statement, params[start : start + CHUNK])


def _take_drift(
    session: Session,
    ctx: RequestContext,
    differs: dict[uuid.UUID, tuple[uuid.UUID, int, int | None]],
    started: datetime,
) -> list[uuid.UUID]:
    """Record what the channel really shows as the last quantity it has, for listings still
    without a push since reading began (checked again under the row lock: a push or an order
    that came in meanwhile makes the difference expected). Returns the listings taken."""
    ids = sorted(differs)
    taken: list[uuid.UUID] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found = sa.case({i: differs[i][2] for i in chunk}, value=LISTINGS.c.id)
        taken += (
            session.execute(
                sa.update(LISTINGS)
                .where(
                    LISTINGS.c.id.in_(chunk),
                    LISTINGS.c.organization_id == ctx.organization_id,
                    _unpushed_since(started),
                )
                .values(last_pushed_quantity=found, channel_quantity=found)
                .returning(LISTINGS.c.id)
            )
            .scalars()
            .all()
        )
    return taken


def _write_drift(
    session: Session,
    ctx: RequestContext,
    store_id: uuid.UUID,
    job_id: uuid.UUID | None,
    drifted: list[uuid.UUID],
    differs: dict[uuid.UUID, tuple[uuid.UUID, int, int | None]],
) -> list[uuid.UUID]:
    now = utcnow()
    ids = [new_id() for _ in drifted]
    rows: list[dict[str, Any]] = [
        {
            "id": drift_id,
            "organization_id": ctx.organization_id,
            "created_at": now,
            "store_id": store_id,
            "listing_id": listing_id,
            "job_id": job_id,
            "expected": differs[listing_id][1],
            "found": differs[listing_id][2],
            "repaired": False,
            "repaired_at": None,
        }
        for drift_id, listing_id in zip(ids, drifted, strict=True)
    ]
    for start in range(0, len(rows), CHUNK):
        session.execute(sa.insert(DRIFT), rows[start : start + CHUNK])
    return ids


async def _push(
    ctx: RequestContext, store_id: uuid.UUID, settings: Settings | None, engine: Engine | None
) -> int:
    """Push the store's outbox; rows deferred by a retryable failure get one more round now.
    Returns the calls made."""
    calls = 0
    for _round in range(ROUNDS):
        report = await dispatch.push_store(
            organization_id=ctx.organization_id, store_id=store_id, settings=settings, engine=engine
        )
        calls += report.calls
        if not report.deferred:
            break
        with session_scope(ctx, engine=engine) as session:
            session.execute(
                sa.update(OUTBOX)
                .where(OUTBOX.c.store_id == store_id, OUTBOX.c.status == "pending")
                .values(available_at=utcnow())
            )
    return calls
