"""A status change tells open inboxes: `order.updated` goes out on the event bus once the
transaction commits, exactly once, for the order's organization; a rolled-back or refused change
says nothing. Listened to through a real InProcessBus subscription."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from storesync.core import events
from storesync.core.errors import ValidationFailed
from storesync.db import session_scope
from storesync.orders import service as orders
from storesync.orders.errors import IllegalTransition
from storesync.orders.schemas import OrderDTO
from tests.orders.conftest import Shop, build_shop

SETTLE = 0.1  # seconds for anything published to reach the subscriber


@pytest.fixture
def bus() -> Iterator[events.InProcessBus]:
    installed = events.InProcessBus()
    events.set_bus(installed)
    yield installed
    events.set_bus(None)


@contextlib.asynccontextmanager
async def listening(bus: events.InProcessBus) -> AsyncIterator[list[events.Event]]:
    """Every event of every organization the bus delivers while inside, in order."""
    received: list[events.Event] = []

    async def pump() -> None:
        async for event in bus.subscribe():
            received.append(event)

    task = asyncio.create_task(pump())
    while bus.subscriber_count == 0:
        await asyncio.sleep(0)
    try:
        yield received
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def settle() -> None:
    await asyncio.sleep(SETTLE)


def updates(received: list[events.Event]) -> list[tuple[str, dict[str, Any]]]:
    return [(e.organization_id, e.data) for e in received if e.type == "order.updated"]


def announced(shop: Shop, order: OrderDTO, status: str) -> tuple[str, dict[str, Any]]:
    return (
        str(shop.ctx.organization_id),
        {
            "order_id": str(order.id),
            "store_id": str(shop.store_id),
            "platform": "shopee",
            "platform_order_id": order.platform_order_id,
            "status": status,
        },
    )


def status_of(shop: Shop, order: OrderDTO) -> str:
    with session_scope(shop.ctx, engine=shop.engine) as session:
        return orders.get_order(session, ctx=shop.ctx, order_id=order.id).status


def test_shipping_publishes_one_order_updated_once_the_transaction_commits(
    engine: Engine, bus: events.InProcessBus
) -> None:
    shop, other = build_shop(engine), build_shop(engine)
    order = shop.create(shop.new_order(shop.line_a(2)))
    their_order = other.create(other.new_order(other.line_a(1)))

    async def scenario() -> tuple[list[events.Event], list[events.Event]]:
        async with listening(bus) as received:
            with session_scope(shop.ctx, engine=shop.engine) as session:
                orders.ship_order(session, ctx=shop.ctx, order_id=order.id, tracking_number="JX123")
                await settle()
                before_commit = list(received)
            await settle()
            return before_commit, list(received)

    before_commit, after_commit = asyncio.run(scenario())

    assert before_commit == []  # nothing is heard of a change that might still roll back
    assert updates(after_commit) == [announced(shop, order, "shipped")]
    assert {e.organization_id for e in after_commit} == {str(shop.ctx.organization_id)}
    assert status_of(shop, order) == "shipped"
    assert status_of(other, their_order) == "to_ship"


@pytest.mark.parametrize(
    ("to_status", "from_status"),
    [("cancelled", "to_ship"), ("to_ship", "unpaid"), ("completed", "to_ship")],
)
def test_change_status_publishes_the_new_status(
    shop: Shop, bus: events.InProcessBus, to_status: str, from_status: str
) -> None:
    order = shop.create(shop.new_order(shop.line_a(1), status=from_status))

    async def scenario() -> list[events.Event]:
        async with listening(bus) as received:
            shop.change(order.id, to_status, reason="buyer asked")
            await settle()
            return list(received)

    assert updates(asyncio.run(scenario())) == [announced(shop, order, to_status)]


def test_a_change_whose_transaction_rolls_back_publishes_nothing(
    shop: Shop, bus: events.InProcessBus
) -> None:
    order = shop.create(shop.new_order(shop.line_a(2)))

    async def scenario() -> tuple[list[events.Event], list[events.Event]]:
        async with listening(bus) as received:
            with (
                pytest.raises(RuntimeError),
                session_scope(shop.ctx, engine=shop.engine) as session,
            ):
                orders.ship_order(session, ctx=shop.ctx, order_id=order.id)
                raise RuntimeError("the caller's transaction fails after the change")
            await settle()
            rolled_back = list(received)
            shop.change(order.id, "shipped")  # the same change, committed this time
            await settle()
            return rolled_back, list(received)

    rolled_back, committed = asyncio.run(scenario())

    assert rolled_back == []  # not order.updated, nor anything else the change queued
    assert updates(committed) == [announced(shop, order, "shipped")]


def test_a_refused_or_empty_change_publishes_nothing_even_when_the_transaction_commits(
    shop: Shop, bus: events.InProcessBus
) -> None:
    order = shop.create(shop.new_order(shop.line_a(1)))
    cancelled = shop.create(shop.new_order(shop.line_a(1), status="cancelled"))

    async def scenario() -> tuple[list[events.Event], list[events.Event]]:
        async with listening(bus) as received:
            with session_scope(shop.ctx, engine=shop.engine) as session:
                with pytest.raises(IllegalTransition):  # backwards
                    orders.change_status(
                        session, ctx=shop.ctx, order_id=order.id, to_status="unpaid"
                    )
                with pytest.raises(ValidationFailed):  # not a status at all
                    orders.change_status(
                        session, ctx=shop.ctx, order_id=order.id, to_status="bogus"
                    )
                with pytest.raises(IllegalTransition):  # cancelled is final
                    orders.ship_order(session, ctx=shop.ctx, order_id=cancelled.id)
                # The status it already has: a no-op, not a change.
                orders.change_status(session, ctx=shop.ctx, order_id=order.id, to_status="to_ship")
            await settle()
            refused = list(received)
            shop.change(order.id, "cancelled")  # the listener does hear a real change
            await settle()
            return refused, list(received)

    refused, later = asyncio.run(scenario())

    assert refused == []
    assert (status_of(shop, order), status_of(shop, cancelled)) == ("cancelled", "cancelled")
    assert updates(later) == [announced(shop, order, "cancelled")]


def test_bulk_change_publishes_for_the_orders_that_changed_only(
    shop: Shop, bus: events.InProcessBus
) -> None:
    moving = shop.create(shop.new_order(shop.line_a(1)))
    final = shop.create(shop.new_order(shop.line_a(1), status="cancelled"))
    already = shop.create(shop.new_order(shop.line_a(1), status="shipped"))

    async def scenario() -> tuple[list[Any], list[events.Event]]:
        async with listening(bus) as received:
            with session_scope(shop.ctx, engine=shop.engine) as session:
                results = orders.bulk_change_status(
                    session,
                    ctx=shop.ctx,
                    order_ids=[moving.id, final.id, already.id],
                    to_status="shipped",
                )
            await settle()
            return results, list(received)

    results, received = asyncio.run(scenario())

    assert [(r.ok, r.error_code) for r in results] == [
        (True, None),
        (False, "illegal_transition"),
        (True, None),
    ]
    assert updates(received) == [announced(shop, moving, "shipped")]
