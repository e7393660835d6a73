"""Sync jobs on PostgreSQL (app role, RLS) against the sandbox over HTTP: a job persists its
progress and publishes it on the bus (Redis and in-process), a running job stops within 2 s of
being cancelled, failed jobs are retried as new jobs, a second job of a kind is refused, the
history pages, and the sweep fails jobs whose worker died."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.channels.models import ChannelListing, Store
from storesync.channels.resilience import breaker_for
from storesync.core import events
from storesync.core.clock import set_clock
from storesync.core.errors import AppError, NotFound, PermissionDenied, ValidationFailed
from storesync.core.events import Event, InProcessBus, RedisBus
from storesync.db import session_scope
from storesync.orders.models import Order
from storesync.settings import Settings
from storesync.sync.health import reconcile
from storesync.sync.jobs import runner as job_runner
from storesync.sync.jobs import service as jobs
from storesync.sync.jobs.schemas import PROGRESS_EVENT, JobDTO
from storesync.sync.models import SyncJob
from storesync.sync.push import outbox
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.channels.conftest import connect_store, make_org, sandbox_settings
from tests.conftest import unavailable
from tests.sandbox.conftest import RunningSandbox
from tests.sync.intake_fixtures import stock_listings
from tests.sync.listings_fixtures import models, shop, stored

REDIS_URL = os.environ.get("STORESYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
FINAL = ("succeeded", "failed", "cancelled")
JOBS = SyncJob.__table__  # type: ignore[attr-defined]


@dataclass
class World:
    """An organization with stores connected to the sandbox through OAuth."""

    engine: Engine
    sandbox: RunningSandbox
    cfg: Settings
    ctx: RequestContext
    stores: dict[str, uuid.UUID]

    @property
    def org(self) -> uuid.UUID:
        return self.ctx.organization_id

    def start(self, platform: str, kind: str, **params: Any) -> JobDTO:
        with session_scope(self.ctx, engine=self.engine) as session:
            return jobs.start_job(
                session, ctx=self.ctx, store_id=self.stores[platform], kind=kind, params=params
            )

    def run(self, job_id: uuid.UUID) -> JobDTO | None:
        return job_runner.run_job(job_id, self.org, engine=self.engine, settings=self.cfg)

    def call(self, service: Callable[..., Any], **kwargs: Any) -> Any:
        with session_scope(self.ctx, engine=self.engine) as session:
            return service(session, ctx=self.ctx, **kwargs)

    def job(self, job_id: uuid.UUID) -> JobDTO:
        return self.call(jobs.get_job, job_id=job_id)  # type: ignore[no-any-return]

    def store(self, platform: str) -> Any:
        with session_scope(self.ctx, engine=self.engine) as session:
            table = Store.__table__  # type: ignore[attr-defined]
            return session.execute(
                sa.select(table).where(table.c.id == self.stores[platform])
            ).one()

    def sandbox_calls(self) -> int:
        return int(httpx.get(f"{self.sandbox.base_url}/sandbox/calls").json()["total"])


def match_all(world: World, store_id: uuid.UUID, listed: list[Any]) -> dict[str, uuid.UUID]:
    """Matched listings (and master variants in stock) for these sandbox models."""
    return stock_listings(
        world.engine,
        world.ctx,
        store_id,
        [
            {
                "item_id": m.item_id,
                "model_id": m.model_id or "0",
                "sku": m.sku,
                "price": "1000",
                "title": m.title,
            }
            for m in listed
        ],
    )


def make_world(engine: Engine, sandbox: RunningSandbox, platforms: list[str]) -> World:
    cfg = sandbox_settings(sandbox.base_url)
    ctx = make_org(engine)
    stores = {p: connect_store(engine, ctx, p, cfg) for p in platforms}
    return World(engine, sandbox, cfg, ctx, stores)


@pytest.fixture
def queued() -> Iterator[list[tuple[uuid.UUID, uuid.UUID]]]:
    """Records what `start_job` hands to the workers after commit."""
    calls: list[tuple[uuid.UUID, uuid.UUID]] = []
    with jobs.job_queued.connected_to(lambda job_id, org_id: calls.append((job_id, org_id))):
        yield calls


@pytest.fixture
def clock() -> Iterator[Callable[[datetime], None]]:
    def move(to: datetime) -> None:
        set_clock(lambda: to)

    yield move
    set_clock(None)


@pytest.fixture
def redis_bus() -> Iterator[RedisBus]:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        unavailable("Redis", error)
    bus = RedisBus(REDIS_URL)
    events.set_bus(bus)
    yield bus
    events.set_bus(None)


@pytest.fixture
def local_bus() -> Iterator[InProcessBus]:
    bus = InProcessBus()
    events.set_bus(bus)
    yield bus
    events.set_bus(None)


def watch(
    bus: InProcessBus | RedisBus, org: uuid.UUID, action: Callable[[], Any], *, timeout: float = 60
) -> tuple[list[Event], Any]:
    """Subscribe to the organization's channel, run `action` on a thread, and collect the
    `sync_job.progress` events until one reports a finished job."""

    async def main() -> tuple[list[Event], Any]:
        stream = bus.subscribe(str(org))
        first = asyncio.ensure_future(anext(stream))
        while not first.done():  # Redis subscribes asynchronously: probe until we hear back
            bus.publish(Event(str(org), "test.probe"))
            await asyncio.wait([first], timeout=0.05)
        worker = asyncio.ensure_future(asyncio.to_thread(action))
        seen: list[Event] = []

        async def consume() -> None:
            async for event in stream:
                if event.type == PROGRESS_EVENT:
                    seen.append(event)
                    if event.data["status"] in FINAL:
                        return

        await asyncio.wait_for(consume(), timeout)
        result = await worker
        await stream.aclose()  # type: ignore[attr-defined]
        return seen, result

    return asyncio.run(main())


def progress_of(seen: list[Event], job_id: uuid.UUID) -> list[tuple[str, str, int, int]]:
    return [
        (e.data["status"], e.data["phase"], e.data["done"], e.data["total"])
        for e in seen
        if e.data["job_id"] == str(job_id)
    ]


# -- progress ------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_a_products_job_imports_the_listings_and_publishes_its_progress_on_redis(
    app_engine: Engine,
    running_sandbox: RunningSandbox,
    redis_bus: RedisBus,
    queued: list[tuple[uuid.UUID, uuid.UUID]],
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee"])
    channel = models(running_sandbox, "shopee")

    def action() -> tuple[JobDTO, list[Any], JobDTO | None]:
        job = world.start("shopee", "products")
        return job, list(queued), world.run(job.id)

    seen, (job, handed, finished) = watch(redis_bus, world.org, action)

    assert handed == [(job.id, world.org)]  # handed to a worker once, after the commit
    assert (job.status, job.kind, job.store_id, job.retries) == (
        "queued",
        "products",
        world.stores["shopee"],
        0,
    )
    assert finished is not None and finished == world.job(job.id)
    assert (finished.status, finished.phase, finished.total, finished.done, finished.failed) == (
        "succeeded",
        "done",
        len(channel),
        len(channel),
        0,
    )
    assert finished.started_at and finished.finished_at and finished.error == {}
    assert (finished.result["fetched"], finished.result["created"]) == (len(channel), len(channel))
    assert len(stored(app_engine, world.ctx, world.stores["shopee"])) == len(channel)
    steps = progress_of(seen, job.id)
    assert steps[0] == ("queued", "", 0, 0)
    assert steps[1] == ("running", "starting", 0, 0)
    assert steps[-1] == ("succeeded", "done", len(channel), len(channel))
    phases = [phase for status, phase, _, _ in steps[2:-1]]
    assert {s for s, *_ in steps[1:-1]} == {"running"}
    assert phases[0] == "fetch" and "write" in phases
    assert phases == sorted(phases, key=["fetch", "write"].index)  # fetch first, then write
    fetched = [done for _, phase, done, _ in steps[2:-1] if phase == "fetch"]
    assert fetched == sorted(fetched) and 0 < fetched[0] <= len(channel)


@pytest.mark.postgres
def test_an_inventory_job_pushes_stock_for_all_or_given_variants_with_progress(
    app_engine: Engine, running_sandbox: RunningSandbox, local_bus: InProcessBus
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee"])
    store_id = world.stores["shopee"]
    listed = [m for m in models(running_sandbox, "shopee") if m.sku][:3]
    variants = match_all(world, store_id, listed)
    sandbox_models = {
        m.sku: m for i in shop(running_sandbox, "shopee").items.values() for m in i.models
    }
    for m in listed:
        sandbox_models[m.sku].stock = 99

    seen, job = watch(
        local_bus, world.org, lambda: world.run(world.start("shopee", "inventory").id)
    )

    assert job is not None and job == world.job(job.id)
    assert (job.status, job.phase, job.total, job.done, job.failed) == (
        "succeeded",
        "done",
        3,
        3,
        0,
    )
    assert job.result["pushed"] == 3 and job.result["failed"] == 0
    assert {m.sku: sandbox_models[m.sku].stock for m in listed} == {m.sku: 10 for m in listed}
    steps = progress_of(seen, job.id)
    assert steps[:3] == [
        ("queued", "", 0, 0),
        ("running", "starting", 0, 0),
        ("running", "push", 0, 3),
    ]
    assert {s[:2] for s in steps[3:-1]} <= {("running", "push")}
    assert steps[-1] == ("succeeded", "done", 3, 3)

    for m in listed:
        sandbox_models[m.sku].stock = 99
    first = listed[0].sku
    only = world.run(world.start("shopee", "inventory", variant_ids=[str(variants[first])]).id)

    assert only is not None and (only.status, only.total, only.done) == ("succeeded", 1, 1)
    assert only.params == {"variant_ids": [str(variants[first])]}
    stock = {m.sku: sandbox_models[m.sku].stock for m in listed}
    assert stock == {first: 10, listed[1].sku: 99, listed[2].sku: 99}  # the others untouched


@pytest.mark.postgres
def test_a_reconcile_job_syncs_orders_first_then_repairs_drift_recorded_against_the_job(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee"])
    store_id = world.stores["shopee"]
    listed = [m for m in models(running_sandbox, "shopee") if m.sku][:3]
    match_all(world, store_id, listed)
    in_step = world.run(world.start("shopee", "inventory").id)
    assert in_step is not None and in_step.status == "succeeded"
    sandbox_models = {
        m.sku: m for i in shop(running_sandbox, "shopee").items.values() for m in i.models
    }
    sandbox_models[listed[0].sku].stock = 4  # somebody changed it in the seller centre

    job = world.run(world.start("shopee", "reconcile").id)

    assert job is not None and (job.status, job.phase) == ("succeeded", "done"), job and job.error
    counts = {k: job.result[k] for k in ("checked", "drifted", "repaired", "missing", "in_flight")}
    assert counts == {"checked": 3, "drifted": 1, "repaired": 1, "missing": 0, "in_flight": 0}
    assert job.result["orders"]["fetched"] == 0 and world.store("shopee").last_synced_at
    assert {m.sku: sandbox_models[m.sku].stock for m in listed} == {m.sku: 10 for m in listed}
    drift = reconcile.DRIFT
    with session_scope(world.ctx, engine=app_engine) as session:
        rows = session.execute(
            sa.select(drift.c.job_id, drift.c.expected, drift.c.found, drift.c.repaired)
        ).all()
    assert [tuple(r) for r in rows] == [(job.id, 10, 4, True)]


# -- cancel --------------------------------------------------------------------------------------


def _many_orders(world: World, count: int) -> list[str]:
    """`count` one-line orders placed on the Shopee sandbox (no webhooks are registered)."""
    state = world.sandbox.state
    sandbox_shop = shop(world.sandbox, "shopee")
    units = [(i, m) for i in sandbox_shop.items.values() for m in i.models][:8]
    for _item, model in units:
        model.stock = 100_000
    return [
        state.place_order(
            "shopee",
            sandbox_shop.id,
            [(units[n % len(units)][0].id, units[n % len(units)][1].id, 1)],
        ).id
        for n in range(count)
    ]


@pytest.mark.postgres
def test_cancelling_a_running_job_stops_it_within_two_seconds_and_keeps_nothing_half_done(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee"])
    placed = _many_orders(world, 1500)
    job = world.start("shopee", "orders")
    outcome: list[JobDTO | None] = []
    runner = threading.Thread(target=lambda: outcome.append(world.run(job.id)))
    runner.start()
    deadline = time.monotonic() + 30
    while (persisted := world.job(job.id)).phase != "ingest":  # progress read from the database
        assert persisted.status in ("queued", "running") and time.monotonic() < deadline
        time.sleep(0.01)

    asked = world.call(jobs.cancel_job, job_id=job.id)
    cancelled_at = time.monotonic()
    runner.join(timeout=10)
    stopped_in = time.monotonic() - cancelled_at

    assert (asked.status, asked.cancel_requested) == ("running", True)
    assert stopped_in < 2.0, f"took {stopped_in:.2f}s to stop"
    (finished,) = outcome
    assert finished is not None and finished == world.job(job.id)
    assert (finished.status, finished.phase, finished.total) == ("cancelled", "ingest", len(placed))
    assert finished.done < finished.total, "it must stop early"
    assert finished.result == {} and finished.error == {} and finished.finished_at is not None
    with session_scope(world.ctx, engine=app_engine) as session:  # the interrupted step rolled back
        stored_orders = session.execute(sa.select(sa.func.count()).select_from(Order)).scalar_one()
    assert stored_orders == 0
    assert world.store("shopee").orders_cursor == ""
    print(f"cancelled after {finished.done}/{finished.total} orders; stopped in {stopped_in:.2f}s")


@pytest.mark.postgres
def test_cancelling_an_inventory_job_stops_its_push_within_two_seconds(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    world = make_world(app_engine, running_sandbox, ["tiktok"])
    listed = [m for m in models(running_sandbox, "tiktok") if m.sku]
    match_all(world, world.stores["tiktok"], listed)
    base = running_sandbox.base_url
    httpx.post(f"{base}/sandbox/faults", json={"platform": "tiktok", "latency_ms": 40})
    try:
        job = world.start("tiktok", "inventory")
        outcome: list[JobDTO | None] = []
        runner = threading.Thread(target=lambda: outcome.append(world.run(job.id)))
        runner.start()
        deadline = time.monotonic() + 30
        while (persisted := world.job(job.id)).done == 0:  # the first sub-batch is recorded
            assert persisted.status in ("queued", "running") and time.monotonic() < deadline
            time.sleep(0.01)

        world.call(jobs.cancel_job, job_id=job.id)
        cancelled_at = time.monotonic()
        runner.join(timeout=20)
        stopped_in = time.monotonic() - cancelled_at
    finally:
        httpx.post(f"{base}/sandbox/faults", json={"platform": "tiktok", "latency_ms": 0})

    assert stopped_in < 2.0, f"took {stopped_in:.2f}s to stop"
    (finished,) = outcome
    assert finished is not None and (finished.status, finished.phase) == ("cancelled", "push")
    assert 0 < finished.done < finished.total == len(listed), (finished.done, finished.total)
    with session_scope(world.ctx, engine=app_engine) as session:  # the rest waits, nothing lost
        statuses = dict(
            session.execute(
                sa.select(outbox.OUTBOX.c.status, sa.func.count()).group_by(outbox.OUTBOX.c.status)
            ).all()
        )
    assert statuses.get("in_progress", 0) == 0
    assert statuses.get("pending", 0) > 0 and sum(statuses.values()) == len(listed)
    print(f"inventory push cancelled after {finished.done}/{finished.total}; {stopped_in:.2f}s")


def test_on_sqlite_progress_is_published_while_the_job_holds_the_write_lock(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, local_bus: InProcessBus
) -> None:
    world = make_world(sqlite_engine, running_sandbox, ["shopee"])
    placed = _many_orders(world, 400)

    seen, job = watch(local_bus, world.org, lambda: world.run(world.start("shopee", "orders").id))

    assert job is not None and job == world.job(job.id)
    assert (job.status, job.phase, job.total, job.done) == ("succeeded", "done", 400, 400)
    assert job.result["created"] == 400 and sorted(orders_placed(world)) == sorted(placed)
    ingest = [done for status, phase, done, _ in progress_of(seen, job.id) if phase == "ingest"]
    assert ingest and ingest == sorted(ingest) and ingest[-1] > 0  # heard during the ingest


def test_on_sqlite_two_imports_started_together_both_succeed(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    """Embedded mode: "Import products" clicked on both stores at once. Each import used to fail
    with "database is locked": its transaction read first, and its first write found that the
    job's progress had been committed meanwhile (a stale SQLite snapshot does not wait)."""
    world = make_world(sqlite_engine, running_sandbox, ["shopee", "tiktok"])
    started = [
        world.start(platform, "products", create_products=True) for platform in ("shopee", "tiktok")
    ]
    finished: list[JobDTO | None] = []
    runners = [
        threading.Thread(target=lambda j=job: finished.append(world.run(j.id))) for job in started
    ]

    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(timeout=120)

    assert sorted(j.status for j in finished if j is not None) == ["succeeded", "succeeded"]
    assert all(j is not None and j.done == j.total > 0 for j in finished)
    with session_scope(world.ctx, engine=world.engine) as session:
        per_store = dict(
            session.execute(
                sa.select(ChannelListing.store_id, sa.func.count()).group_by(  # type: ignore[call-overload]
                    ChannelListing.store_id
                )
            ).all()
        )
    assert set(per_store) == set(world.stores.values()) and all(n > 0 for n in per_store.values())


def orders_placed(world: World) -> list[str]:
    with session_scope(world.ctx, engine=world.engine) as session:
        return [str(o) for o in session.execute(sa.select(Order.platform_order_id)).scalars()]  # type: ignore[call-overload]


@pytest.mark.postgres
def test_a_queued_job_is_cancelled_at_once_and_no_worker_runs_it(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee"])
    job = world.start("shopee", "products")
    calls = world.sandbox_calls()

    cancelled = world.call(jobs.cancel_job, job_id=job.id)

    assert (cancelled.status, cancelled.cancel_requested) == ("cancelled", True)
    assert cancelled.finished_at is not None and cancelled.started_at is None
    assert world.run(job.id) is None  # the worker's message arrives later: nothing happens
    assert world.job(job.id) == cancelled
    assert world.sandbox_calls() == calls
    assert stored(app_engine, world.ctx, world.stores["shopee"]) == {}
    assert world.call(jobs.cancel_job, job_id=job.id) == cancelled  # again: no change
    done = world.run(world.start("shopee", "orders").id)
    assert done is not None and done.status == "succeeded"
    with pytest.raises(AppError) as refused:
        world.call(jobs.cancel_job, job_id=done.id)
    assert refused.value.code == "sync_job_finished"
    assert world.job(done.id) == done


# -- retry, duplicates, validation ---------------------------------------------------------------


@pytest.mark.postgres
def test_a_failed_job_is_retried_as_a_new_job_with_the_same_params(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee"])
    breaker = breaker_for(f"store:{world.stores['shopee']}")
    for _ in range(breaker.threshold):  # the circuit is open, as after five failed calls
        breaker.record_failure()
    since = datetime.now(UTC) - timedelta(hours=1)
    job = world.start("shopee", "orders", since=since.isoformat())
    calls = world.sandbox_calls()

    failed = world.run(job.id)

    assert failed is not None and failed.status == "failed"
    assert (failed.error["code"], failed.error["retryable"]) == ("circuit_open", True)
    assert world.sandbox_calls() == calls  # nothing reached the marketplace
    assert world.store("shopee").unhealthy_since is not None  # an outage, recorded
    breaker.record_success()

    retry = world.call(jobs.retry_job, job_id=failed.id)

    assert retry.id != failed.id
    assert (retry.status, retry.kind, retry.store_id) == ("queued", "orders", failed.store_id)
    assert (retry.params, retry.retries) == ({"since": since.isoformat()}, 1)
    assert world.job(failed.id) == failed  # the failed one stays in the history as it ended
    with pytest.raises(AppError) as twice:
        world.call(jobs.retry_job, job_id=failed.id)
    assert twice.value.code == "sync_job_active"
    assert twice.value.details["job_id"] == str(retry.id)
    succeeded = world.run(retry.id)
    assert succeeded is not None and succeeded.status == "succeeded" and succeeded.retries == 1
    with pytest.raises(AppError) as not_retryable:
        world.call(jobs.retry_job, job_id=succeeded.id)
    assert not_retryable.value.code == "sync_job_not_retryable"


@pytest.mark.postgres
def test_a_second_job_of_a_kind_is_refused_while_one_is_queued_even_when_started_together(
    app_engine: Engine, running_sandbox: RunningSandbox, queued: list[tuple[uuid.UUID, uuid.UUID]]
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee"])
    barrier = threading.Barrier(4)
    outcomes: list[JobDTO | AppError] = []

    def start() -> None:
        barrier.wait()
        try:
            outcomes.append(world.start("shopee", "orders"))
        except AppError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    (job,) = [o for o in outcomes if isinstance(o, JobDTO)]
    refusals = [o for o in outcomes if isinstance(o, AppError)]
    assert [(e.code, e.details["job_id"]) for e in refusals] == [
        ("sync_job_active", str(job.id))
    ] * 3
    assert queued == [(job.id, world.org)]
    page = world.call(jobs.list_jobs, store_id=world.stores["shopee"])
    assert [j.id for j in page.items] == [job.id]
    assert world.start("shopee", "products").kind == "products"  # another kind may run
    world.call(jobs.cancel_job, job_id=job.id)
    assert world.start("shopee", "orders").status == "queued"  # once it ended, a new one may


@pytest.mark.postgres
def test_bad_requests_are_refused_and_queue_nothing(
    app_engine: Engine, running_sandbox: RunningSandbox, queued: list[tuple[uuid.UUID, uuid.UUID]]
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee", "tiktok"])
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("sideways", {}, "kind"),
        ("orders", {"limit": 3}, "params.limit"),
        ("orders", {"since": "yesterday"}, "params.since"),
        ("orders", {"since": "2026-01-01T00:00:00"}, "params.since"),
        (
            "orders",
            {"since": "2026-01-02T00:00:00+00:00", "until": "2026-01-01T00:00:00+00:00"},
            "params.until",
        ),
        ("backfill", {}, "params.since"),
        ("inventory", {"variant_ids": ["nope"]}, "params.variant_ids"),
        ("products", {"create_products": "yes"}, "params.create_products"),
    ]
    for kind, params, field in cases:
        with pytest.raises(ValidationFailed) as bad:
            world.start("shopee", kind, **params)
        assert bad.value.details["field"] == field, (kind, params)
    viewer = RequestContext(world.ctx.user_id, world.org, Role.VIEWER)
    with session_scope(viewer, engine=app_engine) as session, pytest.raises(PermissionDenied):
        jobs.start_job(session, ctx=viewer, store_id=world.stores["shopee"], kind="orders")
    with session_scope(world.ctx, engine=app_engine) as session:
        from storesync.stores import service as stores

        stores.disconnect(session, ctx=world.ctx, store_id=world.stores["tiktok"])
    with pytest.raises(AppError) as disconnected:
        world.start("tiktok", "orders")
    assert disconnected.value.code == "store_not_connected"
    with pytest.raises(NotFound):
        with session_scope(world.ctx, engine=app_engine) as session:
            jobs.start_job(session, ctx=world.ctx, store_id=uuid.uuid4(), kind="orders")
    with pytest.raises(RuntimeError):  # started, then the caller's transaction rolled back
        with session_scope(world.ctx, engine=app_engine) as session:
            jobs.start_job(session, ctx=world.ctx, store_id=world.stores["shopee"], kind="orders")
            raise RuntimeError("caller failed")
    assert queued == []
    assert world.call(jobs.list_jobs).items == []


@pytest.mark.postgres
def test_a_started_job_reaches_a_dramatiq_worker_through_the_wired_hook(
    app_engine: Engine, running_sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dramatiq

    from storesync import db
    from storesync import settings as settings_module
    from storesync.sync.intake import routes as webhooks
    from storesync.sync.push import outbox
    from workers import actors, wiring

    base = running_sandbox.base_url
    monkeypatch.setenv("STORESYNC_SHOPEE_BASE_URL", f"{base}/shopee")
    settings_module.get_settings.cache_clear()
    cfg = settings_module.get_settings()  # what the actor uses
    ctx = make_org(app_engine)
    world = World(
        app_engine,
        running_sandbox,
        cfg,
        ctx,
        {"shopee": connect_store(app_engine, ctx, "shopee", cfg)},
    )
    saved = (outbox.outbox_ready.receiver, webhooks.event_stored.receiver, jobs.job_queued.receiver)
    db.use_engine(app_engine)
    for queue in ("sync", "sync.DQ"):
        actors.broker.flush(queue)  # messages other tests' jobs left on the stub broker
    worker = dramatiq.Worker(actors.broker, worker_threads=1, queues={"sync", "sync.DQ"})
    try:
        wiring.connect_actors()
        worker.start()
        job = world.start("shopee", "orders")
        deadline = time.monotonic() + 20
        while (current := world.job(job.id)).status in ("queued", "running"):
            assert time.monotonic() < deadline, current
            time.sleep(0.05)
    finally:
        worker.stop()
        for hook, receiver in zip(
            (outbox.outbox_ready, webhooks.event_stored, jobs.job_queued), saved, strict=True
        ):
            hook.connect(receiver)
        db.use_engine(None)
        monkeypatch.undo()
        settings_module.get_settings.cache_clear()
    assert (current.status, current.phase, current.result["fetched"]) == ("succeeded", "done", 0)


# -- history, status, sweep ----------------------------------------------------------------------


@pytest.mark.postgres
def test_the_history_pages_newest_first_with_filters_and_stays_inside_the_organization(
    app_engine: Engine, running_sandbox: RunningSandbox, clock: Callable[[datetime], None]
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee", "tiktok"])
    t0 = datetime(2031, 3, 1, 8, 0, tzinfo=UTC)
    made: list[JobDTO] = []
    for n, (platform, kind) in enumerate(
        [("shopee", "orders"), ("tiktok", "orders"), ("shopee", "products")] * 3
    ):
        clock(t0 + timedelta(minutes=n // 2))  # pairs share a creation time: ids break ties
        job = world.start(platform, kind)
        made.append(world.call(jobs.cancel_job, job_id=job.id))
    expected = sorted(made, key=lambda j: (j.created_at, j.id), reverse=True)

    pages, cursor = [], None
    while True:
        page = world.call(jobs.list_jobs, limit=4, cursor=cursor)
        pages.append(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break

    assert [len(p) for p in pages] == [4, 4, 1]
    assert [j.id for p in pages for j in p] == [j.id for j in expected]
    orders = world.call(jobs.list_jobs, kind="orders", store_id=world.stores["tiktok"])
    assert [j.id for j in orders.items] == [
        j.id for j in expected if j.kind == "orders" and j.store_id == world.stores["tiktok"]
    ]
    assert world.call(jobs.list_jobs, status="succeeded").items == []
    assert len(world.call(jobs.list_jobs, status="cancelled", limit=50).items) == 9
    for bad in ({"status": "done"}, {"kind": "all"}, {"cursor": "garbage"}, {"limit": 0}):
        with pytest.raises(ValidationFailed):
            world.call(jobs.list_jobs, **bad)
    status = world.call(jobs.sync_status, store_id=world.stores["shopee"])
    assert status.active == [] and set(status.latest) == {"orders", "products"}
    assert status.latest["orders"].id == next(
        j.id for j in expected if j.kind == "orders" and j.store_id == world.stores["shopee"]
    )
    other = make_org(app_engine)
    with session_scope(other, engine=app_engine) as session:
        assert jobs.list_jobs(session, ctx=other).items == []
        with pytest.raises(NotFound):
            jobs.get_job(session, ctx=other, job_id=made[0].id)
        with pytest.raises(NotFound):
            jobs.cancel_job(session, ctx=other, job_id=made[0].id)


@pytest.mark.postgres
def test_the_sweep_fails_jobs_whose_worker_died_and_hands_stale_queued_jobs_over_again(
    app_engine: Engine, running_sandbox: RunningSandbox, clock: Callable[[datetime], None]
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee"])
    t0 = datetime.now(UTC)
    clock(t0)
    lost = world.start("shopee", "orders")
    waiting = world.start("shopee", "products")
    with session_scope(world.ctx, engine=app_engine) as session:  # a worker claimed it, then died
        session.execute(
            sa.update(JOBS)
            .where(JOBS.c.id == lost.id)
            .values(status="running", phase="fetch", started_at=t0, updated_at=t0)
        )

    def sweep_mine() -> list[uuid.UUID]:
        return [job for job, org in job_runner.sweep_jobs(engine=app_engine) if org == world.org]

    clock(t0 + timedelta(minutes=3))
    assert sweep_mine() == [waiting.id]
    assert sweep_mine() == []  # handed over once per period, not on every sweep
    assert world.job(lost.id).status == "running"
    clock(t0 + timedelta(minutes=10, seconds=1))
    assert sweep_mine() == [waiting.id]
    failed = world.job(lost.id)
    assert (failed.status, failed.error["code"], failed.phase) == ("failed", "worker_lost", "fetch")
    assert failed.finished_at == t0 + timedelta(minutes=10, seconds=1)
    assert world.run(lost.id) is None  # its old message, delivered late, does nothing
    assert world.job(waiting.id).status == "queued"


def test_on_sqlite_an_import_whose_tokens_are_about_to_expire_succeeds_and_keeps_them(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, clock: Callable[[datetime], None]
) -> None:
    """Embedded mode: an import holds SQLite's write lock from its start. Tokens rotated during
    it were sealed in a transaction of their own, which waited for that lock and failed: the
    import failed and the single-use refresh token was spent with nothing saved (the store then
    needed authorizing again). Tokens close to expiry are renewed before a job begins."""
    world = make_world(sqlite_engine, running_sandbox, ["shopee"])
    before = world.store("shopee")
    # 30 s before Shopee's 4-hour access token runs out: inside the client's renewal margin.
    clock(before.token_expires_at - timedelta(seconds=30))

    finished = world.run(world.start("shopee", "products").id)

    assert finished is not None and finished.status == "succeeded", finished
    after = world.store("shopee")
    assert after.status == "connected"
    assert after.token_expires_at > before.token_expires_at  # renewed, and the renewal kept
    again = world.run(world.start("shopee", "products").id)  # the kept tokens work
    assert again is not None and again.status == "succeeded"


@pytest.mark.postgres
def test_a_stores_sync_status_follows_what_runs_and_pauses_while_disconnected(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    from storesync.stores import service as stores

    world = make_world(app_engine, running_sandbox, ["shopee"])
    store_id = world.stores["shopee"]
    assert world.store("shopee").sync_status == "idle"

    job = world.start("shopee", "orders")
    assert world.store("shopee").sync_status == "idle"  # queued: nothing runs yet
    claimed = job_runner._claim(world.ctx, job.id, world.engine)  # a worker takes it
    assert claimed is not None and world.store("shopee").sync_status == "syncing"
    with session_scope(world.ctx, engine=world.engine) as session:
        session.execute(
            sa.update(SyncJob).where(SyncJob.id == job.id).values(status="queued")  # type: ignore[arg-type]
        )
    assert world.run(job.id) is not None
    assert world.store("shopee").sync_status == "idle"

    breaker = breaker_for(f"store:{store_id}")
    for _ in range(breaker.threshold):  # the circuit opens: the next job fails
        breaker.record_failure()
    failed = world.run(world.start("shopee", "orders").id)
    assert failed is not None and failed.status == "failed"
    assert world.store("shopee").sync_status == "error"
    breaker.record_success()
    again = world.run(world.start("shopee", "orders").id)
    assert again is not None and again.status == "succeeded"
    assert world.store("shopee").sync_status == "idle"

    world.call(stores.disconnect, store_id=store_id)
    assert world.store("shopee").sync_status == "paused"
    connect_store(world.engine, world.ctx, "shopee", world.cfg)  # connected again
    assert world.store("shopee").sync_status == "idle"
