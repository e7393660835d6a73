"""Return and refund endpoints (202309): the seller's Cancel Order, Search Cancellations (buyer
and seller cancellations of the shop) and Search Returns, rendering the shared `Return`.

A return's stage becomes TikTok's `return_status` (`RETURN_STATUS`):

| stage | REFUND (refund only) | RETURN_AND_REFUND |
| --- | --- | --- |
| requested | RETURN_OR_REFUND_REQUEST_PENDING | RETURN_OR_REFUND_REQUEST_PENDING |
| accepted | RETURN_OR_REFUND_REQUEST_SUCCESS | AWAITING_BUYER_SHIP |
| completed | RETURN_OR_REFUND_REQUEST_COMPLETE | RETURN_OR_REFUND_REQUEST_COMPLETE |
| cancelled | RETURN_OR_REFUND_REQUEST_CANCEL | RETURN_OR_REFUND_REQUEST_CANCEL |
| rejected | REFUND_OR_RETURN_REQUEST_REJECT | REFUND_OR_RETURN_REQUEST_REJECT |

A cancellation is the order's own: a cancelled order with `cancel_by` set is one cancellation,
`CANCELLATION_REQUEST_COMPLETE`, `BUYER_CANCEL` or `SELLER_CANCEL` [CODE: observed answers].
Refusals answer 36009004 with TikTok-worded messages (see `wire`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from storesync.sandbox.state import CANCELLABLE, Order, Return, SandboxError, SandboxState, Shop
from storesync.sandbox.tiktok import render
from storesync.sandbox.tiktok.filters import in_range, scope, sort, string_list
from storesync.sandbox.tiktok.wire import Call, invalid, page_size, paginate

MAX_PAGE = 50
RETURN_TYPES = ("REFUND", "RETURN_AND_REFUND", "REPLACEMENT")
RETURN_STATUSES = (
    "RETURN_OR_REFUND_REQUEST_PENDING",
    "REFUND_OR_RETURN_REQUEST_REJECT",
    "AWAITING_BUYER_SHIP",
    "BUYER_SHIPPED_ITEM",
    "REJECT_RECEIVE_PACKAGE",
    "RETURN_OR_REFUND_REQUEST_SUCCESS",
    "RETURN_OR_REFUND_REQUEST_CANCEL",
    "RETURN_OR_REFUND_REQUEST_COMPLETE",
    "REPLACEMENT_REQUEST_PENDING",
    "REPLACEMENT_REQUEST_REJECT",
    "REPLACEMENT_REQUEST_REFUND_SUCCESS",
    "REPLACEMENT_REQUEST_CANCEL",
    "REPLACEMENT_REQUEST_COMPLETE",
    "AWAITING_BUYER_RESPONSE",
)
RETURN_STATUS = {
    "requested": ("RETURN_OR_REFUND_REQUEST_PENDING", "RETURN_OR_REFUND_REQUEST_PENDING"),
    "accepted": ("RETURN_OR_REFUND_REQUEST_SUCCESS", "AWAITING_BUYER_SHIP"),
    "completed": ("RETURN_OR_REFUND_REQUEST_COMPLETE", "RETURN_OR_REFUND_REQUEST_COMPLETE"),
    "cancelled": ("RETURN_OR_REFUND_REQUEST_CANCEL", "RETURN_OR_REFUND_REQUEST_CANCEL"),
    "rejected": ("REFUND_OR_RETURN_REQUEST_REJECT", "REFUND_OR_RETURN_REQUEST_REJECT"),
}
CANCEL_STATUSES = (
    "CANCELLATION_REQUEST_PENDING",
    "CANCELLATION_REQUEST_SUCCESS",
    "CANCELLATION_REQUEST_CANCEL",
    "CANCELLATION_REQUEST_COMPLETE",
)
CANCEL_TYPES = ("CANCEL", "BUYER_CANCEL", "SELLER_CANCEL")
CANCEL_COMPLETE = "CANCELLATION_REQUEST_COMPLETE"
_SELLER_ACTION = {"REFUND": "SELLER_RESPOND_REFUND", "RETURN_AND_REFUND": "SELLER_RESPOND_RETURN"}
RESPONSE_DAYS = 2  # the seller's deadline to answer a request [UNCONF]
CANCEL_PREFIX = "ecom_order_to_ship_canceled_reason"
RETURN_PREFIX = "ecom_order_delivered_refund_and_return_reason"


def return_type(found: Return) -> str:
    return "REFUND" if found.refund_only else "RETURN_AND_REFUND"


def return_status(found: Return, stage: str | None = None) -> str:
    refund, with_goods = RETURN_STATUS[stage or found.stage]
    return refund if found.refund_only else with_goods


def cancel_id(order: Order) -> str:
    return render.numeric_id("cancel", order.id)


# -- cancellations -----------------------------------------------------------------------------


def cancel_order(call: Call) -> dict[str, Any]:
    """Cancel Order (seller): the whole order, with a reason valid for its status; refused once
    shipment is arranged or the order is cancelled. Partial cancellation is not modelled."""
    shop, body = call.the_shop(), call.json()
    order_id, reason = body.get("order_id"), body.get("cancel_reason")
    if not isinstance(order_id, str) or not order_id:
        raise invalid("order_id is required")
    order = call.state.orders.get(("tiktok", order_id))
    if order is None or order.shop_id != shop.id:
        raise invalid(f"order {order_id} does not exist in this shop")
    if body.get("order_line_item_ids") or body.get("skus"):
        raise invalid("Partial cancellation is not supported for this order; cancel the order")
    reasons = (
        render.SELLER_CANCEL_UNPAID_REASONS
        if order.status == "UNPAID"
        else render.SELLER_CANCEL_REASONS
    )
    if order.status in CANCELLABLE["tiktok"] and reason not in reasons:
        raise invalid(
            f"cancel_reason {reason!r} cannot be used for an order in status {order.status}; "
            f"use one of {', '.join(reasons)}"
        )
    try:
        call.state.cancel_order("tiktok", order.id, by="seller", reason=str(reason))
    except SandboxError as error:
        if error.code == "order_already_cancelled":
            raise invalid(f"The order {order.id} has already been cancelled.") from None
        raise invalid(
            f"The order {order.id} cannot be cancelled in its current status {order.status}."
        ) from None
    return {"cancel_id": cancel_id(order), "cancel_status": CANCEL_COMPLETE}


def search_cancellations(call: Call) -> dict[str, Any]:
    shop, body = call.the_shop(), call.json()
    size = page_size(call.query, maximum=MAX_PAGE)
    _field, descending = sort(call)  # created and updated together: one order either way
    order_ids, ids = string_list(body, "order_ids"), string_list(body, "cancel_ids")
    types = string_list(body, "cancel_types", allowed=CANCEL_TYPES)
    statuses = string_list(body, "cancel_status", allowed=CANCEL_STATUSES)
    buyers = string_list(body, "buyer_user_ids")
    created, updated = in_range(body, "create_time", "lt"), in_range(body, "update_time", "lt")
    rows = [
        o
        for o in call.state.orders_of("tiktok", shop.id)
        if o.status == "CANCELLED"
        and o.cancel_by in ("buyer", "seller")
        and (order_ids is None or o.id in order_ids)
        and (ids is None or cancel_id(o) in ids)
        and (types is None or _cancel_type(o) in types)
        and (statuses is None or CANCEL_COMPLETE in statuses)
        and (buyers is None or render.numeric_id("buyer", o.buyer) in buyers)
        and created(o.update_time)
        and updated(o.update_time)
    ]
    page, next_token = paginate(
        rows,
        key=lambda o: (o.update_time, o.id),
        descending=descending,
        size=size,
        token=call.query.get("page_token", ""),
        scope=scope(call, body, "sort_field", "sort_order"),
    )
    return {
        "cancellations": [cancellation(shop, o) for o in page],
        "total_count": len(rows),
        "next_page_token": next_token,
    }


def _cancel_type(order: Order) -> str:
    return "SELLER_CANCEL" if order.cancel_by == "seller" else "BUYER_CANCEL"


def cancellation(shop: Shop, order: Order) -> dict[str, Any]:
    """One cancellation; it is created and completed when the order is cancelled."""
    text = render.cancel_reason_text(order)
    key = order.cancel_reason if order.cancel_by == "seller" else _reason_key(CANCEL_PREFIX, text)
    return {
        "cancel_id": cancel_id(order),
        "order_id": order.id,
        "cancel_type": _cancel_type(order),
        "cancel_status": CANCEL_COMPLETE,
        "role": order.cancel_by.upper(),
        "cancel_reason": key,
        "cancel_reason_text": text,
        "should_replenish_stock": True,
        "create_time": order.update_time,
        "update_time": order.update_time,
        "refund_amount": _refund(order.currency, order.total),
        "cancel_line_items": [
            {
                "cancel_line_item_id": render.numeric_id("cancel-line", unit_id),
                "order_line_item_id": unit_id,
                "product_name": line.title,
                "product_image": _image(shop, line.item_id),
                "sku_id": line.model_id,
                "sku_name": line.model_name,
                "seller_sku": line.sku,
                "refund_amount": _refund(order.currency, line.price),
            }
            for line, unit_id in render.units(order)
        ],
    }


def _reason_key(prefix: str, text: str) -> str:
    """A buyer's reason as TikTok's reason key (`<prefix>_no_longer_needed`) [UNCONF: the
    sandbox's buyers give free text; TikTok's keys come from a fixed list]."""
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "other"
    return f"{prefix}_{slug}"


# -- returns -----------------------------------------------------------------------------------


def search_returns(call: Call) -> dict[str, Any]:
    shop, body = call.the_shop(), call.json()
    size = page_size(call.query, maximum=MAX_PAGE)
    field, descending = sort(call)
    keep = _return_filter(call.state, body)
    rows = [
        r
        for r in call.state.returns_of("tiktok", shop.id)
        if ("tiktok", r.order_id) in call.state.orders and keep(r)  # a reset drops orders
    ]
    page, next_token = paginate(
        rows,
        key=lambda r: (getattr(r, field), r.id),
        descending=descending,
        size=size,
        token=call.query.get("page_token", ""),
        scope=scope(call, body, "sort_field", "sort_order"),
    )
    return {
        "return_orders": [return_order(call.state, shop, r) for r in page],
        "total_count": len(rows),
        "next_page_token": next_token,
    }


def _return_filter(state: SandboxState, body: dict[str, Any]) -> Callable[[Return], bool]:
    order_ids, ids = string_list(body, "order_ids"), string_list(body, "return_ids")
    types = string_list(body, "return_types", allowed=RETURN_TYPES)
    statuses = string_list(body, "return_status", allowed=RETURN_STATUSES)
    buyers = string_list(body, "buyer_user_ids")
    string_list(body, "arbitration_status")  # validated; the sandbox has no arbitration
    created, updated = in_range(body, "create_time", "lt"), in_range(body, "update_time", "lt")

    def keep(found: Return) -> bool:
        buyer = state.orders[("tiktok", found.order_id)].buyer
        return (
            (order_ids is None or found.order_id in order_ids)
            and (ids is None or found.id in ids)
            and (types is None or return_type(found) in types)
            and (statuses is None or return_status(found) in statuses)
            and (buyers is None or render.numeric_id("buyer", buyer) in buyers)
            and created(found.create_time)
            and updated(found.update_time)
        )

    return keep


def return_order(state: SandboxState, shop: Shop, found: Return) -> dict[str, Any]:
    order = state.orders[("tiktok", found.order_id)]
    kind, status = return_type(found), return_status(found)
    lines = []
    used: set[str] = set()
    for wanted in found.lines:
        picked = [
            unit_id
            for line, unit_id in render.units(order)
            if (line.item_id, line.model_id) == (wanted.item_id, wanted.model_id)
            and unit_id not in used
        ][: wanted.quantity]
        used.update(picked)
        title = next((ln.title for ln in order.lines if ln.model_id == wanted.model_id), "")
        name = next((ln.model_name for ln in order.lines if ln.model_id == wanted.model_id), "")
        lines += [
            {
                "return_line_item_id": render.numeric_id("return-line", found.id, unit_id),
                "order_line_item_id": unit_id,
                "product_name": title,
                "product_image": _image(shop, wanted.item_id),
                "sku_id": wanted.model_id,
                "sku_name": name,
                "seller_sku": wanted.sku,
                "refund_amount": _refund(found.currency, wanted.price),
            }
            for unit_id in picked
        ]
    pending = found.stage == "requested"
    deadline = found.create_time + RESPONSE_DAYS * 86400
    data: dict[str, Any] = {
        "return_id": found.id,
        "order_id": found.order_id,
        "return_type": kind,
        "return_status": status,
        "role": "BUYER",
        "return_reason": _reason_key(RETURN_PREFIX, found.reason),
        "return_reason_text": found.reason,
        "arbitration_status": "",
        "can_buyer_keep_item": found.refund_only,
        "create_time": found.create_time,
        "update_time": found.update_time,
        "refund_amount": _refund(found.currency, found.refund_amount),
        "return_line_items": lines,
        "seller_next_action_response": (
            [{"action": _SELLER_ACTION[kind], "deadline": deadline}] if pending else []
        ),
    }
    if not found.refund_only:
        data.update(
            {
                "return_method": "PLATFORM_SHIPPED",
                "shipment_type": "PLATFORM",
                "handover_method": "PICKUP",
                "return_provider_name": render.SHIPPING_PROVIDER["name"],
                "return_tracking_number": (
                    "" if pending else f"RT{render.numeric_id('return', found.id, digits=12)}"
                ),
            }
        )
    return data


def _refund(currency: str, amount: Any) -> dict[str, str]:
    total = render.money(amount)
    return {
        "currency": currency,
        "refund_total": total,
        "refund_subtotal": total,
        "refund_shipping_fee": "0",
        "refund_tax": "0",
    }


def _image(shop: Shop, item_id: str) -> dict[str, Any]:
    item = shop.items.get(item_id)
    url = item.images[0] if item and item.images else ""
    return {"url": url, "width": 200, "height": 200}
