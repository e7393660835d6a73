"""Status changes on real databases: stock effects, the timeline, illegal moves, bulk, roles."""

from __future__ import annotations

import itertools
import uuid

import pytest

from storesync.core.errors import PermissionDenied, ValidationFailed
from storesync.db import session_scope
from storesync.orders import service as orders
from storesync.orders.errors import IllegalTransition
from storesync.orders.schemas import ItemStockStatus, OrderDTO
from storesync.orders.status import (
    TRANSITIONS,
    FinancialStatus,
    FulfillmentStatus,
    OrderStatus,
)
from storesync.tenancy.permissions import Role
from tests.orders.conftest import Shop

S = OrderStatus

FORBIDDEN = sorted(
    (a, b)
    for a, b in itertools.product(OrderStatus, repeat=2)
    if a != b and b not in TRANSITIONS[a]
)
# How to bring a fresh order (created in the first status) to each status, legally.
PATHS: dict[OrderStatus, list[OrderStatus]] = {
    S.UNPAID: [S.UNPAID],
    S.TO_SHIP: [S.TO_SHIP],
    S.SHIPPED: [S.TO_SHIP, S.SHIPPED],
    S.DELIVERED: [S.TO_SHIP, S.SHIPPED, S.DELIVERED],
    S.COMPLETED: [S.TO_SHIP, S.SHIPPED, S.DELIVERED, S.COMPLETED],
    S.CANCELLED: [S.TO_SHIP, S.CANCELLED],
    S.RETURNED: [S.TO_SHIP, S.SHIPPED, S.RETURNED],
}


def _order_in(shop: Shop, status: OrderStatus) -> OrderDTO:
    first, *rest = PATHS[status]
    order = shop.create(shop.new_order(shop.line_a(2), shop.line_b(1), status=first.value))
    for step in rest:
        order = shop.change(order.id, step.value)
    assert order.status == status
    return order


def _events(shop: Shop, order_id: uuid.UUID) -> list[tuple[str, str, str, str]]:
    with session_scope(shop.ctx, engine=shop.engine) as session:
        detail = orders.get_order(session, ctx=shop.ctx, order_id=order_id)
    return [(e.from_status, e.to_status, e.source, e.reason) for e in detail.events]


def test_cancel_releases_stock_back_to_the_original(shop: Shop) -> None:
    before = shop.all_stock()
    order = shop.create(shop.new_order(shop.line_a(2), shop.line_b(3)))
    assert shop.stock(shop.variant_a) == (10, 2)

    cancelled = shop.change(order.id, "cancelled", reason="buyer asked")

    assert shop.all_stock() == before
    assert (cancelled.status, cancelled.financial_status, cancelled.fulfillment_status) == (
        OrderStatus.CANCELLED,
        FinancialStatus.REFUNDED,
        FulfillmentStatus.CANCELLED,
    )
    assert [i.stock_status for i in cancelled.items] == [ItemStockStatus.RELEASED] * 2
    assert _events(shop, order.id)[-1] == ("to_ship", "cancelled", "user", "buyer asked")
    # Cancelling again is a no-op: no second event, no second release.
    again = shop.change(order.id, "cancelled")
    assert again.status == OrderStatus.CANCELLED
    assert len(_events(shop, order.id)) == 2
    assert shop.all_stock() == before


def test_cancel_of_an_unpaid_order_voids_it(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(1), status="unpaid"))

    cancelled = shop.change(order.id, "cancelled")

    assert cancelled.financial_status == FinancialStatus.VOIDED
    assert shop.stock(shop.variant_a) == (10, 0)


def test_paying_sets_paid_at_and_keeps_the_reservation(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(1), status="unpaid"))

    paid = shop.change(order.id, "to_ship")

    assert paid.financial_status == FinancialStatus.PAID
    assert paid.paid_at is not None and paid.updated_at is not None
    assert shop.stock(shop.variant_a) == (10, 1)


def test_ship_deducts_on_hand_and_records_tracking(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(2), shop.line_b(3), shop.line_unmapped(1)))

    with session_scope(shop.ctx, engine=shop.engine) as session:
        shipped = orders.ship_order(
            session, ctx=shop.ctx, order_id=order.id, tracking_number=" SPX123 ", reason="picked"
        )

    assert shop.stock(shop.variant_a) == (8, 0)
    assert shop.stock(shop.variant_b) == (2, 0)
    assert shop.stock(shop.variant_c) == (7, 0)
    assert (shipped.status, shipped.fulfillment_status, shipped.tracking_number) == (
        OrderStatus.SHIPPED,
        FulfillmentStatus.FULFILLED,
        "SPX123",
    )
    assert shipped.shipped_at is not None
    assert [i.stock_status for i in shipped.items] == [
        ItemStockStatus.FULFILLED,
        ItemStockStatus.FULFILLED,
        ItemStockStatus.UNMAPPED,
    ]
    assert _events(shop, order.id)[-1] == ("to_ship", "shipped", "user", "picked")


def test_delivered_completed_and_returned_do_not_move_stock_again(shop: Shop) -> None:
    order = _order_in(shop, S.COMPLETED)
    assert shop.stock(shop.variant_a) == (8, 0)

    returned = shop.change(order.id, "returned", reason="damaged")

    assert returned.financial_status == FinancialStatus.REFUNDED
    assert returned.fulfillment_status == FulfillmentStatus.RETURNED
    # Returned goods come back through a stock count or adjustment after inspection.
    assert shop.stock(shop.variant_a) == (8, 0)
    assert [e[:2] for e in _events(shop, order.id)] == [
        ("", "to_ship"),
        ("to_ship", "shipped"),
        ("shipped", "delivered"),
        ("delivered", "completed"),
        ("completed", "returned"),
    ]


def test_skipping_straight_to_completed_deducts_once(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(3)))

    completed = shop.change(order.id, "completed")

    assert shop.stock(shop.variant_a) == (7, 0)
    assert completed.shipped_at is not None
    assert completed.fulfillment_status == FulfillmentStatus.DELIVERED


@pytest.mark.parametrize(("from_status", "to_status"), FORBIDDEN)
def test_illegal_transition_changes_nothing(
    shop: Shop, from_status: OrderStatus, to_status: OrderStatus
) -> None:
    order = _order_in(shop, from_status)
    before = shop.snapshot()

    with session_scope(shop.ctx, engine=shop.engine) as session:
        with pytest.raises(IllegalTransition) as raised:
            orders.change_status(
                session, ctx=shop.ctx, order_id=order.id, to_status=to_status.value
            )
        # The transaction goes on and commits: the service itself wrote nothing.

    assert raised.value.code == "illegal_transition"
    assert raised.value.details["from"] == from_status.value
    assert raised.value.details["to"] == to_status.value
    assert shop.snapshot() == before


def test_unknown_status_is_refused(shop: Shop) -> None:
    order = shop.create(shop.new_order())
    before = shop.snapshot()

    with pytest.raises(ValidationFailed) as raised:
        shop.change(order.id, "SHIPPED")

    assert raised.value.details["field"] == "to_status"
    assert shop.snapshot() == before


def test_bulk_change_mixes_successes_and_failures(shop: Shop) -> None:
    open_a = shop.create(shop.new_order(shop.line_a(1)))
    open_b = shop.create(shop.new_order(shop.line_b(2), status="unpaid"))
    shipped = _order_in(shop, S.SHIPPED)
    missing = uuid.uuid4()
    stock_after_ship = shop.stock(shop.variant_a)

    with session_scope(shop.ctx, engine=shop.engine) as session:
        results = orders.bulk_change_status(
            session,
            ctx=shop.ctx,
            order_ids=[open_a.id, shipped.id, missing, open_b.id, open_a.id],
            to_status="cancelled",
            reason="bulk cancel",
        )

    assert [(r.order_id, r.ok, r.status, r.error_code) for r in results] == [
        (open_a.id, True, OrderStatus.CANCELLED, None),
        (shipped.id, False, None, "illegal_transition"),
        (missing, False, None, "order_not_found"),
        (open_b.id, True, OrderStatus.CANCELLED, None),
    ]
    assert results[1].error_message == (
        "an order that is shipped cannot become cancelled: "
        "it can move to delivered, completed, returned"
    )
    assert shop.stock(shop.variant_a) == (stock_after_ship[0], 0)
    assert shop.stock(shop.variant_b) == (4, 0)  # shipped order took 1, open_b released 2
    assert _events(shop, shipped.id)[-1][:2] == ("to_ship", "shipped")
    assert _events(shop, open_a.id)[-1] == ("to_ship", "cancelled", "user", "bulk cancel")


def test_viewer_can_read_but_every_write_is_refused_and_writes_nothing(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(2)))
    viewer = shop.as_role(Role.VIEWER)
    before = shop.snapshot()
    writes = {
        "create_order": lambda s: orders.create_order(
            s, ctx=viewer, order=shop.new_order(shop.line_a(1))
        ),
        "change_status": lambda s: orders.change_status(
            s, ctx=viewer, order_id=order.id, to_status="cancelled"
        ),
        "ship_order": lambda s: orders.ship_order(
            s, ctx=viewer, order_id=order.id, tracking_number="X1"
        ),
        "bulk_change_status": lambda s: orders.bulk_change_status(
            s, ctx=viewer, order_ids=[order.id], to_status="cancelled"
        ),
    }

    for name, write in writes.items():
        with session_scope(viewer, engine=shop.engine) as session:
            with pytest.raises(PermissionDenied) as raised:
                write(session)
        assert raised.value.details == {"permission": "process_orders", "role": "viewer"}, name
        assert shop.snapshot() == before, name

    with session_scope(viewer, engine=shop.engine) as session:
        assert orders.get_order(session, ctx=viewer, order_id=order.id).id == order.id
        assert [o.id for o in orders.list_orders(session, ctx=viewer).items] == [order.id]


def test_staff_may_process_orders(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(2)))
    staff = shop.as_role(Role.STAFF)

    with session_scope(staff, engine=shop.engine) as session:
        cancelled = orders.change_status(
            session, ctx=staff, order_id=order.id, to_status="cancelled"
        )

    assert cancelled.status == OrderStatus.CANCELLED
    assert shop.stock(shop.variant_a) == (10, 0)
