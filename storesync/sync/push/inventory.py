"""Full inventory sync: re-assert every matched listing's channel quantity (after an outage, on
demand, or as part of reconciliation). Pushes go through the outbox and the dispatcher like any
other change, so they coalesce, batch, rate-limit and survive crashes the same way."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storesync.core.clock import utcnow
from storesync.db import session_scope
from storesync.settings import Settings
from storesync.sync.jobs.progress import ProgressSink, no_progress
from storesync.sync.push import dispatch, outbox
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

# A watched run (a job) pushes in smaller groups, so a cancel lands within about a second.
WATCHED_SUB_BATCH = 25


def queue_full_push(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> int:
    """Queue every matched listing of the store at its current channel quantity. Needs RUN_SYNC."""
    ctx.require(Permission.RUN_SYNC)
    listings = outbox.LISTINGS
    variant_ids = (
        session.execute(
            sa.select(listings.c.variant_id)
            .distinct()
            .where(
                listings.c.organization_id == ctx.organization_id,
                listings.c.store_id == store_id,
                listings.c.match_status == "matched",
                listings.c.variant_id.is_not(None),
            )
        )
        .scalars()
        .all()
    )
    queued = outbox.enqueue(session, variant_ids, force=True, store_id=store_id)
    return len(variant_ids) if queued else 0


async def sync_inventory(
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    settings: Settings | None = None,
    engine: Engine | None = None,
    rounds: int = 5,
    variant_ids: Sequence[uuid.UUID] | None = None,
    progress: ProgressSink = no_progress,
) -> dispatch.PushReport:
    """Queue and push a store's whole inventory (only these variants' listings with
    `variant_ids`); deferred rows (retryable failures) get up to `rounds` more attempts right
    away. `progress` hears phase "push" with the store's pending rows as total, before the
    first round and after every sub-batch of each round (it may raise `JobCancelled`: the run
    stops before its next claim; what was pushed stays pushed)."""
    # Reads the listings and stock, then queues: on SQLite the write lock comes first (a commit
    # in between would fail the job with "database is locked").
    with session_scope(ctx, engine=engine, write_lock=True) as session:
        if variant_ids is None:
            queue_full_push(session, ctx=ctx, store_id=store_id)
        else:
            ctx.require(Permission.RUN_SYNC)
            outbox.enqueue(session, variant_ids, force=True, store_id=store_id)
        queued = _pending(session, store_id)
    progress(phase="push", done=0, total=queued)
    total = dispatch.PushReport()
    for attempt in range(rounds + 1):
        before = total.pushed + total.skipped + total.failed

        def batch_done(running: dispatch.PushReport, before: int = before) -> None:
            done = before + running.pushed + running.skipped + running.failed
            progress(
                phase="push",
                done=min(done, queued),
                total=queued,
                failed=total.failed + running.failed,
            )

        report = await dispatch.push_store(
            organization_id=ctx.organization_id,
            store_id=store_id,
            settings=settings,
            engine=engine,
            force=attempt == 0,
            on_batch=batch_done,
            sub_batch=WATCHED_SUB_BATCH if progress is not no_progress else dispatch.SUB_BATCH,
        )
        for field in ("claimed", "skipped", "pushed", "failed", "calls"):
            setattr(total, field, getattr(total, field) + getattr(report, field))
        total.deferred = report.deferred
        done = total.pushed + total.skipped + total.failed
        progress(phase="push", done=min(done, queued), total=queued, failed=total.failed)
        if not report.deferred:
            break
        with session_scope(ctx, engine=engine) as session:  # due again now, not after backoff
            session.execute(
                sa.update(outbox.OUTBOX)
                .where(outbox.OUTBOX.c.store_id == store_id, outbox.OUTBOX.c.status == "pending")
                .values(available_at=utcnow())
            )
    return total


def _pending(session: Session, store_id: uuid.UUID) -> int:
    return int(
        session.execute(
            sa.select(sa.func.count()).where(
                outbox.OUTBOX.c.store_id == store_id, outbox.OUTBOX.c.status == "pending"
            )
        ).scalar_one()
    )
