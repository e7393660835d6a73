"""The per-store schedule: an order poll every few minutes (the safety net under webhooks) and a
daily reconciliation, plus the outage checks that start back-fills.

A store's `settings["schedule"]` may override the defaults: `{"orders_minutes": 5,
"reconcile_hours": 24}` (0 or null turns one off). `tick()` runs every few seconds (from the
sweeper) and creates the jobs that are due across every organization. A job is due when no job
of its kind is queued or running for the store and the latest one was created at least one
interval ago (a store's first reconciliation waits one interval after it was connected; its
first poll is due at once). Each store is checked under its row lock, so ticks that overlap,
on one process or several, never create a job twice. A tick looks only in the organizations
that `storesync.sync.due` finds a store due in: its PostgreSQL query spells these rules out in
SQL (migration 0015), so a change here needs a migration there (tests/sync/test_due_exact.py
compares the two).

A connected store whose last successful order sync is older than `STALE_AFTER` order intervals
(the workers were down) is marked unhealthy from that sync on; while a store is unhealthy its
polls and reconciliations wait and a back-fill is attempted once per order interval instead
(`storesync.sync.health.backfill`), unless this process's circuit breaker for the store is still
open.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from storesync.channels.connections import store_key
from storesync.channels.resilience import breaker_for
from storesync.core.clock import utcnow
from storesync.core.errors import NotFound, ValidationFailed
from storesync.db import session_scope
from storesync.sync.due import (
    DEFAULT_ORDERS_MINUTES,
    DEFAULT_RECONCILE_HOURS,
    MISSED_POLLS,
    DueWork,
    Work,
    due_for,
)
from storesync.sync.health import backfill, trouble
from storesync.sync.jobs import service as jobs
from storesync.sync.jobs.schemas import JobKind, ScheduleDTO
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

log = logging.getLogger(__name__)

# Defaults, and how many order intervals without a successful sync mean the workers were down
# (`storesync.sync.due` holds them: its query says which organizations have a store due).
STALE_AFTER = MISSED_POLLS
STORES = jobs.STORES


@dataclass(frozen=True)
class StoreSchedule:
    orders_every: timedelta | None
    reconcile_every: timedelta | None


def store_schedule(settings: Mapping[str, Any] | None) -> StoreSchedule:
    """A store's schedule from its settings; a missing or unreadable value takes the default."""
    raw = (settings or {}).get("schedule") or {}
    orders = _setting(raw, "orders_minutes", DEFAULT_ORDERS_MINUTES)
    reconcile = _setting(raw, "reconcile_hours", DEFAULT_RECONCILE_HOURS)
    return StoreSchedule(
        orders_every=timedelta(minutes=orders) if orders else None,
        reconcile_every=timedelta(hours=reconcile) if reconcile else None,
    )


def _setting(raw: Mapping[str, Any], name: str, default: int) -> int:
    if name not in raw:
        return default
    value = raw[name]
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        log.warning("unreadable schedule setting %s=%r; using %d", name, value, default)
        return default
    return value


# -- reading and changing a store's schedule -----------------------------------------------------


def get_schedule(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> ScheduleDTO:
    """A store's schedule and when its next poll and reconciliation are due. Needs READ."""
    ctx.require(Permission.READ)
    store = _store(session, ctx, store_id)
    plan = store_schedule(store.settings)
    return ScheduleDTO(
        store_id=store_id,
        orders_minutes=_minutes(plan.orders_every),
        reconcile_hours=_hours(plan.reconcile_every),
        next_orders_at=_next(session, ctx, store, JobKind.ORDERS, plan.orders_every),
        next_reconcile_at=_next(session, ctx, store, JobKind.RECONCILE, plan.reconcile_every),
    )


def set_schedule(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    orders_minutes: int | None,
    reconcile_hours: int | None,
) -> ScheduleDTO:
    """Change a store's schedule: minutes between order polls (1 to 1440) and hours between
    reconciliations (1 to 168); None turns one off. Needs MANAGE_STORES."""
    ctx.require(Permission.MANAGE_STORES)
    for name, value, top in (
        ("orders_minutes", orders_minutes, 1440),
        ("reconcile_hours", reconcile_hours, 168),
    ):
        if value is not None and (isinstance(value, bool) or not 1 <= value <= top):
            raise ValidationFailed(name, f"must be between 1 and {top}, or empty to turn it off")
    store = _store(session, ctx, store_id)
    settings = {
        **(store.settings or {}),
        "schedule": {"orders_minutes": orders_minutes, "reconcile_hours": reconcile_hours},
    }
    session.execute(
        sa.update(STORES)
        .where(STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id)
        .values(settings=settings, updated_at=utcnow())
    )
    return get_schedule(session, ctx=ctx, store_id=store_id)


def _store(session: Session, ctx: RequestContext, store_id: uuid.UUID) -> Any:
    store = session.execute(
        sa.select(STORES).where(
            STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id
        )
    ).first()
    if store is None:
        raise NotFound("store", store_id)
    return store


def _minutes(every: timedelta | None) -> int | None:
    return int(every.total_seconds() // 60) if every else None


def _hours(every: timedelta | None) -> int | None:
    return int(every.total_seconds() // 3600) if every else None


def _next(
    session: Session, ctx: RequestContext, store: Any, kind: JobKind, every: timedelta | None
) -> datetime | None:
    if every is None:
        return None
    latest = jobs.latest_job(session, ctx=ctx, store_id=store.id, kind=kind)
    if latest is not None:
        return latest.created_at + every
    return store.created_at + every if kind is JobKind.RECONCILE else store.created_at


# -- the tick ------------------------------------------------------------------------------------


def tick(
    engine: Engine | None = None, *, organization_ids: Iterable[uuid.UUID] | None = None
) -> list[uuid.UUID]:
    """Create every due job (polls, reconciliations, back-fills) across all organizations (or
    only these); returns the new jobs' ids. Safe to run concurrently with itself."""
    return [job_id for job_id, _org in run_tick(engine, organization_ids=organization_ids)]


def run_tick(
    engine: Engine | None = None,
    *,
    organization_ids: Iterable[uuid.UUID] | None = None,
    due: DueWork | None = None,
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """`tick`, returning (job id, organization id) pairs (the actor hands them to workers).
    Only the organizations `due` names for the schedule (`storesync.sync.due`; looked up afresh
    without it) get a transaction."""
    org_ids = due_for(Work.SCHEDULE, due, engine).of(Work.SCHEDULE)
    if organization_ids is not None:
        only = set(organization_ids)
        org_ids = [org_id for org_id in org_ids if org_id in only]
    created: list[tuple[uuid.UUID, uuid.UUID]] = []
    for org_id in org_ids:
        ctx = RequestContext.system(org_id)
        try:
            # Reads the stores, then locks each with a write: on SQLite (embedded) a commit by
            # another connection in between failed the tick with "database is locked" unless it
            # holds the write lock from the start.
            with session_scope(ctx, engine=engine, write_lock=True) as session:
                created.extend((job_id, org_id) for job_id in schedule_due(session, ctx=ctx))
        except Exception:  # one organization's trouble must not stop the others' schedules
            log.exception("schedule tick failed for organization %s", org_id)
    return created


def schedule_due(session: Session, *, ctx: RequestContext) -> list[uuid.UUID]:
    """Create the organization's due jobs (see the module docstring); returns their ids."""
    store_ids = (
        session.execute(
            sa.select(STORES.c.id)
            .where(STORES.c.organization_id == ctx.organization_id, STORES.c.status == "connected")
            .order_by(STORES.c.id)
        )
        .scalars()
        .all()
    )
    now = utcnow()
    created: list[uuid.UUID] = []
    for store_id in store_ids:
        store = jobs.lock_store(session, ctx=ctx, store_id=store_id, skip_locked=True)
        if store is not None:  # skipped: another tick (or a job start) holds it right now
            created.extend(_due_for_store(session, ctx, store, now))
    return created


def _due_for_store(
    session: Session, ctx: RequestContext, store: Any, now: datetime
) -> list[uuid.UUID]:
    plan = store_schedule(store.settings)
    every = plan.orders_every
    unhealthy = store.unhealthy_since is not None
    if (
        not unhealthy
        and every is not None
        and store.last_synced_at is not None
        and store.last_synced_at < now - STALE_AFTER * every
    ):
        unhealthy = backfill.mark_unhealthy(
            session, ctx=ctx, store_id=store.id, reason="no sync", since=store.last_synced_at
        )
    if unhealthy:
        trouble.notify_if_lasting(session, ctx=ctx, store_id=store.id, now=now)
        retry_every = every or timedelta(minutes=DEFAULT_ORDERS_MINUTES)
        if not _circuit_open(store) and _due(
            session, ctx, store, JobKind.BACKFILL, retry_every, now, first=None
        ):
            job = backfill.heal(session, ctx=ctx, store_id=store.id)
            return [job.id] if job is not None else []
        return []
    created = []
    if every is not None and _due(session, ctx, store, JobKind.ORDERS, every, now, first=None):
        created.append(_start(session, ctx, store.id, JobKind.ORDERS))
    reconcile = plan.reconcile_every
    if reconcile is not None and _due(
        session, ctx, store, JobKind.RECONCILE, reconcile, now, first=store.created_at
    ):
        created.append(_start(session, ctx, store.id, JobKind.RECONCILE))
    return created


def _due(
    session: Session,
    ctx: RequestContext,
    store: Any,
    kind: JobKind,
    every: timedelta,
    now: datetime,
    *,
    first: datetime | None,
) -> bool:
    latest = jobs.latest_job(session, ctx=ctx, store_id=store.id, kind=kind)
    if latest is not None:
        return not latest.active and latest.created_at <= now - every
    return first is None or first <= now - every


def _circuit_open(store: Any) -> bool:
    """The store's breaker is open and not yet due for a probe."""
    return breaker_for(store_key(store)).paused()


def _start(session: Session, ctx: RequestContext, store_id: uuid.UUID, kind: JobKind) -> uuid.UUID:
    return jobs.start_job(session, ctx=ctx, store_id=store_id, kind=kind).id
