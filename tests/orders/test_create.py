"""Order intake: linking lines to variants, reserving stock, idempotency, oversells."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.core.errors import NotFound
from storesync.db import session_scope
from storesync.inventory.models import Reservation
from storesync.notifications.models import Notification
from storesync.orders import service as orders
from storesync.orders.models import Order, OrderEvent, OrderItem
from storesync.orders.schemas import ItemStockStatus
from storesync.orders.status import FinancialStatus, FulfillmentStatus, OrderStatus
from tests.orders.conftest import Shop, build_shop


def test_create_links_lines_and_reserves_mapped_ones(shop: Shop) -> None:
    order = shop.create(
        shop.new_order(shop.line_a(2), shop.line_b(3), shop.line_c(1), shop.line_unmapped(4))
    )

    a, b, c, unmapped = order.items
    assert (a.variant_id, a.is_mapped, a.stock_status, a.reserved_quantity) == (
        shop.variant_a,
        True,
        ItemStockStatus.RESERVED,
        2,
    )
    assert a.reserved and a.listing_id is not None
    assert (b.variant_id, b.listing_id, b.stock_status, b.reserved_quantity) == (
        shop.variant_b,
        None,
        ItemStockStatus.RESERVED,
        3,
    )
    # An ignored listing is not tracked, even though its SKU names a variant.
    assert (c.variant_id, c.is_mapped, c.stock_status) == (None, False, ItemStockStatus.UNMAPPED)
    assert c.listing_id is not None
    assert (unmapped.variant_id, unmapped.is_mapped, unmapped.reserved_quantity) == (None, False, 0)
    assert unmapped.stock_status == ItemStockStatus.UNMAPPED and not unmapped.reserved
    assert order.has_unmapped_items and not order.has_oversold_items
    assert (order.status, order.financial_status, order.fulfillment_status) == (
        OrderStatus.TO_SHIP,
        FinancialStatus.PAID,
        FulfillmentStatus.UNFULFILLED,
    )
    assert order.total == Decimal("69000") and order.currency == "IDR"
    assert order.order_number == order.platform_order_id
    assert order.platform == "shopee"
    assert shop.all_stock() == {
        shop.variant_a: (10, 2),
        shop.variant_b: (5, 3),
        shop.variant_c: (7, 0),
    }
    detail = _detail(shop, order.id)
    assert [(e.from_status, e.to_status, e.source, e.reason) for e in detail.events] == [
        ("", "to_ship", "platform", "created")
    ]
    assert detail.events[0].actor_user_id == shop.ctx.user_id


def test_fully_mapped_order_has_no_unmapped_flag(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(1)))

    assert not order.has_unmapped_items
    assert [i.stock_status for i in order.items] == [ItemStockStatus.RESERVED]


def test_unpaid_order_reserves_too(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(4), status="unpaid"))

    assert (order.status, order.financial_status) == (OrderStatus.UNPAID, FinancialStatus.PENDING)
    assert order.paid_at is None
    assert shop.stock(shop.variant_a) == (10, 4)


def test_same_order_twice_is_one_order_with_one_reservation_per_line(shop: Shop) -> None:
    new = shop.new_order(shop.line_a(2), shop.line_b(1))

    first = shop.create(new)
    second = shop.create(new)

    assert second == first
    assert shop.count(Order) == 1
    assert shop.count(OrderItem) == 2
    assert shop.count(OrderEvent) == 1
    assert shop.count(Reservation) == 2
    assert shop.stock(shop.variant_a) == (10, 2)
    assert shop.stock(shop.variant_b) == (5, 1)


def test_the_same_platform_order_id_in_two_stores_is_two_orders(shop: Shop) -> None:
    shop.create(shop.new_order(platform_order_id="SAME-1"))
    tiktok = shop.create(shop.new_order(platform_order_id="SAME-1", store_id=shop.tiktok_store_id))

    assert shop.count(Order) == 2
    assert tiktok.platform == "tiktok"
    # The TikTok store has no listings: lines only link by SKU.
    assert [i.is_mapped for i in tiktok.items] == [False]


def test_oversold_line_is_kept_recorded_and_leaves_its_stock_alone(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(2), shop.line_b(6)))

    a, b = order.items
    assert a.stock_status == ItemStockStatus.RESERVED
    assert (b.stock_status, b.reserved_quantity, b.is_mapped) == (ItemStockStatus.OVERSOLD, 0, True)
    assert not b.reserved
    assert order.has_oversold_items and order.status == OrderStatus.TO_SHIP
    assert shop.stock(shop.variant_b) == (5, 0)
    assert shop.stock(shop.variant_a) == (10, 2)
    assert shop.count(OrderItem) == 2
    assert shop.count(Reservation) == 1
    events = _detail(shop, order.id).events
    assert [(e.from_status, e.to_status, e.source, e.reason) for e in events] == [
        ("", "to_ship", "platform", "created"),
        ("to_ship", "to_ship", "inventory", f"oversold: {shop.sku_b} needs 6, only 5 available"),
    ]
    with session_scope(shop.ctx, engine=shop.engine) as session:
        note = session.execute(sa.select(Notification)).scalar_one()
        assert (note.kind, note.severity) == ("order.oversold", "error")
        assert note.data["order_item_id"] == str(b.id)
        assert (note.data["requested"], note.data["available"]) == (6, 5)


def test_oversold_line_stays_oversold_after_cancel_and_cancel_releases_the_rest(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(2), shop.line_b(6)))

    cancelled = shop.change(order.id, "cancelled", reason="out of stock")

    assert [i.stock_status for i in cancelled.items] == [
        ItemStockStatus.RELEASED,
        ItemStockStatus.OVERSOLD,
    ]
    assert shop.stock(shop.variant_a) == (10, 0)
    assert shop.stock(shop.variant_b) == (5, 0)


def test_order_arriving_cancelled_touches_no_stock(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(2), status="cancelled"))

    assert [i.stock_status for i in order.items] == [ItemStockStatus.NONE]
    assert order.financial_status == FinancialStatus.VOIDED
    assert shop.count(Reservation) == 0
    assert shop.stock(shop.variant_a) == (10, 0)


def test_order_arriving_already_shipped_deducts_at_once(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(3), status="shipped"))

    assert [i.stock_status for i in order.items] == [ItemStockStatus.FULFILLED]
    assert order.shipped_at is not None
    assert order.fulfillment_status == FulfillmentStatus.FULFILLED
    assert shop.stock(shop.variant_a) == (7, 0)


def test_create_for_another_organizations_store_is_not_found(engine: Engine) -> None:
    mine, theirs = build_shop(engine), build_shop(engine)

    with pytest.raises(NotFound) as raised:
        mine.create(mine.new_order(store_id=theirs.store_id))

    assert raised.value.code == "store_not_found"
    assert mine.count(Order) == 0
    assert theirs.count(Order) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("known_absent", [False, True])
def test_concurrent_double_create_on_postgres_makes_one_order(
    app_engine: Engine, known_absent: bool
) -> None:
    shop = build_shop(app_engine)
    new = shop.new_order(shop.line_a(2), shop.line_b(1))
    first_flushed = threading.Event()
    results: dict[str, object] = {}

    def first() -> None:
        with session_scope(shop.ctx, engine=app_engine) as session:
            results["first"] = orders.create_order(session, ctx=shop.ctx, order=new)
            first_flushed.set()
            # Hold the transaction open so the second insert has to wait on the unique key.
            time.sleep(1.0)

    def second() -> None:
        first_flushed.wait(timeout=10)
        with session_scope(shop.ctx, engine=app_engine) as session:
            results["second_started"] = time.monotonic()
            # known_absent: the caller (order intake) looked, saw nothing, and says so
            results["second"] = orders.create_order(
                session, ctx=shop.ctx, order=new, known_absent=known_absent
            )
            results["second_done"] = time.monotonic()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert results["second"] == results["first"]
    # The second call really raced: it waited for the first transaction to commit.
    assert results["second_done"] - results["second_started"] > 0.5  # type: ignore[operator]
    assert shop.count(Order) == 1
    assert shop.count(OrderItem) == 2
    assert shop.count(OrderEvent) == 1
    assert shop.count(Reservation) == 2
    assert shop.stock(shop.variant_a) == (10, 2)
    assert shop.stock(shop.variant_b) == (5, 1)


def _detail(shop: Shop, order_id: object) -> orders.OrderDetailDTO:
    with session_scope(shop.ctx, engine=shop.engine) as session:
        return orders.get_order(session, ctx=shop.ctx, order_id=order_id)  # type: ignore[arg-type]


def test_create_flushes_but_the_caller_owns_the_transaction(shop: Shop) -> None:
    # On SQLite a savepoint opened outside a transaction would commit on release: make sure the
    # per-order and per-line savepoints never commit half an order behind the caller's back.
    with pytest.raises(RuntimeError), session_scope(shop.ctx, engine=shop.engine) as session:
        order = orders.create_order(
            session, ctx=shop.ctx, order=shop.new_order(shop.line_a(2), shop.line_b(9))
        )
        assert order.has_oversold_items
        raise RuntimeError("caller fails after the service returned")

    assert shop.count(Order) == 0
    assert shop.count(OrderItem) == 0
    assert shop.count(OrderEvent) == 0
    assert shop.count(Reservation) == 0
    assert shop.count(Notification) == 0
    assert shop.stock(shop.variant_a) == (10, 0)
