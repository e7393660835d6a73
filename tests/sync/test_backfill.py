"""Outages heal themselves, on PostgreSQL (app role, RLS) against the sandbox over HTTP: the
orders placed while a store could not sync (its access revoked, or its circuit open) and whose
webhooks never came are back-filled once it works again, exactly once, and stock is pushed
again to every channel."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing
from storesync.channels.resilience import breaker_for
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.inventory.models import InventoryItem
from storesync.orders.models import Order
from storesync.stores import service as stores
from storesync.sync.health import backfill, schedule
from storesync.sync.intake import batch as event_batch
from storesync.sync.intake import pushes
from storesync.sync.intake import routes as webhooks
from storesync.sync.jobs import service as jobs
from storesync.sync.jobs.schemas import JobDTO
from storesync.sync.models import WebhookEvent
from tests.channels.conftest import connect_store
from tests.sandbox.conftest import RunningSandbox
from tests.sync.intake_fixtures import serve_routes, wait_for
from tests.sync.listings_fixtures import shop
from tests.sync.test_jobs import World, make_world, queued  # noqa: F401 - fixture

pytestmark = pytest.mark.postgres
SHARED_ON_HAND, OTHER_ON_HAND = 20, 10


@pytest.fixture(autouse=True)
def no_webhook_hook() -> Iterator[None]:
    with webhooks.event_stored.connected_to(webhooks.event_stored.receiver):
        yield


def stock_both_channels(world: World) -> dict[str, Any]:
    """A SKU listed on both channels (20 in stock) and a Shopee-only SKU (10), matched, with the
    sandbox models they stand for (given plenty of channel stock, out of step with ours)."""
    found: dict[str, dict[str, Any]] = {}
    for (platform, _), sandbox_shop in world.sandbox.state.shops.items():
        for item in sandbox_shop.items.values():
            for model in item.models:
                found.setdefault(model.sku, {})[platform] = (item, model)
    shared = next(sku for sku, where in sorted(found.items()) if len(where) == 2)
    other = next(sku for sku, where in sorted(found.items()) if set(where) == {"shopee"})
    org = world.org
    with session_scope(world.ctx, engine=world.engine) as session:
        product = Product(organization_id=org, handle=f"bf-{uuid.uuid4().hex[:8]}", title="BF")
        session.add(product)
        session.flush()
        location = inventory.default_location(session, ctx=world.ctx)
        variants = {}
        for sku, on_hand in ((shared, SHARED_ON_HAND), (other, OTHER_ON_HAND)):
            variant = ProductVariant(organization_id=org, product_id=product.id, variant_sku=sku)
            session.add(variant)
            session.flush()
            variants[sku] = variant.id
            for platform, (item, model) in found[sku].items():
                model.stock = 99
                session.add(
                    ChannelListing(
                        organization_id=org,
                        store_id=world.stores[platform],
                        variant_id=variant.id,
                        platform_item_id=item.id,
                        platform_model_id=model.id if item.has_models else "",
                        platform_sku=sku,
                        match_status="matched",
                        raw={"location_id": model.warehouse_id},
                    )
                )
            session.flush()
            inventory.set_on_hand(
                session,
                ctx=world.ctx,
                variant_id=variant.id,
                location_id=location.id,
                quantity=on_hand,
                reason="opening count",
            )
    return {"shared": shared, "other": other, "variants": variants, "models": found}


def place(world: World, *lines: tuple[str, int]) -> str:
    answer = httpx.post(
        f"{world.sandbox.base_url}/sandbox/orders",
        json={
            "platform": "shopee",
            "shop_id": shop(world.sandbox, "shopee").id,
            "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def orders_of(world: World, platform: str) -> list[str]:
    """Platform order ids stored for the store (repeats would show)."""
    table = Order.__table__  # type: ignore[attr-defined]
    with session_scope(world.ctx, engine=world.engine) as session:
        rows = session.execute(
            sa.select(table.c.platform_order_id).where(table.c.store_id == world.stores[platform])
        )
        return sorted(str(r) for r in rows.scalars())


def reserved(world: World, variant_id: uuid.UUID) -> tuple[int, int]:
    table = InventoryItem.__table__  # type: ignore[attr-defined]
    with session_scope(world.ctx, engine=world.engine) as session:
        on_hand, held = session.execute(
            sa.select(sa.func.sum(table.c.on_hand), sa.func.sum(table.c.reserved)).where(
                table.c.variant_id == variant_id
            )
        ).one()
    return int(on_hand), int(held)


def pushed_order_ids(world: World) -> set[str]:
    """Orders whose webhook reached StoreSync's intake."""
    table = WebhookEvent.__table__  # type: ignore[attr-defined]
    with session_scope(world.ctx, engine=world.engine) as session:
        payloads = session.execute(sa.select(table.c.payload)).scalars().all()
    return {pushes.read_push("shopee", p).order_id for p in payloads} - {""}


def backfills(world: World) -> list[JobDTO]:
    page = world.call(jobs.list_jobs, kind="backfill")
    return list(page.items)


def health(world: World, platform: str) -> Any:
    return asyncio.run(
        stores.check_health(
            ctx=world.ctx, store_id=world.stores[platform], settings=world.cfg, engine=world.engine
        )
    )


def test_orders_placed_while_access_was_revoked_are_backfilled_once_after_reconnecting(
    app_engine: Engine,
    running_sandbox: RunningSandbox,
    queued: list[tuple[uuid.UUID, uuid.UUID]],  # noqa: F811
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee", "tiktok"])
    stock = stock_both_channels(world)
    shared, other = stock["shared"], stock["other"]
    state, shop_id = running_sandbox.state, shop(running_sandbox, "shopee").id
    with serve_routes(app_engine, world.cfg) as routes:
        httpx.post(
            f"{running_sandbox.base_url}/sandbox/webhooks",
            json={"platform": "shopee", "url": routes.url("shopee")},
        )
        before = place(world, (shared, 1))  # arrives by webhook, as usual
        wait_for(lambda: before in pushed_order_ids(world), what="its webhook")
        for event_id, _org in routes.hook_calls:
            with session_scope(world.ctx, engine=app_engine) as session:
                asyncio.run(
                    event_batch.process_webhook_event(
                        session, ctx=world.ctx, event_id=event_id, settings=world.cfg
                    )
                )
        polled = world.run(world.start("shopee", "orders").id)  # the scheduled poll
        assert polled is not None and polled.status == "succeeded"
        last_sync = world.store("shopee").last_synced_at

        # The merchant revoked StoreSync's access in the seller centre: tokens are dead.
        state.revoke_shop_tokens("shopee", shop_id)
        for key, token in list(state.refresh_tokens.items()):
            if token.shop_id == shop_id:
                del state.refresh_tokens[key]
        failed = world.run(world.start("shopee", "orders").id)
        assert failed is not None and (failed.status, failed.error["code"]) == (
            "failed",
            "reauthorize",
        )
        outage = world.store("shopee")
        assert (outage.status, outage.unhealthy_since) == ("reauth_required", last_sync)

        httpx.post(f"{running_sandbox.base_url}/sandbox/faults", json={"webhook_drop_rate": 1})
        gap = sorted([place(world, (shared, 2), (other, 1)), place(world, (other, 3))])
        dispatcher = running_sandbox.sandbox.dispatcher
        wait_for(lambda: dispatcher.stats.dropped >= 2, what="the gap's webhooks to be dropped")
        time.sleep(0.3)
        assert pushed_order_ids(world) == {before}  # the gap's webhooks never came
        assert orders_of(world, "shopee") == [before]
        handed = len(queued)

        connect_store(app_engine, world.ctx, "shopee", world.cfg)  # the merchant reconnects

    (job,) = backfills(world)
    assert queued[handed:] == [(job.id, world.org)]
    assert (job.status, job.requested_by) == ("queued", None)
    assert job.params == {"since": (last_sync - backfill.MARGIN).isoformat()}
    assert health(world, "shopee").ok  # healing noticed twice: still one back-fill
    with session_scope(world.ctx, engine=app_engine) as session:
        assert backfill.heal(session, ctx=world.ctx, store_id=world.stores["shopee"]) == job
    assert [j.id for j in backfills(world)] == [job.id]

    healed = world.run(job.id)

    assert healed is not None and healed.status == "succeeded", healed and healed.error
    assert orders_of(world, "shopee") == sorted([before, *gap])  # each exactly once
    counts = {k: healed.result["orders"][k] for k in ("fetched", "created", "unchanged", "failed")}
    assert counts == {"fetched": 3, "created": 2, "unchanged": 1, "failed": 0}
    assert healed.result["healed"] is True
    assert reserved(world, stock["variants"][shared]) == (SHARED_ON_HAND, 3)
    assert reserved(world, stock["variants"][other]) == (OTHER_ON_HAND, 4)
    models = stock["models"]
    assert models[shared]["tiktok"][1].stock == SHARED_ON_HAND - 3  # the other channel, re-pushed
    assert models[shared]["shopee"][1].stock == SHARED_ON_HAND - 3
    assert models[other]["shopee"][1].stock == OTHER_ON_HAND - 4
    store = world.store("shopee")
    assert (store.status, store.unhealthy_since) == ("connected", None)

    assert health(world, "shopee").ok  # healthy again: nothing more to heal
    connect_store(app_engine, world.ctx, "shopee", world.cfg)
    assert [j.id for j in backfills(world)] == [job.id]
    again = world.run(world.start("shopee", "backfill", since=job.params["since"]).id)
    assert again is not None and again.status == "succeeded"
    assert (again.result["orders"]["created"], again.result["orders"]["unchanged"]) == (0, 3)
    assert again.result["healed"] is False
    assert orders_of(world, "shopee") == sorted([before, *gap])
    assert reserved(world, stock["variants"][shared]) == (SHARED_ON_HAND, 3)


def test_an_open_circuit_is_noticed_and_the_schedule_backfills_once_it_closes(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee"])
    polled = world.run(world.start("shopee", "orders").id)
    assert polled is not None and polled.status == "succeeded"
    last_sync = world.store("shopee").last_synced_at
    breaker = breaker_for(f"store:{world.stores['shopee']}")
    for _ in range(breaker.threshold):  # the marketplace failed five calls in a row
        breaker.record_failure()

    checked = health(world, "shopee")

    assert (checked.ok, checked.circuit) == (False, "open")
    assert world.store("shopee").unhealthy_since == last_sync
    assert schedule.tick(app_engine, organization_ids=[world.org]) == []  # still open: wait
    units = [m for i in shop(running_sandbox, "shopee").items.values() for m in i.models]
    missed = place(world, (next(m.sku for m in units if m.sku and m.stock > 0), 1))
    breaker.opened_at = time.monotonic() - breaker.reset_after - 1  # time for a probe

    created = schedule.tick(app_engine, organization_ids=[world.org])

    (job,) = backfills(world)
    assert created == [job.id]
    healed = world.run(job.id)
    assert healed is not None and healed.status == "succeeded", healed and healed.error
    assert orders_of(world, "shopee") == [missed]
    assert world.store("shopee").unhealthy_since is None
    assert breaker.state.value == "closed"
    assert [j for j in schedule.tick(app_engine, organization_ids=[world.org]) if j == job.id] == []
    assert [j.id for j in backfills(world)] == [job.id]
