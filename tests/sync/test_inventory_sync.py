"""A full inventory sync ends correct on both channels while the sandbox fails 20 % of calls."""

from __future__ import annotations

import asyncio
import random
import uuid

import httpx
from sqlalchemy.engine import Engine

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.sync import inventory_sync
from tests.channels.conftest import connect_store, make_org, sandbox_settings
from tests.sandbox.conftest import RunningSandbox


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
