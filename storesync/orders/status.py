"""The order lifecycle every marketplace maps onto, and the statuses derived from it.

    unpaid ──► to_ship ──► shipped ──► delivered ──► completed
      │           │           │            │             │
      └──► cancelled ◄┘       └──────► returned ◄────────┴──

Marketplace statuses map here in `channels/` (Shopee UNPAID/READY_TO_SHIP/PROCESSED/SHIPPED/
TO_CONFIRM_RECEIVE/COMPLETED/CANCELLED/TO_RETURN; TikTok UNPAID/ON_HOLD/AWAITING_SHIPMENT/
AWAITING_COLLECTION/IN_TRANSIT/DELIVERED/COMPLETED/CANCELLED). Rules:

- Forward moves along the main line are legal even when they skip steps: polling can miss
  intermediate statuses (READY_TO_SHIP seen, next poll says COMPLETED), and COD orders never pass
  through unpaid. Stock effects are computed from where the order was and where it goes, so a skip
  still releases or deducts exactly once.
- Cancelled only before the parcel leaves (unpaid, to_ship): once shipped, a failed delivery comes
  back as a return (Shopee TO_RETURN), never as a cancellation.
- Returned from shipped, delivered or completed (returns and refunds can follow completion).
- Cancelled and returned are final. Moving backwards is never legal.
- Moving to the status the order already has is a no-op, not an error (webhooks repeat).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from storesync.core.errors import ValidationFailed
from storesync.orders.errors import IllegalTransition


class OrderStatus(StrEnum):
    UNPAID = "unpaid"
    TO_SHIP = "to_ship"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    RETURNED = "returned"


class ShippingStage(StrEnum):
    """Where an order waiting to ship (`to_ship`) is in the day's shipping work: arrange the
    shipment with the platform, print its label, hand the parcel to the carrier (the platform
    then reports it shipped)."""

    TO_ARRANGE = "to_arrange"
    TO_PRINT = "to_print"
    TO_HAND_OVER = "to_hand_over"


class FinancialStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    VOIDED = "voided"
    REFUNDED = "refunded"


class FulfillmentStatus(StrEnum):
    UNFULFILLED = "unfulfilled"
    FULFILLED = "fulfilled"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


S = OrderStatus

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.UNPAID: frozenset({S.TO_SHIP, S.SHIPPED, S.DELIVERED, S.COMPLETED, S.CANCELLED}),
    S.TO_SHIP: frozenset({S.SHIPPED, S.DELIVERED, S.COMPLETED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.COMPLETED, S.RETURNED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.RETURNED}),
    S.COMPLETED: frozenset({S.RETURNED}),
    S.CANCELLED: frozenset(),
    S.RETURNED: frozenset(),
}

# Stock is reserved while the order waits to ship ...
HOLDS_STOCK = frozenset({S.UNPAID, S.TO_SHIP})
# ... and deducted from on-hand once the parcel has left the warehouse.
LEFT_WAREHOUSE = frozenset({S.SHIPPED, S.DELIVERED, S.COMPLETED})
# The buyer has paid (money may later be refunded).
PAID_STATUSES = frozenset({S.TO_SHIP, S.SHIPPED, S.DELIVERED, S.COMPLETED})

_FULFILLMENT = {
    S.UNPAID: FulfillmentStatus.UNFULFILLED,
    S.TO_SHIP: FulfillmentStatus.UNFULFILLED,
    S.SHIPPED: FulfillmentStatus.FULFILLED,
    S.DELIVERED: FulfillmentStatus.DELIVERED,
    S.COMPLETED: FulfillmentStatus.DELIVERED,
    S.CANCELLED: FulfillmentStatus.CANCELLED,
    S.RETURNED: FulfillmentStatus.RETURNED,
}


def parse_status(value: str, *, field: str = "status") -> OrderStatus:
    """`value` as an `OrderStatus`; `ValidationFailed` naming `field` when it is not one."""
    try:
        return OrderStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in OrderStatus)
        raise ValidationFailed(field, f"{value!r} is not an order status ({allowed})") from None


def allowed_transitions(from_status: OrderStatus) -> list[OrderStatus]:
    """Where an order in `from_status` may go next, in lifecycle order."""
    return [s for s in OrderStatus if s in TRANSITIONS[from_status]]


def can_transition(from_status: OrderStatus, to_status: OrderStatus) -> bool:
    return from_status == to_status or to_status in TRANSITIONS[from_status]


def check_transition(from_status: OrderStatus, to_status: OrderStatus) -> None:
    """Raise `IllegalTransition` unless an order may move from `from_status` to `to_status`."""
    if not can_transition(from_status, to_status):
        raise IllegalTransition(
            from_status=from_status.value,
            to_status=to_status.value,
            allowed=[s.value for s in allowed_transitions(from_status)],
        )


def financial_status_for(status: OrderStatus, *, was_paid: bool) -> FinancialStatus:
    """Money side of an order in `status`; `was_paid` tells a refund from a voided order."""
    if status in PAID_STATUSES:
        return FinancialStatus.PAID
    if status == S.UNPAID:
        return FinancialStatus.PENDING
    if status == S.RETURNED or was_paid:
        return FinancialStatus.REFUNDED
    return FinancialStatus.VOIDED


def fulfillment_status_for(status: OrderStatus) -> FulfillmentStatus:
    """Goods side of an order in `status`."""
    return _FULFILLMENT[status]


def releases_stock(from_status: OrderStatus, to_status: OrderStatus) -> bool:
    """Whether this move gives the order's reservations back (a cancellation before shipping)."""
    return from_status in HOLDS_STOCK and to_status == S.CANCELLED


def deducts_stock(from_status: OrderStatus, to_status: OrderStatus) -> bool:
    """Whether this move turns reservations into on-hand deductions (the parcel left)."""
    return from_status in HOLDS_STOCK and to_status in LEFT_WAREHOUSE


def parse_stage(value: str, *, field: str = "stage") -> ShippingStage:
    """`value` as a `ShippingStage`; `ValidationFailed` naming `field` when it is not one."""
    try:
        return ShippingStage(value)
    except ValueError:
        allowed = ", ".join(s.value for s in ShippingStage)
        raise ValidationFailed(field, f"{value!r} is not a shipping stage ({allowed})") from None


def shipping_stage(
    status: str, arranged_at: datetime | None, label_printed_at: datetime | None
) -> str:
    """The order's `ShippingStage` while it waits to ship (`to_ship`), else ""."""
    if status != S.TO_SHIP:
        return ""
    if arranged_at is None:
        return ShippingStage.TO_ARRANGE.value
    if label_printed_at is None:
        return ShippingStage.TO_PRINT.value
    return ShippingStage.TO_HAND_OVER.value
