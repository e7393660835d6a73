"""Sync jobs and notifications: start a job for a store (a worker runs it), the job history
(store, kind, status; keyset pages), one job with its progress, cancel and retry; the
organization's notifications, how many are unread, and marking them all read."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from storesync.api.auth import reader, writer
from storesync.api.errors import documented
from storesync.core.pagination import MAX_PAGE_SIZE, Page
from storesync.db import session_scope, writing
from storesync.notifications import service as notifications
from storesync.notifications.service import NotificationDTO
from storesync.sync.jobs import service as jobs
from storesync.sync.jobs.schemas import JobDTO
from storesync.tenancy.api_keys import ApiCaller

router = APIRouter()
ReadJobs = Annotated[ApiCaller, reader("jobs")]
WriteJobs = Annotated[ApiCaller, writer("jobs")]
ReadNotifications = Annotated[ApiCaller, reader("notifications")]
WriteNotifications = Annotated[ApiCaller, writer("notifications")]

MAX_NOTIFICATIONS = 100


class JobStart(BaseModel):
    """A sync job to queue for a connected store."""

    model_config = ConfigDict(extra="forbid")

    store_id: uuid.UUID
    kind: str = Field(description="products, inventory, orders, reconcile or backfill")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="By kind: products `create_products` (bool); inventory `variant_ids`; "
        "orders `since`/`until` (ISO 8601 with a time zone); backfill `since` (required), "
        "`until`",
    )


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    marked: int = Field(description="How many notifications were unread and are now read")


# -- jobs ----------------------------------------------------------------------------------------


@router.post(
    "/jobs",
    response_model=JobDTO,
    status_code=201,
    tags=["jobs"],
    responses=documented(400, 404, 409, 413, 422),
)
def start_job(caller: WriteJobs, body: JobStart) -> JobDTO:
    """Queue a job of `kind` for the store; a worker runs it. 409 `sync_job_active` while a
    job of that kind is queued or running for the store, `store_not_connected` unless the
    store is connected."""
    with writing(caller.ctx) as session:
        return jobs.start_job(
            session, ctx=caller.ctx, store_id=body.store_id, kind=body.kind, params=body.params
        )


@router.get("/jobs", response_model=Page[JobDTO], tags=["jobs"], responses=documented(422))
def list_jobs(
    caller: ReadJobs,
    store_id: uuid.UUID | None = None,
    kind: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> Page[JobDTO]:
    """The job history, newest first; filters: store, kind, status (queued, running, succeeded,
    failed, cancelled). `next_cursor` fetches the next page."""
    with session_scope(caller.ctx) as session:
        return jobs.list_jobs(
            session,
            ctx=caller.ctx,
            store_id=store_id,
            kind=kind,
            status=status,
            limit=limit,
            cursor=cursor,
        )


@router.get("/jobs/{job_id}", response_model=JobDTO, tags=["jobs"], responses=documented(404))
def get_job(caller: ReadJobs, job_id: uuid.UUID) -> JobDTO:
    """One job with its progress (`phase`, `done` of `total`, `failed`), result or error."""
    with session_scope(caller.ctx) as session:
        return jobs.get_job(session, ctx=caller.ctx, job_id=job_id)


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobDTO,
    tags=["jobs"],
    responses=documented(404, 409),
)
def cancel_job(caller: WriteJobs, job_id: uuid.UUID) -> JobDTO:
    """A queued job is cancelled now; a running one gets `cancel_requested` and ends
    `cancelled` at its next batch. 409 `sync_job_finished` for a job that succeeded or
    failed."""
    with writing(caller.ctx) as session:
        return jobs.cancel_job(session, ctx=caller.ctx, job_id=job_id)


@router.post(
    "/jobs/{job_id}/retry",
    response_model=JobDTO,
    status_code=201,
    tags=["jobs"],
    responses=documented(404, 409),
)
def retry_job(caller: WriteJobs, job_id: uuid.UUID) -> JobDTO:
    """Queue a failed or cancelled job again: the answer is a NEW job (same store, kind and
    params, `retries` one more); the old one stays as it ended. 409 `sync_job_not_retryable`
    for a queued, running or succeeded job, `sync_job_active` while another of its kind runs."""
    with writing(caller.ctx) as session:
        return jobs.retry_job(session, ctx=caller.ctx, job_id=job_id)


# -- notifications -------------------------------------------------------------------------------


@router.get(
    "/notifications",
    response_model=list[NotificationDTO],
    tags=["notifications"],
    responses=documented(),
)
def list_notifications(
    caller: ReadNotifications,
    limit: Annotated[int, Query(ge=1, le=MAX_NOTIFICATIONS)] = 20,
    unread_only: bool = False,
) -> list[NotificationDTO]:
    """The newest notifications of the organization, newest first."""
    with session_scope(caller.ctx) as session:
        return notifications.list_notifications(
            session, ctx=caller.ctx, limit=limit, unread_only=unread_only
        )


@router.get(
    "/notifications/unread-count",
    response_model=UnreadCount,
    tags=["notifications"],
    responses=documented(),
)
def unread_count(caller: ReadNotifications) -> UnreadCount:
    with session_scope(caller.ctx) as session:
        return UnreadCount(unread=notifications.unread_count(session, ctx=caller.ctx))


@router.post(
    "/notifications/read",
    response_model=MarkedRead,
    tags=["notifications"],
    responses=documented(409),
)
def mark_all_read(caller: WriteNotifications) -> MarkedRead:
    """Mark every unread notification read."""
    with writing(caller.ctx) as session:
        return MarkedRead(marked=notifications.mark_all_read(session, ctx=caller.ctx))
