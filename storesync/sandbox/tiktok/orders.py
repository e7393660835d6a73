"""Order endpoints: Search Orders (`POST /order/202309/orders/search`) and Get Order Detail,
served at both documented versions with one handler (`GET /order/202309/orders` and
`/order/202507/orders`): the same `ids` parameter, and in TikTok's SDK the same recipient address
and line item fields (202309 line items also have a `pfand_fee`, which the sandbox does not
render); the 202507 order object's other fields could not be read and are taken to be the 202309
ones [UNCONF]: clients of 202507 read `packages`, `tracking_number`, `shipping_provider` there.
"""

from __future__ import annotations

from typing import Any

from storesync.sandbox.tiktok import render
from storesync.sandbox.tiktok.filters import in_range, scope
from storesync.sandbox.tiktok.wire import Call, invalid, page_size, paginate

MAX_ORDER_IDS = 50
ORDER_STATUSES = (
    "UNPAID",
    "ON_HOLD",
    "AWAITING_SHIPMENT",
    "PARTIALLY_SHIPPING",
    "AWAITING_COLLECTION",
    "IN_TRANSIT",
    "DELIVERED",
    "COMPLETED",
    "CANCELLED",
)


def search_orders(call: Call) -> dict[str, Any]:
    shop, body = call.the_shop(), call.json()
    size = page_size(call.query)
    sort_field = call.query.get("sort_field", "create_time")
    sort_order = call.query.get("sort_order", "DESC")
    if sort_field not in ("create_time", "update_time") or sort_order not in ("ASC", "DESC"):
        raise invalid("sort_field must be create_time|update_time, sort_order ASC|DESC")
    status = body.get("order_status")
    if status is not None and status not in ORDER_STATUSES:
        raise invalid(f"order_status must be one of {', '.join(ORDER_STATUSES)}")
    created, updated = in_range(body, "create_time", "lt"), in_range(body, "update_time", "lt")
    orders = [
        o
        for o in call.state.orders_of("tiktok", shop.id)
        if (status is None or o.status == status)
        and created(o.create_time)
        and updated(o.update_time)
    ]
    page, next_token = paginate(
        orders,
        key=lambda o: (getattr(o, sort_field), o.id),
        descending=sort_order == "DESC",
        size=size,
        token=call.query.get("page_token", ""),
        scope=scope(call, body, "sort_field", "sort_order"),
    )
    return {
        "orders": [render.order(call.state, shop, o) for o in page],
        "next_page_token": next_token,
        "total_count": len(orders),
    }


def get_orders(call: Call) -> dict[str, Any]:
    """Get Order Detail: the shop's orders among `ids` (comma-separated, at most 50); unknown
    ids are left out, not refused."""
    shop = call.the_shop()
    ids = [i for i in call.query.get("ids", "").split(",") if i]
    if not ids:
        raise invalid("ids is required (comma-separated order ids)")
    if len(ids) > MAX_ORDER_IDS:
        raise invalid(f"at most {MAX_ORDER_IDS} ids per call")
    found = [call.state.orders.get(("tiktok", i)) for i in dict.fromkeys(ids)]
    return {
        "orders": [render.order(call.state, shop, o) for o in found if o and o.shop_id == shop.id]
    }
