"""Outages heal themselves: a store that stopped syncing is marked with `unhealthy_since`, and
when it works again a "backfill" job fetches the orders of the gap by time window, re-pushes
its stock, and clears the mark.

Signs of an outage: token refresh refused (`reauthorize`), calls failing with network errors,
server errors or an open circuit (a job fails with one of them, or a health check says so), or
a last successful order sync older than the schedule allows (the workers were down; see
`storesync.sync.health.schedule`). The gap starts at the last successful sync before the first sign
(or the sign itself); the back-fill window opens `MARGIN` earlier and ends when the job runs.

Signs of health: the store is (re)connected through OAuth, a health check passes with the
circuit closed, or the schedule's periodic back-fill attempt succeeds (the job is its own
probe). Everything is idempotent: orders are unique per store, so orders already ingested are
left unchanged; a second heal while a back-fill is queued or running returns that job; once
healed, nothing more is started.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from storesync.channels.schemas import StoreHealthDTO
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, NotFound
from storesync.core.events import publish_after_commit
from storesync.db import session_scope
from storesync.notifications.service import notify
from storesync.settings import Settings
from storesync.sync.health import trouble
from storesync.sync.intake import poll as order_poll
from storesync.sync.jobs import service as jobs
from storesync.sync.jobs.progress import ProgressSink
from storesync.sync.jobs.runner import prefixed
from storesync.sync.jobs.schemas import JobDTO, JobKind
from storesync.sync.push import dispatch
from storesync.sync.push import inventory as inventory_sync
from storesync.sync.push.outbox import OUTBOX
from storesync.tenancy.context import RequestContext

log = logging.getLogger(__name__)

MARGIN = timedelta(minutes=10)
HEALTH_EVENT = "store.health"
OUTAGE_CODES = {"circuit_open", "network_error", "timeout", "server_error", "reauthorize"}
STORES = jobs.STORES


def is_outage(error: AppError) -> bool:
    """Whether a failure means the store cannot sync (rather than one bad request)."""
    return error.type is ErrorType.NETWORK or error.code in OUTAGE_CODES


def mark_unhealthy(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    reason: str,
    since: datetime | None = None,
) -> bool:
    """Record that the store stopped syncing: `unhealthy_since` becomes `since`, or the last
    successful sync (or now, if that is later or unknown). A mark already set is kept: the gap
    starts at the first sign. True when newly marked (and `store.health` published)."""
    now = utcnow()
    mine = (STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id)
    row = session.execute(
        sa.select(STORES.c.unhealthy_since, STORES.c.last_synced_at).where(*mine)
    ).first()
    if row is None:
        raise NotFound("store", store_id)
    if row.unhealthy_since is not None:
        return False
    start = since or min(now, row.last_synced_at or now)
    marked = session.execute(
        sa.update(STORES)
        .where(*mine, STORES.c.unhealthy_since.is_(None))
        .values(unhealthy_since=start)
    ).rowcount  # type: ignore[attr-defined]
    if not marked:
        return False
    log.warning("store %s unhealthy since %s (%s)", store_id, start.isoformat(), reason)
    publish_after_commit(
        session,
        ctx.organization_id,
        HEALTH_EVENT,
        {
            "store_id": str(store_id),
            "healthy": False,
            "reason": reason,
            "unhealthy_since": start.isoformat(),
        },
    )
    return True


def note_failure(
    *, ctx: RequestContext, store_id: uuid.UUID, error: AppError, engine: Engine | None = None
) -> bool:
    """A sync of the store failed: when the failure is an outage, mark the store unhealthy (a
    refused token refresh also sets its status to `reauth_required`). True when newly marked."""
    if not is_outage(error):
        return False
    with session_scope(ctx, engine=engine) as session:
        if error.code == "reauthorize":
            changed = session.execute(
                sa.update(STORES)
                .where(
                    STORES.c.id == store_id,
                    STORES.c.organization_id == ctx.organization_id,
                    STORES.c.status == "connected",
                )
                .values(status="reauth_required", sync_status="paused", updated_at=utcnow())
                .returning(STORES.c.name)
            ).first()
            if changed is not None:
                notify(
                    session,
                    organization_id=ctx.organization_id,
                    kind="store.reauth_required",
                    severity="error",
                    title=f"Reconnect {changed.name}: its authorization expired",
                    body="Orders and stock stop syncing until the store is connected again.",
                    data={"store_id": str(store_id)},
                )
        marked = mark_unhealthy(session, ctx=ctx, store_id=store_id, reason=error.code)
        trouble.note_trouble(
            session, ctx=ctx, store_id=store_id, code=error.code, message=error.message
        )
        return marked


def heal(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> JobDTO | None:
    """The store works again: queue a back-fill of its gap, or return the one already queued or
    running. None when the store has no gap or is not connected. Acts as the system (health is
    observed by whoever looks; the back-fill is not their request)."""
    system = RequestContext.system(ctx.organization_id)
    try:
        store = jobs.lock_store(session, ctx=system, store_id=store_id)
    except AppError as error:
        if error.code == "store_not_connected":
            return None
        raise
    if store is None or store.unhealthy_since is None:
        return None
    active = jobs.find_active(session, ctx=system, store_id=store_id, kind=JobKind.BACKFILL)
    if active is not None:
        return active
    since = store.unhealthy_since - MARGIN
    return jobs.start_job(
        session,
        ctx=system,
        store_id=store_id,
        kind=JobKind.BACKFILL,
        params={"since": since.isoformat()},
    )


def on_connected(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, previous_status: str | None
) -> JobDTO | None:
    """A store was connected through OAuth. A new store has no gap; one that was disconnected
    or needed re-authorization is marked (if it was not yet) and healed."""
    if previous_status is None:
        return None
    trouble.forget_trouble(session, ctx=ctx, store_id=store_id)
    if previous_status != "connected":
        mark_unhealthy(
            session, ctx=ctx, store_id=store_id, reason=f"reconnected after {previous_status}"
        )
    return heal(session, ctx=ctx, store_id=store_id)


def on_health_checked(
    session: Session, *, ctx: RequestContext, health: StoreHealthDTO
) -> JobDTO | None:
    """A health check passed with the circuit closed: heal. It failed because the token is
    invalid, the API unreachable or the circuit open: mark the store unhealthy. Best effort, in a
    savepoint: on SQLite the caller's snapshot may predate tokens the check just rotated (a
    write in it fails at once); the next check or schedule tick notices instead."""
    try:
        with session.begin_nested():
            if health.ok and health.circuit == "closed":
                return heal(session, ctx=ctx, store_id=health.store_id)
            if not health.token_valid or not health.reachable or health.circuit == "open":
                reason = health.detail or "health check failed"
                mark_unhealthy(session, ctx=ctx, store_id=health.store_id, reason=reason)
                code, message = trouble.split_detail(health.detail)
                trouble.note_trouble(
                    session, ctx=ctx, store_id=health.store_id, code=code, message=message
                )
    except OperationalError as error:
        log.info("store %s: health not recorded now (%s)", health.store_id, error.orig)
    return None


def clear_unhealthy(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, seen: datetime
) -> bool:
    """Clear the mark if it is still the one the back-fill started from (publishes
    `store.health`). True when cleared."""
    cleared = session.execute(
        sa.update(STORES)
        .where(
            STORES.c.id == store_id,
            STORES.c.organization_id == ctx.organization_id,
            STORES.c.unhealthy_since == seen,
        )
        .values(unhealthy_since=None)
    ).rowcount  # type: ignore[attr-defined]
    if cleared:
        trouble.forget_trouble(session, ctx=ctx, store_id=store_id)
        log.info("store %s healthy again (unhealthy since %s)", store_id, seen.isoformat())
        publish_after_commit(
            session, ctx.organization_id, HEALTH_EVENT, {"store_id": str(store_id), "healthy": True}
        )
    return bool(cleared)


# -- the back-fill job ---------------------------------------------------------------------------


async def run_backfill(
    *,
    ctx: RequestContext,
    job: JobDTO,
    settings: Settings | None = None,
    engine: Engine | None = None,
    progress: ProgressSink,
) -> dict[str, Any]:
    """A back-fill job's work: the orders updated in [since, until or now) (`sync_orders`), then
    the store's whole stock pushed again (`sync_inventory`) and the other stores' pushes the
    back-filled orders caused sent right away, then the mark cleared. A push the store defers
    (it is still failing) fails the job and leaves the mark, so the schedule tries again."""
    assert job.store_id is not None
    store_id = job.store_id
    since = jobs.param_instant(job.params, "since")
    until = jobs.param_instant(job.params, "until") or utcnow()
    with session_scope(ctx, engine=engine) as session:
        seen = session.execute(
            sa.select(STORES.c.unhealthy_since).where(STORES.c.id == store_id)
        ).scalar_one_or_none()
    with session_scope(ctx, engine=engine) as session:
        orders = await order_poll.sync_orders(
            session,
            ctx=ctx,
            store_id=store_id,
            since=since,
            until=until,
            settings=settings,
            progress=prefixed(progress, "orders"),
        )
    pushed = await inventory_sync.sync_inventory(
        ctx=ctx,
        store_id=store_id,
        settings=settings,
        engine=engine,
        progress=prefixed(progress, "stock"),
    )
    if pushed.deferred:
        raise AppError(
            ErrorType.SYNC,
            "backfill_push_incomplete",
            f"{pushed.deferred} stock updates could not be pushed yet; the back-fill will retry",
            details={"deferred": pushed.deferred},
            retryable=True,
        )
    others = await _push_other_stores(ctx, store_id, settings, engine)
    healed = False
    if seen is not None:
        with session_scope(ctx, engine=engine) as session:
            healed = clear_unhealthy(session, ctx=ctx, store_id=store_id, seen=seen)
    return {
        "since": orders.since.isoformat(),
        "until": orders.until.isoformat(),
        "orders": orders.model_dump(mode="json", exclude={"store_id", "since", "until"}),
        "stock": dataclasses.asdict(pushed),
        "other_stores": dataclasses.asdict(others),
        "healed": healed,
    }


async def _push_other_stores(
    ctx: RequestContext, store_id: uuid.UUID, settings: Settings | None, engine: Engine | None
) -> dispatch.PushReport:
    """Push the due outbox rows of the organization's other connected stores now (the orders
    just back-filled moved their stock) instead of waiting for the dispatcher."""
    with session_scope(ctx, engine=engine) as session:
        others = (
            session.execute(
                sa.select(OUTBOX.c.store_id)
                .distinct()
                .join(STORES, STORES.c.id == OUTBOX.c.store_id)
                .where(
                    OUTBOX.c.organization_id == ctx.organization_id,
                    OUTBOX.c.store_id != store_id,
                    OUTBOX.c.status == "pending",
                    OUTBOX.c.available_at <= utcnow(),
                    STORES.c.status == "connected",
                )
            )
            .scalars()
            .all()
        )
    total = dispatch.PushReport()
    for other in sorted(others):
        report = await dispatch.push_store(
            organization_id=ctx.organization_id, store_id=other, settings=settings, engine=engine
        )
        for field in dataclasses.fields(total):
            setattr(total, field.name, getattr(total, field.name) + getattr(report, field.name))
    return total
