"""Sync jobs: start, cancel, retry, status and history, and the sweep of jobs nobody finished.

A job is one `sync_job` row. `start_job` inserts it `queued` and, after the commit, the
`job_queued` hook hands it to a worker (`workers.job_actors.run_sync_job`, connected by
`workers.wiring`); `runner.run_job` claims it, runs it and records the outcome.
At most one job of a kind is queued or running per store: starting another is refused with
`sync_job_active`, and the check runs under the store's row lock, so two requests at the same
moment cannot both pass it.

Cancelling is cooperative: a queued job is cancelled at once; a running job gets
`cancel_requested` and its progress sink raises `JobCancelled` at the next batch. Retrying a
failed or cancelled job queues a NEW job with the same store, kind and params and `retries` one
higher; the old job stays in the history as it ended.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storesync.channels.models import Store
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, NotFound, ValidationFailed
from storesync.core.events import Hook, SessionListeners, publish_after_commit
from storesync.core.models import table_of
from storesync.core.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from storesync.sync.jobs.schemas import (
    ACTIVE_STATUSES,
    PROGRESS_EVENT,
    RETRYABLE_STATUSES,
    JobDTO,
    JobKind,
    JobStatus,
    StoreSyncStatusDTO,
    job_kind,
    param_instant,
    validate_params,
)
from storesync.sync.models import SyncJob
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

__all__ = [
    "JobActive",
    "cancel_job",
    "find_active",
    "get_job",
    "latest_job",
    "list_jobs",
    "lock_store",
    "param_instant",
    "retry_job",
    "start_job",
    "sync_status",
    "validate_params",
]

log = logging.getLogger(__name__)

JOBS = table_of(SyncJob)
STORES = table_of(Store)
QUEUED = "sync_jobs_queued"

# Fired after commit with (job id, organization id) for every job queued in the transaction;
# unconnected until start-up connects the actor (the sweep re-sends anyway).
job_queued: Hook[[uuid.UUID, uuid.UUID]] = Hook("job_queued")


class JobActive(AppError):
    """A job of that kind is already queued or running for the store."""

    def __init__(self, job: JobDTO) -> None:
        super().__init__(
            ErrorType.CONFLICT,
            "sync_job_active",
            f"a {job.kind} sync of this store is already {job.status}; wait for it or cancel it",
            details={"job_id": str(job.id), "kind": job.kind, "status": job.status},
        )
        self.job = job


# -- starting ------------------------------------------------------------------------------------


def start_job(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    kind: str,
    params: Mapping[str, Any] | None = None,
) -> JobDTO:
    """Queue a sync job of `kind` (products, inventory, orders, reconcile, backfill) for a
    connected store; a worker runs it after the commit. Params by kind: products
    `create_products` (bool, also needs MANAGE_CATALOG); inventory `variant_ids` (only these
    variants' listings); orders `since`/`until` (ISO datetimes, default: from the store's
    cursor to now); backfill `since` (required) and `until`. `sync_job_active` (conflict) while
    a job of the same kind is queued or running for the store. Needs RUN_SYNC."""
    ctx.require(Permission.RUN_SYNC)
    kind_ = job_kind(kind)
    clean = validate_params(kind_, params or {})
    if kind_ is JobKind.PRODUCTS and clean.get("create_products"):
        ctx.require(Permission.MANAGE_CATALOG)
    if kind_ is JobKind.SHIPMENTS:
        ctx.require(Permission.PROCESS_ORDERS)
    if kind_ in (JobKind.PUBLISH, JobKind.CONTENT):
        ctx.require(Permission.MANAGE_CATALOG)
    lock_store(session, ctx=ctx, store_id=store_id)
    active = find_active(session, ctx=ctx, store_id=store_id, kind=kind_)
    if active is not None:
        raise JobActive(active)
    job = _insert(session, ctx, store_id, kind_, clean, retries=0)
    _record_job(session, ctx, "job.start", job)
    return job


def lock_store(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, skip_locked: bool = False
) -> Any | None:
    """Lock the store's row for the rest of the transaction (job checks serialize on it) and
    return it; None when `skip_locked` and another transaction holds it. `NotFound` when the
    store is not the organization's; `store_not_connected` (conflict) unless it is connected."""
    where = (STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id)
    if session.get_bind().dialect.name == "postgresql":
        query = sa.select(STORES).where(*where).with_for_update(skip_locked=skip_locked)
        store = session.execute(query).first()
        if store is None and skip_locked and _store_exists(session, ctx, store_id):
            return None
    else:  # SQLite: any write takes the database's single write lock
        session.execute(sa.update(STORES).where(*where).values(updated_at=STORES.c.updated_at))
        store = session.execute(sa.select(STORES).where(*where)).first()
    if store is None:
        raise NotFound("store", store_id)
    if store.status != "connected":
        raise AppError(
            ErrorType.CONFLICT,
            "store_not_connected",
            f"store {store.name} is {store.status.replace('_', ' ')}: connect it again first",
            details={"store_id": str(store_id), "status": store.status},
        )
    return store


def _store_exists(session: Session, ctx: RequestContext, store_id: uuid.UUID) -> bool:
    return (
        session.execute(
            sa.select(STORES.c.id).where(
                STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id
            )
        ).first()
        is not None
    )


def find_active(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, kind: str
) -> JobDTO | None:
    """The store's queued or running job of `kind`, if any."""
    return _newest(
        session, ctx, store_id, kind, JOBS.c.status.in_([s.value for s in ACTIVE_STATUSES])
    )


def latest_job(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, kind: str
) -> JobDTO | None:
    """The store's most recently created job of `kind`, whatever its status."""
    return _newest(session, ctx, store_id, kind)


def _newest(
    session: Session,
    ctx: RequestContext,
    store_id: uuid.UUID,
    kind: str,
    *conditions: sa.ColumnElement[bool],
) -> JobDTO | None:
    row = session.execute(
        sa.select(JOBS)
        .where(
            JOBS.c.organization_id == ctx.organization_id,
            JOBS.c.store_id == store_id,
            JOBS.c.kind == str(kind),
            *conditions,
        )
        .order_by(JOBS.c.created_at.desc(), JOBS.c.id.desc())
        .limit(1)
    ).first()
    return _dto(row) if row else None


def _insert(
    session: Session,
    ctx: RequestContext,
    store_id: uuid.UUID,
    kind: JobKind,
    params: dict[str, Any],
    *,
    retries: int,
) -> JobDTO:
    now = utcnow()
    job = SyncJob(
        organization_id=ctx.organization_id,
        store_id=store_id,
        kind=kind.value,
        params=params,
        retries=retries,
        requested_by=ctx.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    session.flush()
    dto = JobDTO.model_validate(job)
    session.info.setdefault(QUEUED, []).append((dto.id, ctx.organization_id))
    publish_after_commit(session, ctx.organization_id, PROGRESS_EVENT, dto.event())
    log.info("queued %s job %s for store %s", kind.value, dto.id, store_id)
    return dto


def _announce(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint: the job is not committed yet
        return
    queued = session.info.pop(QUEUED, [])
    if not job_queued.connected:
        return
    for job_id, organization_id in queued:
        try:
            job_queued(job_id, organization_id)
        except Exception:  # the sweep re-sends queued jobs nobody took
            log.exception("could not hand sync job %s to a worker", job_id)


def _forget(session: Session) -> None:
    if not session.in_nested_transaction():  # a job queued in a rolled-back savepoint is handed
        session.info.pop(QUEUED, None)  # over anyway: the runner finds no such job and stops


SESSION_LISTENERS: SessionListeners = (("after_commit", _announce), ("after_rollback", _forget))


# -- cancel, retry -------------------------------------------------------------------------------


def cancel_job(session: Session, *, ctx: RequestContext, job_id: uuid.UUID) -> JobDTO:
    """Stop a job: a queued one is cancelled now; a running one is asked to stop and ends
    `cancelled` at its next batch (within about a second). Cancelling a cancelled job changes
    nothing; `sync_job_finished` (conflict) for one that succeeded or failed. Needs RUN_SYNC."""
    ctx.require(Permission.RUN_SYNC)
    now = utcnow()
    mine = (JOBS.c.id == job_id, JOBS.c.organization_id == ctx.organization_id)
    row = session.execute(
        sa.update(JOBS)
        .where(*mine, JOBS.c.status == JobStatus.QUEUED.value)
        .values(
            status=JobStatus.CANCELLED.value,
            cancel_requested=True,
            finished_at=now,
            updated_at=now,
        )
        .returning(*JOBS.c)
    ).first()
    if row is None:
        row = session.execute(
            sa.update(JOBS)
            .where(*mine, JOBS.c.status == JobStatus.RUNNING.value)
            .values(cancel_requested=True)
            .returning(*JOBS.c)
        ).first()
    if row is None:
        job = get_job(session, ctx=ctx, job_id=job_id)
        if job.status == JobStatus.CANCELLED:
            return job
        raise AppError(
            ErrorType.CONFLICT,
            "sync_job_finished",
            f"this {job.kind} sync already {job.status}; there is nothing to cancel",
            details={"job_id": str(job_id), "status": job.status},
        )
    job = _dto(row)
    _record_job(session, ctx, "job.cancel", job, status=job.status, cancel_requested=True)
    publish_after_commit(session, ctx.organization_id, PROGRESS_EVENT, job.event())
    log.info("cancel requested for job %s (%s)", job_id, job.status)
    return job


def retry_job(session: Session, *, ctx: RequestContext, job_id: uuid.UUID) -> JobDTO:
    """Queue a failed or cancelled job again: a NEW job with the same store, kind and params,
    and `retries` one more than the old one's (which stays in the history as it ended).
    `sync_job_not_retryable` (conflict) for a job that is queued, running or succeeded;
    `sync_job_active` while another job of that kind runs for the store. Needs RUN_SYNC."""
    ctx.require(Permission.RUN_SYNC)
    old = get_job(session, ctx=ctx, job_id=job_id)
    if old.status not in RETRYABLE_STATUSES:
        raise AppError(
            ErrorType.CONFLICT,
            "sync_job_not_retryable",
            f"only a failed or cancelled sync can be retried; this one is {old.status}",
            details={"job_id": str(job_id), "status": old.status},
        )
    if old.store_id is None:
        raise NotFound("store", "(deleted)")
    kind = job_kind(old.kind)
    if kind is JobKind.PRODUCTS and old.params.get("create_products"):
        ctx.require(Permission.MANAGE_CATALOG)
    lock_store(session, ctx=ctx, store_id=old.store_id)
    active = find_active(session, ctx=ctx, store_id=old.store_id, kind=kind)
    if active is not None:
        raise JobActive(active)
    job = _insert(session, ctx, old.store_id, kind, dict(old.params), retries=old.retries + 1)
    _record_job(session, ctx, "job.retry", job, retried=old.id)
    return job


def _record_job(
    session: Session, ctx: RequestContext, action: str, job: JobDTO, **extra: Any
) -> None:
    """Log a person's start, retry or cancel of a sync job (what the worker then does runs as
    the system and is not logged again)."""
    after = {"kind": job.kind, "store_id": job.store_id, "params": job.params, **extra}
    record(
        session,
        ctx=ctx,
        action=action,
        entity_type="sync_job",
        entity_id=job.id,
        after=after,
    )


# -- reading -------------------------------------------------------------------------------------


def _dto(row: Any) -> JobDTO:
    return JobDTO.model_validate(dict(row._mapping))


def get_job(session: Session, *, ctx: RequestContext, job_id: uuid.UUID) -> JobDTO:
    """One job with its progress, result or error. Needs READ."""
    ctx.require(Permission.READ)
    row = session.execute(
        sa.select(JOBS).where(JOBS.c.id == job_id, JOBS.c.organization_id == ctx.organization_id)
    ).first()
    if row is None:
        raise NotFound("sync_job", job_id)
    return _dto(row)


def list_jobs(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID | None = None,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[JobDTO]:
    """The job history, newest first, keyset-paginated; filters: store, kind, status.
    Needs READ."""
    ctx.require(Permission.READ)
    size = clamp_limit(limit)
    query = sa.select(JOBS).where(JOBS.c.organization_id == ctx.organization_id)
    if store_id is not None:
        query = query.where(JOBS.c.store_id == store_id)
    if kind is not None:
        query = query.where(JOBS.c.kind == job_kind(kind).value)
    if status is not None:
        if status not in {s.value for s in JobStatus}:
            raise ValidationFailed("status", f"must be one of {', '.join(JobStatus)}")
        query = query.where(JOBS.c.status == status)
    if cursor:
        created, last = decode_cursor(cursor, parts=2)
        try:
            after_at, after_id = datetime.fromisoformat(str(created)), uuid.UUID(str(last))
        except ValueError:
            raise ValidationFailed("cursor", "is not a valid page cursor") from None
        query = query.where(
            sa.or_(
                JOBS.c.created_at < after_at,
                sa.and_(JOBS.c.created_at == after_at, JOBS.c.id < after_id),
            )
        )
    rows = session.execute(
        query.order_by(JOBS.c.created_at.desc(), JOBS.c.id.desc()).limit(size + 1)
    ).all()
    items = [_dto(row) for row in rows[:size]]
    more = len(rows) > size
    next_cursor = encode_cursor(items[-1].created_at.isoformat(), items[-1].id) if more else None
    return Page[JobDTO](items=items, next_cursor=next_cursor)


def sync_status(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID
) -> StoreSyncStatusDTO:
    """A store's sync at a glance: its queued and running jobs, the latest job of each kind,
    the last successful sync and, during an outage, since when it is unhealthy. Needs READ."""
    ctx.require(Permission.READ)
    store = session.execute(
        sa.select(STORES.c.last_synced_at, STORES.c.unhealthy_since).where(
            STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id
        )
    ).first()
    if store is None:
        raise NotFound("store", store_id)
    latest = {
        kind.value: job
        for kind in JobKind
        if (job := latest_job(session, ctx=ctx, store_id=store_id, kind=kind)) is not None
    }
    return StoreSyncStatusDTO(
        store_id=store_id,
        active=[job for job in latest.values() if job.active],
        latest=latest,
        last_synced_at=store.last_synced_at,
        unhealthy_since=store.unhealthy_since,
    )
