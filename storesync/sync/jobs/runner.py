"""Runs sync jobs: claims one, calls the long operation of its kind with a progress sink, and
records how it ended.

The sink (`JobProgress`) persists phase / total / done / failed on `sync_job` at most every
`PERSIST_EVERY` seconds and at every phase change, publishes `sync_job.progress` after each
write, and raises `JobCancelled` when the job was asked to stop (or was taken from this worker by
the sweep). A cancelled step's transaction is rolled back; steps already finished (a back-fill's
orders before its stock push) stay.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from storesync.channels import connections
from storesync.core import metrics
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType
from storesync.core.events import publish, publish_after_commit
from storesync.core.logs import bound
from storesync.db import get_engine, make_engine, session_scope
from storesync.notifications.service import notify
from storesync.settings import Settings
from storesync.sync.due import REQUEUE_AFTER, WORKER_LOST_AFTER, DueWork, Work, due_for
from storesync.sync.jobs.progress import JobCancelled, ProgressSink
from storesync.sync.jobs.schemas import PROGRESS_EVENT, JobDTO, JobKind, JobStatus
from storesync.sync.jobs.service import JOBS, STORES
from storesync.tenancy.context import RequestContext

log = logging.getLogger(__name__)
PERSIST_EVERY = 0.25
# A running job persists its progress several times a second; one silent for `WORKER_LOST_AFTER`
# lost its worker. Queued jobs no worker took for `REQUEUE_AFTER` are handed over again. Both live
# with the due query (`storesync.sync.due`).


def run_job(
    job_id: uuid.UUID,
    organization_id: uuid.UUID,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> JobDTO | None:
    """Claim a queued job and run it to `succeeded`, `failed` (the AppError is kept in `error`)
    or `cancelled`. Returns the finished job, or None when it was not queued (already taken by
    another worker, cancelled, or unknown): a repeated delivery does nothing. Acts as the system
    for the job's organization (permissions were checked when it was started)."""
    db = engine or get_engine()
    if db.dialect.name != "sqlite":
        return _run(job_id, organization_id, db, settings)
    # SQLite has one writer: two imports at once made each other fail with "database is
    # locked". Embedded mode is one process, so its jobs simply take turns (queued meanwhile).
    with _SQLITE_JOBS:
        return _run(job_id, organization_id, db, settings)


_SQLITE_JOBS = threading.Lock()
CRASH_MESSAGE_CHARS = 300  # an unexpected error's text can hold a whole SQL statement


def _run(
    job_id: uuid.UUID, organization_id: uuid.UUID, db: Engine, settings: Settings | None
) -> JobDTO | None:
    with bound(organization=organization_id, job=job_id):
        return _run_bound(job_id, organization_id, db, settings)


def _run_bound(
    job_id: uuid.UUID, organization_id: uuid.UUID, db: Engine, settings: Settings | None
) -> JobDTO | None:
    ctx = RequestContext.system(organization_id)
    job = _claim(ctx, job_id, db)
    if job is None:
        log.info("sync job %s is not queued; nothing to run", job_id)
        return None
    with bound(store=job.store_id):
        sink = JobProgress(job, ctx, db)
        started = time.monotonic()
        try:
            result = asyncio.run(_execute(job, ctx, sink, settings, db))
        except JobCancelled:
            finished = _finish(ctx, db, job, sink, JobStatus.CANCELLED)
        except AppError as error:
            log.warning(
                "sync job %s (%s) failed: %s %s", job.id, job.kind, error.code, error.message
            )
            _note_failure(ctx, job, error, db)
            finished = _finish(ctx, db, job, sink, JobStatus.FAILED, error=error.to_dict())
        except Exception as error:
            log.exception("sync job %s (%s) crashed", job.id, job.kind)
            text = str(error)[:CRASH_MESSAGE_CHARS]
            crash = AppError(
                ErrorType.INTERNAL, "internal_error", f"{type(error).__name__}: {text}"
            )
            finished = _finish(ctx, db, job, sink, JobStatus.FAILED, error=crash.to_dict())
        else:
            finished = _finish(ctx, db, job, sink, JobStatus.SUCCEEDED, result=result)
        took = time.monotonic() - started
        metrics.JOB_SECONDS.labels(job.kind, finished.status).observe(took)
        log.info("sync job %s (%s) %s in %.1fs", job.id, job.kind, finished.status, took)
        return finished


def _claim(ctx: RequestContext, job_id: uuid.UUID, engine: Engine) -> JobDTO | None:
    now = utcnow()
    with session_scope(ctx, engine=engine) as session:
        row = session.execute(
            sa.update(JOBS)
            .where(
                JOBS.c.id == job_id,
                JOBS.c.organization_id == ctx.organization_id,
                JOBS.c.status == JobStatus.QUEUED.value,
            )
            .values(
                status=JobStatus.RUNNING.value, phase="starting", started_at=now, updated_at=now
            )
            .returning(*JOBS.c)
        ).first()
        if row is None:
            return None
        job = JobDTO.model_validate(dict(row._mapping))
        _write_sync_status(session, ctx, job.store_id, failed=False)
        publish_after_commit(session, ctx.organization_id, PROGRESS_EVENT, job.event())
    return job


def _write_sync_status(
    session: Session, ctx: RequestContext, store_id: uuid.UUID | None, *, failed: bool
) -> None:
    """The store's `sync_status` from what runs now: `syncing` while a job of it runs, else
    `error` after a failed one, else `idle`. A store that is not connected stays `paused`."""
    if store_id is None:
        return
    running = session.execute(
        sa.select(sa.func.count())
        .select_from(JOBS)
        .where(
            JOBS.c.organization_id == ctx.organization_id,
            JOBS.c.store_id == store_id,
            JOBS.c.status == JobStatus.RUNNING.value,
        )
    ).scalar_one()
    status = "syncing" if running else "error" if failed else "idle"
    session.execute(
        sa.update(STORES)
        .where(
            STORES.c.id == store_id,
            STORES.c.organization_id == ctx.organization_id,
            STORES.c.status == "connected",
            STORES.c.sync_status != status,
        )
        .values(sync_status=status)
    )


def _finish(
    ctx: RequestContext,
    engine: Engine,
    job: JobDTO,
    sink: JobProgress,
    status: JobStatus,
    *,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> JobDTO:
    now = utcnow()
    with session_scope(ctx, engine=engine) as session:
        row = session.execute(
            sa.update(JOBS)
            .where(JOBS.c.id == job.id, JOBS.c.status == JobStatus.RUNNING.value)
            .values(
                status=status.value,
                phase="done" if status is JobStatus.SUCCEEDED else sink.phase[:40],
                total=sink.total,
                done=sink.done,
                failed=sink.failed,
                result=result or {},
                error=error or {},
                finished_at=now,
                updated_at=now,
            )
            .returning(*JOBS.c)
        ).first()
        ours = row is not None
        if row is None:  # the sweep took it from us meanwhile: keep what it recorded
            row = session.execute(sa.select(JOBS).where(JOBS.c.id == job.id)).one()
        finished = JobDTO.model_validate(dict(row._mapping))
        if ours:
            _write_sync_status(session, ctx, job.store_id, failed=status is JobStatus.FAILED)
        publish_after_commit(session, ctx.organization_id, PROGRESS_EVENT, finished.event())
        if status is JobStatus.FAILED and ours:
            message = str((error or {}).get("message", ""))[:300]
            notify(
                session,
                organization_id=ctx.organization_id,
                kind="sync_job.failed",
                severity="error",
                title=f"{job.kind.title()} sync failed",
                body=message,
                data={"job_id": str(job.id), "store_id": str(job.store_id or "")},
            )
    return finished


def _note_failure(ctx: RequestContext, job: JobDTO, error: AppError, engine: Engine) -> None:
    if job.store_id is None:
        return
    try:
        _installed().on_store_failure(ctx=ctx, store_id=job.store_id, error=error, engine=engine)
    except Exception:  # the job's own outcome must still be recorded
        log.exception("could not record store %s as unhealthy", job.store_id)


# -- the sweep -----------------------------------------------------------------------------------


def sweep_jobs(
    *, engine: Engine | None = None, due: DueWork | None = None
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Fail running jobs whose worker died (no progress for `WORKER_LOST_AFTER`), and return
    (job id, organization id) of queued jobs no worker took for `REQUEUE_AFTER`, to hand over
    again (at most once per that period each). Looks only in the organizations `due` names
    (`storesync.sync.due`; looked up afresh without it)."""
    due = due_for(Work.JOBS, due, engine)
    now = utcnow()
    again: list[tuple[uuid.UUID, uuid.UUID]] = []
    for org_id in due.of(Work.JOBS):
        ctx = RequestContext.system(org_id)
        with session_scope(ctx, engine=engine) as session:
            _fail_lost(session, ctx, now)
            ids = session.execute(
                sa.update(JOBS)
                .where(
                    JOBS.c.organization_id == org_id,
                    JOBS.c.status == JobStatus.QUEUED.value,
                    sa.func.coalesce(JOBS.c.updated_at, JOBS.c.created_at) < now - REQUEUE_AFTER,
                )
                .values(updated_at=now)
                .returning(JOBS.c.id)
            ).scalars()
            again.extend((job_id, org_id) for job_id in ids)
    return again


def _fail_lost(session: Session, ctx: RequestContext, now: datetime) -> None:
    lost = session.execute(
        sa.update(JOBS)
        .where(
            JOBS.c.organization_id == ctx.organization_id,
            JOBS.c.status == JobStatus.RUNNING.value,
            sa.func.coalesce(JOBS.c.updated_at, JOBS.c.started_at, JOBS.c.created_at)
            < now - WORKER_LOST_AFTER,
        )
        .values(
            status=JobStatus.FAILED.value,
            finished_at=now,
            updated_at=now,
            error={
                "type": ErrorType.SYNC.value,
                "code": "worker_lost",
                "message": "the worker running this sync stopped answering; retry it",
                "details": {},
                "retryable": True,
            },
        )
        .returning(*JOBS.c)
    ).all()
    for row in lost:
        job = JobDTO.model_validate(dict(row._mapping))
        log.warning("sync job %s lost its worker; marked failed", job.id)
        publish_after_commit(session, ctx.organization_id, PROGRESS_EVENT, job.event())


# -- the progress sink ---------------------------------------------------------------------------


class JobProgress:
    """A `ProgressSink` bound to one running job (see the module docstring)."""

    def __init__(self, job: JobDTO, ctx: RequestContext, engine: Engine) -> None:
        self.job = job
        self.ctx = ctx
        self.engine = engine
        self.writer = _writer(engine)
        self.phase, self.done, self.total, self.failed = job.phase, 0, 0, 0
        self.saved_at = time.monotonic()

    def __call__(self, *, phase: str, done: int, total: int, failed: int = 0) -> None:
        changed = phase != self.phase
        self.phase, self.done, self.total, self.failed = phase, done, total, failed
        now = time.monotonic()
        if not changed and now - self.saved_at < PERSIST_EVERY:
            return
        self.saved_at = now
        if self._save():
            raise JobCancelled(f"sync job {self.job.id} was cancelled")

    def _figures(self) -> dict[str, Any]:
        return {
            "phase": self.phase[:40],
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
        }

    def _save(self) -> bool:
        """Persist and publish; True when the job must stop."""
        try:
            with session_scope(self.ctx, engine=self.writer) as session:
                row = session.execute(
                    sa.update(JOBS)
                    .where(JOBS.c.id == self.job.id, JOBS.c.status == JobStatus.RUNNING.value)
                    .values(**self._figures(), updated_at=utcnow())
                    .returning(JOBS.c.cancel_requested)
                ).first()
                if row is not None:
                    publish_after_commit(
                        session, self.ctx.organization_id, PROGRESS_EVENT, self._event()
                    )
        except OperationalError:
            # SQLite: the job's own transaction holds the write lock. Tell the bus anyway and
            # read the cancel flag (a WAL read never waits); the figures land with the next save.
            publish(self.ctx.organization_id, PROGRESS_EVENT, self._event())
            return self._stop_requested()
        return row is None or bool(row.cancel_requested)

    def _stop_requested(self) -> bool:
        with session_scope(self.ctx, engine=self.writer) as session:
            row = session.execute(
                sa.select(JOBS.c.status, JOBS.c.cancel_requested).where(JOBS.c.id == self.job.id)
            ).first()
        return row is None or row.status != JobStatus.RUNNING.value or bool(row.cancel_requested)

    def _event(self) -> dict[str, Any]:
        return {**self.job.event(), "status": JobStatus.RUNNING.value, **self._figures()}


_writers: dict[str, Engine] = {}


def _writer(engine: Engine) -> Engine:
    """The engine progress is saved through: the job's own, except on SQLite, where a second
    engine whose connections never wait for the write lock (they would wait for the job)."""
    if engine.dialect.name != "sqlite":
        return engine
    url = engine.url.render_as_string(hide_password=False)
    if url not in _writers:
        writer = make_engine(url)
        event.listen(writer, "connect", _no_busy_wait)
        _writers[url] = writer
    return _writers[url]


def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


# -- the kinds -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class JobRun:
    """What the long operation of one job kind is given."""

    job: JobDTO
    store_id: uuid.UUID
    ctx: RequestContext
    sink: ProgressSink
    settings: Settings | None
    engine: Engine


class StoreFailure(Protocol):
    def __call__(
        self, *, ctx: RequestContext, store_id: uuid.UUID, error: AppError, engine: Engine
    ) -> object: ...


@dataclasses.dataclass(frozen=True, slots=True)
class JobKinds:
    """The runner's job kinds, handed to it at start-up (`install_kinds`, by the composition
    root): the operation each kind runs, and what a store's failure means (an outage mark). The
    runner imports none of them."""

    run: Mapping[JobKind, Callable[[JobRun], Awaitable[Any]]]
    on_store_failure: StoreFailure


_kinds: JobKinds | None = None


def install_kinds(kinds: JobKinds) -> None:
    global _kinds
    _kinds = kinds


def _installed() -> JobKinds:
    if _kinds is None:
        raise RuntimeError("no job kinds installed: the process's start-up must wire them")
    return _kinds


async def _renew_tokens_if_due(
    ctx: RequestContext, store_id: uuid.UUID, settings: Settings | None, engine: Engine
) -> None:
    """Renew the store's tokens now when they expire within 30 minutes, so the job does not
    rotate them midway. On SQLite a job may hold the write lock (an import does, from its
    start): the rotated tokens, sealed in a transaction of their own, then waited for that lock
    and failed, and the single-use refresh token was spent with nothing saved. A refused renewal
    fails the job, which marks the store's outage (`on_store_failure`)."""
    with session_scope(ctx, engine=engine) as session:
        await connections.refresh_tokens(session, ctx=ctx, store_id=store_id, settings=settings)


async def _execute(
    job: JobDTO, ctx: RequestContext, sink: ProgressSink, settings: Settings | None, engine: Engine
) -> dict[str, Any]:
    assert job.store_id is not None
    run = _installed().run[JobKind(job.kind)]
    await _renew_tokens_if_due(ctx, job.store_id, settings, engine)
    report = await run(JobRun(job, job.store_id, ctx, sink, settings, engine))
    return as_result(report)


def prefixed(progress: ProgressSink, step: str) -> ProgressSink:
    """`progress` with every phase named "<step>.<phase>" (a job made of several steps)."""

    def sink(*, phase: str, done: int, total: int, failed: int = 0) -> None:
        progress(phase=f"{step}.{phase}", done=done, total=total, failed=failed)

    return sink


def as_result(report: Any) -> dict[str, Any]:
    """A report (pydantic model, dataclass or dict) as the JSON `result` of its job."""
    if hasattr(report, "model_dump"):
        return dict(report.model_dump(mode="json"))
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        report = dataclasses.asdict(report)
    if isinstance(report, dict):
        return dict(json.loads(json.dumps(report, default=str)))
    return {"value": str(report)}
