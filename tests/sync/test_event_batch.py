"""Order pushes processed per store in batches (storesync.sync.intake.batch), against the sandbox
over HTTP, on SQLite and PostgreSQL (app role)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from storesync.channels import resilience
from storesync.db import session_scope
from storesync.orders.models import Order
from storesync.sync.intake import batch as event_batch
from storesync.sync.push import outbox
from tests.sync import intake_fixtures as fx
from tests.sync.intake_fixtures import ON_HAND, World, wait_for

engine = fx.engine
fresh_sandbox = fx.fresh_sandbox
world_factory = fx.world_factory

MakeWorld = Callable[[str], World]


def run(
    world: World, event_id: uuid.UUID, limit: int = event_batch.BATCH
) -> event_batch.BatchReport:
    return asyncio.run(
        event_batch.process_store_events(
            organization_id=world.ctx.organization_id,
            event_id=event_id,
            settings=world.cfg,
            engine=world.engine,
            limit=limit,
        )
    )


def detail_calls(world: World, since: float) -> int:
    calls = httpx.get(
        f"{world.sandbox.base_url}/sandbox/calls", params={"since": since}, timeout=10
    ).json()["counts"]
    return sum(
        n for key, n in calls.items() if "get_order_detail" in key or "/order/202309/orders " in key
    )


def stored_orders(world: World, ids: list[str]) -> list[uuid.UUID]:
    """Wait until every order's push is stored; the event ids, in the order placed."""
    found = wait_for(
        lambda: (evs := [world.order_events(i) for i in ids]) and all(evs) and evs,
        what="every order push",
    )
    return [events[0].id for events in found]


@pytest.mark.parametrize("platform", ["shopee", "tiktok"])
def test_waiting_pushes_of_a_store_are_fetched_in_one_call_and_ingested_once(
    world_factory: MakeWorld, platform: str
) -> None:
    world = world_factory(platform)
    world.register()
    skus = [world.skus[i % len(world.skus)] for i in range(5)]
    placed = [world.place((sku, 1)) for sku in skus]
    events = stored_orders(world, placed)
    since = time.time()

    report = run(world, events[2])

    assert (report.claimed, report.processed, report.failed, report.orders) == (5, 5, 0, 5)
    assert report.own == "processed"
    assert detail_calls(world, since) == 1  # five orders, one order-detail call
    assert sorted(e.status for e in world.events() if e.id in events) == ["processed"] * 5
    assert world.count(Order) == 5
    assert {sku: world.stock(sku) for sku in skus} == {s: (ON_HAND, skus.count(s)) for s in skus}
    # The stock pushes the batch queued carry its oldest push's arrival (propagation metric).
    first_arrival = min(e.received_at for e in world.events() if e.id in events)
    with session_scope(world.ctx, engine=world.engine) as session:
        carried = set(session.execute(sa.select(outbox.OUTBOX.c.caused_at)).scalars())
    assert carried == {first_arrival}

    # The other events' own messages arrive later: nothing left to do, nothing done twice.
    again = [run(world, event_id) for event_id in events]
    assert [(r.claimed, r.own) for r in again] == [(0, "skipped")] * 5
    assert world.count(Order) == 5
    assert {sku: world.stock(sku) for sku in skus} == {s: (ON_HAND, skus.count(s)) for s in skus}


def test_a_platform_failure_fails_the_batch_changes_nothing_and_a_retry_ingests_it(
    world_factory: MakeWorld,
) -> None:
    world = world_factory("shopee")
    world.register()
    placed = [world.place((sku, 1)) for sku in world.skus[:3]]
    events = stored_orders(world, placed)
    world.faults(error_rate=1.0)
    try:
        failed = run(world, events[0])
    finally:
        world.faults(error_rate=0.0)
        resilience._breakers.clear()  # the failures opened this process's circuit: close it

    assert (failed.claimed, failed.failed, failed.processed, failed.own) == (3, 3, 0, "failed")
    assert world.count(Order) == 0
    assert [world.stock(sku) for sku in world.skus[:3]] == [(ON_HAND, 0)] * 3
    assert {e.status for e in world.events() if e.id in events} == {"failed"}

    retried = run(world, events[0])  # the message's own event is retried (the others wait for
    assert (retried.claimed, retried.processed, retried.own) == (1, 1, "processed")  # the sweep)
    for event_id in events[1:]:
        assert run(world, event_id).processed == 1
    assert world.count(Order) == 3
    assert [world.stock(sku) for sku in world.skus[:3]] == [(ON_HAND, 1)] * 3


def test_an_order_the_platform_does_not_know_fails_alone(world_factory: MakeWorld) -> None:
    world = world_factory("shopee")
    world.register()
    placed = [world.place((sku, 1)) for sku in world.skus[:2]]
    events = stored_orders(world, placed)
    del world.sandbox.state.orders[("shopee", placed[1])]  # gone from the platform

    report = run(world, events[0])

    assert (report.claimed, report.processed, report.failed) == (2, 1, 1)
    assert report.own == "processed"
    assert "does not know order" in report.errors[events[1]]
    assert world.count(Order) == 1 and world.order(placed[0]) is not None


def test_concurrent_runs_claim_disjoint_events_and_every_order_lands_once(
    world_factory: MakeWorld,
) -> None:
    world = world_factory("tiktok")
    world.register()
    skus = [world.skus[i % len(world.skus)] for i in range(12)]
    placed = [world.place((sku, 1)) for sku in skus]
    events = stored_orders(world, placed)
    reports: list[event_batch.BatchReport] = []
    barrier = threading.Barrier(6)

    def worker(event_id: uuid.UUID) -> None:
        barrier.wait()
        reports.append(run(world, event_id, limit=4))

    threads = [threading.Thread(target=worker, args=(e,)) for e in events[:6]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for event_id in events:  # whatever is left
        reports.append(run(world, event_id, limit=4))

    assert sum(r.claimed for r in reports) == 12
    assert sum(r.processed for r in reports) == 12
    assert world.count(Order) == 12
    assert {sku: world.stock(sku) for sku in skus} == {s: (ON_HAND, skus.count(s)) for s in skus}


def test_one_event_alone_takes_no_other_waiting_push_even_when_it_is_done(
    world_factory: MakeWorld,
) -> None:
    """`limit=1` (what `event_batch.process_webhook_event` runs) is this event or nothing: a
    repeated run of a processed event must not pick up another waiting push."""
    world = world_factory("shopee")
    world.register()
    first, second = stored_orders(world, [world.place((world.skus[0], 1)) for _ in range(2)])

    done = run(world, first, limit=1)
    again = run(world, first, limit=1)

    assert (done.claimed, done.own, again.claimed, again.own) == (1, "processed", 0, "skipped")
    statuses = {e.id: e.status for e in world.events()}
    assert (statuses[first], statuses[second]) == ("processed", "received")
    assert world.count(Order) == 1


@pytest.mark.parametrize("platform", ["shopee", "tiktok"])
def test_a_batch_creates_new_orders_together_and_moves_a_known_one(
    world_factory: MakeWorld, platform: str
) -> None:
    world = world_factory(platform)
    world.register()
    first, second = world.skus[0], world.skus[1]
    known = world.place((first, 2))
    run(world, stored_orders(world, [known])[0])
    assert world.stock(first) == (ON_HAND, 2)
    world.set_status(known, "CANCELLED")
    wait_for(lambda: len(world.order_events(known)) == 2, what="the cancellation push")
    cancelled = world.order_events(known)[-1].id
    fresh = [world.place((second, 1)), world.place((first, 1), (second, 2))]
    stored_orders(world, fresh)

    report = run(world, cancelled)

    assert (report.claimed, report.processed, report.failed, report.orders) == (3, 3, 0, 3)
    known_order = world.order(known)
    assert known_order is not None and known_order.status == "cancelled"
    assert world.reservations(known) == [(first, "released", 2)]
    for order_id in fresh:
        order = world.order(order_id)
        assert order is not None and order.status == "to_ship"
        assert [e.reason for e in order.events] == ["created"]
    assert world.reservations(fresh[1]) == sorted([(first, "active", 1), (second, "active", 2)])
    assert world.stock(first) == (ON_HAND, 1)
    assert world.stock(second) == (ON_HAND, 3)
    assert world.count(Order) == 3


def test_a_run_cut_short_by_something_else_gives_its_events_back_at_once(
    world_factory: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis or the database gone mid-run is not the platform's answer: the claimed events go
    back to waiting (not stuck in processing until the sweep's timeout), nothing is ingested,
    and the next run takes them all."""
    from storesync.channels.shopee.adapter import ShopeeAdapter

    world = world_factory("shopee")
    world.register()
    placed = [world.place((sku, 1)) for sku in world.skus[:2]]
    events = stored_orders(world, placed)

    async def away(self: ShopeeAdapter, order_ids: list[str]) -> list[object]:
        raise ConnectionError("Redis went away")

    with monkeypatch.context() as patched:
        patched.setattr(ShopeeAdapter, "fetch_order_details", away)
        with pytest.raises(ConnectionError):
            run(world, events[0])

    assert {e.status for e in world.events() if e.id in events} == {"received"}
    assert world.count(Order) == 0
    again = run(world, events[0])
    assert (again.claimed, again.processed, world.count(Order)) == (2, 2, 2)
