"""Shopee order cancellation: the seller's cancel_order and handle_buyer_cancellation (the
seller's answer to a buyer's request, on an IN_CANCEL order).

The seller may cancel until shipment is arranged (UNPAID, READY_TO_SHIP, RETRY_SHIP); after
that, and on an order already cancelled, Shopee answers `order.error_limit`. The units go back
on sale and `order.status` (push code 3) is sent.
"""

from __future__ import annotations

from typing import Any

from storesync.sandbox.shopee.order import find_order
from storesync.sandbox.shopee.wire import Call, Endpoint, ShopeeError, as_int, param_error
from storesync.sandbox.state import CANCELLED_STATUS, SandboxError

CANCEL_REASONS = ("OUT_OF_STOCK", "CUSTOMER_REQUEST", "UNDELIVERABLE_AREA", "COD_NOT_SUPPORTED")
UNDELIVERABLE_REGIONS = frozenset({"TW", "MY"})  # "Only apply for TW and MY"
BUYER_CANCEL_STATUS = "IN_CANCEL"
CANNOT_CANCEL = ("order.error_limit", "Can not cancel this order")


def cancel_order(call: Call) -> dict[str, Any]:
    """Cancel as the seller with one of the documented reasons; OUT_OF_STOCK names the
    out-of-stock items (`item_list`, each on the order). Answers the order's update_time."""
    order = find_order(call, call.string_field("order_sn"))
    reason = call.field("cancel_reason")
    if reason not in CANCEL_REASONS:
        raise param_error(f"cancel_reason should be one of {', '.join(CANCEL_REASONS)}")
    if reason == "UNDELIVERABLE_AREA" and call.shop.region not in UNDELIVERABLE_REGIONS:
        raise param_error("cancel_reason UNDELIVERABLE_AREA only applies to TW and MY")
    if reason == "OUT_OF_STOCK":
        _check_items(call, {(ln.item_id, ln.model_id) for ln in order.lines})
    if call.body.get("partial_cancel_item_list"):
        raise param_error("partial_cancel_item_list is not supported for this order")
    try:
        cancelled = call.state.cancel_order("shopee", order.id, by="seller", reason=reason)
    except SandboxError:
        raise ShopeeError(*CANNOT_CANCEL) from None
    return {"update_time": cancelled.update_time}


def _check_items(call: Call, on_order: set[tuple[str, str]]) -> None:
    items = call.body.get("item_list")
    if not items:
        raise param_error("item_list is required when cancel_reason is OUT_OF_STOCK")
    if not isinstance(items, list):
        raise param_error("item_list should be a list")
    for entry in items:
        if not isinstance(entry, dict):
            raise param_error("item_list should be a list of objects")
        key = (
            str(as_int(entry.get("item_id"), "item_id")),
            str(as_int(entry.get("model_id"), "model_id")),
        )
        if key not in on_order:
            raise param_error(f"item {key[0]} model {key[1]} is not in this order")


def handle_buyer_cancellation(call: Call) -> dict[str, Any]:
    """ACCEPT cancels the order (the buyer's cancellation, units back on sale); REJECT sends it
    back to READY_TO_SHIP."""
    order = find_order(call, call.string_field("order_sn"))
    operation = call.field("operation")
    if operation not in ("ACCEPT", "REJECT"):
        raise param_error("operation should be ACCEPT or REJECT")
    with call.state.lock:
        if order.status != BUYER_CANCEL_STATUS:
            raise ShopeeError(
                "order.cancel_order_invalid_status",
                "Invalid order_status.The order status should be IN_CANCEL.",
            )
        if operation == "ACCEPT":
            order.cancel_by = "buyer"
            order.cancel_reason = order.cancel_reason or "Buyer requested to cancel"
            changed = call.state.set_order_status(
                "shopee", order.id, CANCELLED_STATUS, restock=True
            )
        else:
            changed = call.state.set_order_status("shopee", order.id, "READY_TO_SHIP")
    return {"update_time": changed.update_time}


ENDPOINTS = [
    Endpoint("POST", "/api/v2/order/cancel_order", "shop", cancel_order),
    Endpoint("POST", "/api/v2/order/handle_buyer_cancellation", "shop", handle_buyer_cancellation),
]
