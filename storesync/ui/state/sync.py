"""Sync: jobs with live progress, start, cancel, retry, error details, history."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import reflex as rx

from storesync.stores import service as stores
from storesync.sync.jobs import service as jobs
from storesync.sync.jobs.schemas import JobDTO
from storesync.tenancy.context import RequestContext
from storesync.ui.format import label, when
from storesync.ui.state.page import PageState
from storesync.ui.state.paging import Paging

PAGE_SIZE = 20
KINDS = ("orders", "inventory", "products", "reconcile", "prices")


def _counts(result: dict[str, Any]) -> str:
    """The job's counts as the merchant reads them: "orders fetched 12 · new 3 · failed 1"."""
    return " · ".join(
        f"{c.get('label', '')} {c.get('value', 0)}"
        for c in result.get("counts") or []
        if isinstance(c, dict)
    )


def _failures(result: dict[str, Any]) -> tuple[str, str]:
    """(the failed items, one a line with the platform's message; what the list is)."""
    failures = [f for f in result.get("failures") or [] if isinstance(f, dict)]
    if not failures:
        return "", ""
    lines = "\n".join(f"{f.get('item', '')}: {f.get('message', '')}" for f in failures)
    total = int(result.get("failures_total") or len(failures))
    title = f"{total} failed item{'s' if total != 1 else ''}"
    if total > len(failures):
        title += f" (first {len(failures)} shown)"
    return lines, title


def _job_row(job: JobDTO, names: dict[str, str]) -> dict[str, str]:
    percent = (
        int(job.done * 100 / job.total) if job.total else (100 if job.status == "succeeded" else 0)
    )
    failures, failures_title = _failures(job.result or {})
    return {
        "counts": _counts(job.result or {}),
        "failures": failures,
        "failures_title": failures_title,
        "id": str(job.id),
        "kind": job.kind,
        "store": names.get(str(job.store_id), ""),
        "status": job.status,
        "status_label": label(job.status),
        "phase": label(job.phase),
        "progress": f"{job.done}/{job.total}" if job.total else "",
        "percent": str(percent),
        "failed": str(job.failed) if job.failed else "",
        "error": str(job.error.get("message", ""))[:300] if job.error else "",
        "created": when(job.created_at),
        "active": "yes" if job.active else "",
        "retryable": "yes" if job.status in ("failed", "cancelled") else "",
    }


class SyncState(Paging, PageState):
    MISSING: ClassVar[str] = "that job or store is not available"
    jobs: list[dict[str, str]] = []
    stores: list[dict[str, str]] = []

    @rx.event
    def load(self):
        return self._page_load()

    def _load(self, ctx: RequestContext) -> None:
        with self._session(ctx) as session:
            connected = stores.list_stores(session, ctx=ctx)
            page = jobs.list_jobs(
                session,
                ctx=ctx,
                limit=PAGE_SIZE,
                cursor=self._cursor(),
            )
        names = {str(s.id): s.name for s in connected}
        self.stores = [{"id": str(s.id), "name": s.name, "platform": s.platform} for s in connected]
        self.jobs = [_job_row(job, names) for job in page.items]
        self._paged(page.next_cursor)

    def _on_events(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        if any(str(e["type"]).startswith("sync_job") for e in events):
            self._load(ctx)

    @rx.event
    def start(self, store_id: str, kind: str):
        """Start a sync of `kind` for the store; needs RUN_SYNC."""
        if kind not in KINDS:
            return rx.toast.error(f"kind: {kind[:20]} is not a sync kind")
        return self._act(
            lambda session, ctx: jobs.start_job(
                session, ctx=ctx, store_id=uuid.UUID(store_id), kind=kind
            ),
            f"{kind} sync started",
        )

    @rx.event
    def cancel(self, job_id: str):
        return self._act(
            lambda session, ctx: jobs.cancel_job(session, ctx=ctx, job_id=uuid.UUID(job_id)),
            "cancel requested",
        )

    @rx.event
    def retry(self, job_id: str):
        return self._act(
            lambda session, ctx: jobs.retry_job(session, ctx=ctx, job_id=uuid.UUID(job_id)),
            "retry queued",
        )
