"""Order intake against the sandbox over HTTP, on SQLite and PostgreSQL: orders arrive by
webhook and by the polling safety net, reserve stock, follow the channel's status (cancelling
releases), and stale or repeated news changes nothing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from storesync.channels.models import Store
from storesync.channels.schemas import ChannelOrder, ChannelOrderLine
from storesync.core.errors import AppError
from storesync.db import session_scope
from storesync.inventory.models import Reservation
from storesync.orders.models import Order
from storesync.sync.intake import orders as order_intake
from storesync.sync.intake import poll as order_poll
from storesync.sync.intake import pushes
from storesync.sync.intake import routes as webhooks
from storesync.sync.models import WebhookEvent
from storesync.tenancy.context import RequestContext
from tests.sync import intake_fixtures as fx
from tests.sync.intake_fixtures import ON_HAND, PLATFORMS, World, wait_for

# The fixtures these tests use (tests/sync has no conftest of ours).
engine = fx.engine
fresh_sandbox = fx.fresh_sandbox
world_factory = fx.world_factory

MakeWorld = Callable[[str], World]
CANCELLED = "CANCELLED"  # both sandboxes take the order API's spelling


recording_bus = fx.recording_bus
RecordingBus = fx.RecordingBus


def order_status(world: World, order_id: str) -> str | None:
    order = world.order(order_id)
    return order.status.value if order else None


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_order_placed_on_the_sandbox_arrives_by_webhook_and_its_cancellation_releases_stock(
    world_factory: MakeWorld, platform: str, recording_bus: RecordingBus
) -> None:
    world = world_factory(platform)
    world.process_in_background()
    world.register()
    first, second = world.skus[0], world.skus[1]

    order_id = world.place((first, 2), (second, 1))

    wait_for(lambda: order_status(world, order_id) == "to_ship", what="the order to arrive")
    wait_for(lambda: world.reservations(order_id), what="its reservations")
    assert world.reservations(order_id) == sorted([(first, "active", 2), (second, "active", 1)])
    assert world.stock(first) == (ON_HAND, 2) and world.stock(second) == (ON_HAND, 1)
    order = world.order(order_id)
    assert order is not None and order.platform_status in ("READY_TO_SHIP", "AWAITING_SHIPMENT")
    assert all(item.is_mapped for item in order.items)

    world.set_status(order_id, CANCELLED)

    wait_for(lambda: order_status(world, order_id) == "cancelled", what="the cancellation")
    world.join()
    assert world.reservations(order_id) == sorted([(first, "released", 2), (second, "released", 1)])
    assert world.stock(first) == (ON_HAND, 0) and world.stock(second) == (ON_HAND, 0)
    assert world.count(Order) == 1
    order_events = world.order_events(order_id)
    assert len(order_events) == 2
    assert all(e.status == "processed" and e.attempts == 1 for e in order_events)
    others = [e for e in world.events() if e.id not in {o.id for o in order_events}]
    assert all(e.status == "ignored" for e in others)  # stock pushes: our stock is the truth
    kinds = [(e.type, e.data["platform_order_id"]) for e in recording_bus.published]
    assert ("order.created", order_id) in kinds and ("order.updated", order_id) in kinds


def test_stock_pushes_are_stored_ignored_never_queued_and_change_no_stock(
    world_factory: MakeWorld,
) -> None:
    world = world_factory("shopee")
    push = pushes.read_push(
        "shopee",
        payload := {
            "shop_id": int(world.shop_id),
            "code": 8,
            "timestamp": 1,
            "data": {"item_id": 1, "model_id": 0, "stock": 0, "update_time": 1},
        },
    )
    before = {sku: world.stock(sku) for sku in world.skus}
    event_id = _record(world, push, payload)
    (event,) = world.events()
    assert (event.status, event.attempts, event.error) == ("ignored", 0, "")
    assert event.processed_at is not None

    assert world.process(event_id) == "skipped"  # nothing to do, even if someone queued it

    assert {sku: world.stock(sku) for sku in world.skus} == before
    (event,) = world.events()
    assert (event.status, event.attempts) == ("ignored", 0)


def test_an_order_the_platform_does_not_know_fails_and_can_be_retried(
    world_factory: MakeWorld,
) -> None:
    world = world_factory("shopee")
    payload = {
        "shop_id": int(world.shop_id),
        "code": 3,
        "timestamp": 1,
        "data": {"ordersn": "NO-SUCH-ORDER", "status": "READY_TO_SHIP", "update_time": 1},
    }
    event_id = _record(world, pushes.read_push("shopee", payload), payload)

    assert world.process(event_id) == "failed"
    assert world.process(event_id) == "failed"

    (event,) = world.events()
    assert (event.status, event.attempts) == ("failed", 2)
    assert "NO-SUCH-ORDER" in event.error
    assert world.count(Order) == 0


@pytest.mark.parametrize("platform", PLATFORMS)
def test_two_runs_at_once_process_an_event_once(world_factory: MakeWorld, platform: str) -> None:
    world = world_factory(platform)
    world.register()
    sku = world.skus[0]
    order_id = world.place((sku, 3))
    (event,) = wait_for(lambda: world.order_events(order_id), what="the order push")
    results: list[str] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        results.append(world.process(event.id))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == ["processed", "skipped"]
    assert world.reservations(order_id) == [(sku, "active", 3)]
    assert world.stock(sku) == (ON_HAND, 3)
    assert world.count(Order) == 1 and world.count(Reservation) == 1
    assert [e.attempts for e in world.order_events(order_id)] == [1]


def test_stale_or_regressive_statuses_are_ignored(
    world_factory: MakeWorld, recording_bus: RecordingBus
) -> None:
    world = world_factory("shopee")
    sku = world.skus[0]
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    placed = _ingest(world, _channel_order("A1", "to_ship", "READY_TO_SHIP", sku, t0))
    cancelled = _ingest(world, _channel_order("A1", "cancelled", CANCELLED, sku, t0))
    late = _ingest(world, _channel_order("A1", "to_ship", "READY_TO_SHIP", sku, t0))
    shipped = _ingest(world, _channel_order("B1", "shipped", "SHIPPED", sku, t0))
    regressed = _ingest(world, _channel_order("B1", "to_ship", "READY_TO_SHIP", sku, t0))

    assert [placed.status, cancelled.status, late.status] == ["to_ship", "cancelled", "cancelled"]
    assert [shipped.status, regressed.status] == ["shipped", "shipped"]
    assert world.reservations("A1") == [(sku, "released", 1)]
    assert world.reservations("B1") == [(sku, "fulfilled", 1)]
    assert world.stock(sku) == (ON_HAND - 1, 0)  # B1 left the warehouse; A1 gave its unit back
    assert world.count(Order) == 2
    kinds = [e.type for e in recording_bus.published if e.type.startswith("order.")]
    assert kinds.count("order.created") == 2 and kinds.count("order.updated") == 1


def test_an_order_without_lines_is_a_validation_error(world_factory: MakeWorld) -> None:
    world = world_factory("tiktok")
    empty = _channel_order("E1", "to_ship", "AWAITING_SHIPMENT", world.skus[0], datetime.now(UTC))

    with pytest.raises(AppError) as raised:
        _ingest(world, empty.model_copy(update={"lines": []}))

    assert raised.value.code == "invalid_field" and "E1" in raised.value.message
    assert world.count(Order) == 0


@pytest.mark.parametrize("platform", PLATFORMS)
def test_sync_orders_picks_up_orders_no_webhook_announced_and_its_cursor_skips_them_next_time(
    world_factory: MakeWorld, platform: str
) -> None:
    world = world_factory(platform)  # no webhook URL registered: pushes go nowhere
    first, second = world.skus[0], world.skus[1]
    kept = world.place((first, 2))
    dropped = world.place((second, 1))

    report = world.sync()
    again = world.sync()

    assert (report.created, report.failed) == (2, 0)
    assert world.reservations(kept) == [(first, "active", 2)]
    assert world.stock(first) == (ON_HAND, 2) and world.stock(second) == (ON_HAND, 1)
    assert (again.created, again.updated, again.failed) == (0, 0, 0)
    assert again.since >= report.until - order_poll.SETTLE
    store = _store(world)
    assert store.orders_cursor == again.cursor and store.last_synced_at is not None
    assert world.count(WebhookEvent) == 0

    world.set_status(dropped, CANCELLED)
    third = world.sync()

    assert (third.created, third.updated) == (0, 1)
    assert order_status(world, dropped) == "cancelled"
    assert world.stock(second) == (ON_HAND, 0)
    assert world.count(Order) == 2


def test_the_cursor_only_moves_forward_and_never_past_a_gap() -> None:
    t = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    step = timedelta(minutes=10)
    following = order_poll._next_cursor

    assert following(None, t - step, None, t) == t - order_poll.SETTLE
    assert following(t - step, t - step, t - timedelta(minutes=1), t) == t - timedelta(minutes=1)
    assert following(t - step, t - 2 * step, t - 3 * step, None) == t - step
    assert following(t - 3 * step, t - step, t, None) == t - 3 * step  # a window after a gap


# -- helpers -------------------------------------------------------------------------------------


def _record(world: World, push: webhooks.Push, payload: dict) -> uuid.UUID:  # type: ignore[type-arg]
    ctx = RequestContext.system(world.ctx.organization_id)
    with session_scope(ctx, engine=world.engine) as session:
        event, created = pushes.record_push(
            session, ctx=ctx, store_id=world.store_id, push=push, payload=payload
        )
    assert created
    return event.id


def _channel_order(
    order_id: str, status: str, platform_status: str, sku: str, at: datetime
) -> ChannelOrder:
    return ChannelOrder(
        platform_order_id=order_id,
        order_number=order_id,
        platform_status=platform_status,
        status=status,
        currency="IDR",
        total=Decimal("50000"),
        customer_name="Budi",
        ordered_at=at,
        updated_at=at,
        lines=[
            ChannelOrderLine(
                platform_item_id="not-a-listing",
                platform_model_id="",
                sku=sku,
                title="Kaos",
                model_name="Hitam M",
                quantity=1,
                unit_price=Decimal("50000"),
            )
        ],
    )


def _ingest(world: World, order: ChannelOrder):  # type: ignore[no-untyped-def]
    with session_scope(world.ctx, engine=world.engine) as session:
        return order_intake.ingest_channel_order(
            session, ctx=world.ctx, store_id=world.store_id, order=order
        )


def _store(world: World) -> Store:
    with session_scope(world.ctx, engine=world.engine) as session:
        store = session.get(Store, world.store_id)
        assert store is not None
        session.expunge(store)
        return store
