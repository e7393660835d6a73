"""The job kinds: which long operation each kind of sync job runs, handed to the runner
(`storesync.sync.jobs.runner.install_kinds`) by the composition root. The runner imports none of
them, so it stays below the work it runs."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

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
from storesync.sync.push import inventory


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


JOB_KINDS = JobKinds(
    run={
        JobKind.PRODUCTS: _products,
        JobKind.INVENTORY: _inventory,
        JobKind.ORDERS: _orders,
        JobKind.RECONCILE: _reconcile,
        JobKind.BACKFILL: _backfill,
        JobKind.SHIPMENTS: _shipments,
    },
    on_store_failure=backfill.note_failure,
)
