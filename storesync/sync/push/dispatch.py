"""The push dispatcher: claims a store's pending outbox rows a sub-batch at a time, pushes them in
as few platform calls as the API allows (the adapter batches; the resilient client rate-limits,
retries and trips the breaker), and records what each channel was sent and when.

Coalescing is free: one row per listing holds only the latest quantity. A row whose quantity
changed while its push was in flight stays pending and goes out on the next round.

Crashes: a worker may die after the platform accepted a push but before it was recorded. Rows
are claimed, pushed and recorded `SUB_BATCH` at a time (grouped by item, so the calls stay
few), each claim under a short lease (`STORESYNC_PUSH_LEASE_SECONDS`), so a crash leaves at most
the sub-batch in flight unrecorded. The sweeper hands those rows back once the lease lapses;
claimed again (attempts > 1), they are first read back from the channel, and a quantity the
channel already shows is recorded as pushed without pushing it again. A first attempt, the
common path, never reads back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.channels import connections
from storesync.channels.adapter import PlatformAdapter
from storesync.channels.readback import read_stock, unit_key
from storesync.channels.schemas import StockUpdate
from storesync.core import metrics
from storesync.core.clock import utcnow
from storesync.core.errors import AppError
from storesync.core.events import publish_after_commit
from storesync.db import claimable, session_scope
from storesync.settings import Settings
from storesync.sync.due import DueWork, Work, due_for
from storesync.sync.push.outbox import LISTINGS, OUTBOX, lease
from storesync.tenancy.context import RequestContext

log = logging.getLogger(__name__)
# Rows claimed, pushed and recorded together: big enough that the adapter fills its parallel
# calls, small enough that a crash leaves little unrecorded and one lease covers the push.
SUB_BATCH = 200
NAMED_ITEMS = 3  # pushed listings named in a `stock.pushed` event


@dataclass
class PushReport:
    claimed: int = 0
    skipped: int = 0  # the channel already had that quantity
    pushed: int = 0
    failed: int = 0
    deferred: int = 0  # put back for a later attempt (retryable failure)
    calls: int = 0
    confirmed: int = 0  # of `skipped`: read back from the channel, where an earlier attempt landed


def _claim(session: Any, store_id: uuid.UUID, limit: int, held_for: timedelta) -> list[Any]:
    """Take up to `limit` due rows, leased for `held_for`: the latest queued first (an order's
    change does not wait behind a bulk push), an item's rows together (Shopee and TikTok take
    one call per item; rows queued together share `available_at`)."""
    now = utcnow()
    candidates = (
        sa.select(OUTBOX.c.id)
        .join(LISTINGS, LISTINGS.c.id == OUTBOX.c.listing_id)
        .where(
            OUTBOX.c.store_id == store_id,
            OUTBOX.c.status == "pending",
            OUTBOX.c.available_at <= now,
            # re-queued while an earlier claim of it is still in flight: that claim goes first
            sa.or_(OUTBOX.c.locked_until.is_(None), OUTBOX.c.locked_until < now),
        )
        .order_by(OUTBOX.c.available_at.desc(), LISTINGS.c.platform_item_id, OUTBOX.c.id)
        .limit(limit)
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    picked = claimable(candidates, postgres=postgres, of=OUTBOX)
    claimed = session.execute(
        sa.update(OUTBOX)
        .where(OUTBOX.c.id.in_(picked))
        .values(
            status="in_progress",
            locked_until=now + held_for,
            attempts=OUTBOX.c.attempts + 1,
            updated_at=now,
        )
        .returning(
            OUTBOX.c.id,
            OUTBOX.c.listing_id,
            OUTBOX.c.quantity,
            OUTBOX.c.attempts,
            OUTBOX.c.available_at,
            OUTBOX.c.caused_at,
            OUTBOX.c.locked_until,
        )
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
                LISTINGS.c.platform_sku,
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
    on_batch: Callable[[PushReport], None] | None = None,
    sub_batch: int = SUB_BATCH,
) -> PushReport:
    """Push every due outbox row of one store; safe to run concurrently with itself. `force`
    pushes even quantities the channel was already sent (a full sync re-asserts the truth).
    Rows an earlier attempt may have delivered are read back first, not pushed twice.
    `on_batch` hears the running report after every sub-batch is recorded; what it raises (a
    job's `JobCancelled`) stops the run there, before the next claim; a smaller `sub_batch`
    makes that happen sooner."""
    ctx = RequestContext.system(organization_id)
    report = PushReport()
    held_for = lease(settings)
    adapter: PlatformAdapter | AppError | None = None
    try:
        while True:
            with session_scope(ctx, engine=engine) as session:
                batch = _claim(session, store_id, sub_batch, held_for)
                due = [(c, ln) for c, ln in batch if force or c.quantity != ln.last_pushed_quantity]
                _finish(
                    session,
                    [c for c, ln in batch if not force and c.quantity == ln.last_pushed_quantity],
                    {},
                )
            report.claimed += len(batch)
            report.skipped += len(batch) - len(due)
            if due:
                if adapter is None:
                    adapter = _open(ctx, store_id, settings, engine)
                if isinstance(adapter, AppError):
                    with session_scope(ctx, engine=engine) as session:
                        _defer(session, [c for c, _ in due], adapter)
                    report.deferred += len(due)
                else:
                    await _push(ctx, store_id, adapter, due, report, engine)
            with session_scope(ctx, engine=engine) as session:
                requeued = _release(session, [c for c, _ in batch])
            if on_batch is not None:
                on_batch(report)
            if len(batch) < sub_batch and not requeued:
                return report
    finally:
        if adapter is not None and not isinstance(adapter, AppError):
            await adapter.connection.http.client.aclose()


def _open(
    ctx: RequestContext, store_id: uuid.UUID, settings: Settings | None, engine: Engine | None
) -> PlatformAdapter | AppError:
    """The store's adapter, opened once per run, or why it cannot be (rows are deferred)."""
    with session_scope(ctx, engine=engine) as session:
        try:
            return connections.open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
        except AppError as error:
            return error


def _update(row: Any, listing: Any) -> StockUpdate:
    return StockUpdate(
        platform_item_id=listing.platform_item_id,
        platform_model_id=listing.platform_model_id,
        quantity=row.quantity,
        location_id=(listing.raw or {}).get("location_id", ""),
    )


async def _push(
    ctx: RequestContext,
    store_id: uuid.UUID,
    adapter: PlatformAdapter,
    due: list[Any],
    report: PushReport,
    engine: Engine | None,
) -> None:
    due = await _read_back(ctx, store_id, adapter, due, report, engine)
    if not due:
        return
    try:
        result = await adapter.update_stock([_update(c, ln) for c, ln in due])
    except AppError as error:
        log.info("stock push to store %s failed: %s", store_id, error.code)
        with session_scope(ctx, engine=engine) as session:
            _defer(session, [c for c, _ in due], error)
        report.deferred += len(due)
        return
    report.calls += result.calls
    key = {unit_key(ln.platform_item_id, ln.platform_model_id): (c, ln) for c, ln in due}
    failed = {unit_key(f.platform_item_id, f.platform_model_id): f.reason for f in result.failed}
    with session_scope(ctx, engine=engine) as session:
        pushed = [
            key[unit_key(u.platform_item_id, u.platform_model_id)]
            for u in result.succeeded
            if unit_key(u.platform_item_id, u.platform_model_id) in key
        ]
        _record_pushed(session, pushed)
        _finish(session, [c for c, _ in pushed], {})
        _finish(session, [key[k][0] for k in failed if k in key], failed)
        publish_after_commit(
            session,
            ctx.organization_id,
            "stock.pushed",
            {
                "store_id": str(store_id),
                "pushed": len(pushed),
                "failed": len(failed),
                # the first few, so the activity feed can name what moved
                "items": [
                    {"sku": ln.platform_sku, "quantity": c.quantity}
                    for c, ln in pushed[:NAMED_ITEMS]
                ],
            },
        )
    report.pushed += len(pushed)
    report.failed += len(failed)
    confirmed = utcnow()
    for claimed, _listing in pushed:
        metrics.STOCK_PUSH_SECONDS.labels(adapter.platform).observe(
            max(0.0, (confirmed - claimed.available_at).total_seconds())
        )
        if claimed.caused_at is not None:
            metrics.PROPAGATION_SECONDS.labels(adapter.platform).observe(
                max(0.0, (confirmed - claimed.caused_at).total_seconds())
            )


async def _read_back(
    ctx: RequestContext,
    store_id: uuid.UUID,
    adapter: PlatformAdapter,
    due: list[Any],
    report: PushReport,
    engine: Engine | None,
) -> list[Any]:
    """Rows claimed before (attempts > 1) may already be on the channel: a worker died after
    sending them, or a failed call was applied anyway. Those whose quantity the channel shows
    are recorded as pushed; returns the rows still to push. First attempts cost nothing here."""
    again = [(c, ln) for c, ln in due if c.attempts > 1]
    if not again:
        return due
    calls = adapter.connection.http.calls
    try:
        shown = await read_stock(adapter, [_update(c, ln) for c, ln in again])
    except AppError as error:  # the push would meet the same refusal: try both again later
        log.info("reading back store %s failed: %s", store_id, error.code)
        with session_scope(ctx, engine=engine) as session:
            _defer(session, [c for c, _ in again], error)
        report.deferred += len(again)
        return [(c, ln) for c, ln in due if c.attempts <= 1]
    finally:
        report.calls += adapter.connection.http.calls - calls
    landed = [
        (c, ln)
        for c, ln in again
        if shown.get(unit_key(ln.platform_item_id, ln.platform_model_id)) == c.quantity
    ]
    if landed:
        with session_scope(ctx, engine=engine) as session:
            _record_pushed(session, landed)
            _finish(session, [c for c, _ in landed], {})
        log.info("store %s: %d earlier pushes had landed, not repeated", store_id, len(landed))
    report.skipped += len(landed)
    report.confirmed += len(landed)
    done = {c.id for c, _ in landed}
    return [(c, ln) for c, ln in due if c.id not in done]


def _record_pushed(session: Any, pushed: list[Any]) -> None:
    """The quantity each listing was sent, unless its last pushed quantity changed since the
    claim (cleared to ask for another push: `inventory.items.push_again`), which must not be
    read as already done."""
    now = utcnow()
    if not pushed:
        return
    session.connection().execute(
        sa.update(LISTINGS)
        .where(
            LISTINGS.c.id == sa.bindparam("lid"),
            LISTINGS.c.last_pushed_quantity.is_not_distinct_from(sa.bindparam("was")),
        )
        .values(
            last_pushed_quantity=sa.bindparam("q"),
            channel_quantity=sa.bindparam("q"),
            last_pushed_at=now,
        ),
        [{"lid": ln.id, "q": c.quantity, "was": ln.last_pushed_quantity} for c, ln in pushed],
    )


def _finish(session: Any, claimed: list[Any], failures: dict[tuple[str, str], str]) -> None:
    """Done (or failed) only if nobody queued a newer quantity meanwhile. One statement for all
    the rows (executemany)."""
    if not claimed:
        return
    session.connection().execute(
        sa.update(OUTBOX)
        .where(
            OUTBOX.c.id == sa.bindparam("row_id"),
            OUTBOX.c.status == "in_progress",
            OUTBOX.c.quantity == sa.bindparam("row_quantity"),
        )
        .values(
            status="failed" if failures else "done",
            locked_until=None,
            last_error="; ".join(failures.values())[:1000] if failures else "",
            updated_at=utcnow(),
        ),
        [{"row_id": row.id, "row_quantity": row.quantity} for row in claimed],
    )


def _release(session: Any, claimed: list[Any]) -> int:
    """End this run's claim of rows it did not finish because they were queued again while in
    flight (a newer quantity): they wait for their claim to end, so no other worker pushes them
    meanwhile and an older quantity never lands after a newer one. Returns how many are due."""
    if not claimed:
        return 0
    session.connection().execute(
        sa.update(OUTBOX)
        .where(
            OUTBOX.c.id == sa.bindparam("row_id"),
            OUTBOX.c.locked_until == sa.bindparam("ours"),
        )
        .values(locked_until=None),
        [{"row_id": row.id, "ours": row.locked_until} for row in claimed],
    )
    return int(
        session.execute(
            sa.select(sa.func.count()).where(
                OUTBOX.c.id.in_([row.id for row in claimed]),
                OUTBOX.c.status == "pending",
                OUTBOX.c.locked_until.is_(None),
                OUTBOX.c.available_at <= utcnow(),
            )
        ).scalar_one()
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


def sweep(
    *, engine: Engine | None = None, due: DueWork | None = None
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Return rows whose worker died (lease expired) to pending; list the stores with due rows.
    Their next claim is a second attempt, so the dispatcher reads them back before pushing.
    Only the organizations `due` names for pushes (`storesync.sync.due`; looked up afresh
    without it) get a transaction; the outbox gauges come from the same look-up."""
    due = due_for(Work.PUSH, due, engine)
    now = utcnow()
    stores: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for org_id in due.of(Work.PUSH):
        with session_scope(RequestContext.system(org_id), engine=engine) as session:
            lapsed = cast(
                sa.CursorResult[Any],
                session.execute(
                    sa.update(OUTBOX)
                    .where(
                        OUTBOX.c.organization_id == org_id,  # SQLite has no row-level security
                        OUTBOX.c.status == "in_progress",
                        OUTBOX.c.locked_until < now,
                    )
                    # due now: they go out ahead of older rows (see `_claim`)
                    .values(status="pending", locked_until=None, available_at=now, updated_at=now)
                ),
            ).rowcount
            if lapsed:
                log.info("organization %s: %d stock pushes a worker left behind", org_id, lapsed)
            stores_due = (
                session.execute(
                    sa.select(OUTBOX.c.store_id)
                    .distinct()
                    .where(
                        OUTBOX.c.organization_id == org_id,
                        OUTBOX.c.status == "pending",
                        OUTBOX.c.available_at <= now,
                    )
                )
                .scalars()
                .all()
            )
            stores.update((org_id, store_id) for store_id in stores_due)
    metrics.OUTBOX_DEPTH.set(due.outbox_waiting)
    oldest = due.outbox_oldest
    metrics.OUTBOX_OLDEST_SECONDS.set(
        max(0.0, (due.at - oldest).total_seconds()) if oldest is not None else 0.0
    )
    return sorted(stores)
