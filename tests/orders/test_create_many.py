"""Many new orders of a store at once (orders.record_new_orders): the same outcome as creating
them one by one, in far fewer statements, and safe against a concurrent intake."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.core.errors import NotFound
from storesync.db import session_scope
from storesync.inventory.models import InventoryTransaction, Reservation
from storesync.notifications.models import Notification
from storesync.orders import service as orders
from storesync.orders.models import Order, OrderEvent, OrderItem
from storesync.orders.schemas import NewOrder
from tests.orders.conftest import Shop, build_shop


def scenario(shop: Shop) -> list[NewOrder]:
    """Stock is A 10, B 5, C 7; each order finds the earlier ones' reservations. O2, O6's B
    line and O7 are short; O4 arrives shipped (deducted at once); O5 arrives cancelled; C is on
    an ignored listing and the mystery line is unmapped."""
    return [
        shop.new_order(shop.line_a(6), platform_order_id="O1"),
        shop.new_order(shop.line_a(5), platform_order_id="O2"),
        shop.new_order(
            shop.line_b(2), shop.line_c(1), shop.line_unmapped(3), platform_order_id="O3"
        ),
        shop.new_order(shop.line_b(1), shop.line_a(1), status="shipped", platform_order_id="O4"),
        shop.new_order(shop.line_a(1), status="cancelled", platform_order_id="O5"),
        shop.new_order(shop.line_a(3), shop.line_b(3), platform_order_id="O6"),
        shop.new_order(shop.line_a(1), status="unpaid", platform_order_id="O7"),
        shop.new_order(shop.line_b(2), status="unpaid", platform_order_id="O8"),
    ]


def record_many(shop: Shop, news: list[NewOrder]) -> dict[str, Order]:
    with session_scope(shop.ctx, engine=shop.engine) as session:
        return orders.record_new_orders(session, ctx=shop.ctx, store_id=shop.store_id, orders=news)


def outcome(shop: Shop) -> dict[str, Any]:
    """Everything an intake writes, without ids and clocks, with variants named a/b/c."""
    names = {shop.variant_a: "a", shop.variant_b: "b", shop.variant_c: "c", None: None}
    skus = {shop.sku_a: "SKU-A", shop.sku_b: "SKU-B", shop.sku_c: "SKU-C"}

    def plain(text: str) -> str:
        for sku, name in skus.items():
            text = text.replace(sku, name)
        return text

    with session_scope(shop.ctx, engine=shop.engine) as session:
        org = shop.ctx.organization_id
        ids = session.execute(
            sa.select(Order.id)  # type: ignore[call-overload]
            .where(Order.organization_id == org)
            .order_by(Order.platform_order_id)
        ).scalars()
        details = [orders.get_order(session, ctx=shop.ctx, order_id=i) for i in ids]
        notes = session.execute(
            sa.select(Notification.kind, Notification.title, Notification.body).where(  # type: ignore[call-overload]
                Notification.organization_id == org
            )
        ).all()
        ledger = session.execute(
            sa.select(
                InventoryTransaction.kind,
                InventoryTransaction.on_hand_delta,
                InventoryTransaction.reserved_delta,
                InventoryTransaction.reason,
            ).where(InventoryTransaction.organization_id == org)  # type: ignore[call-overload]
        ).all()
    return {
        "orders": [
            (
                d.platform_order_id,
                d.status,
                d.financial_status,
                d.fulfillment_status,
                d.has_unmapped_items,
                d.has_oversold_items,
                d.order_number,
                d.total,
                d.shipped_at is not None,
                [
                    (
                        names[i.variant_id],
                        i.listing_id is not None,
                        i.is_mapped,
                        i.quantity,
                        i.stock_status,
                        i.reserved_quantity,
                    )
                    for i in d.items
                ],
                [(e.from_status, e.to_status, e.source, plain(e.reason)) for e in d.events],
            )
            for d in details
        ],
        "notifications": sorted((k, t, plain(b)) for k, t, b in notes),
        "ledger": sorted(tuple(row) for row in ledger),
        "stock": {names[v]: s for v, s in shop.all_stock().items()},
    }


def test_many_at_once_is_the_same_as_one_by_one(engine: Engine) -> None:
    one_by_one, at_once = build_shop(engine), build_shop(engine)
    for new in scenario(one_by_one):
        one_by_one.create(new)

    rows = record_many(at_once, scenario(at_once))

    assert sorted(rows) == ["O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8"]
    expected = outcome(one_by_one)
    assert outcome(at_once) == expected
    # The scenario covers what it says: shortages, an ignored and an unmapped line, a cancelled
    # order, and a shipped one deducted at once.
    assert expected["stock"] == {"a": (9, 9), "b": (4, 4), "c": (7, 0)}
    assert [n[1] for n in expected["notifications"]] == [
        "Oversold: order O2",
        "Oversold: order O6",
        "Oversold: order O7",
    ]
    lines = {order[0]: [line[4] for line in order[9]] for order in expected["orders"]}
    assert lines == {
        "O1": ["reserved"],
        "O2": ["oversold"],
        "O3": ["reserved", "unmapped", "unmapped"],
        "O4": ["fulfilled", "fulfilled"],
        "O5": ["none"],
        "O6": ["reserved", "oversold"],
        "O7": ["oversold"],
        "O8": ["reserved"],
    }


def test_an_order_already_recorded_is_left_out_and_left_alone(shop: Shop) -> None:
    first = shop.create(shop.new_order(shop.line_a(2), platform_order_id="KNOWN"))
    before = shop.snapshot()

    rows = record_many(
        shop,
        [
            shop.new_order(shop.line_a(5), platform_order_id="KNOWN"),  # same id, other content
            shop.new_order(shop.line_b(1), platform_order_id="NEW"),
        ],
    )

    assert sorted(rows) == ["NEW"]
    assert shop.count(Order) == 2
    assert shop.count(OrderItem, order_id=first.id) == 1
    assert shop.count(OrderEvent, order_id=first.id) == 1
    assert shop.stock(shop.variant_a) == before["stock"][shop.variant_a]  # type: ignore[index]
    assert shop.stock(shop.variant_a) == (10, 2)
    assert shop.stock(shop.variant_b) == (5, 1)
    assert shop.count(Reservation) == 2


def test_a_failed_batch_writes_nothing(shop: Shop) -> None:
    before = shop.snapshot()

    with pytest.raises(RuntimeError), session_scope(shop.ctx, engine=shop.engine) as session:
        orders.record_new_orders(
            session, ctx=shop.ctx, store_id=shop.store_id, orders=scenario(shop)
        )
        raise RuntimeError("the caller's transaction fails after the batch")

    assert shop.snapshot() == before
    assert shop.count(InventoryTransaction) == 3  # the opening counts only


@pytest.mark.postgres
def test_two_intakes_of_the_same_orders_at_once_record_each_once(app_engine: Engine) -> None:
    shop = build_shop(app_engine)
    news = [
        shop.new_order(shop.line_a(1), shop.line_b(1), platform_order_id=f"C{n}") for n in range(5)
    ]
    start = threading.Barrier(2)
    results: list[dict[str, Order]] = []
    errors: list[BaseException] = []

    def intake(batch: list[NewOrder]) -> None:
        try:
            start.wait(timeout=10)
            results.append(record_many(shop, batch))
        except BaseException as error:
            errors.append(error)

    # Opposite orders, so the two transactions meet on the same rows from both ends.
    threads = [
        threading.Thread(target=intake, args=(news,)),
        threading.Thread(target=intake, args=(list(reversed(news)),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    recorded = [pid for rows in results for pid in rows]
    assert sorted(recorded) == [f"C{n}" for n in range(5)]  # each exactly once, by one of them
    assert shop.count(Order) == 5
    assert shop.count(OrderItem) == 10
    assert shop.count(OrderEvent) == 5  # "created" only: no line was short
    assert shop.count(Reservation) == 10
    assert shop.count(Notification) == 0
    assert shop.stock(shop.variant_a) == (10, 5)
    assert shop.stock(shop.variant_b) == (5, 5)


def test_another_organizations_store_is_not_found_and_nothing_is_written(engine: Engine) -> None:
    mine, theirs = build_shop(engine), build_shop(engine)
    before = mine.snapshot(), theirs.snapshot()

    with (
        pytest.raises(NotFound) as raised,
        session_scope(mine.ctx, engine=engine) as session,
    ):
        orders.record_new_orders(
            session,
            ctx=mine.ctx,
            store_id=theirs.store_id,
            orders=[mine.new_order(store_id=theirs.store_id)],
        )

    assert raised.value.code == "store_not_found"
    assert (mine.snapshot(), theirs.snapshot()) == before
