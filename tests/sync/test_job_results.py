"""A finished job tells what it did: its counts (labelled, in the merchant's order) and each item
that failed with the platform's message, capped at 200, in `SyncJob.result` (the Sync page and
the API show them)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from storesync.sync import kinds
from storesync.sync.jobs.schemas import JobKind
from tests.sandbox.conftest import RunningSandbox
from tests.sync.listings_fixtures import models, shop
from tests.sync.test_jobs import make_world, match_all


def _labels(result: dict[str, Any]) -> dict[str, int]:
    return {c["label"]: c["value"] for c in result["counts"]}


@pytest.mark.postgres
def test_an_inventory_job_counts_what_it_checked_pushed_and_names_each_refused_listing(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee"])
    one_per_item: dict[str, Any] = {}
    for m in models(running_sandbox, "shopee"):
        if m.sku:
            one_per_item.setdefault(m.item_id, m)
    listed = list(one_per_item.values())[:3]
    match_all(world, world.stores["shopee"], listed)
    sandbox_shop = shop(running_sandbox, "shopee")
    for item in sandbox_shop.items.values():
        for model in item.models:
            model.stock = 99
    gone = listed[0]
    del sandbox_shop.items[gone.item_id]  # the merchant deleted it on Shopee meanwhile

    job = world.run(world.start("shopee", "inventory").id)

    assert job is not None and job.status == "succeeded"
    counts = _labels(job.result)
    assert list(counts)[:3] == ["listings checked", "already right", "pushed"]
    assert counts["listings checked"] == 3
    assert counts["failed"] == job.result["failed"] >= 1
    assert counts["pushed"] == job.result["pushed"]
    assert job.result["failures_total"] == len(job.result["failures"]) == counts["failed"]
    named = {f["item"] for f in job.result["failures"]}
    assert f"SKU {gone.sku}" in named
    assert all(f["message"] for f in job.result["failures"])
    assert f"SKU {listed[1].sku}" not in named  # pushed fine


@pytest.mark.postgres
def test_an_orders_job_counts_the_orders_it_fetched(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    world = make_world(app_engine, running_sandbox, ["tiktok"])

    job = world.run(world.start("tiktok", "orders").id)

    assert job is not None and job.status == "succeeded"
    counts = _labels(job.result)
    assert list(counts) == ["orders fetched", "new", "updated", "failed"]
    assert counts["orders fetched"] == job.result["fetched"]
    assert counts["failed"] == 0 and job.result["failures"] == []
    assert job.result["failures_total"] == 0


def test_failures_are_capped_at_200_and_counted_in_full() -> None:
    result = {
        "fetched": 250,
        "created": 0,
        "updated": 0,
        "failed": 250,
        "failures": [
            {"platform_order_id": f"SO{n}", "code": "rejected", "message": "bad address"}
            for n in range(250)
        ],
    }

    told = kinds.summarize(JobKind.ORDERS, result, kinds._order_failures(result))

    assert len(told["failures"]) == kinds.MAX_FAILURES == 200
    assert told["failures_total"] == 250
    assert told["failures"][0] == {
        "item": "order SO0",
        "code": "rejected",
        "message": "bad address",
    }
    assert _labels(told) == {"orders fetched": 250, "new": 0, "updated": 0, "failed": 250}


def test_a_reconcile_job_names_differences_found() -> None:
    result = {"checked": 12, "drifted": 2, "repaired": 2, "missing": 0, "orders": {"fetched": 3}}

    told = kinds.summarize(JobKind.RECONCILE, result, [])

    assert _labels(told) == {
        "listings checked": 12,
        "differences found": 2,
        "repaired": 2,
        "missing on the channel": 0,
        "orders fetched": 3,
    }
