"""A worker that dies mid-push loses nothing and repeats nothing.

The dangerous moment: the platform accepted a push but the worker died before recording it. Its
lease lapses, the sweeper hands the rows back, and the next worker must not push those
quantities again (it reads them back from the channel first) yet must push everything else.

The in-process tests kill the push at exactly that moment (SQLite). The crash test does it for
real: PostgreSQL (app role), the Redis broker, `storesync worker` in its own process group and
`kill -9` while it pushes 1,000 stock changes to the sandbox over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync import migrate
from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing
from storesync.channels.readback import unit_key
from storesync.core.clock import set_clock, utcnow
from storesync.db import make_engine, session_scope
from storesync.inventory import service as inventory
from storesync.sandbox.app import Sandbox
from storesync.sandbox.seed import SeedConfig
from storesync.sandbox.server import serve_in_thread
from storesync.settings import Settings
from storesync.sync.push import dispatch, outbox
from storesync.tenancy.context import RequestContext
from tests.channels.conftest import connect_store, make_org, sandbox_settings
from tests.chaos.layout import clean_env, kill_group, start_worker, tails, wait_for
from tests.conftest import PgDatabase, create_pg_database, drop_pg_database, unavailable
from tests.sandbox.conftest import RunningSandbox
from tests.sync.test_outbox import World, build

# A Redis database of its own: `storesync worker` uses Dramatiq's default namespace, and its
# queues must not meet other tests' workers.
CRASH_REDIS_URL = os.environ.get("STORESYNC_TEST_CRASH_REDIS_URL", "redis://127.0.0.1:6379/13")
UNITS = 1000
LEASE_SECONDS = 2
PUSH_PATHS = ("update_stock", "inventory/update")
READ_PATHS = ("get_item_base_info", "get_model_list", "/products/")

StockWrite = tuple[str, str, int]  # item, model, quantity


def _record_stock_writes(sandbox: RunningSandbox) -> list[StockWrite]:
    """Every stock write the sandbox applies (both platforms' update calls land in set_stock)."""
    state = sandbox.state
    original = state.set_stock
    writes: list[StockWrite] = []

    def recording(platform: Any, shop_id: str, item_id: str, model_id: str, quantity: int) -> Any:
        model = original(platform, shop_id, item_id, model_id, quantity)
        writes.append((item_id, model_id, quantity))
        return model

    state.set_stock = recording  # type: ignore[method-assign]
    return writes


def _calls(base_url: str, since: float) -> Counter[str]:
    """The sandbox's call log since `since`: "push" and "read" calls it answered, "refused"."""
    counts = httpx.get(f"{base_url}/sandbox/calls", params={"since": since}).json()["counts"]
    kinds: Counter[str] = Counter()
    for key, count in counts.items():
        method, path, outcome = key.split(" ")
        if outcome != "ok":
            kinds["refused"] += count
        elif any(p in path for p in PUSH_PATHS):
            kinds["push"] += count
        elif method == "GET" and any(p in path for p in READ_PATHS):
            kinds["read"] += count
    return kinds


def _row(w: World, store_id: uuid.UUID) -> tuple[str, int, int | None]:
    """The store's outbox row (status, attempts) and its listing's last pushed quantity."""
    with session_scope(w.ctx, engine=w.engine) as session:
        return session.execute(  # type: ignore[return-value]
            sa.select(
                outbox.OUTBOX.c.status,
                outbox.OUTBOX.c.attempts,
                outbox.LISTINGS.c.last_pushed_quantity,
            )
            .join(outbox.LISTINGS, outbox.LISTINGS.c.id == outbox.OUTBOX.c.listing_id)
            .where(outbox.OUTBOX.c.store_id == store_id)
        ).one()


def _set(w: World, quantity: int) -> None:
    with session_scope(w.ctx, engine=w.engine) as session:
        inventory.set_on_hand(
            session,
            ctx=w.ctx,
            variant_id=w.variant_id,
            location_id=w.location_id,
            quantity=quantity,
            reason="count",
        )


def _push(w: World, store_id: uuid.UUID) -> dispatch.PushReport:
    return asyncio.run(
        dispatch.push_store(
            organization_id=w.ctx.organization_id,
            store_id=store_id,
            settings=w.settings,
            engine=w.engine,
        )
    )


async def _push_and_die_once_applied(w: World, store_id: uuid.UUID) -> None:
    """The worker's push reaches the channel, which applies it; the worker dies before the
    answer comes back (the sandbox holds the answer until the push task is gone)."""
    applied, dead = threading.Event(), threading.Event()
    state = w.sandbox.state
    original = state.set_stock

    def apply_then_wait(*args: Any) -> Any:
        model = original(*args)
        applied.set()
        dead.wait(5)
        return model

    state.set_stock = apply_then_wait  # type: ignore[method-assign]
    try:
        task = asyncio.create_task(
            dispatch.push_store(
                organization_id=w.ctx.organization_id,
                store_id=store_id,
                settings=w.settings,
                engine=w.engine,
            )
        )
        while not applied.is_set():
            assert not task.done(), task.result()
            await asyncio.sleep(0.001)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        dead.set()
        state.set_stock = original  # type: ignore[method-assign]


def _after_the_lease(settings: Settings) -> Callable[[], Any]:
    later = utcnow() + outbox.lease(settings) + timedelta(seconds=1)
    return lambda: later


@pytest.mark.parametrize("platform", ["shopee", "tiktok"])
def test_a_push_that_reached_the_channel_before_the_worker_died_is_read_back_not_repeated(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, platform: str
) -> None:
    w = build(sqlite_engine, running_sandbox)
    store_id, model = w.stores[platform], w.models[platform]
    _set(w, 10)
    writes = _record_stock_writes(running_sandbox)
    started = time.time()
    asyncio.run(_push_and_die_once_applied(w, store_id))

    assert model.stock == 10  # type: ignore[attr-defined]
    assert _row(w, store_id) == ("in_progress", 1, None)  # claimed once, never recorded
    assert _calls(w.sandbox.base_url, started) == {"push": 1}  # a first attempt reads nothing
    set_clock(_after_the_lease(w.settings))
    try:
        due = dispatch.sweep(engine=w.engine)
        since = time.time()
        report = _push(w, store_id)
    finally:
        set_clock(None)

    assert (w.ctx.organization_id, store_id) in due
    assert (report.claimed, report.skipped, report.confirmed, report.pushed) == (1, 1, 1, 0)
    assert report.deferred == report.failed == 0
    assert _calls(w.sandbox.base_url, since)["push"] == 0
    assert _calls(w.sandbox.base_url, since)["read"] >= 1
    assert len(writes) == 1 and writes[0][2] == 10  # only the dead worker's push
    assert _row(w, store_id) == ("done", 2, 10)
    assert model.stock == 10  # type: ignore[attr-defined]


@pytest.mark.parametrize("platform", ["shopee", "tiktok"])
def test_a_claim_whose_push_never_left_is_pushed_once_after_the_read_back(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, platform: str
) -> None:
    w = build(sqlite_engine, running_sandbox)
    store_id, model = w.stores[platform], w.models[platform]
    before = model.stock  # type: ignore[attr-defined]
    _set(w, before + 3)
    writes = _record_stock_writes(running_sandbox)
    with session_scope(w.ctx, engine=w.engine) as session:  # a worker claims, then dies
        dispatch._claim(session, store_id, dispatch.SUB_BATCH, outbox.lease(w.settings))

    set_clock(_after_the_lease(w.settings))
    try:
        dispatch.sweep(engine=w.engine)
        since = time.time()
        report = _push(w, store_id)
    finally:
        set_clock(None)

    assert (report.claimed, report.skipped, report.confirmed, report.pushed) == (1, 0, 0, 1)
    assert _calls(w.sandbox.base_url, since)["push"] == 1
    assert len(writes) == 1 and writes[0][2] == before + 3
    assert _row(w, store_id) == ("done", 2, before + 3)
    assert model.stock == before + 3  # type: ignore[attr-defined]


def test_a_change_queued_behind_a_bulk_push_leads_the_next_claim_and_items_stay_together(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, ctx, "shopee", cfg)
    wanted = _list_units(sqlite_engine, ctx, store_id, running_sandbox, count=60)
    last, (variant_id, _q) = max(wanted.items())
    with session_scope(ctx, engine=sqlite_engine) as session:
        location = inventory.default_location(session, ctx=ctx).id
    start = utcnow()
    try:
        set_clock(lambda: start)
        with session_scope(ctx, engine=sqlite_engine) as session:  # the bulk push's backlog
            inventory.set_on_hand_bulk(
                session,
                ctx=ctx,
                lines=[(v, location, q) for v, q in wanted.values()],
                reason="count",
            )
        set_clock(lambda: start + timedelta(seconds=1))
        with session_scope(ctx, engine=sqlite_engine) as session:  # an order, say
            inventory.set_on_hand(
                session,
                ctx=ctx,
                variant_id=variant_id,
                location_id=location,
                quantity=0,
                reason="sold",
            )
        with session_scope(ctx, engine=sqlite_engine) as session:
            claimed = dispatch._claim(session, store_id, 20, outbox.lease(cfg))
    finally:
        set_clock(None)

    units = {unit_key(ln.platform_item_id, ln.platform_model_id): c.quantity for c, ln in claimed}
    backlog = sorted(unit_key(*unit) for unit in wanted if unit != last)
    assert units.pop(unit_key(*last)) == 0  # the latest change goes out first
    assert sorted(item for item, _ in units) == [item for item, _ in backlog[:19]]  # by item
    assert _outbox_statuses(sqlite_engine, ctx) == {"in_progress": 20, "pending": 40}


# -- the crash test: kill -9 a real worker mid-push -------------------------------------------


@pytest.fixture
def crash_db() -> Iterator[tuple[PgDatabase, Engine]]:
    """A migrated database of its own: the worker's sweeper must see only this test's rows."""
    database = create_pg_database("storesync_crash")
    engine: Engine | None = None
    try:
        migrate.upgrade(url=database.owner_url)
        engine = make_engine(database.app_url)
        yield database, engine
    finally:
        if engine is not None:
            engine.dispose()
        drop_pg_database(database)


@pytest.fixture
def crash_redis() -> Iterator[str]:
    client = redis.Redis.from_url(CRASH_REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable("Redis", error)
    _forget_queues(client)
    yield CRASH_REDIS_URL
    _forget_queues(client)
    client.close()


def _forget_queues(client: redis.Redis) -> None:
    keys = list(client.scan_iter("dramatiq*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def crash_sandbox() -> Iterator[RunningSandbox]:
    """One Shopee shop with 240 items (1,073 models) and one TikTok shop."""
    sandbox = Sandbox(seed=SeedConfig(seed=31, products_per_shop=240), clock=utcnow)
    with serve_in_thread(sandbox.asgi()) as base_url:
        yield RunningSandbox(base_url, sandbox)


def _list_units(
    engine: Engine,
    ctx: RequestContext,
    store_id: uuid.UUID,
    sandbox: RunningSandbox,
    count: int = UNITS,
) -> dict[tuple[str, str], tuple[uuid.UUID, int]]:
    """A master variant and a matched listing for the first `count` models of the Shopee shop;
    returns (item, model) → (variant, the quantity it will get: never what the shop shows)."""
    shop = sandbox.state.shops_of("shopee")[0]
    units = [(item, model) for item in shop.items.values() for model in item.models][:count]
    org = ctx.organization_id
    wanted: dict[tuple[str, str], tuple[uuid.UUID, int]] = {}
    with session_scope(ctx, engine=engine) as session:
        products: dict[str, Product] = {}
        for number, (item, model) in enumerate(units):
            product = products.get(item.id)
            if product is None:
                product = Product(organization_id=org, handle=f"p-{item.id}", title=item.title)
                products[item.id] = product
                session.add(product)
            variant = ProductVariant(
                organization_id=org, product_id=product.id, variant_sku=model.sku
            )
            session.add(variant)
            session.add(
                ChannelListing(
                    organization_id=org,
                    store_id=store_id,
                    variant_id=variant.id,
                    platform_item_id=item.id,
                    platform_model_id=model.id if item.has_models else "",
                    platform_sku=model.sku,
                    match_status="matched",
                    raw={"location_id": model.warehouse_id},
                )
            )
            wanted[(item.id, model.id)] = (variant.id, model.stock + 1 + number % 7)
    return wanted


def _worker_env(database: PgDatabase, base_url: str, cfg: Settings, var_dir: Path) -> dict:
    return clean_env(
        STORESYNC_DATABASE_URL=database.app_url,
        STORESYNC_REDIS_URL=CRASH_REDIS_URL,
        STORESYNC_SHOPEE_BASE_URL=f"{base_url}/shopee",
        STORESYNC_TIKTOK_BASE_URL=f"{base_url}/tiktok",
        STORESYNC_TIKTOK_AUTH_BASE_URL=f"{base_url}/tiktok-auth",
        STORESYNC_FERNET_KEYS=cfg.fernet_keys,
        STORESYNC_VAR_DIR=str(var_dir),
        STORESYNC_PUSH_LEASE_SECONDS=str(LEASE_SECONDS),
    )


def _mid_push(applied: int, recorded: int) -> bool:
    return applied >= UNITS // 3 and 0 < recorded < applied


def _outbox_statuses(engine: Engine, ctx: RequestContext) -> dict[str, int]:
    with session_scope(ctx, engine=engine) as session:
        rows = session.execute(
            sa.select(outbox.OUTBOX.c.status, sa.func.count()).group_by(outbox.OUTBOX.c.status)
        ).all()
    return {status: count for status, count in rows}


def _recorded(engine: Engine, ctx: RequestContext) -> int:
    with session_scope(ctx, engine=engine) as session:
        return int(
            session.execute(
                sa.select(sa.func.count()).where(
                    outbox.LISTINGS.c.last_pushed_quantity.is_not(None)
                )
            ).scalar_one()
        )


@pytest.mark.postgres
@pytest.mark.redis
def test_kill_9_mid_push_of_1000_changes_then_every_listing_ends_right_and_no_push_repeats(
    crash_db: tuple[PgDatabase, Engine],
    crash_redis: str,
    crash_sandbox: RunningSandbox,
    tmp_path: Path,
) -> None:
    from dramatiq.brokers.redis import RedisBroker

    from workers import actors

    database, engine = crash_db
    base = crash_sandbox.base_url
    cfg = sandbox_settings(base)
    ctx = make_org(engine)
    store_id = connect_store(engine, ctx, "shopee", cfg)
    wanted = _list_units(engine, ctx, store_id, crash_sandbox)
    with session_scope(ctx, engine=engine) as session:
        location = inventory.default_location(session, ctx=ctx)
    writes = _record_stock_writes(crash_sandbox)
    httpx.post(f"{base}/sandbox/faults", json={"platform": "shopee", "latency_ms": 20})
    env = _worker_env(database, base, cfg, tmp_path)
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    broker = RedisBroker(url=crash_redis)
    procs = [start_worker(env, logs[0])]
    started = time.time()
    try:
        # 1,000 stock changes in one transaction: the outbox announces the store to the worker.
        announce = lambda org, store: broker.enqueue(  # noqa: E731
            actors.push_store_stock.message(str(org), str(store))
        )
        with outbox.outbox_ready.connected_to(announce):
            with session_scope(ctx, engine=engine) as session:
                inventory.set_on_hand_bulk(
                    session,
                    ctx=ctx,
                    lines=[(v, location.id, q) for v, q in wanted.values()],
                    reason="stock count",
                )
        # Kill -9 once a third went out and some was recorded, while pushes the channel
        # applied are not recorded yet.
        if not wait_for(lambda: _mid_push(len(writes), _recorded(engine, ctx)), 40):
            pytest.fail(f"no third of the pushes went out:\n{tails(logs)}", pytrace=False)
        os.killpg(procs[0].pid, signal.SIGKILL)
        assert procs[0].wait(10) == -signal.SIGKILL
        killed_at = time.time()
        time.sleep(0.5)  # calls already inside the sandbox finish (or are dropped)
        applied_at_kill, recorded_at_kill = len(writes), _recorded(engine, ctx)
        statuses_at_kill = _outbox_statuses(engine, ctx)
        before_kill = _calls(base, started)

        procs.append(start_worker(env, logs[1]))
        drained = wait_for(lambda: _outbox_statuses(engine, ctx).get("done", 0) == UNITS, 40)
        recovered_at = time.time()
        time.sleep(0.3)  # nothing more may arrive
    finally:
        for proc in procs:
            kill_group(proc)
        broker.close()

    assert 0 < applied_at_kill < UNITS
    assert 0 < recorded_at_kill < applied_at_kill, "the kill missed the unrecorded window"
    assert statuses_at_kill.get("in_progress", 0) > 0
    assert before_kill["push"] > 0 and before_kill["read"] == 0  # first attempts never read
    assert drained, (_outbox_statuses(engine, ctx), len(writes), tails(logs))
    shop = crash_sandbox.state.shops_of("shopee")[0]
    shown = {(i.id, m.id): m.stock for i in shop.items.values() for m in i.models}
    assert {unit: shown[unit] for unit in wanted} == {u: q for u, (_v, q) in wanted.items()}
    with session_scope(ctx, engine=engine) as session:
        pushed = dict(
            session.execute(
                sa.select(outbox.LISTINGS.c.variant_id, outbox.LISTINGS.c.last_pushed_quantity)
            ).all()
        )
    assert pushed == {v: q for v, q in wanted.values()}
    repeated = [w for w, n in Counter(writes).items() if n > 1]
    assert repeated == []
    assert sorted(writes) == sorted((i, m, q) for (i, m), (_v, q) in wanted.items())
    assert _outbox_statuses(engine, ctx) == {"done": UNITS}
    after = _calls(base, killed_at)
    assert after["read"] > 0  # the rows the dead worker held were read back
    assert before_kill["refused"] == after["refused"] == 0
    print(
        f"\ncrash test: {applied_at_kill} of {UNITS} stock writes applied at the kill "
        f"({before_kill['push']} push calls), {recorded_at_kill} recorded, "
        f"{applied_at_kill - recorded_at_kill} applied but unrecorded, "
        f"{statuses_at_kill.get('in_progress', 0)} rows in flight; after restart "
        f"{len(writes) - applied_at_kill} pushed once, {len(repeated)} repeated, "
        f"{after['read']} read calls, "
        f"{after['push']} push calls; recovered {recovered_at - killed_at:.1f}s after the kill"
    )
