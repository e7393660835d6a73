"""The job kinds: which long operation each kind of sync job runs, handed to the runner
(`storesync.sync.jobs.runner.install_kinds`) by the composition root. The runner imports none of
them, so it stays below the work it runs."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa

from storesync.channels.schemas import ShipRequest
from storesync.core.errors import AppError
from storesync.db import session_scope
from storesync.fulfilment import shipping
from storesync.sync.health import backfill
from storesync.sync.health.reconcile import reconcile_store
from storesync.sync.intake import poll, returns
from storesync.sync.jobs.runner import JobKinds, JobRun, as_result, prefixed
from storesync.sync.jobs.schemas import JobKind
from storesync.sync.jobs.service import param_instant
from storesync.sync.listings import service as listings
from storesync.sync.prices import service as prices
from storesync.sync.publish import service as publish
from storesync.sync.push import inventory
from storesync.sync.push.outbox import LISTINGS, OUTBOX


async def _products(run: JobRun) -> Any:
    with session_scope(run.ctx, engine=run.engine, write_lock=True) as session:
        return await listings.import_listings(
            session,
            ctx=run.ctx,
            store_id=run.store_id,
            settings=run.settings,
            create_products=bool(run.job.params.get("create_products")),
            sink=run.sink,
        )


async def _inventory(run: JobRun) -> Any:
    variant_ids = run.job.params.get("variant_ids")
    return await inventory.sync_inventory(
        ctx=run.ctx,
        store_id=run.store_id,
        settings=run.settings,
        engine=run.engine,
        variant_ids=[uuid.UUID(v) for v in variant_ids] if variant_ids else None,
        progress=run.sink,
    )


async def _prices(run: JobRun) -> Any:
    return await prices.push_prices(
        ctx=run.ctx,
        store_id=run.store_id,
        settings=run.settings,
        engine=run.engine,
        progress=run.sink,
    )


def _requester(run: JobRun) -> Any:
    """The job's context acting as the person who asked for it (the audit log and the
    publication name them, not the worker)."""
    requester = run.job.requested_by
    return dataclasses.replace(run.ctx, user_id=requester) if requester else run.ctx


async def _publish(run: JobRun) -> Any:
    return await publish.publish_products(
        _requester(run),
        store_id=run.store_id,
        product_ids=[uuid.UUID(p) for p in run.job.params["product_ids"]],
        form=publish.PublishForm.model_validate(run.job.params["form"]),
        settings=run.settings,
        engine=run.engine,
        progress=run.sink,
    )


async def _content(run: JobRun) -> Any:
    return await publish.push_content(
        run.ctx,
        store_id=run.store_id,
        product_ids=[uuid.UUID(p) for p in run.job.params["product_ids"]],
        settings=run.settings,
        engine=run.engine,
        progress=run.sink,
    )


async def _orders(run: JobRun) -> Any:
    """The store's orders, then its returns (a return reaches StoreSync even when its push did
    not)."""
    with session_scope(run.ctx, engine=run.engine) as session:
        report = await poll.sync_orders(
            session,
            ctx=run.ctx,
            store_id=run.store_id,
            since=param_instant(run.job.params, "since"),
            until=param_instant(run.job.params, "until"),
            settings=run.settings,
            progress=run.sink,
        )
    try:
        found = await returns.sync_returns(
            ctx=run.ctx, store_id=run.store_id, settings=run.settings, engine=run.engine
        )
    except AppError as error:  # the orders are in; the returns are asked again next time
        return {**as_result(report), "returns": {"error": error.message}}
    summary = {k: v for k, v in as_result(found).items() if k != "store_id"}
    return {**as_result(report), "returns": summary}


async def _reconcile(run: JobRun) -> dict[str, Any]:
    """The store's orders first (a sale whose order has not arrived would look like drift, and
    "repairing" it would offer the sold units again), then `reconcile_store`."""
    with session_scope(run.ctx, engine=run.engine) as session:
        orders = await poll.sync_orders(
            session,
            ctx=run.ctx,
            store_id=run.store_id,
            settings=run.settings,
            progress=prefixed(run.sink, "orders"),
        )
    report = await reconcile_store(
        ctx=run.ctx,
        store_id=run.store_id,
        job_id=run.job.id,
        settings=run.settings,
        engine=run.engine,
        progress=run.sink,
    )
    summary = {k: v for k, v in as_result(orders).items() if k not in ("failures", "store_id")}
    return {**as_result(report), "orders": summary}


async def _backfill(run: JobRun) -> Any:
    return await backfill.run_backfill(
        ctx=run.ctx, job=run.job, settings=run.settings, engine=run.engine, progress=run.sink
    )


async def _shipments(run: JobRun) -> dict[str, Any]:
    """Arrange the given orders' shipment with the store's platform, each on its own, and fetch
    their labels; the result names every order with its tracking number or the platform's
    reason."""
    params = run.job.params
    request = ShipRequest(
        method=params["method"],
        address_id=params.get("address_id", ""),
        slot_id=params.get("slot_id", ""),
        branch_id=params.get("branch_id", ""),
    )

    def progress(done: int, total: int, failed: int) -> None:
        run.sink(phase="arranging", done=done, total=total, failed=failed)

    # The timeline names who asked for the shipments, not the worker that ran them.
    requester = run.job.requested_by
    ctx = dataclasses.replace(run.ctx, user_id=requester) if requester else run.ctx
    outcomes = await shipping.arrange_shipments(
        ctx,
        order_ids=[uuid.UUID(i) for i in params["order_ids"]],
        requests={run.store_id: request},
        settings=run.settings,
        engine=run.engine,
        progress=progress,
    )
    return {
        "arranged": sum(1 for o in outcomes if o.ok),
        "failed": sum(1 for o in outcomes if not o.ok),
        "orders": [o.model_dump(mode="json") for o in outcomes],
    }


# -- what a finished job tells the merchant --------------------------------------------------------

MAX_FAILURES = 200  # per-item failures kept in a job's result; `failures_total` counts them all

# Per kind: (label, path in the result) of the counts the Sync page and the API show.
COUNTS: dict[JobKind, tuple[tuple[str, str], ...]] = {
    JobKind.PRODUCTS: (
        ("listings fetched", "fetched"),
        ("new", "created"),
        ("linked", "matched"),
        ("to review", "suggested"),
        ("unmatched", "unmatched"),
        ("products created", "created_products"),
    ),
    JobKind.INVENTORY: (
        ("listings checked", "claimed"),
        ("already right", "skipped"),
        ("pushed", "pushed"),
        ("failed", "failed"),
        ("to retry", "deferred"),
    ),
    JobKind.ORDERS: (
        ("orders fetched", "fetched"),
        ("new", "created"),
        ("updated", "updated"),
        ("failed", "failed"),
    ),
    JobKind.RECONCILE: (
        ("listings checked", "checked"),
        ("differences found", "drifted"),
        ("repaired", "repaired"),
        ("missing on the channel", "missing"),
        ("orders fetched", "orders.fetched"),
    ),
    JobKind.BACKFILL: (
        ("orders fetched", "orders.fetched"),
        ("new orders", "orders.created"),
        ("stock pushed", "stock.pushed"),
        ("push failed", "stock.failed"),
    ),
    JobKind.SHIPMENTS: (("arranged", "arranged"), ("failed", "failed")),
    JobKind.PRICES: (
        ("listings checked", "checked"),
        ("updated", "updated"),
        ("already right", "unchanged"),
        ("not sent", "refused"),
        ("failed", "failed"),
    ),
    JobKind.PUBLISH: (
        ("products published", "published"),
        ("listings linked", "listings"),
        ("failed", "failed"),
    ),
    JobKind.CONTENT: (
        ("listings checked", "checked"),
        ("updated", "updated"),
        ("failed", "failed"),
    ),
}


def summarize(
    kind: JobKind, result: dict[str, Any], failures: list[dict[str, str]]
) -> dict[str, Any]:
    """`result` with `counts` (label and number, in the order the merchant reads them) and
    `failures` (each failed item with the platform's message), capped at `MAX_FAILURES`."""
    counts = []
    for label, path in COUNTS.get(kind, ()):
        value: Any = result
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, int):
            counts.append({"label": label, "value": value})
    return {
        **result,
        "counts": counts,
        "failures": failures[:MAX_FAILURES],
        "failures_total": len(failures),
    }


def _order_failures(result: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "item": f"order {f.get('platform_order_id', '')}",
            "code": str(f.get("code", "")),
            "message": str(f.get("message", ""))[:300],
        }
        for f in result.get("failures") or []
    ]


def _push_failures(run: JobRun) -> list[dict[str, str]]:
    """The store's listings whose push failed during this job, with the platform's reason."""
    since = run.job.started_at or run.job.created_at
    with session_scope(run.ctx, engine=run.engine) as session:
        rows = session.execute(
            sa.select(LISTINGS.c.platform_sku, LISTINGS.c.platform_item_id, OUTBOX.c.last_error)
            .join(LISTINGS, LISTINGS.c.id == OUTBOX.c.listing_id)
            .where(
                OUTBOX.c.organization_id == run.ctx.organization_id,
                OUTBOX.c.store_id == run.store_id,
                OUTBOX.c.status == "failed",
                OUTBOX.c.updated_at >= since,
            )
            .order_by(LISTINGS.c.platform_sku, LISTINGS.c.platform_item_id)
            .limit(MAX_FAILURES + 1)
        ).all()
    return [
        {
            "item": f"SKU {r.platform_sku}" if r.platform_sku else f"item {r.platform_item_id}",
            "code": "push_failed",
            "message": (r.last_error or "the marketplace refused the update")[:300],
        }
        for r in rows
    ]


def _shipment_failures(result: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "item": f"order {o.get('order_number') or o.get('order_id', '')}",
            "code": str(o.get("error_code", "")),
            "message": str(o.get("error_message", ""))[:300],
        }
        for o in result.get("orders") or []
        if not o.get("ok")
    ]


def _failures(kind: JobKind, run: JobRun, result: dict[str, Any]) -> list[dict[str, str]]:
    if kind is JobKind.ORDERS:
        return _order_failures(result)
    if kind is JobKind.INVENTORY:
        return _push_failures(run)
    if kind is JobKind.BACKFILL:
        return _order_failures(result.get("orders") or {}) + _push_failures(run)
    if kind is JobKind.RECONCILE:
        return _push_failures(run)
    if kind is JobKind.SHIPMENTS:
        return _shipment_failures(result)
    if kind in (JobKind.PRICES, JobKind.PUBLISH, JobKind.CONTENT):
        return [f for f in result.get("failures") or [] if isinstance(f, dict)]
    return []


def _told(
    kind: JobKind, work: Callable[[JobRun], Awaitable[Any]]
) -> Callable[[JobRun], Awaitable[Any]]:
    """`work` whose result carries its counts and per-item failures (`summarize`)."""

    async def run(job: JobRun) -> dict[str, Any]:
        result = as_result(await work(job))
        return summarize(kind, result, _failures(kind, job, result))

    return run


JOB_KINDS = JobKinds(
    run={
        kind: _told(kind, work)
        for kind, work in (
            (JobKind.PRODUCTS, _products),
            (JobKind.INVENTORY, _inventory),
            (JobKind.ORDERS, _orders),
            (JobKind.RECONCILE, _reconcile),
            (JobKind.BACKFILL, _backfill),
            (JobKind.SHIPMENTS, _shipments),
            (JobKind.PRICES, _prices),
            (JobKind.PUBLISH, _publish),
            (JobKind.CONTENT, _content),
        )
    },
    on_store_failure=backfill.note_failure,
)
