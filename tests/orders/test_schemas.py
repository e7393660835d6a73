"""`NewOrder` refuses bad input before any service sees it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from storesync.orders.schemas import NewOrder, NewOrderItem
from tests.orders.conftest import BASE_TIME


def _order(**changes: Any) -> NewOrder:
    fields: dict[str, Any] = {
        "store_id": uuid.uuid4(),
        "platform_order_id": "240301ABC",
        "ordered_at": BASE_TIME,
        "items": [NewOrderItem(platform_item_id="1", quantity=1, unit_price=Decimal("1.50"))],
    }
    return NewOrder(**(fields | changes))


def test_a_valid_order_defaults_to_to_ship() -> None:
    order = _order()

    assert order.status == "to_ship"
    assert order.items[0].unit_price == Decimal("1.50")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ordered_at": datetime(2026, 3, 1, 9, 0)}, "ordered_at"),
        ({"total": 10.5}, "total"),
        ({"total": Decimal("-1")}, "total"),
        ({"items": []}, "items"),
        ({"platform_order_id": ""}, "platform_order_id"),
        ({"status": "READY_TO_SHIP"}, "status"),
        ({"currency": "rupiah"}, "currency"),
    ],
)
def test_bad_orders_are_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        _order(**changes)

    assert raised.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize(
    ("changes", "field"), [({"quantity": 0}, "quantity"), ({"unit_price": 1.5}, "unit_price")]
)
def test_bad_lines_are_refused(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        NewOrderItem(**({"quantity": 1} | changes))

    assert raised.value.errors()[0]["loc"][0] == field
