"""Propagation latency: from an order placed on the Shopee sandbox (which pushes its webhook) to
the TikTok sandbox showing the new stock for that SKU. Prints p50/p99/max per rate and mode;
asserts nothing.

    .venv/bin/python bench/propagation.py [--mode embedded|postgres|both] [--rates 10,50,150]
                                          [--seconds 10]

embedded: SQLite, Dramatiq StubBroker with an in-process worker, all in this process (as
`storesync run` is). postgres: the production layout: PostgreSQL (app role, RLS), the Redis broker,
`dramatiq workers.actors` in its own process (--worker-processes x --worker-threads), the webhook
intake served by its own process; the sandbox stays in this process so the bench can watch its
stock without HTTP polling.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pgdb import profile, wait_up  # noqa: E402
from bench.procstat import cpu_seconds  # noqa: E402

os.environ.setdefault("STORESYNC_VAR_DIR", tempfile.mkdtemp(prefix="storesync-bench-"))
ADMIN = os.environ.get(
    "STORESYNC_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres"
)
PROFILED: dict[str, int] = {}  # part → pid, for --profile
DEFAULT_RATES = {"embedded": "10,50", "postgres": "10,50,150"}
REDIS = os.environ.get("STORESYNC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")


def _database(mode: str, stack: contextlib.ExitStack) -> str:
    from storesync import migrate

    if mode == "embedded":
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
        migrate.upgrade(url=url)
        return url
    from bench.pgdb import temporary_database

    return stack.enter_context(temporary_database()).app_url


def run(mode: str, rates: list[float], seconds: float, processes: int, threads: int) -> None:
    with contextlib.ExitStack() as stack:
        url = _database(mode, stack)
        _run_layout(mode, url, rates, seconds, processes, threads)


def _run_layout(
    mode: str, url: str, rates: list[float], seconds: float, processes: int, threads: int
) -> None:
    import sqlalchemy as sa

    from storesync import db
    from storesync import settings as settings_module
    from storesync.core.clock import utcnow
    from storesync.sandbox.app import Sandbox
    from storesync.sandbox.seed import SeedConfig
    from storesync.sandbox.server import free_port, serve_in_thread

    sandbox = Sandbox(seed=SeedConfig(seed=3, products_per_shop=150), clock=utcnow)
    children: list[subprocess.Popen[bytes]] = []
    with serve_in_thread(sandbox.asgi()) as base:
        os.environ.update(
            {
                "STORESYNC_SHOPEE_BASE_URL": f"{base}/shopee",
                "STORESYNC_TIKTOK_BASE_URL": f"{base}/tiktok",
                "STORESYNC_TIKTOK_AUTH_BASE_URL": f"{base}/tiktok-auth",
            }
        )
        if mode == "postgres":
            import redis

            from bench.pgdb import production_env

            redis.Redis.from_url(REDIS).flushdb()
            os.environ.update(production_env(base, url, REDIS))
        settings_module.get_settings.cache_clear()
        engine = db.make_engine(url, pool_size=10)
        db.use_engine(engine)
        try:
            if mode == "postgres":
                port = free_port()
                intake = f"http://127.0.0.1:{port}"
                children.append(_spawn("intake", str(port)))
                children.append(_spawn_worker(processes, threads))
                wait_up(intake, children[0])
                database = sa.make_url(url).database or ""
                parts = {"intake": children[0].pid, "worker": children[1].pid}
                PROFILED.update(parts)
                _bench(
                    mode,
                    sandbox,
                    base,
                    intake,
                    engine,
                    rates,
                    seconds,
                    lambda: _cpu_by_part(parts, database),
                )
                _scrape(intake)
            else:
                _embedded(mode, sandbox, base, engine, rates, seconds)
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
            db.use_engine(None)
            engine.dispose()


def _cpu_by_part(children: dict[str, int], database: str) -> dict[str, float]:
    """CPU seconds so far of this process (sandbox, bench), each child, and PostgreSQL's
    backends serving the bench database."""
    import sqlalchemy as sa

    parts = {"sandbox+bench": cpu_seconds(os.getpid(), descendants=False)}
    parts.update({name: cpu_seconds(pid) for name, pid in children.items()})
    admin = sa.create_engine(ADMIN)
    with admin.connect() as conn:
        pids = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": database}
        ).scalars()
        parts["postgres"] = sum(cpu_seconds(p) for p in pids)
    admin.dispose()
    return parts


WATCHED = (
    "storesync_webhook_pushes_total",
    "storesync_webhook_ack_seconds_count",
    "storesync_platform_calls_total",
    "storesync_rate_limit_wait_seconds_total",
    "storesync_stock_push_latency_seconds_count",
    "storesync_propagation_seconds_count",
    "storesync_propagation_seconds_sum",
    "storesync_outbox_depth",
    "storesync_queue_depth",
    "storesync_circuit_state",
)


def _scrape(intake: str) -> None:
    """GET /metrics from the intake (every child's figures, multiprocess mode): saved whole to
    METRICS_OUT (default: a file in the temp folder) and summed per family here."""
    import httpx

    text = httpx.get(f"{intake}/metrics", timeout=10).text
    out = Path(os.environ.get("METRICS_OUT") or tempfile.mktemp(suffix="-metrics.txt"))
    out.write_text(text)
    print(f"GET /metrics after the run: {len(text.splitlines())} lines, saved to {out}")
    for family in WATCHED:
        samples = [ln for ln in text.splitlines() if ln.startswith((family + "{", family + " "))]
        total = sum(float(ln.rsplit(" ", 1)[1]) for ln in samples)
        base = family.removesuffix("_count").removesuffix("_sum")
        declared = f"# HELP {base} " in text or f"# HELP {family} " in text
        missing = "" if declared else " MISSING"
        print(f"  {family}: {len(samples)} series, sum {total:g}{missing}")


def _spawn(role: str, *args: str) -> subprocess.Popen[bytes]:
    """The intake: the webhook routes served by granian, as `storesync run` serves the app."""
    port = args[0]
    cmd = [str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--factory"]
    cmd += ["--workers", "1", "--log-level", "warning", "--no-access-log"]
    cmd += ["--host", "127.0.0.1", "--port", port, "bench.pgdb:intake_app"]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=_child_log(), stderr=subprocess.STDOUT)


def _child_log() -> Any:
    """The children's output (the workers log every platform call) goes to CHILD_LOG (default:
    a file in the temp folder), not between the figures."""
    path = os.environ.setdefault("CHILD_LOG", tempfile.mktemp(suffix="-propagation.log"))
    return open(path, "ab")


def _spawn_worker(processes: int, threads: int) -> subprocess.Popen[bytes]:
    storesync = str(Path(sys.executable).parent / "storesync")
    cmd = [storesync, "worker", "--processes", str(processes), "--threads", str(threads)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=_child_log(), stderr=subprocess.STDOUT)


def _embedded(mode, sandbox, base, engine, rates, seconds):  # type: ignore[no-untyped-def]
    import dramatiq
    from starlette.applications import Starlette

    from storesync.channels import apps
    from storesync.sandbox.server import serve_in_thread
    from storesync.sync.intake import routes as webhooks
    from workers import actors, wiring

    apps.in_process_apps = sandbox.app_credentials  # mounted in this process, as `run` does
    PROFILED["all"] = os.getpid()
    worker = dramatiq.Worker(actors.broker, worker_threads=8, worker_timeout=20)
    worker.start()
    wiring.wire()
    webhooks.engine_provider = lambda: engine
    try:
        with serve_in_thread(Starlette(routes=webhooks.routes)) as intake:
            _bench(
                mode,
                sandbox,
                base,
                intake,
                engine,
                rates,
                seconds,
                lambda: {"all": cpu_seconds(os.getpid())},
            )
    finally:
        worker.stop()


def _bench(mode, sandbox, base, intake, engine, rates, seconds, cpu):  # type: ignore[no-untyped-def]

    from storesync import db
    from storesync import settings as settings_module
    from storesync.catalog.models import Product, ProductVariant
    from storesync.channels.models import ChannelListing
    from storesync.inventory import service as inventory
    from tests.channels.conftest import connect_store, make_org
    from workers import wiring

    wiring.wire()  # this process's stock changes announce pushes too
    cfg = settings_module.get_settings()
    ctx = make_org(engine)
    stores = {p: connect_store(engine, ctx, p, cfg) for p in ("shopee", "tiktok")}
    asyncio.run(_subscribe(engine, ctx, stores, intake, cfg))
    shops = {s.platform: s for s in sandbox.state.shops.values()}
    by_sku = {p: {m.sku: (i, m) for i in shops[p].items.values() for m in i.models} for p in shops}
    shared = sorted(set(by_sku["shopee"]) & set(by_sku["tiktok"]))
    with db.session_scope(ctx, engine=engine) as session:
        location = inventory.default_location(session, ctx=ctx)
        lines = []
        for sku in shared:
            product = Product(organization_id=ctx.organization_id, handle=sku.lower(), title=sku)
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
    if mode == "postgres":  # steady state: the first scheduled orders poll of each new store
        _wait_for_first_polls(engine, ctx, list(stores.values()))  # (3 days back) is done
    print(
        f"{mode:9s} opening stock of {len(shared)} shared SKUs reached both channels "
        f"in {time.monotonic() - settle:5.1f} s",
        flush=True,
    )
    for rate in rates:
        speed = _speed_ms()
        print(f"{mode:9s} {rate:5.0f} orders/s: machine speed check {speed:.0f} ms", flush=True)
        spies = [_profile(pid, f"{mode}-{part}", rate, seconds) for part, pid in PROFILED.items()]
        before = cpu()
        latencies, placed = _measure(sandbox, shops["shopee"].id, by_sku, shared, rate, seconds)
        after = cpu()
        for spy in spies:
            if spy is not None:
                spy.wait(timeout=60)
        spent = ", ".join(
            f"{name} {(after[name] - before[name]) * 1000 / max(placed, 1):.1f}" for name in after
        )
        print(f"{mode:9s} {rate:5.0f} orders/s: CPU ms per order: {spent}", flush=True)
        done = sorted(latency for _, latency in latencies)
        if not done:
            print(f"{mode:9s} {rate:5.0f} orders/s: nothing propagated", flush=True)
            continue
        p99 = done[min(len(done) - 1, int(len(done) * 0.99))]
        print(
            f"{mode:9s} {rate:5.0f} orders/s: {placed} placed, {len(done)} propagated within 10 s, "
            f"p50 {statistics.median(done) * 1000:6.0f} ms, "
            f"p99 {p99 * 1000:6.0f} ms, max {done[-1] * 1000:6.0f} ms",
            flush=True,
        )
        slow = _slow_seconds(latencies)
        if slow:
            print(f"{mode:9s} {rate:5.0f} orders/s: slowest (second placed: max ms) {slow}")


def _profile(pid: int, name: str, rate: float, seconds: float) -> subprocess.Popen[bytes] | None:
    """With --profile DIR: py-spy on `pid` while one rate runs, to DIR/<name>-<rate>.txt."""
    folder = os.environ.get("PROFILE_DIR")
    return profile(pid, Path(folder) / f"{name}-{rate:g}.txt", seconds) if folder else None


async def _subscribe(engine, ctx, stores, intake, cfg) -> None:  # type: ignore[no-untyped-def]
    """Each store's pushes registered as production does (`stores.service.register_pushes`):
    the adapter subscribes to the pushes StoreSync acts on, at the intake's URL."""
    from storesync import db
    from storesync.channels.connections import open_adapter

    for platform, store_id in stores.items():
        with db.session_scope(ctx, engine=engine) as session:
            adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=cfg)
        try:
            await adapter.setup_webhooks(f"{intake}/webhooks/{platform}")
        finally:
            await adapter.connection.http.client.aclose()


def _wait_for_first_polls(engine, ctx, store_ids, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from storesync import db
    from storesync.sync.models import SyncJob

    jobs = SyncJob.__table__  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session_scope(ctx, engine=engine) as session:
            polled = session.execute(
                sa.select(sa.func.count(sa.distinct(jobs.c.store_id))).where(
                    jobs.c.kind == "orders", jobs.c.status == "succeeded"
                )
            ).scalar_one()
            busy = session.execute(
                sa.select(sa.func.count()).where(jobs.c.status.in_(("queued", "running")))
            ).scalar_one()
        if polled >= len(store_ids) and not busy:
            return
        time.sleep(0.2)
    print("the first scheduled orders polls did not finish in time", flush=True)


def _speed_ms() -> float:
    """A fixed pure-Python loop, timed: this VM's speed drifts by a third between runs minutes
    apart, and the latency figures with it; print it so runs can be compared."""
    start = time.perf_counter()
    total = 0
    for number in range(3_000_000):
        total += number
    return (time.perf_counter() - start) * 1000


def _slow_seconds(latencies: list[tuple[float, float]], over: float = 0.5) -> str:
    """The seconds of the run (by placing time) whose slowest order took over `over` s: shows
    whether a tail is one stall or spread over the run."""
    worst: dict[int, float] = {}
    for started, latency in latencies:
        worst[int(started)] = max(worst.get(int(started), 0.0), latency)
    return ", ".join(f"{s}s: {w * 1000:.0f}" for s, w in sorted(worst.items()) if w > over)


def _measure(sandbox, shop_id, by_sku, shared, rate, seconds):  # type: ignore[no-untyped-def]
    import random

    rng = random.Random(1)
    # SKU → its orders not yet seen on TikTok (target stock, placed at), oldest first: the
    # poller looks at each SKU's oldest only (a scan of every pending order every 5 ms cost this
    # process, where the sandbox answers too, a core at 150 orders/s).
    pending: dict[str, collections.deque[tuple[int, float]]] = {}
    latencies: list[tuple[float, float]] = []
    lock = threading.Lock()
    stop = threading.Event()
    expected = {sku: by_sku["tiktok"][sku][1].stock for sku in shared}

    def poll() -> None:
        while not stop.is_set() or pending:
            now = time.monotonic()
            with lock:
                for sku, waiting in list(pending.items()):
                    stock = by_sku["tiktok"][sku][1].stock
                    while waiting and (stock <= waiting[0][0] or now - waiting[0][1] > 10):
                        target, started = waiting.popleft()
                        if stock <= target:
                            latencies.append((started - begun, now - started))
                    if not waiting:
                        del pending[sku]
            time.sleep(0.005)

    begun = time.monotonic()
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
            pending.setdefault(sku, collections.deque()).append((expected[sku], time.monotonic()))
        sandbox.state.place_order("shopee", shop_id, [(item.id, model.id, 1)])
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    with lock:
        placed = len(latencies) + sum(len(waiting) for waiting in pending.values())
    stop.set()
    poller.join(timeout=30)
    return latencies, placed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="both", choices=["embedded", "postgres", "both"])
    parser.add_argument(
        "--rates", help="orders/s, comma-separated (embedded 10,50; postgres 10,50,150)"
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--platform-rate",
        type=float,
        help="calls/s StoreSync allows itself per store (default: the settings' 50, TikTok's "
        "published order of magnitude); the sandbox itself does not limit",
    )
    parser.add_argument("--profile", metavar="DIR", help="py-spy each part per rate into DIR")
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--worker-threads", type=int, default=4)
    args = parser.parse_args()
    # The test fixtures the bench borrows clear STORESYNC_* when imported: first, so the
    # settings chosen below stay.
    import tests.conftest  # noqa: F401

    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        os.environ["PROFILE_DIR"] = args.profile
    if args.platform_rate:  # read by every process's settings, the children's too
        for platform in ("SHOPEE", "TIKTOK"):
            os.environ[f"STORESYNC_{platform}_RATE_LIMIT"] = str(args.platform_rate)
    from storesync.settings import get_settings

    get_settings.cache_clear()
    cfg = get_settings()
    print(
        f"quota per store: Shopee {cfg.shopee_rate_limit:g} calls/s, "
        f"TikTok {cfg.tiktok_rate_limit:g} calls/s (one call per product)",
        flush=True,
    )
    get_settings.cache_clear()
    for mode in ["embedded", "postgres"] if args.mode == "both" else [args.mode]:
        rates = args.rates or DEFAULT_RATES[mode]
        run(
            mode,
            [float(r) for r in rates.split(",")],
            args.seconds,
            args.worker_processes,
            args.worker_threads,
        )


if __name__ == "__main__":
    from workers import wiring

    wiring.prepare()  # what every process does before its first session
    main()
