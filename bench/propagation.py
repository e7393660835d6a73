"""Propagation latency: from an order placed on the Shopee sandbox (which pushes its webhook) to
the TikTok sandbox showing the new stock for that SKU. Prints p50/p99/max per rate and mode;
asserts nothing.

    .venv/bin/python bench/propagation.py [--mode embedded|postgres|both] [--rates 10,50]
                                          [--seconds 10]

embedded: SQLite, Dramatiq StubBroker with an in-process worker. postgres: PostgreSQL (app role,
RLS) and the Redis broker with a worker in this process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STORESYNC_VAR_DIR", tempfile.mkdtemp(prefix="storesync-bench-"))
ADMIN = os.environ.get(
    "STORESYNC_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres"
)
REDIS = os.environ.get("STORESYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _database(mode: str) -> tuple[str, object]:
    import sqlalchemy as sa

    from storesync import migrate

    if mode == "embedded":
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
        migrate.upgrade(url=url)
        return url, None
    name = f"storesync_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} OWNER storesync_owner"))
    base = sa.make_url(ADMIN)
    migrate.upgrade(url=base.set(username="storesync_owner", database=name).render_as_string(False))
    return base.set(username="storesync_app", database=name).render_as_string(False), (admin, name)


def run(mode: str, rates: list[float], seconds: float) -> None:
    import dramatiq
    import httpx
    import sqlalchemy as sa
    from starlette.applications import Starlette

    from storesync import db
    from storesync import settings as settings_module
    from storesync.catalog.models import Product, ProductVariant
    from storesync.channels.models import ChannelListing
    from storesync.inventory import service as inventory
    from storesync.sandbox.app import Sandbox
    from storesync.sandbox.seed import SeedConfig
    from storesync.sandbox.server import serve_in_thread
    from storesync.sync import runtime, webhooks
    from tests.channels.conftest import connect_store, make_org
    from workers import actors

    url, cleanup = _database(mode)
    sandbox = Sandbox(seed=SeedConfig(seed=3, products_per_shop=150))
    with serve_in_thread(sandbox.asgi()) as base:
        os.environ.update(
            {
                "STORESYNC_SHOPEE_BASE_URL": f"{base}/shopee",
                "STORESYNC_TIKTOK_BASE_URL": f"{base}/tiktok",
                "STORESYNC_TIKTOK_AUTH_BASE_URL": f"{base}/tiktok-auth",
            }
        )
        settings_module.get_settings.cache_clear()
        engine = db.make_engine(url, pool_size=10)
        db.use_engine(engine)
        broker = actors.broker
        if mode == "postgres":
            from dramatiq.brokers.redis import RedisBroker

            broker = RedisBroker(url=REDIS, namespace=f"storesync-bench-{uuid.uuid4().hex[:6]}")
            for name in ("push_store_stock", "process_webhook", "sweep_outbox"):
                actor = getattr(actors, name)
                actor.broker = broker
                broker.declare_actor(actor)
        worker = dramatiq.Worker(broker, worker_threads=8, worker_timeout=20)
        worker.start()
        runtime.wire_hooks()
        webhooks.engine_provider = lambda: engine
        cfg = settings_module.get_settings()
        with serve_in_thread(Starlette(routes=webhooks.routes)) as intake:
            for platform in ("shopee", "tiktok"):
                httpx.post(
                    f"{base}/sandbox/webhooks",
                    json={"platform": platform, "url": f"{intake}/webhooks/{platform}"},
                )
            ctx = make_org(engine)
            stores = {p: connect_store(engine, ctx, p, cfg) for p in ("shopee", "tiktok")}
            shops = {s.platform: s for s in sandbox.state.shops.values()}
            by_sku = {
                p: {m.sku: (i, m) for i in shops[p].items.values() for m in i.models} for p in shops
            }
            shared = sorted(set(by_sku["shopee"]) & set(by_sku["tiktok"]))
            with db.session_scope(ctx, engine=engine) as session:
                location = inventory.default_location(session, ctx=ctx)
                lines = []
                for sku in shared:
                    product = Product(
                        organization_id=ctx.organization_id, handle=sku.lower(), title=sku
                    )
                    session.add(product)
                    session.flush()
                    variant = ProductVariant(
                        organization_id=ctx.organization_id, product_id=product.id, variant_sku=sku
                    )
                    session.add(variant)
                    session.flush()
                    for platform in ("shopee", "tiktok"):
                        item, model = by_sku[platform][sku]
                        session.add(
                            ChannelListing(
                                organization_id=ctx.organization_id,
                                store_id=stores[platform],
                                variant_id=variant.id,
                                platform_item_id=item.id,
                                platform_model_id=model.id if item.has_models else "",
                                platform_sku=sku,
                                match_status="matched",
                                raw={"location_id": model.warehouse_id},
                            )
                        )
                    lines.append((variant.id, location.id, 50_000))
                session.flush()
                inventory.set_on_hand_bulk(session, ctx=ctx, lines=lines, reason="bench")
            settle = time.monotonic()
            while time.monotonic() - settle < 180 and any(
                by_sku[p][s][1].stock != 50_000 for p in ("shopee", "tiktok") for s in shared
            ):
                time.sleep(0.05)
            print(
                f"{mode:9s} opening stock of {len(shared)} shared SKUs reached both channels "
                f"in {time.monotonic() - settle:5.1f} s"
            )
            for rate in rates:
                latencies = _measure(sandbox, shops["shopee"].id, by_sku, shared, rate, seconds)
                done = sorted(latencies)
                if not done:
                    print(f"{mode:9s} {rate:5.0f} orders/s: nothing propagated")
                    continue
                p99 = done[min(len(done) - 1, int(len(done) * 0.99))]
                print(
                    f"{mode:9s} {rate:5.0f} orders/s: {len(done)} orders, "
                    f"p50 {statistics.median(done) * 1000:6.0f} ms, "
                    f"p99 {p99 * 1000:6.0f} ms, max {done[-1] * 1000:6.0f} ms"
                )
        worker.stop()
        db.use_engine(None)
        engine.dispose()
    if cleanup:
        admin, name = cleanup  # type: ignore[misc]
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def _measure(sandbox, shop_id, by_sku, shared, rate, seconds):  # type: ignore[no-untyped-def]
    import random

    rng = random.Random(1)
    pending: list[tuple[object, int, float]] = []
    latencies: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()
    expected = {sku: by_sku["tiktok"][sku][1].stock for sku in shared}

    def poll() -> None:
        while not stop.is_set() or pending:
            now = time.monotonic()
            with lock:
                for entry in list(pending):
                    model, target, started = entry
                    if model.stock <= target:  # type: ignore[attr-defined]
                        latencies.append(now - started)
                        pending.remove(entry)
                    elif now - started > 10:
                        pending.remove(entry)
            time.sleep(0.002)

    poller = threading.Thread(target=poll)
    poller.start()
    interval = 1 / rate
    next_at = time.monotonic()
    end = next_at + seconds
    while time.monotonic() < end:
        sku = rng.choice(shared)
        item, model = by_sku["shopee"][sku]
        with lock:
            expected[sku] -= 1
            pending.append((by_sku["tiktok"][sku][1], expected[sku], time.monotonic()))
        sandbox.state.place_order("shopee", shop_id, [(item.id, model.id, 1)])
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    stop.set()
    poller.join(timeout=30)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="both", choices=["embedded", "postgres", "both"])
    parser.add_argument("--rates", default="10,50")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    for mode in ["embedded", "postgres"] if args.mode == "both" else [args.mode]:
        run(mode, rates, args.seconds)


if __name__ == "__main__":
    main()
