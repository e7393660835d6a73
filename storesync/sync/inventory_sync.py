"""Full inventory sync: re-assert every matched listing's channel quantity (after an outage, on
demand, or as part of reconciliation). Pushes go through the outbox and the dispatcher like any
other change, so they coalesce, batch, rate-limit and survive crashes the same way."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storesync.core.clock import utcnow
from storesync.db import session_scope
from storesync.settings import Settings
from storesync.sync import dispatch, outbox
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission


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
) -> dispatch.PushReport:
    """Queue and push a store's whole inventory; deferred rows (retryable failures) get up to
    `rounds` more attempts right away."""
    with session_scope(ctx, engine=engine) as session:
        queue_full_push(session, ctx=ctx, store_id=store_id)
    total = dispatch.PushReport()
    for attempt in range(rounds + 1):
        report = await dispatch.push_store(
            organization_id=ctx.organization_id,
            store_id=store_id,
            settings=settings,
            engine=engine,
            force=attempt == 0,
        )
        for field in ("claimed", "skipped", "pushed", "failed", "calls"):
            setattr(total, field, getattr(total, field) + getattr(report, field))
        total.deferred = report.deferred
        if not report.deferred:
            break
        with session_scope(ctx, engine=engine) as session:  # due again now, not after backoff
            session.execute(
                sa.update(outbox.OUTBOX)
                .where(outbox.OUTBOX.c.store_id == store_id, outbox.OUTBOX.c.status == "pending")
                .values(available_at=utcnow())
            )
    return total
