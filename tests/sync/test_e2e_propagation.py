"""End to end on the production stack: PostgreSQL (app role, RLS), the Redis broker with a real
Dramatiq worker, the sandbox over HTTP sending signed webhooks to StoreSync's intake.

An order placed on the Shopee sandbox for a SKU listed on both platforms changes the TikTok
sandbox's stock within 2 s; cancelling it restores both.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import dramatiq
import httpx
import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from storesync import db
from storesync import settings as settings_module
from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.sandbox.server import serve_in_thread
from tests.channels.conftest import connect_store, make_org
from tests.conftest import unavailable
from tests.sandbox.conftest import RunningSandbox
from tests.sync.test_outbox import _shared_sku
from workers import wiring

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
REDIS_URL = os.environ.get("STORESYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def production_stack(app_engine: Engine, running_sandbox: RunningSandbox) -> Iterator[dict]:
    """Global settings pointed at the sandbox, the app-role engine, a Redis broker with a worker,
    and StoreSync's webhook intake served over HTTP and registered with the sandbox."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        unavailable("Redis", error)
    from dramatiq.brokers.redis import RedisBroker

    from storesync.sync.intake import routes as webhooks
    from workers import actors

    base = running_sandbox.base_url
    env = {
        "STORESYNC_SHOPEE_BASE_URL": f"{base}/shopee",
        "STORESYNC_TIKTOK_BASE_URL": f"{base}/tiktok",
        "STORESYNC_TIKTOK_AUTH_BASE_URL": f"{base}/tiktok-auth",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    settings_module.get_settings.cache_clear()
    db.use_engine(app_engine)
    broker = RedisBroker(url=REDIS_URL, namespace=f"storesync-test-{uuid.uuid4().hex[:8]}")
    originals = {}
    for name in ("push_store_stock", "process_webhook", "sweep_outbox"):
        actor = getattr(actors, name)
        originals[name] = actor.broker
        actor.broker = broker
        broker.declare_actor(actor)
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=50)
    worker.start()
    wiring.connect_actors()
    webhooks.engine_provider = lambda: app_engine
    try:
        with serve_in_thread(Starlette(routes=webhooks.routes)) as intake:
            httpx.post(
                f"{base}/sandbox/webhooks",
                json={"platform": "shopee", "url": f"{intake}/webhooks/shopee"},
            )
            httpx.post(
                f"{base}/sandbox/webhooks",
                json={"platform": "tiktok", "url": f"{intake}/webhooks/tiktok"},
            )
            yield {"settings": settings_module.get_settings(), "broker": broker}
    finally:
        worker.stop()
        broker.flush_all()
        for name, original in originals.items():
            getattr(actors, name).broker = original
        wiring.disconnect_actors()
        webhooks.engine_provider = db.get_engine
        db.use_engine(None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        settings_module.get_settings.cache_clear()


def _wait_for(predicate, timeout: float) -> float | None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.01)
    return None


def test_a_shopee_order_moves_tiktok_stock_within_two_seconds_and_a_cancel_restores_both(
    app_engine: Engine, running_sandbox: RunningSandbox, production_stack: dict
) -> None:
    cfg = production_stack["settings"]
    ctx = make_org(app_engine)
    stores = {p: connect_store(app_engine, ctx, p, cfg) for p in ("shopee", "tiktok")}
    sku, where = _shared_sku(running_sandbox)
    with session_scope(ctx, engine=app_engine) as session:
        product = Product(organization_id=ctx.organization_id, handle="e2e", title="E2E")
        session.add(product)
        session.flush()
        variant = ProductVariant(
            organization_id=ctx.organization_id, product_id=product.id, variant_sku=sku
        )
        session.add(variant)
        session.flush()
        for platform, (_shop, item, model) in where.items():
            session.add(
                ChannelListing(
                    organization_id=ctx.organization_id,
                    store_id=stores[platform],
                    variant_id=variant.id,
                    platform_item_id=item.id,
                    platform_model_id=model.id if item.has_models else "",  # type: ignore[attr-defined]
                    platform_sku=sku,
                    match_status="matched",
                    raw={"location_id": model.warehouse_id},  # type: ignore[attr-defined]
                )
            )
        location = inventory.default_location(session, ctx=ctx)
        inventory.set_on_hand(
            session,
            ctx=ctx,
            variant_id=variant.id,
            location_id=location.id,
            quantity=10,
            reason="opening count",
        )
    shopee_model, tiktok_model = where["shopee"][2], where["tiktok"][2]
    assert _wait_for(lambda: shopee_model.stock == 10 and tiktok_model.stock == 10, 10) is not None  # type: ignore[attr-defined]

    placed_at = time.monotonic()
    order = httpx.post(
        f"{running_sandbox.base_url}/sandbox/orders",
        json={"platform": "shopee", "lines": [{"sku": sku, "quantity": 2}]},
    ).json()
    propagated = _wait_for(lambda: tiktok_model.stock == 8, 5)  # type: ignore[attr-defined]

    assert propagated is not None and time.monotonic() - placed_at < 5
    assert propagated < 2.0, f"TikTok stock moved after {propagated:.2f}s"
    print(f"propagation Shopee order -> TikTok stock: {propagated * 1000:.0f} ms")
    with session_scope(ctx, engine=app_engine) as session:
        reserved = session.execute(sa.text("SELECT reserved FROM inventory_item")).scalar_one()
    assert reserved == 2

    httpx.post(
        f"{running_sandbox.base_url}/sandbox/orders/status",
        json={
            "platform": "shopee",
            "order_id": order["id"],
            "status": "CANCELLED",
            "restock": True,
        },
    )
    restored = _wait_for(lambda: tiktok_model.stock == 10 and shopee_model.stock == 10, 5)  # type: ignore[attr-defined]

    assert restored is not None
    with session_scope(ctx, engine=app_engine) as session:
        status, reserved = session.execute(
            sa.text("SELECT o.status, i.reserved FROM sales_order o, inventory_item i")
        ).one()
        assert inventory.check_ledger(session, organization_id=ctx.organization_id) == []
    assert (status, reserved) == ("cancelled", 0)
