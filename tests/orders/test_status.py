"""The order status machine on its own: every pair of statuses is either allowed or refused."""

from __future__ import annotations

import itertools

import pytest

from storesync.core.errors import AppError, ErrorType, ValidationFailed
from storesync.orders.errors import IllegalTransition
from storesync.orders.status import (
    TRANSITIONS,
    FinancialStatus,
    FulfillmentStatus,
    OrderStatus,
    allowed_transitions,
    check_transition,
    deducts_stock,
    financial_status_for,
    fulfillment_status_for,
    parse_status,
    releases_stock,
)

S = OrderStatus

ALLOWED = {
    (S.UNPAID, S.TO_SHIP),
    (S.UNPAID, S.SHIPPED),
    (S.UNPAID, S.DELIVERED),
    (S.UNPAID, S.COMPLETED),
    (S.UNPAID, S.CANCELLED),
    (S.TO_SHIP, S.SHIPPED),
    (S.TO_SHIP, S.DELIVERED),
    (S.TO_SHIP, S.COMPLETED),
    (S.TO_SHIP, S.CANCELLED),
    (S.SHIPPED, S.DELIVERED),
    (S.SHIPPED, S.COMPLETED),
    (S.SHIPPED, S.RETURNED),
    (S.DELIVERED, S.COMPLETED),
    (S.DELIVERED, S.RETURNED),
    (S.COMPLETED, S.RETURNED),
}
FORBIDDEN = sorted(
    (a, b) for a, b in itertools.product(OrderStatus, repeat=2) if a != b and (a, b) not in ALLOWED
)


def test_the_table_is_exactly_the_documented_lifecycle() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}

    assert table == ALLOWED
    assert set(TRANSITIONS) == set(OrderStatus)
    assert len(FORBIDDEN) == 27
    assert TRANSITIONS[S.CANCELLED] == frozenset()
    assert TRANSITIONS[S.RETURNED] == frozenset()


@pytest.mark.parametrize(("from_status", "to_status"), sorted(ALLOWED))
def test_allowed_transition_passes(from_status: OrderStatus, to_status: OrderStatus) -> None:
    check_transition(from_status, to_status)


@pytest.mark.parametrize("status", list(OrderStatus))
def test_same_status_is_a_no_op_not_an_error(status: OrderStatus) -> None:
    check_transition(status, status)


@pytest.mark.parametrize(("from_status", "to_status"), FORBIDDEN)
def test_forbidden_transition_raises_illegal_transition(
    from_status: OrderStatus, to_status: OrderStatus
) -> None:
    with pytest.raises(IllegalTransition) as raised:
        check_transition(from_status, to_status)

    error = raised.value
    assert isinstance(error, AppError)
    assert error.type == ErrorType.CONFLICT
    assert error.code == "illegal_transition"
    assert error.details["from"] == from_status.value
    assert error.details["to"] == to_status.value
    assert error.details["allowed"] == [s.value for s in allowed_transitions(from_status)]
    assert f"{from_status.value} cannot become {to_status.value}" in error.message


def test_final_statuses_say_so() -> None:
    with pytest.raises(IllegalTransition) as raised:
        check_transition(S.CANCELLED, S.TO_SHIP)

    assert (
        raised.value.message
        == "an order that is cancelled cannot become to_ship: cancelled is final"
    )
    assert raised.value.details["allowed"] == []


def test_unknown_status_is_a_validation_error_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_status("READY_TO_SHIP", field="to_status")

    assert raised.value.details["field"] == "to_status"
    assert raised.value.message.startswith("to_status: 'READY_TO_SHIP' is not an order status")
    assert parse_status("to_ship") is S.TO_SHIP


@pytest.mark.parametrize(
    ("status", "was_paid", "expected"),
    [
        (S.UNPAID, False, FinancialStatus.PENDING),
        (S.TO_SHIP, True, FinancialStatus.PAID),
        (S.SHIPPED, True, FinancialStatus.PAID),
        (S.DELIVERED, True, FinancialStatus.PAID),
        (S.COMPLETED, True, FinancialStatus.PAID),
        (S.CANCELLED, False, FinancialStatus.VOIDED),
        (S.CANCELLED, True, FinancialStatus.REFUNDED),
        (S.RETURNED, True, FinancialStatus.REFUNDED),
    ],
)
def test_financial_status(status: OrderStatus, was_paid: bool, expected: FinancialStatus) -> None:
    assert financial_status_for(status, was_paid=was_paid) is expected


def test_fulfillment_status() -> None:
    assert {s: fulfillment_status_for(s) for s in OrderStatus} == {
        S.UNPAID: FulfillmentStatus.UNFULFILLED,
        S.TO_SHIP: FulfillmentStatus.UNFULFILLED,
        S.SHIPPED: FulfillmentStatus.FULFILLED,
        S.DELIVERED: FulfillmentStatus.DELIVERED,
        S.COMPLETED: FulfillmentStatus.DELIVERED,
        S.CANCELLED: FulfillmentStatus.CANCELLED,
        S.RETURNED: FulfillmentStatus.RETURNED,
    }


def test_stock_effects_happen_once_whatever_steps_are_skipped() -> None:
    releasing = {(a, b) for a, b in ALLOWED if releases_stock(a, b)}
    deducting = {(a, b) for a, b in ALLOWED if deducts_stock(a, b)}

    assert releasing == {(S.UNPAID, S.CANCELLED), (S.TO_SHIP, S.CANCELLED)}
    assert deducting == {
        (a, b) for a in (S.UNPAID, S.TO_SHIP) for b in (S.SHIPPED, S.DELIVERED, S.COMPLETED)
    }
