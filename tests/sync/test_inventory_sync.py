"""A full inventory sync ends correct on both channels while the sandbox fails 20 % of calls."""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing, Store
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.sync.push import inventory as inventory_sync
from storesync.sync.push import outbox
from tests.channels.conftest import connect_store, make_org, sandbox_settings
from tests.sandbox.conftest import RunningSandbox

STORES = Store.__table__  # type: ignore[attr-defined]


def test_full_inventory_sync_is_correct_with_twenty_percent_of_calls_failing(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    stores = {p: connect_store(sqlite_engine, ctx, p, cfg) for p in ("shopee", "tiktok")}
    state = running_sandbox.state
    rng = random.Random(5)
    expected: dict[tuple[str, str], int] = {}
    org = ctx.organization_id
    with session_scope(ctx, engine=sqlite_engine) as session:
        location = inventory.default_location(session, ctx=ctx)
        variants: dict[str, uuid.UUID] = {}
        lines = []
        for shop in state.shops.values():
            for item in shop.items.values():
                for model in item.models:
                    if model.sku not in variants:
                        product = Product(
                            organization_id=org, handle=f"h-{model.sku}".lower(), title=item.title
                        )
                        session.add(product)
                        session.flush()
                        variant = ProductVariant(
                            organization_id=org, product_id=product.id, variant_sku=model.sku
                        )
                        session.add(variant)
                        session.flush()
                        variants[model.sku] = variant.id
                        lines.append((variant.id, location.id, rng.randrange(0, 60)))
                    session.add(
                        ChannelListing(
                            organization_id=org,
                            store_id=stores[shop.platform],
                            variant_id=variants[model.sku],
                            platform_item_id=item.id,
                            platform_model_id=model.id if item.has_models else "",
                            platform_sku=model.sku,
                            match_status="matched",
                            raw={"location_id": model.warehouse_id},
                        )
                    )
        session.flush()
        inventory.set_on_hand_bulk(session, ctx=ctx, lines=lines, reason="opening count")
        session.info.pop("stock_touched", None)  # nothing pushed before the sync under test
    stock = {variant: quantity for variant, _location, quantity in lines}
    for shop in state.shops.values():
        for item in shop.items.values():
            for model in item.models:
                expected[(shop.platform, model.sku)] = stock[variants[model.sku]]
                model.stock = 999  # the channels start out wrong
    httpx.post(f"{running_sandbox.base_url}/sandbox/faults", json={"error_rate": 0.2})

    reports = {
        p: asyncio.run(
            inventory_sync.sync_inventory(ctx=ctx, store_id=s, settings=cfg, engine=sqlite_engine)
        )
        for p, s in stores.items()
    }
    calls = httpx.get(f"{running_sandbox.base_url}/sandbox/calls").json()
    httpx.post(f"{running_sandbox.base_url}/sandbox/faults", json={"error_rate": 0})

    actual = {
        (s.platform, m.sku): m.stock
        for s in state.shops.values()
        for i in s.items.values()
        for m in i.models
    }
    assert actual == expected
    assert all(r.failed == 0 and r.deferred == 0 for r in reports.values()), reports
    faults = sum(v for k, v in calls["counts"].items() if k.endswith("fault_error"))
    assert faults > 0, "the sandbox must really have failed some calls"
    print(f"full sync under 20% faults: {calls['total']} calls, {faults} failed by the sandbox")


def test_on_sqlite_a_commit_while_the_sync_reads_waits_for_it(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Embedded mode: a worker commits after the sync read the store's listings and before it
    queues their pushes. The sync holds SQLite's write lock from its start, so that commit
    waits instead of failing the job ("database is locked")."""
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, ctx, "shopee", cfg)
    shop = next(s for s in running_sandbox.state.shops.values() if s.platform == "shopee")
    item = next(iter(shop.items.values()))
    model = item.models[0]
    with session_scope(ctx, engine=sqlite_engine) as session:
        product = Product(organization_id=ctx.organization_id, handle="h-one", title=item.title)
        session.add(product)
        session.flush()
        variant = ProductVariant(
            organization_id=ctx.organization_id, product_id=product.id, variant_sku=model.sku
        )
        session.add(variant)
        session.flush()
        session.add(
            ChannelListing(
                organization_id=ctx.organization_id,
                store_id=store_id,
                variant_id=variant.id,
                platform_item_id=item.id,
                platform_model_id=model.id if item.has_models else "",
                platform_sku=model.sku,
                match_status="matched",
                raw={"location_id": model.warehouse_id},
            )
        )
        location = inventory.default_location(session, ctx=ctx)
        inventory.set_on_hand_bulk(
            session, ctx=ctx, lines=[(variant.id, location.id, 7)], reason="count"
        )
        session.info.pop("stock_touched", None)
    model.stock = 999
    real_enqueue = outbox.enqueue
    other: list[object] = []
    writers: list[threading.Thread] = []

    def somebody_commits() -> None:
        try:
            with session_scope(ctx, engine=sqlite_engine) as session:
                session.execute(sa.update(STORES).where(STORES.c.id == store_id).values(name="x"))
            other.append("committed")
        except Exception as error:
            other.append(error)

    def enqueue_after_a_commit(*args: Any, **kwargs: Any) -> Any:
        if not writers:
            writers.append(threading.Thread(target=somebody_commits))
            writers[0].start()
            writers[0].join(timeout=0.5)  # finished at once if nobody held the write lock
        return real_enqueue(*args, **kwargs)

    monkeypatch.setattr(outbox, "enqueue", enqueue_after_a_commit)
    report = asyncio.run(
        inventory_sync.sync_inventory(
            ctx=ctx, store_id=store_id, settings=cfg, engine=sqlite_engine
        )
    )
    writers[0].join(timeout=10)

    assert (report.pushed, report.failed, report.deferred) == (1, 0, 0)
    assert model.stock == 7
    assert other == ["committed"]  # it waited for the sync's transaction, then went in
