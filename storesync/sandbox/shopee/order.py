"""Shopee order APIs: order list and detail, and the order lookups the logistics, cancel and
document modules share (`find_order`, `package_number`, `recipient_address`)."""

from __future__ import annotations

import hashlib
from typing import Any

from storesync.sandbox.shopee.product import location_id
from storesync.sandbox.shopee.wire import (
    MAX_PAGE_SIZE,
    Call,
    Endpoint,
    ShopeeError,
    money,
    param_error,
)
from storesync.sandbox.state import Order, OrderLine, Shop

MAX_WINDOW = 15 * 86400
MAX_ORDER_SNS = 50
FILTER_STATUSES = (
    "UNPAID",
    "READY_TO_SHIP",
    "PROCESSED",
    "SHIPPED",
    "COMPLETED",
    "IN_CANCEL",
    "CANCELLED",
    "INVOICE_PENDING",
)
LOGISTICS_STATUS = {
    "UNPAID": "LOGISTICS_NOT_START",
    "PENDING": "LOGISTICS_NOT_START",
    "READY_TO_SHIP": "LOGISTICS_READY",
    "RETRY_SHIP": "LOGISTICS_READY",
    "PROCESSED": "LOGISTICS_REQUEST_CREATED",
    "SHIPPED": "LOGISTICS_PICKUP_DONE",
    "TO_CONFIRM_RECEIVE": "LOGISTICS_DELIVERY_DONE",
    "COMPLETED": "LOGISTICS_DELIVERY_DONE",
    "IN_CANCEL": "LOGISTICS_READY",
    "CANCELLED": "LOGISTICS_INVALID",
    "TO_RETURN": "LOGISTICS_DELIVERY_DONE",
}
CARRIER = "SPX Express"
CHANNEL_ID = 8005
DAYS_TO_SHIP = 2
NOT_FOUND = "Wrong parameters, detail: the order is not found."
# What get_order_detail shows as `cancel_reason` for the seller's cancel_reason codes.
CANCEL_REASON_TEXT = {
    "OUT_OF_STOCK": "Out of Stock",
    "CUSTOMER_REQUEST": "Customer Request",
    "UNDELIVERABLE_AREA": "Undeliverable Area",
    "COD_NOT_SUPPORTED": "COD Not Supported",
}


def find_order(call: Call, order_sn: str) -> Order:
    """The shop's order; `error_not_found` as get_order_detail answers an unknown order_sn."""
    order = call.state.orders.get(("shopee", order_sn))
    if order is None or order.shop_id != call.shop.id:
        raise ShopeeError("error_not_found", NOT_FOUND)
    return order


def package_number(order: Order) -> str:
    """One package per order; stable without storing it."""
    if order.package_id:
        return order.package_id
    return "OFG" + str(int(hashlib.sha256(order.id.encode()).hexdigest()[:12], 16))[:15]


def get_order_list(call: Call) -> dict[str, Any]:
    """Newest first by the chosen time field; the cursor is the offset of the next page."""
    field = call.text("time_range_field")
    if field not in ("create_time", "update_time"):
        raise param_error("time_range_field should be create_time or update_time")
    time_from, time_to = call.integer("time_from"), call.integer("time_to")
    if time_from > time_to or time_to - time_from > MAX_WINDOW:
        raise ShopeeError(
            "order.order_list_invalid_time",
            "Start time must be earlier than end time and diff in 15days.",
        )
    page_size = call.integer("page_size", low=1, high=MAX_PAGE_SIZE)
    cursor = call.query.get("cursor", "").strip().strip('"')
    if cursor and not cursor.isdigit():
        raise param_error("cursor is invalid")
    status = call.query.get("order_status") or None
    allowed = FILTER_STATUSES + (("PENDING",) if call.flag("request_order_status_pending") else ())
    if status is not None and status not in allowed:
        raise param_error("order_status is invalid")
    orders = sorted(
        (
            o
            for o in call.state.orders_of("shopee", call.shop.id)
            if time_from <= getattr(o, field) <= time_to and (status is None or o.status == status)
        ),
        key=lambda o: (getattr(o, field), o.id),
        reverse=True,
    )
    start = int(cursor or 0)
    page = orders[start : start + page_size]
    more = start + len(page) < len(orders)
    with_status = "order_status" in _csv(call.query.get("response_optional_fields", ""))
    return {
        "more": more,
        "next_cursor": str(start + len(page)) if more else "",
        "order_list": [
            {"order_sn": o.id, **({"order_status": o.status} if with_status else {})} for o in page
        ],
    }


def _csv(raw: str) -> set[str]:
    return {part.strip() for part in raw.split(",") if part.strip()}


def get_order_detail(call: Call) -> dict[str, Any]:
    """Default fields always; the rest only when named in `response_optional_fields`.
    Unknown order_sn are left out and reported in `warning`."""
    order_sns = call.csv("order_sn_list", high=MAX_ORDER_SNS)
    wanted = _csv(call.query.get("response_optional_fields", ""))
    found = [call.state.orders.get(("shopee", sn)) for sn in order_sns]
    orders = [o for o in found if o is not None and o.shop_id == call.shop.id]
    if not orders:
        raise ShopeeError("error_not_found", NOT_FOUND)
    missing = [sn for sn in order_sns if sn not in {o.id for o in orders}]
    call.warning = [f"order_sn {sn} is not found" for sn in missing] if missing else ""
    return {"order_list": [_detail(call.shop, o, wanted) for o in orders]}


def _detail(shop: Shop, order: Order, wanted: set[str]) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "order_sn": order.id,
        "region": shop.region,
        "currency": order.currency,
        "cod": False,
        "order_status": order.status,
        "message_to_seller": "",
        "create_time": order.create_time,
        "update_time": order.update_time,
        "days_to_ship": DAYS_TO_SHIP,
        "ship_by_date": order.create_time + DAYS_TO_SHIP * 86400,
        "booking_sn": "",
    }
    optional = _optional_fields(shop, order)
    detail.update({name: optional[name] for name in wanted if name in optional})
    return detail


def _optional_fields(shop: Shop, order: Order) -> dict[str, Any]:
    paid = order.status not in ("UNPAID", "PENDING")
    cancelled = order.status == "CANCELLED"
    return {
        "buyer_user_id": int(hashlib.sha256(order.buyer.encode()).hexdigest()[:8], 16),
        "buyer_username": order.buyer,
        "recipient_address": recipient_address(shop),
        "item_list": [_line(ln, index) for index, ln in enumerate(order.lines)],
        "total_amount": money(order.total),
        "pay_time": order.create_time if paid else None,
        "package_list": [_package(shop, order)],
        "shipping_carrier": CARRIER,
        "checkout_shipping_carrier": CARRIER,
        "payment_method": "ShopeePay" if paid else "",
        "estimated_shipping_fee": 10_000,
        "actual_shipping_fee": 0,
        "actual_shipping_fee_confirmed": False,
        "note": "",
        "note_update_time": 0,
        "split_up": False,
        "fulfillment_flag": "fulfilled_by_local_seller",
        "pickup_done_time": order.shipped_time,
        "goods_to_declare": False,
        "dropshipper": "",
        "dropshipper_phone": "",
        "buyer_cancel_reason": order.cancel_reason if order.cancel_by == "buyer" else "",
        "cancel_by": (order.cancel_by or "system") if cancelled else "",
        "cancel_reason": _cancel_reason(order) if cancelled else "",
        "invoice_data": None,
        "reverse_shipping_fee": 0,
    }


def _cancel_reason(order: Order) -> str:
    if order.cancel_by == "seller":
        return CANCEL_REASON_TEXT.get(order.cancel_reason, order.cancel_reason)
    return order.cancel_reason or "Buyer cancelled"


def recipient_address(shop: Shop) -> dict[str, Any]:
    """The buyer's address as Shopee shows it to a local seller: name and phone masked."""
    return {
        "name": "B****i",
        "phone": "******78",
        "town": "",
        "district": "Kebayoran Baru",
        "city": "Kota Jakarta Selatan",
        "state": "DKI Jakarta",
        "region": shop.region,
        "zipcode": "12190",
        "full_address": "Jl. S******** No. **, Kebayoran Baru, Jakarta Selatan",
    }


def _line(line: OrderLine, index: int) -> dict[str, Any]:
    no_model = line.model_id == "0"
    price = money(line.price)
    return {
        "item_id": int(line.item_id),
        "item_name": line.title,
        "item_sku": line.sku if no_model else "",
        "model_id": int(line.model_id),
        "model_name": line.model_name,
        "model_sku": "" if no_model else line.sku,
        "model_quantity_purchased": line.quantity,
        "model_original_price": price,
        "model_discounted_price": price,
        "wholesale": False,
        "weight": 0.3,
        "add_on_deal": False,
        "main_item": False,
        "add_on_deal_id": 0,
        "promotion_type": "",
        "promotion_id": 0,
        "order_item_id": int(line.item_id),
        "promotion_group_id": 0,
        "image_info": {"image_url": ""},
        "is_prescription_item": False,
        "is_b2c_owned_item": False,
    }


def _package(shop: Shop, order: Order) -> dict[str, Any]:
    return {
        "package_number": package_number(order),
        "logistics_status": LOGISTICS_STATUS.get(order.status, "LOGISTICS_READY"),
        "logistics_channel_id": CHANNEL_ID,
        "shipping_carrier": CARRIER,
        "allow_self_design_awb": False,
        "item_list": [
            {
                "item_id": int(ln.item_id),
                "model_id": int(ln.model_id),
                "model_quantity": ln.quantity,
                "order_item_id": int(ln.item_id),
                "promotion_group_id": 0,
                "product_location_id": location_id(shop),
            }
            for ln in order.lines
        ],
        "parcel_chargeable_weight": 300,
    }


ENDPOINTS = [
    Endpoint("GET", "/api/v2/order/get_order_list", "shop", get_order_list),
    Endpoint("GET", "/api/v2/order/get_order_detail", "shop", get_order_detail),
]
