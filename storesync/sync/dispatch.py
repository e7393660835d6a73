"""The push dispatcher: claims a store's pending outbox rows, pushes them in as few platform calls
as the API allows (the adapter batches; the resilient client rate-limits, retries and trips the
breaker), and records what each channel was sent and when.

Coalescing is free: one row per listing holds only the latest quantity. A row whose quantity
changed while its push was in flight stays pending and goes out on the next round.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.channels import service as stores
from storesync.channels.schemas import StockUpdate
from storesync.core.clock import utcnow
from storesync.core.errors import AppError
from storesync.core.events import publish_after_commit
from storesync.db import session_scope
from storesync.settings import Settings
from storesync.sync.outbox import LEASE, LISTINGS, OUTBOX
from storesync.tenancy.context import RequestContext
from storesync.tenancy.service import list_organization_ids

log = logging.getLogger(__name__)
BATCH = 5000


@dataclass
class PushReport:
    claimed: int = 0
    skipped: int = 0  # the channel already had that quantity
    pushed: int = 0
    failed: int = 0
    deferred: int = 0  # put back for a later attempt (retryable failure)
    calls: int = 0


def _claim(session: Any, store_id: uuid.UUID, limit: int) -> list[Any]:
    now = utcnow()
    candidates = (
        sa.select(OUTBOX.c.id)
        .where(
            OUTBOX.c.store_id == store_id,
            OUTBOX.c.status == "pending",
            OUTBOX.c.available_at <= now,
        )
        .order_by(OUTBOX.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claimed = session.execute(
        sa.update(OUTBOX)
        .where(OUTBOX.c.id.in_(candidates.scalar_subquery()))
        .values(
            status="in_progress",
            locked_until=now + LEASE,
            attempts=OUTBOX.c.attempts + 1,
            updated_at=now,
        )
        .returning(OUTBOX.c.id, OUTBOX.c.listing_id, OUTBOX.c.quantity, OUTBOX.c.attempts)
    ).all()
    if not claimed:
        return []
    listings = {
        row.id: row
        for row in session.execute(
            sa.select(
                LISTINGS.c.id,
                LISTINGS.c.platform_item_id,
                LISTINGS.c.platform_model_id,
                LISTINGS.c.last_pushed_quantity,
                LISTINGS.c.raw,
            ).where(LISTINGS.c.id.in_([c.listing_id for c in claimed]))
        )
    }
    return [(c, listings[c.listing_id]) for c in claimed if c.listing_id in listings]


async def push_store(
    *,
    organization_id: uuid.UUID,
    store_id: uuid.UUID,
    settings: Settings | None = None,
    engine: Engine | None = None,
    force: bool = False,
) -> PushReport:
    """Push every due outbox row of one store; safe to run concurrently with itself. `force`
    pushes even quantities the channel was already sent (a full sync re-asserts the truth)."""
    ctx = RequestContext.system(organization_id)
    report = PushReport()
    while True:
        with session_scope(ctx, engine=engine) as session:
            batch = _claim(session, store_id, BATCH)
            due = [(c, ln) for c, ln in batch if force or c.quantity != ln.last_pushed_quantity]
            _finish(
                session,
                [c for c, ln in batch if not force and c.quantity == ln.last_pushed_quantity],
                {},
            )
        report.claimed += len(batch)
        report.skipped += len(batch) - len(due)
        if not batch:
            return report
        if due:
            await _push(ctx, store_id, due, report, settings, engine)
        if len(batch) < BATCH:
            return report


async def _push(
    ctx: RequestContext,
    store_id: uuid.UUID,
    due: list[Any],
    report: PushReport,
    settings: Settings | None,
    engine: Engine | None,
) -> None:
    updates = [
        StockUpdate(
            platform_item_id=ln.platform_item_id,
            platform_model_id=ln.platform_model_id,
            quantity=c.quantity,
            location_id=(ln.raw or {}).get("location_id", ""),
        )
        for c, ln in due
    ]
    with session_scope(ctx, engine=engine) as session:
        try:
            adapter = stores.open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
        except AppError as error:
            _defer(session, [c for c, _ in due], error)
            report.deferred += len(due)
            return
    try:
        result = await adapter.update_stock(updates)
    except AppError as error:
        log.info("stock push to store %s failed: %s", store_id, error.code)
        with session_scope(ctx, engine=engine) as session:
            _defer(session, [c for c, _ in due], error)
        report.deferred += len(due)
        return
    finally:
        await adapter.connection.http.client.aclose()
    report.calls += result.calls
    key = {_unit(ln.platform_item_id, ln.platform_model_id): (c, ln) for c, ln in due}
    failed = {_unit(f.platform_item_id, f.platform_model_id): f.reason for f in result.failed}
    with session_scope(ctx, engine=engine) as session:
        pushed = [
            key[_unit(u.platform_item_id, u.platform_model_id)]
            for u in result.succeeded
            if _unit(u.platform_item_id, u.platform_model_id) in key
        ]
        _record_pushed(session, pushed)
        _finish(session, [c for c, _ in pushed], {})
        _finish(session, [key[k][0] for k in failed if k in key], failed)
        publish_after_commit(
            session,
            ctx.organization_id,
            "stock.pushed",
            {"store_id": str(store_id), "pushed": len(pushed), "failed": len(failed)},
        )
    report.pushed += len(pushed)
    report.failed += len(failed)


def _unit(item_id: str, model_id: str) -> tuple[str, str]:
    """One sellable unit's key; an item without models is model "" here and "0" on Shopee."""
    return item_id, "" if model_id in ("", "0") else model_id


def _record_pushed(session: Any, pushed: list[Any]) -> None:
    now = utcnow()
    if not pushed:
        return
    session.connection().execute(
        sa.update(LISTINGS)
        .where(LISTINGS.c.id == sa.bindparam("lid"))
        .values(
            last_pushed_quantity=sa.bindparam("q"),
            channel_quantity=sa.bindparam("q"),
            last_pushed_at=now,
        ),
        [{"lid": ln.id, "q": c.quantity} for c, ln in pushed],
    )


def _finish(session: Any, claimed: list[Any], failures: dict[tuple[str, str], str]) -> None:
    """Done (or failed) only if nobody queued a newer quantity meanwhile."""
    for row in claimed:
        session.execute(
            sa.update(OUTBOX)
            .where(
                OUTBOX.c.id == row.id,
                OUTBOX.c.status == "in_progress",
                OUTBOX.c.quantity == row.quantity,
            )
            .values(
                status="failed" if failures else "done",
                locked_until=None,
                last_error="; ".join(failures.values())[:1000] if failures else "",
                updated_at=utcnow(),
            )
        )


def _defer(session: Any, claimed: list[Any], error: AppError) -> None:
    """Back to pending with backoff when the failure may pass; failed when it will not."""
    now = utcnow()
    for row in claimed:
        delay = timedelta(seconds=min(300, 2 ** min(row.attempts, 8)))
        session.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == row.id, OUTBOX.c.status == "in_progress")
            .values(
                status="pending" if error.retryable else "failed",
                locked_until=None,
                available_at=now + delay,
                last_error=f"{error.code}: {error.message}"[:1000],
                updated_at=now,
            )
        )


def sweep(*, engine: Engine | None = None) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Return rows whose worker died (lease expired) to pending; list the stores with due rows."""
    now = utcnow()
    with session_scope(engine=engine) as session:
        org_ids = list_organization_ids(session)
    due: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for org_id in org_ids:
        with session_scope(RequestContext.system(org_id), engine=engine) as session:
            session.execute(
                sa.update(OUTBOX)
                .where(OUTBOX.c.status == "in_progress", OUTBOX.c.locked_until < now)
                .values(status="pending", locked_until=None, updated_at=now)
            )
            stores_due = (
                session.execute(
                    sa.select(OUTBOX.c.store_id)
                    .distinct()
                    .where(OUTBOX.c.status == "pending", OUTBOX.c.available_at <= now)
                )
                .scalars()
                .all()
            )
            due.update((org_id, store_id) for store_id in stores_due)
    return sorted(due)


STUCK_RECEIVED = timedelta(seconds=30)
STUCK_PROCESSING = timedelta(minutes=5)


def sweep_webhooks(*, engine: Engine | None = None) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Webhook events nobody finished: stored but never handed over (received for 30 s), or
    claimed by a worker that died (processing for 5 min, put back to received). Returns
    (event id, organization id) pairs to process again."""
    from storesync.core.models import table_of
    from storesync.sync.models import WebhookEvent

    events = table_of(WebhookEvent)
    now = utcnow()
    with session_scope(engine=engine) as session:
        org_ids = list_organization_ids(session)
    stuck: list[tuple[uuid.UUID, uuid.UUID]] = []
    for org_id in org_ids:
        with session_scope(RequestContext.system(org_id), engine=engine) as session:
            session.execute(
                sa.update(events)
                .where(
                    events.c.organization_id == org_id,
                    events.c.status == "processing",
                    events.c.received_at < now - STUCK_PROCESSING,
                )
                .values(status="received")
            )
            ids = (
                session.execute(
                    sa.select(events.c.id).where(
                        events.c.organization_id == org_id,
                        events.c.status == "received",
                        events.c.received_at < now - STUCK_RECEIVED,
                    )
                )
                .scalars()
                .all()
            )
            stuck.extend((event_id, org_id) for event_id in ids)
    return stuck
