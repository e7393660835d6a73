"""Stored order pushes of one store, processed together: one claim, one order-detail call per
50 orders, one writing transaction, one outbox round.

The worker's `process_webhook` message names one event; it takes that event AND every other
order push of the same store still waiting (`received`), so when sales arrive faster than they
are processed the fixed costs (transactions, the detail call, the push that follows) are shared
instead of paid per sale. Concurrent runs claim disjoint events (SKIP LOCKED on PostgreSQL); a
run whose event another run already took has nothing to do.

The rules (`process_webhook_event` is this with one event): at most once per
event (claimed by a conditional update), the order is fetched from the platform and ingested in
the state it reports now, a push that cannot be read or an order the platform does not know
fails its event (a later run may retry it). SQLite discipline: the claim commits before the
HTTP call.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from psycopg.errors import DeadlockDetected
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from storesync.channels.connections import open_adapter
from storesync.channels.schemas import ChannelOrder
from storesync.core.clock import utcnow
from storesync.core.errors import AppError
from storesync.core.models import table_of
from storesync.db import claimable, session_scope
from storesync.orders import service as orders
from storesync.orders.models import Order
from storesync.orders.schemas import NewOrder
from storesync.orders.status import OrderStatus
from storesync.settings import Settings
from storesync.sync.due import (
    MAX_EVENT_ATTEMPTS,
    RETRY_FAILED,
    STUCK_PROCESSING,
    STUCK_RECEIVED,
    DueWork,
    Work,
    due_for,
)
from storesync.sync.intake import returns
from storesync.sync.intake.orders import (
    EVENTS,
    MAX_ERROR,
    SOURCE,
    _announce,
    _close,
    _finish,
    _ingest,
    _note_channel_sale,
    to_new_order,
)
from storesync.sync.intake.pushes import BadPush, read_push
from storesync.sync.intake.schemas import EventOutcome, PushKind
from storesync.sync.push import outbox
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

log = logging.getLogger(__name__)
# Pushes one run claims: one order-detail call's worth (both platforms take 50 order ids). The
# claim held 16 only since it was fixed (on PostgreSQL it used to take every waiting push), and
# at 300 orders/s the extra batches' fixed costs took the CPU the intake needed.
BATCH = 50
DEADLOCK_RETRIES = 4
ORDERS: Any = table_of(Order)
NO_SALE = (OrderStatus.CANCELLED, OrderStatus.RETURNED)  # the channel took no units off


@dataclass
class BatchReport:
    claimed: int = 0
    processed: int = 0
    ignored: int = 0
    failed: int = 0
    orders: int = 0  # distinct orders fetched and ingested
    own: str = EventOutcome.SKIPPED  # what happened to the event the run was started for
    errors: dict[uuid.UUID, str] = field(default_factory=dict)
    taken: set[uuid.UUID] = field(default_factory=set)  # the events claimed


@dataclass(frozen=True)
class _Claimed:
    id: uuid.UUID
    store_id: uuid.UUID
    platform: str
    payload: dict[str, Any]
    received_at: datetime


async def process_store_events(
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    settings: Settings | None = None,
    engine: Engine | None = None,
    limit: int = BATCH,
) -> BatchReport:
    """Process `event_id` and up to `limit - 1` other waiting order pushes of its store. The
    event itself is retried if it `failed` before; the others only if still `received`. With
    `limit=1` only the event itself is ever taken."""
    ctx = RequestContext.system(organization_id)
    ctx.require(Permission.PROCESS_ORDERS)
    report = BatchReport()
    with session_scope(ctx, engine=engine) as session:
        claimed = _claim(session, ctx, event_id, limit)
        report.claimed = len(claimed)
        report.taken = {c.id for c in claimed}
        if not claimed:
            return report
        wanted, settled, returns = _read(session, ctx, claimed, report)
        adapter = None
        if wanted:
            try:
                adapter = open_adapter(
                    session, ctx=ctx, store_id=claimed[0].store_id, settings=settings
                )
            except AppError as error:
                _fail_all(session, ctx, wanted, error.message, report)
    try:
        if adapter is not None:
            try:
                fetched = await adapter.fetch_order_details(sorted(set(wanted.values())))
            except AppError as error:
                with session_scope(ctx, engine=engine) as session:
                    _fail_all(session, ctx, wanted, error.message, report)
            else:
                arrived = min(c.received_at for c in claimed if c.id in wanted)
                _ingest_retrying(ctx, engine, claimed[0], wanted, fetched, report, arrived)
            finally:
                await _close(adapter)
        if returns:
            await _sync_returns(ctx, claimed[0].store_id, returns, settings, engine, report)
    except BaseException:
        # Not the platform's answer (the database or Redis went away, the run was cancelled):
        # the claimed events go back to waiting, so the next run of the store (or the sweep)
        # takes them at once instead of after the stuck-processing timeout.
        _give_back(ctx, engine, [c.id for c in claimed])
        raise
    if event_id in report.errors:
        report.own = EventOutcome.FAILED
    elif event_id in settled:
        report.own = settled[event_id]
    elif any(c.id == event_id for c in claimed):
        report.own = EventOutcome.PROCESSED
    return report


def _give_back(ctx: RequestContext, engine: Engine | None, event_ids: list[uuid.UUID]) -> None:
    try:
        with session_scope(ctx, engine=engine) as session:
            session.execute(
                sa.update(EVENTS)
                .where(EVENTS.c.id.in_(event_ids), EVENTS.c.status == "processing")
                .values(status="received")
            )
    except Exception:  # still away: the sweep puts them back after STUCK_PROCESSING
        log.warning("could not give back %d webhook events after a failed run", len(event_ids))


def _ingest_retrying(
    ctx: RequestContext,
    engine: Engine | None,
    first: _Claimed,
    wanted: dict[uuid.UUID, str],
    fetched: list[ChannelOrder],
    report: BatchReport,
    arrived: datetime,
) -> None:
    """One transaction for the whole batch. Two batches of one store can lock the same stock
    rows in different orders (order A then B here, B then A there): PostgreSQL detects the
    deadlock and rolls one back, which is then run again (its HTTP work is already done).
    `arrived` is the batch's oldest push's arrival: the stock pushes it queues carry it (the
    propagation histogram)."""
    before = (report.processed, report.failed, report.orders, dict(report.errors))
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            # Reads the known orders, then writes: on SQLite it takes the write lock first.
            with session_scope(ctx, engine=engine, write_lock=True) as session:
                outbox.note_cause(session, arrived)
                _ingest_all(session, ctx, first, wanted, fetched, report)
            return
        except OperationalError as error:
            if not isinstance(error.orig, DeadlockDetected) or attempt == DEADLOCK_RETRIES:
                raise
            log.info("webhook batch of store %s deadlocked; running it again", first.store_id)
            report.processed, report.failed, report.orders, report.errors = (
                before[0],
                before[1],
                before[2],
                dict(before[3]),
            )
            time.sleep(0.01 * attempt)


def _claim(
    session: Session, ctx: RequestContext, event_id: uuid.UUID, limit: int
) -> list[_Claimed]:
    statement = _claim_statement(single=limit == 1, postgres=_is_postgres(session))
    rows = session.execute(
        statement, {"event": event_id, "org": ctx.organization_id, "limit": limit, "now": utcnow()}
    ).all()
    return [_Claimed(r.id, r.store_id, r.platform, dict(r.payload), r.received_at) for r in rows]


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@functools.cache
def _claim_statement(*, single: bool, postgres: bool) -> Any:
    """The claim, built once per shape (it runs for every push message): this event and up to
    `limit - 1` waiting pushes of its store, marked processing. `single`: this event or nothing."""
    event: Any = sa.bindparam("event")
    org: Any = sa.bindparam("org")
    store = (
        sa.select(EVENTS.c.store_id)
        .where(EVENTS.c.id == event, EVENTS.c.organization_id == org)
        .scalar_subquery()
    )
    waiting = sa.or_(
        EVENTS.c.status == "received",
        sa.and_(EVENTS.c.id == event, EVENTS.c.status == "failed"),
    )
    if single:
        waiting = sa.and_(EVENTS.c.id == event, EVENTS.c.status.in_(("received", "failed")))
    candidates = (
        sa.select(EVENTS.c.id)
        .where(EVENTS.c.organization_id == org, EVENTS.c.store_id == store, waiting)
        .order_by((EVENTS.c.id == event).desc(), EVENTS.c.received_at)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )
    picked = claimable(candidates, postgres=postgres)
    return (
        sa.update(EVENTS)
        .where(EVENTS.c.id.in_(picked))
        .values(status="processing", attempts=EVENTS.c.attempts + 1, claimed_at=sa.bindparam("now"))
        .returning(
            EVENTS.c.id,
            EVENTS.c.store_id,
            EVENTS.c.platform,
            EVENTS.c.payload,
            EVENTS.c.received_at,
        )
    )


async def _sync_returns(
    ctx: RequestContext,
    store_id: uuid.UUID,
    events: list[uuid.UUID],
    settings: Settings | None,
    engine: Engine | None,
    report: BatchReport,
) -> None:
    """Return pushes: the store's returns fetched once for all of them."""
    problem = ""
    try:
        await returns.sync_returns(ctx=ctx, store_id=store_id, settings=settings, engine=engine)
    except AppError as error:
        problem = error.message[:MAX_ERROR]
    with session_scope(ctx, engine=engine) as session:
        if problem:
            _fail_all(session, ctx, dict.fromkeys(events, ""), problem, report)
        else:
            _finish(session, ctx, events, EventOutcome.PROCESSED, "")
            report.processed += len(events)


def _read(
    session: Session, ctx: RequestContext, claimed: list[_Claimed], report: BatchReport
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str], list[uuid.UUID]]:
    """Event id → platform order id for the order pushes, and the return pushes; the rest are
    settled at once."""
    wanted: dict[uuid.UUID, str] = {}
    settled: dict[uuid.UUID, str] = {}
    return_events: list[uuid.UUID] = []
    for event in claimed:
        try:
            push = read_push(event.platform, event.payload)
        except BadPush as error:
            _finish(session, ctx, event.id, EventOutcome.FAILED, str(error))
            report.failed += 1
            report.errors[event.id] = str(error)
            settled[event.id] = EventOutcome.FAILED
            continue
        if push.kind is PushKind.RETURN:
            return_events.append(event.id)
        elif push.kind is not PushKind.ORDER:
            _finish(session, ctx, event.id, EventOutcome.IGNORED, "")
            report.ignored += 1
            settled[event.id] = EventOutcome.IGNORED
        elif not push.order_id:
            problem = "the push names no order"
            _finish(session, ctx, event.id, EventOutcome.FAILED, problem)
            report.failed += 1
            report.errors[event.id] = problem
            settled[event.id] = EventOutcome.FAILED
        else:
            wanted[event.id] = push.order_id
    return wanted, settled, return_events


def _fail_all(
    session: Session,
    ctx: RequestContext,
    wanted: dict[uuid.UUID, str],
    problem: str,
    report: BatchReport,
) -> None:
    for event_id in wanted:
        _finish(session, ctx, event_id, EventOutcome.FAILED, problem[:MAX_ERROR])
        report.errors[event_id] = problem
    report.failed += len(wanted)
    log.warning("%d webhook events failed: %s", len(wanted), problem)


def _ingest_all(
    session: Session,
    ctx: RequestContext,
    first: _Claimed,
    wanted: dict[uuid.UUID, str],
    fetched: list[ChannelOrder],
    report: BatchReport,
) -> None:
    """Each distinct order once (in the order the platform last changed them), then every event
    that named it is processed, or failed with the reason. Writes first (SQLite takes its write
    lock before this transaction reads anything; PostgreSQL needs no such first write)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            sa.update(EVENTS).where(EVENTS.c.id.in_(list(wanted))).values(status="processing")
        )
    problems: dict[str, str] = {}
    ordered = sorted(fetched, key=lambda o: o.updated_at)
    recorded = _record_fresh(session, ctx, first.store_id, ordered, problems)
    report.orders += len(recorded)
    for order in ordered:
        if order.platform_order_id in recorded or order.platform_order_id in problems:
            continue
        try:
            with session.begin_nested():
                _ingest(session, ctx=ctx, store_id=first.store_id, order=order)
            report.orders += 1
        except AppError as error:
            problems[order.platform_order_id] = error.message
    known = {o.platform_order_id for o in fetched}
    processed: list[uuid.UUID] = []
    for event_id, order_id in wanted.items():
        problem = problems.get(order_id, "")
        if order_id not in known:
            problem = f"{first.platform} does not know order {order_id!r}"
        if problem:
            _finish(session, ctx, event_id, EventOutcome.FAILED, problem)
            report.failed += 1
            report.errors[event_id] = problem
        else:
            processed.append(event_id)
    _finish(session, ctx, processed, EventOutcome.PROCESSED, "")
    report.processed += len(processed)
    if problems or report.errors:
        log.warning("store %s: %d webhook events failed", first.store_id, len(report.errors))


def _record_fresh(
    session: Session,
    ctx: RequestContext,
    store_id: uuid.UUID,
    ordered: list[ChannelOrder],
    problems: dict[str, str],
) -> set[str]:
    """The orders StoreSync does not hold yet, recorded together (`orders.record_new_orders`:
    a few statements for the whole batch instead of ~20 per order). Returns their platform
    order ids. An order that cannot be read lands in `problems`; known orders, and any a
    concurrent intake recorded first, are left to `_ingest` one at a time, as is every order if
    the set-based pass fails."""
    news: dict[str, NewOrder] = {}
    for order in ordered:
        try:
            news[order.platform_order_id] = to_new_order(store_id, order)
        except AppError as error:
            problems[order.platform_order_id] = error.message
    if not news:
        return set()
    known = set(
        session.execute(
            sa.select(ORDERS.c.platform_order_id).where(
                ORDERS.c.organization_id == ctx.organization_id,
                ORDERS.c.store_id == store_id,
                ORDERS.c.platform_order_id.in_(list(news)),
            )
        ).scalars()
    )
    fresh = [order for order in ordered if order.platform_order_id in news.keys() - known]
    if not fresh:
        return set()
    try:
        with session.begin_nested():
            rows = orders.record_new_orders(
                session,
                ctx=ctx,
                store_id=store_id,
                orders=[news[order.platform_order_id] for order in fresh],
                source=SOURCE,
            )
    except AppError as error:
        log.info("store %s: new orders go one at a time (%s)", store_id, error.message)
        return set()
    for order in fresh:
        row = rows.get(order.platform_order_id)
        if row is None:
            continue  # recorded by a concurrent intake meanwhile: `_ingest` follows it
        if news[order.platform_order_id].status not in NO_SALE:
            _note_channel_sale(session, store_id, order)
        _announce(session, ctx, "order.created", row)
    return set(rows)


async def process_webhook_event(
    session: Session,
    *,
    ctx: RequestContext,
    event_id: uuid.UUID,
    settings: Settings | None = None,
) -> str:
    """Work out what one stored push means and act on it, at most once: the event alone goes
    through `process_store_events` (claimed by a conditional update, so a concurrent
    or repeated run returns `skipped` and changes nothing; order pushes fetch the order from the
    platform and ingest it; stock pushes and others are `ignored`). Ends `processed`, `ignored`
    or `failed` (a later run may retry a failed event). Platform and validation errors are
    recorded, not raised. Runs in transactions of its own on the session's engine; the caller's
    session is not written. Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    report = await process_store_events(
        organization_id=ctx.organization_id,
        event_id=event_id,
        settings=settings,
        engine=session.get_bind(),  # type: ignore[arg-type]
        limit=1,
    )
    return report.own


# -- the sweep ----------------------------------------------------------------------------------


# When an event counts as stuck lives with the due query (`storesync.sync.due`). A failed event
# (the platform was down, the order not yet visible) is tried again every `RETRY_FAILED`, up to
# `MAX_EVENT_ATTEMPTS` in all; a batch run fails the other events of its store without raising
# for them, so this is what retries those.


def sweep_webhooks(
    *, engine: Engine | None = None, due: DueWork | None = None
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Webhook events nobody finished: stored but never handed over (received for 30 s),
    claimed by a worker that died (claimed 5 min ago and still processing, put back to
    received), or failed less
    than `MAX_EVENT_ATTEMPTS` times and not tried for `RETRY_FAILED`. Returns (event id,
    organization id) pairs to process again. Looks only in the organizations `due` names
    (`storesync.sync.due`; looked up afresh without it)."""
    events = EVENTS
    due = due_for(Work.WEBHOOKS, due, engine)
    now = utcnow()
    stuck: list[tuple[uuid.UUID, uuid.UUID]] = []
    for org_id in due.of(Work.WEBHOOKS):
        with session_scope(RequestContext.system(org_id), engine=engine) as session:
            session.execute(
                sa.update(events)
                .where(
                    events.c.organization_id == org_id,
                    events.c.status == "processing",
                    # Held that long since its claim (not since it arrived: after a backlog a
                    # batch claimed a moment ago was put back and processed twice).
                    sa.func.coalesce(events.c.claimed_at, events.c.received_at)
                    < now - STUCK_PROCESSING,
                )
                .values(status="received")
            )
            ids = (
                session.execute(
                    sa.select(events.c.id).where(
                        events.c.organization_id == org_id,
                        sa.or_(
                            sa.and_(
                                events.c.status == "received",
                                events.c.received_at < now - STUCK_RECEIVED,
                            ),
                            sa.and_(
                                events.c.status == "failed",
                                events.c.attempts < MAX_EVENT_ATTEMPTS,
                                events.c.processed_at < now - RETRY_FAILED,
                            ),
                        ),
                    )
                )
                .scalars()
                .all()
            )
            stuck.extend((event_id, org_id) for event_id in ids)
    return stuck
