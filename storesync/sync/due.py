"""Which organizations the sweeps have work in, found by one query for all of them: with nothing
due, a sweep costs the same whatever the number of organizations.

Every worker sweeps every 5 s (`workers.actors.sweep_outbox`, `tick_schedule`). The kinds of
work (`Work`): stock pushes due or left behind by a dead worker (`push`), webhook events nobody
finished (`webhooks`), jobs that lost their worker or that no worker took (`jobs`), scheduled
polls, reconciliations, back-fills and trouble notices (`schedule`), outbound webhook deliveries
due (`deliveries`) and stock gone stale on a channel (`stale`). `find_due` asks once; each sweep
then opens a transaction only in the organizations named for its kind, and does there exactly
what it did before (the due query may name too many, never too few). The timings that make work
due live here, so the query and the sweeps read the same ones.

PostgreSQL: the tenant tables FORCE row-level security, so no statement of the app role sees
across organizations. The query is `storesync_due_organizations(...)` (migration 0015), SECURITY
DEFINER and owned by the tables' owner, which reads through a SELECT-only policy of its own; it
returns (organization id, kind) pairs and the outbox's depth and oldest row for the gauges, never
a row's contents, and only the app role may call it. It is exact but for the schedule's breaker
(per process) and schedule settings it cannot read as Python would: the tick decides those.
When nothing is due it is a few index probes, plus, for the schedule, two per connected store:
polls fall due with time and no row marks them (about 20 ms for 2,000 idle stores, in the one
statement).

SQLite (embedded: no row-level security, usually one organization): the same questions as plain
SELECTs. The schedule and staleness ones are loose there (an organization with a connected
store; with a push waiting or a store not syncing), the sweep itself deciding exactly: spelling
their rules out twice would buy nothing for one organization.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from storesync.channels.models import ChannelListing, Store
from storesync.core.clock import utcnow
from storesync.core.models import UTCDateTime, table_of
from storesync.db import session_scope
from storesync.notifications.models import WebhookDelivery, WebhookSubscription
from storesync.sync.models import StockOutbox, SyncJob, WebhookEvent

# Webhook events (storesync.sync.intake.batch): stored but not handed over, claimed by a worker
# that died, failed and worth another try (this often, up to this many attempts in all).
STUCK_RECEIVED = timedelta(seconds=30)
STUCK_PROCESSING = timedelta(minutes=5)
RETRY_FAILED = timedelta(seconds=60)
MAX_EVENT_ATTEMPTS = 6
# Sync jobs (storesync.sync.jobs.runner): a running job without progress this long lost its
# worker; a queued one nobody took is handed over again this often.
WORKER_LOST_AFTER = timedelta(minutes=10)
REQUEUE_AFTER = timedelta(minutes=2)
# The schedule (storesync.sync.health.schedule, .trouble): default intervals; a store without a
# successful sync for this many poll intervals is unhealthy; its trouble is told after this long.
DEFAULT_ORDERS_MINUTES = 5
DEFAULT_RECONCILE_HOURS = 24
MISSED_POLLS = 3
NOTICE_AFTER = timedelta(minutes=3)
# Staleness (storesync.sync.health.staleness): out of step this long is stale; an unread alert
# of this kind this recent covers its store.
STALE_AFTER = timedelta(seconds=60)
STALE_ALERT_KIND = "sync.stale"
ALERT_REPEAT_AFTER = timedelta(hours=1)

OUTBOX = table_of(StockOutbox)
EVENTS = table_of(WebhookEvent)
JOBS = table_of(SyncJob)
STORES = table_of(Store)
LISTINGS = table_of(ChannelListing)
DELIVERIES = table_of(WebhookDelivery)
SUBSCRIPTIONS = table_of(WebhookSubscription)
_GAUGES = "outbox"  # the query's row with the outbox's depth and oldest


class Work(StrEnum):
    PUSH = "push"
    WEBHOOKS = "webhooks"
    JOBS = "jobs"
    SCHEDULE = "schedule"
    DELIVERIES = "deliveries"
    STALE = "stale"


@dataclass(frozen=True)
class DueWork:
    """What `find_due` found at `at`, for the `kinds` it was asked about."""

    at: datetime
    kinds: frozenset[Work]
    organizations: Mapping[Work, tuple[uuid.UUID, ...]] = field(default_factory=dict)
    outbox_waiting: int = 0  # stock pushes pending or in flight, in every organization
    outbox_oldest: datetime | None = None  # the oldest's `available_at` (a lapsed one: `at`)

    def of(self, kind: Work) -> list[uuid.UUID]:
        """The organizations with work of `kind`, oldest first."""
        return list(self.organizations.get(kind, ()))


def find_due(*, engine: Engine | None = None, kinds: Iterable[Work] = tuple(Work)) -> DueWork:
    """Which organizations have work of these kinds now: one statement, in a transaction of no
    organization."""
    wanted = frozenset(Work(kind) for kind in kinds)
    now = utcnow()
    with session_scope(engine=engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            rows = session.execute(_CALL, _arguments(now, wanted)).all()
        else:
            rows = _sqlite(session, now, wanted)
    found: dict[Work, list[uuid.UUID]] = {kind: [] for kind in wanted}
    waiting, oldest = 0, None
    for organization_id, kind, count, first in rows:
        if kind == _GAUGES:
            waiting, oldest = int(count or 0), first
        else:
            found[Work(kind)].append(organization_id)
    return DueWork(
        at=now,
        kinds=wanted,
        organizations={kind: tuple(sorted(set(ids))) for kind, ids in found.items()},
        outbox_waiting=waiting,
        outbox_oldest=oldest,
    )


def due_for(kind: Work, due: DueWork | None, engine: Engine | None) -> DueWork:
    """`due` if it answers for `kind`, else a fresh look for that kind alone (a sweep run on its
    own)."""
    if due is not None and kind in due.kinds:
        return due
    return find_due(engine=engine, kinds=(kind,))


_CALL = sa.text(
    "SELECT organization_id, kind, waiting, oldest FROM storesync_due_organizations("
    "p_now => :now, p_kinds => :kinds, p_stuck_received => :stuck_received, "
    "p_stuck_processing => :stuck_processing, p_retry_failed => :retry_failed, "
    "p_max_event_attempts => :max_event_attempts, p_worker_lost => :worker_lost, "
    "p_requeue => :requeue, p_orders_minutes => :orders_minutes, "
    "p_reconcile_hours => :reconcile_hours, p_missed_polls => :missed_polls, "
    "p_notice_after => :notice_after, p_stale_after => :stale_after, "
    "p_alert_repeat => :alert_repeat, p_alert_kind => :alert_kind)"
).columns(
    sa.column("organization_id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("waiting", sa.BigInteger()),
    sa.column("oldest", UTCDateTime()),
)


def _arguments(now: datetime, kinds: frozenset[Work]) -> dict[str, Any]:
    return {
        "now": now,
        "kinds": sorted(kinds),
        "stuck_received": STUCK_RECEIVED,
        "stuck_processing": STUCK_PROCESSING,
        "retry_failed": RETRY_FAILED,
        "max_event_attempts": MAX_EVENT_ATTEMPTS,
        "worker_lost": WORKER_LOST_AFTER,
        "requeue": REQUEUE_AFTER,
        "orders_minutes": DEFAULT_ORDERS_MINUTES,
        "reconcile_hours": DEFAULT_RECONCILE_HOURS,
        "missed_polls": MISSED_POLLS,
        "notice_after": NOTICE_AFTER,
        "stale_after": STALE_AFTER,
        "alert_repeat": ALERT_REPEAT_AFTER,
        "alert_kind": STALE_ALERT_KIND,
    }


# -- SQLite: the same questions over the tables --------------------------------------------------


def _sqlite(session: Session, now: datetime, kinds: frozenset[Work]) -> list[Any]:
    queries = {
        Work.PUSH: _push_due(now),
        Work.WEBHOOKS: _webhooks_due(now),
        Work.JOBS: _jobs_due(now),
        Work.SCHEDULE: sa.select(STORES.c.organization_id).where(STORES.c.status == "connected"),
        Work.DELIVERIES: _deliveries_due(now),
        Work.STALE: _stale_suspected(),
    }
    rows: list[Any] = [
        (organization_id, kind.value, None, None)
        for kind in sorted(kinds)
        for organization_id in session.execute(queries[kind].distinct()).scalars()
    ]
    if Work.PUSH in kinds:
        rows.append(_gauges(session, now))
    return rows


def _lapsed(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(OUTBOX.c.status == "in_progress", OUTBOX.c.locked_until < now)


def _push_due(now: datetime) -> sa.Select[Any]:
    return sa.select(OUTBOX.c.organization_id).where(
        sa.or_(sa.and_(OUTBOX.c.status == "pending", OUTBOX.c.available_at <= now), _lapsed(now))
    )


def _gauges(session: Session, now: datetime) -> tuple[None, str, int, datetime | None]:
    """Rows pending or in flight, and the oldest's `available_at`; a row whose lease lapsed
    counts as due now (the sweep puts it back so)."""
    count, first, lapsed = session.execute(
        sa.select(
            sa.func.count(),
            sa.type_coerce(
                sa.func.min(sa.case((_lapsed(now), sa.null()), else_=OUTBOX.c.available_at)),
                UTCDateTime(),
            ),
            sa.func.count(sa.case((_lapsed(now), 1))),
        ).where(OUTBOX.c.status.in_(("pending", "in_progress")))
    ).one()
    if lapsed:
        first = now if first is None else min(first, now)
    return None, _GAUGES, int(count), first


def _webhooks_due(now: datetime) -> sa.Select[Any]:
    return sa.select(EVENTS.c.organization_id).where(
        sa.or_(
            sa.and_(EVENTS.c.status == "received", EVENTS.c.received_at < now - STUCK_RECEIVED),
            sa.and_(EVENTS.c.status == "processing", EVENTS.c.received_at < now - STUCK_PROCESSING),
            sa.and_(
                EVENTS.c.status == "failed",
                EVENTS.c.attempts < MAX_EVENT_ATTEMPTS,
                EVENTS.c.processed_at < now - RETRY_FAILED,
            ),
        )
    )


def _jobs_due(now: datetime) -> sa.Select[Any]:
    return sa.select(JOBS.c.organization_id).where(
        sa.or_(
            sa.and_(
                JOBS.c.status == "running",
                sa.func.coalesce(JOBS.c.updated_at, JOBS.c.started_at, JOBS.c.created_at)
                < now - WORKER_LOST_AFTER,
            ),
            sa.and_(
                JOBS.c.status == "queued",
                sa.func.coalesce(JOBS.c.updated_at, JOBS.c.created_at) < now - REQUEUE_AFTER,
            ),
        )
    )


def _deliveries_due(now: datetime) -> sa.Select[Any]:
    return (
        sa.select(DELIVERIES.c.organization_id)
        .join(SUBSCRIPTIONS, SUBSCRIPTIONS.c.id == DELIVERIES.c.subscription_id)
        .where(
            DELIVERIES.c.status == "pending",
            DELIVERIES.c.next_attempt_at <= now,
            SUBSCRIPTIONS.c.status == "active",
        )
    )


def _stale_suspected() -> sa.Select[Any]:
    """Loose: a push waiting in a store not disconnected, or a matched listing of a store that is
    not syncing (whether any is stale, the sweep works out)."""
    waiting = (
        sa.select(OUTBOX.c.organization_id)
        .join(STORES, STORES.c.id == OUTBOX.c.store_id)
        .where(
            OUTBOX.c.status.in_(("pending", "in_progress", "failed")),
            STORES.c.status != "disconnected",
        )
    )
    stopped = (
        sa.select(LISTINGS.c.organization_id)
        .join(STORES, STORES.c.id == LISTINGS.c.store_id)
        .where(
            STORES.c.status.not_in(("connected", "disconnected")),
            LISTINGS.c.match_status == "matched",
        )
    )
    return sa.select(sa.union(waiting, stopped).subquery().c.organization_id)
