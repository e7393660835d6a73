"""The batched paths lose nothing and double nothing, when a run dies mid-batch and when the same
pushes come twice: on SQLite and PostgreSQL (app role), against the sandbox over HTTP; only the
clock is mocked.

- Webhook batch ingest (`intake.batch.process_store_events`): one transaction for the batch, so a
  run that dies in it commits none of it; its events go back to waiting (or the sweep puts them
  back), and the next run ingests every order once.
- Push dispatch (`push.dispatch.push_store`): a run that dies after the channel took a sub-batch
  leaves only that sub-batch unrecorded; after the lease it is read back, not pushed again.
- Intake group commit (`intake.routes`, `intake.pushes.store_pushes`): no push is acknowledged
  before it is stored, and none is stored twice when its batch fails.

Two tests at the end were the evidence for bugs fixed with them: the webhook sweep took back
events a live run held (it measured from the push's arrival, not the claim: `claimed_at`, 0018),
and the webhook claim on PostgreSQL could take more than its limit (`IN (subquery)` re-run per
updated row: now a materialized CTE).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from dramatiq.middleware import TimeLimitExceeded
from psycopg.errors import DeadlockDetected
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from storesync import migrate
from storesync.channels.readback import unit_key
from storesync.channels.shopee.adapter import ShopeeAdapter
from storesync.core.clock import set_clock, utcnow
from storesync.db import make_engine, session_scope
from storesync.inventory import ledger
from storesync.inventory import service as inventory
from storesync.inventory.models import InventoryTransaction, Reservation
from storesync.orders.models import Order
from storesync.sync.due import STUCK_PROCESSING, STUCK_RECEIVED
from storesync.sync.intake import batch as event_batch
from storesync.sync.intake import pushes
from storesync.sync.intake import routes as webhooks
from storesync.sync.intake.schemas import EventOutcome
from storesync.sync.models import WebhookEvent
from storesync.sync.push import dispatch, outbox
from storesync.tenancy.context import RequestContext
from tests.conftest import create_pg_database, drop_pg_database
from tests.factories import make_tenant
from tests.sync import intake_fixtures as fx
from tests.sync.intake_fixtures import ON_HAND, World, wait_for
from tests.sync.test_crash import _after_the_lease, _calls, _record_stock_writes
from tests.sync.test_event_batch import detail_calls, run, stored_orders
from tests.sync.test_webhook_burst import order_push, send_all

# The fixtures these tests use (tests/sync has no conftest of ours).
engine = fx.engine
fresh_sandbox = fx.fresh_sandbox
world_factory = fx.world_factory

MakeWorld = Callable[[str], World]
ORDERS = 12  # one store's batch (`event_batch.BATCH` is 16)
SHIPPED = {"shopee": "SHIPPED", "tiktok": "IN_TRANSIT"}


# -- reading the outcome -------------------------------------------------------------------------


def event_states(world: World, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, int]]:
    """(status, attempts) of each of these events."""
    return {e.id: (e.status, e.attempts) for e in world.events() if e.id in ids}


def ledger_rows(world: World) -> Counter[tuple[str, str, str]]:
    """The stock ledger rows orders wrote (the opening counts have no reference), as (kind,
    reference type, reference id) counts."""
    t = InventoryTransaction.__table__.c  # type: ignore[attr-defined]
    with session_scope(world.ctx, engine=world.engine) as session:
        rows = session.execute(
            sa.select(t.kind, t.reference_type, t.reference_id).where(t.reference_type != "")
        ).all()
    return Counter((str(kind), str(kind_of), str(ref)) for kind, kind_of, ref in rows)


def ledger_adds_up(world: World) -> bool:
    with session_scope(world.ctx, engine=world.engine) as session:
        return ledger.mismatches(session, organization_id=world.ctx.organization_id) == []


def outbox_rows(world: World) -> dict[str, tuple[str, int, int]]:
    """SKU → (status, quantity, attempts) of its listing's outbox row."""
    o, ln = outbox.OUTBOX.c, outbox.LISTINGS.c
    with session_scope(world.ctx, engine=world.engine) as session:
        rows = session.execute(
            sa.select(ln.platform_sku, o.status, o.quantity, o.attempts).join(
                outbox.LISTINGS, ln.id == o.listing_id
            )
        ).all()
    return {str(sku): (str(status), int(q), int(a)) for sku, status, q, a in rows}


def state(world: World) -> dict[str, Any]:
    """Everything a batch may change: orders, reservations, stock, its ledger, the outbox."""
    return {
        "orders": world.count(Order),
        "reservations": world.count(Reservation),
        "stock": {sku: world.stock(sku) for sku in world.skus},
        "ledger": ledger_rows(world),
        "outbox": outbox_rows(world),
    }


def at(moment: Any, work: Callable[[], Any]) -> Any:
    """`work()` with the clock stopped at `moment`."""
    set_clock(lambda: moment)
    try:
        return work()
    finally:
        set_clock(None)


def swept_events(world: World) -> set[uuid.UUID]:
    """The world's events the webhook sweep hands over again (other tests' are left out)."""
    found = event_batch.sweep_webhooks(engine=world.engine)
    return {event_id for event_id, org in found if org == world.ctx.organization_id}


def db_error(what: str, orig: Exception | None = None) -> OperationalError:
    return OperationalError(what, {}, orig or Exception("server closed the connection"))


# -- webhook batch ingest: a run that dies mid-batch --------------------------------------------


def a_batch_of_orders(world: World) -> tuple[list[str], list[uuid.UUID], list[str]]:
    """`ORDERS` orders of one unit each (four per SKU) placed on the sandbox, their pushes stored
    and waiting; then one order per SKU shipped with the pushes off, so the batch finds it
    shipped (reserved and deducted at once). Returns (orders, their events, shipped orders)."""
    world.register()
    skus = [world.skus[n % len(world.skus)] for n in range(ORDERS)]
    placed = [world.place((sku, 1)) for sku in skus]
    events = stored_orders(world, placed)
    world.unregister()
    shipped = placed[:: len(world.skus) + 1]  # orders 0, 4, 8: one of each SKU
    assert sorted(skus[placed.index(o)] for o in shipped) == sorted(world.skus)
    for order_id in shipped:
        world.set_status(order_id, SHIPPED[world.platform])
    return placed, events, shipped


CRASHES = ["error", "time_limit", "database_gone", "killed"]


def crash_mid_batch(
    patched: pytest.MonkeyPatch, crash: str, written: list[int]
) -> type[BaseException]:
    """Make the batch's ingest transaction die after it wrote every order (`written` gets the
    number of orders it holds uncommitted at that moment); returns what the run raises.
    error: a bug raises in the middle; time_limit: Dramatiq's time limit interrupts the worker
    thread there (a BaseException); database_gone: the connection drops at the last statement;
    killed: an error, and the process dies before it can give the events back (kill -9)."""

    def orders_in(session: Any) -> int:
        return int(session.execute(sa.select(sa.func.count()).select_from(Order)).scalar_one())

    if crash == "database_gone":
        finish = event_batch._finish

        def finish_then_drop(session: Any, ctx: Any, ids: Any, outcome: Any, error: str) -> None:
            if outcome is EventOutcome.PROCESSED:
                written.append(orders_in(session))
                raise db_error("UPDATE webhook_event")
            finish(session, ctx, ids, outcome, error)

        patched.setattr(event_batch, "_finish", finish_then_drop)
        return OperationalError
    raised: BaseException = TimeLimitExceeded() if crash == "time_limit" else RuntimeError("bug")
    announce = event_batch._announce
    announced: list[str] = []

    def announce_then_die(session: Any, ctx: Any, kind: str, row: Any) -> None:
        announced.append(kind)
        if len(announced) == ORDERS // 2:  # half the new orders announced
            written.append(orders_in(session))
            raise raised
        announce(session, ctx, kind, row)

    patched.setattr(event_batch, "_announce", announce_then_die)
    if crash == "killed":
        patched.setattr(event_batch, "_give_back", lambda *args: None)
    return type(raised)


@pytest.mark.parametrize("crash", CRASHES)
def test_a_batch_that_dies_mid_ingest_commits_nothing_and_the_next_run_ingests_each_order_once(
    world_factory: MakeWorld, monkeypatch: pytest.MonkeyPatch, crash: str
) -> None:
    world = world_factory("shopee")
    placed, events, shipped = a_batch_of_orders(world)
    before = state(world)
    written: list[int] = []
    since = time.time()

    with monkeypatch.context() as patched:
        raises = crash_mid_batch(patched, crash, written)
        with pytest.raises(raises):
            run(world, events[0])

    # It died with every order written but not committed: nothing of the batch is left.
    assert written == [ORDERS]
    assert detail_calls(world, since) == 1
    assert state(world) == before
    assert before["orders"] == before["reservations"] == len(before["ledger"]) == 0
    assert before["stock"] == dict.fromkeys(world.skus, (ON_HAND, 0))
    if crash == "killed":
        # Nobody gave the events back: they look in flight until STUCK_PROCESSING has passed
        # since they arrived, then the sweep puts them back and hands them over.
        assert event_states(world, events) == dict.fromkeys(events, ("processing", 1))
        assert swept_events(world) == set()
        later = utcnow() + STUCK_PROCESSING + timedelta(seconds=1)
        assert at(later, lambda: swept_events(world)) == set(events)
    assert event_states(world, events) == dict.fromkeys(events, ("received", 1))

    since = time.time()
    report = run(world, events[0])

    assert (report.claimed, report.processed, report.failed, report.orders) == (12, 12, 0, 12)
    assert report.own == "processed" and report.errors == {}
    assert detail_calls(world, since) == 1
    assert event_states(world, events) == dict.fromkeys(events, ("processed", 2))
    after = state(world)
    assert after["orders"] == ORDERS
    # Four orders of each SKU: three reserve a unit, the shipped one takes it off the shelf.
    assert after["stock"] == dict.fromkeys(world.skus, (ON_HAND - 1, 3))
    for order_id in placed:
        (_sku, status, quantity), *more = world.reservations(order_id)
        assert (status, quantity, more) == (
            "fulfilled" if order_id in shipped else "active",
            1,
            [],
        )
    new_rows = after["ledger"] - before["ledger"]
    assert set(new_rows.values()) == {1}  # no ledger row written twice
    assert Counter(kind for kind, _, _ in new_rows) == {"reserve": ORDERS, "fulfil": 3}
    assert ledger_adds_up(world)
    assert after["outbox"] == {sku: ("pending", ON_HAND - 1 - 3, 0) for sku in world.skus}

    # The events' own messages, and a sweep later on, find nothing left to do.
    assert [run(world, event_id).claimed for event_id in events] == [0] * ORDERS
    later = utcnow() + STUCK_PROCESSING + timedelta(seconds=1)
    assert at(later, lambda: swept_events(world)) == set()
    assert state(world) == after


def test_a_deadlocked_batch_is_run_again_and_counts_and_ingests_each_order_once(
    world_factory: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL rolls back one of two batches that lock the same stock rows in different
    orders; the run does its batch again (no new HTTP call) and nothing is doubled."""
    world = world_factory("tiktok")
    _placed, events, shipped = a_batch_of_orders(world)
    before = state(world)
    finish = event_batch._finish
    deadlocks: list[int] = []

    def deadlock_once(session: Any, ctx: Any, ids: Any, outcome: Any, error: str) -> None:
        if outcome is EventOutcome.PROCESSED and not deadlocks:
            deadlocks.append(
                int(session.execute(sa.select(sa.func.count()).select_from(Order)).scalar_one())
            )
            raise db_error("UPDATE webhook_event", DeadlockDetected("deadlock detected"))
        finish(session, ctx, ids, outcome, error)

    monkeypatch.setattr(event_batch, "_finish", deadlock_once)
    since = time.time()

    report = run(world, events[0])

    assert deadlocks == [ORDERS]  # the first attempt had written every order
    assert (report.claimed, report.processed, report.failed, report.orders) == (12, 12, 0, 12)
    assert detail_calls(world, since) == 1
    assert event_states(world, events) == dict.fromkeys(events, ("processed", 1))
    after = state(world)
    assert (after["orders"], after["reservations"]) == (ORDERS, ORDERS)
    assert after["stock"] == dict.fromkeys(world.skus, (ON_HAND - 1, 3))
    assert sorted(s for o in shipped for _, s, _ in world.reservations(o)) == ["fulfilled"] * 3
    new_rows = after["ledger"] - before["ledger"]
    assert set(new_rows.values()) == {1}
    assert Counter(kind for kind, _, _ in new_rows) == {"reserve": ORDERS, "fulfil": 3}
    assert ledger_adds_up(world)


# -- webhook batch ingest: the same pushes again ------------------------------------------------


def replay(world: World, times: int) -> list[int]:
    """Deliver every push the sandbox sent so far `times` more times, all at once (a platform
    retrying); the answers."""
    sent = [
        (d.body, d.headers["authorization"])
        for d in world.routes.recorder.deliveries
        if d.path == f"/webhooks/{world.platform}" and d.status == 200
    ]
    return asyncio.run(send_all(world.webhook_url, sent * times))


def order_event_ids(world: World, placed: list[str]) -> dict[str, list[uuid.UUID]]:
    return {order_id: [e.id for e in world.order_events(order_id)] for order_id in placed}


@pytest.mark.parametrize("platform", ["shopee", "tiktok"])
def test_pushes_repeated_within_and_across_batches_ingest_each_order_and_each_unit_once(
    world_factory: MakeWorld, platform: str
) -> None:
    world = world_factory(platform)
    world.register()
    skus = [world.skus[n % len(world.skus)] for n in range(6)]
    placed = [world.place((sku, 1)) for sku in skus]
    created = stored_orders(world, placed)
    stored = order_event_ids(world, placed)

    # Every push delivered twice more: acknowledged, stored once.
    answers = replay(world, 2)

    assert answers and set(answers) == {200}
    assert order_event_ids(world, placed) == stored
    assert stored == {o: [e] for o, e in zip(placed, created, strict=True)}
    # Workers take them in batches of (at most, see below) four, each message naming one event.
    claimed = [run(world, event_id, limit=4).claimed for event_id in created]
    assert sum(claimed) == 6 and claimed[0] >= 4
    assert world.count(Order) == 6
    assert {sku: world.stock(sku) for sku in world.skus} == dict.fromkeys(world.skus, (ON_HAND, 2))

    # Three orders ship and complete: two more pushes each, naming an order already ingested;
    # both land in one batch, and everything is delivered twice more on top.
    moved = placed[:3]
    for order_id in moved:
        world.set_status(order_id, SHIPPED[platform])
        world.set_status(order_id, "COMPLETED")
    wait_for(lambda: all(len(world.order_events(o)) == 3 for o in moved), what="the status pushes")
    assert set(replay(world, 2)) == {200}
    later = {o: world.order_events(o) for o in moved}
    assert all(len(events) == 3 for events in later.values())
    fresh = [e.id for events in later.values() for e in events[1:]]
    since = time.time()

    report = run(world, fresh[0])

    assert (report.claimed, report.processed, report.failed, report.orders) == (6, 6, 0, 3)
    assert detail_calls(world, since) == 1
    assert [run(world, event_id).claimed for event_id in [*created, *fresh]] == [0] * 12
    assert world.count(Order) == 6
    for order_id in placed:
        order = world.order(order_id)
        assert order is not None
        assert order.status == ("completed" if order_id in moved else "to_ship")
        assert [status for _, status, _ in world.reservations(order_id)] == [
            "fulfilled" if order_id in moved else "active"
        ]
    # Two orders per SKU: one shipped (one unit off the shelf, once), one still reserved.
    assert {sku: world.stock(sku) for sku in world.skus} == dict.fromkeys(
        world.skus, (ON_HAND - 1, 1)
    )
    rows = ledger_rows(world)
    assert set(rows.values()) == {1}
    assert Counter(kind for kind, _, _ in rows) == {"reserve": 6, "fulfil": 3}
    assert ledger_adds_up(world)
    statuses = event_states(world, [*created, *fresh])
    assert {status for status, _ in statuses.values()} == {"processed"}
    assert {attempts for _, attempts in statuses.values()} == {1}
    much_later = utcnow() + STUCK_PROCESSING + timedelta(minutes=1)
    assert at(much_later, lambda: swept_events(world)) == set()


# -- push dispatch: a run that dies after the channel took its sub-batch ------------------------


def more_listings(world: World, count: int) -> dict[str, dict[str, Any]]:
    """Match `count` more of the shop's listings (stocked like the world's); SKU → listing, for
    all of the world's matched listings."""
    listed = httpx.get(
        f"{world.sandbox.base_url}/sandbox/listings",
        params={"platform": world.platform, "shop_id": world.shop_id},
        timeout=10,
    ).json()
    usable = [row for row in listed if row["sku"] and row["stock"] >= 5]
    assert len(usable) >= len(world.skus) + count, "the sandbox shop needs more listings"
    extra = usable[len(world.skus) : len(world.skus) + count]
    world.variants.update(fx.stock_listings(world.engine, world.ctx, world.store_id, extra))
    return {row["sku"]: row for row in usable if row["sku"] in world.variants}


def push(world: World, sub_batch: int) -> dispatch.PushReport:
    return asyncio.run(
        dispatch.push_store(
            organization_id=world.ctx.organization_id,
            store_id=world.store_id,
            settings=world.cfg,
            engine=world.engine,
            sub_batch=sub_batch,
        )
    )


def last_pushed(world: World) -> dict[str, int | None]:
    ln = outbox.LISTINGS.c
    with session_scope(world.ctx, engine=world.engine) as session:
        rows = session.execute(sa.select(ln.platform_sku, ln.last_pushed_quantity)).all()
    return {str(sku): quantity for sku, quantity in rows}


@pytest.mark.parametrize("platform", ["shopee", "tiktok"])
def test_a_dispatch_that_dies_before_recording_a_sub_batch_the_channel_took_never_pushes_it_again(
    world_factory: MakeWorld, monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    world = world_factory(platform)
    listings = more_listings(world, 3)
    unit = {sku: unit_key(str(r["item_id"]), str(r["model_id"])) for sku, r in listings.items()}
    # Quantities none of the listings shows yet: every push changes the channel.
    wanted = {sku: row["stock"] + 1 + n for n, (sku, row) in enumerate(sorted(listings.items()))}
    with session_scope(world.ctx, engine=world.engine) as session:
        location = inventory.default_location(session, ctx=world.ctx).id
        for sku, quantity in wanted.items():
            inventory.set_on_hand(
                session,
                ctx=world.ctx,
                variant_id=world.variants[sku],
                location_id=location,
                quantity=quantity,
                reason="count",
            )
    assert {s: row[:2] for s, row in outbox_rows(world).items()} == {
        s: ("pending", q) for s, q in wanted.items()
    }
    written = _record_stock_writes(world.sandbox)

    def writes(since: int = 0) -> list[tuple[str, str, int]]:
        """The sandbox's stock writes (one per unit and call), by `unit_key`."""
        return sorted((*unit_key(item, model), q) for item, model, q in written[since:])

    record = dispatch._record_pushed
    recorded: list[int] = []

    def record_then_die(session: Any, pushed: list[Any]) -> None:
        recorded.append(len(pushed))
        if len(recorded) == 2:  # the second sub-batch: pushed, the channel took it
            raise db_error("UPDATE channel_listing")
        record(session, pushed)

    with monkeypatch.context() as patched:
        patched.setattr(dispatch, "_record_pushed", record_then_die)
        with pytest.raises(OperationalError):
            push(world, sub_batch=2)

    # One sub-batch done, one in flight (on the channel, not recorded), one never claimed.
    assert recorded == [2, 2]
    rows = outbox_rows(world)
    done, in_flight, never = (
        sorted(sku for sku, row in rows.items() if row[0] == status)
        for status in ("done", "in_progress", "pending")
    )
    assert (len(done), len(in_flight), len(never)) == (2, 2, 2)
    assert {sku: rows[sku][2] for sku in wanted} == {
        sku: 0 if sku in never else 1 for sku in wanted
    }

    def sent(skus: list[str]) -> list[tuple[str, str, int]]:
        return sorted((*unit[sku], wanted[sku]) for sku in skus)

    assert writes() == sent(done + in_flight)
    assert last_pushed(world) == {sku: wanted[sku] if sku in done else None for sku in wanted}

    # Before the lease lapses the sweep leaves the rows in flight alone.
    dispatch.sweep(engine=world.engine)
    assert sorted(k for k, r in outbox_rows(world).items() if r[0] == "in_progress") == in_flight
    lapsed = _after_the_lease(world.cfg)()
    due = at(lapsed, lambda: dispatch.sweep(engine=world.engine))
    assert (world.ctx.organization_id, world.store_id) in due
    since = time.time()
    pushed_before = len(written)

    report = at(lapsed, lambda: push(world, sub_batch=2))

    assert (report.claimed, report.confirmed, report.skipped, report.pushed) == (4, 2, 2, 2)
    assert report.failed == report.deferred == 0
    # Only the never-claimed rows went out; the ones in flight were read back, not pushed.
    assert writes(pushed_before) == sent(never)
    calls = _calls(world.sandbox.base_url, since)
    assert calls["push"] == len({unit[sku][0] for sku in never})  # one call per item
    assert calls["read"] >= 1 and calls["refused"] == 0
    assert writes() == sent(list(wanted))  # every unit written once, none twice
    shop = world.sandbox.state.shop(platform, world.shop_id)
    shown = {unit_key(i.id, m.id): m.stock for i in shop.items.values() for m in i.models}
    assert {sku: shown[unit[sku]] for sku in wanted} == wanted
    assert last_pushed(world) == wanted
    assert outbox_rows(world) == {
        sku: ("done", q, 2 if sku in in_flight else 1) for sku, q in wanted.items()
    }
    assert at(lapsed, lambda: push(world, sub_batch=2)).claimed == 0


# -- intake group commit: a batch the database fails --------------------------------------------


def writers_waiting(engine: Engine) -> int:
    """Pushes waiting for the batch being written (the routes' writers for `engine`)."""
    return sum(
        len(writer.waiting)
        for per_engine in list(webhooks._writers.values())
        for bound, writer in list(per_engine.items())
        if bound is engine
    )


def batches_held_together(patched: pytest.MonkeyPatch, total: int) -> list[list[str]]:
    """The first batch waits until every other of `total` pushes waits behind it, so those are
    written together as the next batch: whatever the timing, some batch holds several pushes.
    Returns the dedupe keys of every `store_pushes` call, in order."""
    store = webhooks.store_pushes
    calls: list[list[str]] = []

    def held(engine: Engine, some: list[tuple[pushes.Push, dict[str, Any]]]) -> Any:
        if not calls:
            deadline = time.monotonic() + 15
            while writers_waiting(engine) < total - len(some) and time.monotonic() < deadline:
                time.sleep(0.005)
        calls.append([push.dedupe_key for push, _ in some])
        return store(engine, some)

    patched.setattr(webhooks, "store_pushes", held)
    return calls


def retried_alone(calls: list[list[str]], failed: list[str]) -> bool:
    """The calls right after the failed batch store its pushes one by one, in order."""
    at = calls.index(failed)
    return calls[at + 1 : at + 1 + len(failed)] == [[key] for key in failed]


def keys_of(world: World, signed: list[tuple[bytes, str]]) -> list[str]:
    return [pushes.read_push(world.platform, json.loads(body)).dedupe_key for body, _ in signed]


def test_a_batch_the_database_fails_midway_is_stored_push_by_push_and_only_stored_pushes_are_acked(
    world_factory: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch of several pushes is written, then its transaction fails because of one
    push, which the database refuses every time: that push alone is answered 500 (the platform
    delivers it again) and stored nowhere; every other push is acknowledged and stored once."""
    world = world_factory("tiktok")
    signed = [order_push(world, f"B{n}") for n in range(ORDERS)]
    keys = keys_of(world, signed)
    insert = pushes._insert_batch
    refused: list[str] = []

    def insert_then_fail(session: Any, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
        inserted = insert(session, rows)  # the rows are written in the transaction...
        if not refused and len(rows) > 1:
            refused.append(rows[len(rows) // 2]["dedupe_key"])
        if any(row["dedupe_key"] in refused for row in rows):
            raise db_error("INSERT INTO webhook_event")  # ...which then fails
        return inserted

    with monkeypatch.context() as patched:
        calls = batches_held_together(patched, ORDERS)
        patched.setattr(pushes, "_insert_batch", insert_then_fail)
        answers = asyncio.run(send_all(world.webhook_url, signed))

    (failed,) = [call for call in calls if len(call) > 1 and refused[0] in call]
    assert retried_alone(calls, failed)
    # Besides the failed batch, each push went through one call (the refused one's alone).
    assert sorted(key for call in calls if call != failed for key in call) == sorted(keys)
    assert answers == [500 if key in refused else 200 for key in keys]
    events = world.events()
    assert sorted(e.dedupe_key for e in events) == sorted(set(keys) - set(refused))
    assert {(e.status, e.attempts) for e in events} == {("received", 0)}
    assert sorted(world.routes.hook_calls) == sorted(
        (e.id, world.ctx.organization_id) for e in events
    )

    # The platform delivers the refused push again (and another); now the database takes it.
    again = [signed[keys.index(refused[0])], signed[0]]
    assert asyncio.run(send_all(world.webhook_url, again)) == [200, 200]
    events = world.events()
    assert sorted(e.dedupe_key for e in events) == sorted(keys)
    assert sorted(world.routes.hook_calls) == sorted(
        (e.id, world.ctx.organization_id) for e in events
    )


def test_a_batch_committed_but_reported_failed_is_acked_stored_once_and_swept_up(
    world_factory: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops after the commit of the first batch of several pushes reached the
    database: the writer cannot tell, stores the pushes again one by one and finds each there
    already. Every push is acknowledged and stored once; that batch's events are not handed
    over by the intake, so the sweep hands them over once they have waited STUCK_RECEIVED."""
    world = world_factory("shopee")
    signed = [order_push(world, f"B{n}") for n in range(ORDERS)]
    keys = keys_of(world, signed)
    lost: list[list[str]] = []

    with monkeypatch.context() as patched:
        calls = batches_held_together(patched, ORDERS)
        held = webhooks.store_pushes

        def committed_then_lost(engine: Engine, some: Any) -> Any:
            results = held(engine, some)
            if not lost and len(some) > 1:
                lost.append(calls[-1])
                raise db_error("COMMIT")
            return results

        patched.setattr(webhooks, "store_pushes", committed_then_lost)
        answers = asyncio.run(send_all(world.webhook_url, signed))

    (failed,) = lost
    assert retried_alone(calls, failed)
    assert sorted(key for call in calls if call != failed for key in call) == sorted(keys)
    assert answers == [200] * ORDERS
    events = world.events()
    assert sorted(e.dedupe_key for e in events) == sorted(keys)
    assert {(e.status, e.attempts) for e in events} == {("received", 0)}
    handed = {event_id for event_id, _ in world.routes.hook_calls}
    assert len(world.routes.hook_calls) == len(handed)  # none handed over twice
    assert sorted(e.dedupe_key for e in events if e.id not in handed) == sorted(failed)
    assert swept_events(world) == set()  # not yet: an intake may still be handing them over
    later = utcnow() + STUCK_RECEIVED + timedelta(seconds=1)
    assert at(later, lambda: swept_events(world)) == {e.id for e in events}


# -- the webhook sweep and a run in flight ----------------------------------------------------


def test_events_claimed_after_a_long_wait_are_not_swept_back_while_their_run_is_in_flight(
    world_factory: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = world_factory("shopee")
    world.register()
    placed = [world.place((sku, 1)) for sku in world.skus[:2]]
    events = stored_orders(world, placed)
    fetch = ShopeeAdapter.fetch_order_details
    inside, release = threading.Event(), threading.Event()

    async def held_fetch(self: ShopeeAdapter, order_ids: list[str]) -> Any:
        if not inside.is_set():  # the first run's call waits, in flight
            inside.set()
            release.wait(20)
        return await fetch(self, order_ids)

    monkeypatch.setattr(ShopeeAdapter, "fetch_order_details", held_fetch)
    reports: list[event_batch.BatchReport] = []
    # The workers were down: the pushes waited six minutes before a worker claimed them.
    later = utcnow() + STUCK_PROCESSING + timedelta(minutes=1)
    set_clock(lambda: later)
    first = threading.Thread(target=lambda: reports.append(run(world, events[0])))
    since = time.time()
    try:
        first.start()
        if not inside.wait(20):
            pytest.fail("the first run never fetched")
        swept = swept_events(world)  # the next sweep, seconds after the claim
        second = run(world, events[0])  # a worker handed one of them by the sweep
    finally:
        release.set()
        first.join(30)
        set_clock(None)

    assert len(reports) == 1 and reports[0].claimed == 2
    assert world.count(Order) == 2  # no order doubled even so (ON CONFLICT DO NOTHING)
    assert {sku: world.stock(sku) for sku in world.skus[:2]} == dict.fromkeys(
        world.skus[:2], (ON_HAND, 1)
    )
    assert (swept, second.claimed, detail_calls(world, since)) == (set(), 0, 1)


# -- the claim's limit (PostgreSQL re-ran `IN (subquery)` per updated row) ----------------------


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=[pytest.mark.postgres],
        ),
    ]
)
def small_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A database holding this test's rows only: on PostgreSQL a fresh one (app role), since the
    claim's plan depends on how big the table is."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_engine")
        return
    database = create_pg_database("storesync_claim")
    bound: Engine | None = None
    try:
        migrate.upgrade(url=database.owner_url)
        bound = make_engine(database.app_url)
        yield bound
    finally:
        if bound is not None:
            bound.dispose()
        drop_pg_database(database)


def test_a_run_claims_no_more_waiting_pushes_than_its_limit(small_engine: Engine) -> None:
    tenant = make_tenant(small_engine)
    org = tenant.ctx.organization_id
    now = utcnow()  # one intake batch: the same arrival for all
    with session_scope(tenant.ctx, engine=small_engine) as session:
        rows = [
            WebhookEvent(
                organization_id=org,
                store_id=tenant.store_id,
                platform="shopee",
                event_type="order_status",
                dedupe_key=f"3:{n}:READY_TO_SHIP:1",
                payload={"code": 3, "data": {"ordersn": str(n), "status": "READY_TO_SHIP"}},
                received_at=now,
            )
            for n in range(ORDERS)
        ]
        session.add_all(rows)
    ctx = RequestContext.system(org)
    taken = []
    for _ in range(4):  # four runs, each started for the first event, four at a time
        with session_scope(ctx, engine=small_engine) as session:
            taken.append(len(event_batch._claim(session, ctx, rows[0].id, 4)))

    assert taken == [4, 4, 4, 0]
