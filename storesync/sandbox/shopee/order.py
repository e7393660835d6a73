"""Shopee order and logistics APIs: order list and detail, shipping parameters, ship, tracking."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from storesync.sandbox.shopee.product import location_id
from storesync.sandbox.shopee.wire import (
    MAX_PAGE_SIZE,
    Call,
    Endpoint,
    ShopeeError,
    as_int,
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
SHIPPABLE = ("READY_TO_SHIP", "RETRY_SHIP")
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
ADDRESS_ID = 200_001
DAYS_TO_SHIP = 2
NOT_FOUND = "Wrong parameters, detail: the order is not found."


def _order(call: Call, order_sn: str) -> Order:
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
        "recipient_address": {
            "name": "B****i",
            "phone": "******78",
            "town": "",
            "district": "Kebayoran Baru",
            "city": "Kota Jakarta Selatan",
            "state": "DKI Jakarta",
            "region": shop.region,
            "zipcode": "12190",
            "full_address": "Jl. S******** No. **, Kebayoran Baru, Jakarta Selatan",
        },
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
        "pickup_done_time": 0,
        "goods_to_declare": False,
        "dropshipper": "",
        "dropshipper_phone": "",
        "buyer_cancel_reason": "",
        "cancel_by": "seller"
        if cancelled and order.cancel_reason
        else ("buyer" if cancelled else ""),
        "cancel_reason": order.cancel_reason or ("Buyer cancelled" if cancelled else ""),
        "invoice_data": None,
        "reverse_shipping_fee": 0,
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


def _pickup_slots(today: int) -> list[dict[str, Any]]:
    """The next three mornings after `today` (Unix seconds); pickup_time_id is the slot's Unix
    time as a string."""
    day = today // 86400 * 86400
    return [
        {
            "date": day + offset * 86400,
            "time_text": "09:00 - 12:00",
            "pickup_time_id": str(day + offset * 86400 + 2 * 3600),
        }
        for offset in (1, 2, 3)
    ]


def get_shipping_parameter(call: Call) -> dict[str, Any]:
    order = _order(call, call.text("order_sn"))
    _check_package(call.query.get("package_number"), order)
    if order.status not in SHIPPABLE:
        raise ShopeeError("logistics.error_param", "The order status is not ready to ship.")
    return {
        "info_needed": {"dropoff": [], "pickup": ["address_id", "pickup_time_id"]},
        "dropoff": {"branch_list": [], "slug_list": []},
        "pickup": {
            "address_list": [
                {
                    "address_id": ADDRESS_ID,
                    "region": call.shop.region,
                    "state": "DKI Jakarta",
                    "city": "Kota Jakarta Barat",
                    "district": "Kebon Jeruk",
                    "town": "",
                    "address": "Jl. Panjang No. 5, Gudang Toko Maju",
                    "zipcode": "11530",
                    "address_flag": ["default_address", "pickup_address", "return_address"],
                    "time_slot_list": _pickup_slots(call.state.now()),
                }
            ]
        },
    }


def _check_package(raw: Any, order: Order) -> None:
    if raw not in (None, "") and raw != package_number(order):
        raise ShopeeError("logistics.error_param", "The package_number is invalid.")


def ship_order(call: Call) -> None:
    """Arrange shipment (pickup or dropoff): READY_TO_SHIP → PROCESSED with a tracking number.
    The answer has no `response`."""
    sn = call.field("order_sn")
    order = _order(call, sn if isinstance(sn, str) else "")
    _check_package(call.body.get("package_number"), order)
    modes = [m for m in ("pickup", "dropoff", "non_integrated") if call.body.get(m) is not None]
    if len(modes) != 1:
        raise ShopeeError(
            "logistics.ship_order_only_support_one_type",
            "Please select just one way to ship order: pickup or dropoff or non_integrated.",
        )
    if order.status not in SHIPPABLE:
        raise ShopeeError(
            "logistics.ship_order_not_ready_to_ship", "The order is not ready to ship."
        )
    if modes[0] == "non_integrated":
        raise ShopeeError("logistics.error_param", "Logistic channel is not non-integrated.")
    if modes[0] == "pickup":
        _check_pickup(call.body["pickup"], call.state.now())
    with call.state.lock:
        order.package_id = package_number(order)
        order.tracking_number = order.tracking_number or f"SPXID0{secrets.randbelow(10**11):011d}"
    call.state.set_order_status("shopee", order.id, "PROCESSED")
    return None


def _check_pickup(pickup: Any, today: int) -> None:
    if (
        not isinstance(pickup, dict)
        or not pickup.get("address_id")
        or not pickup.get("pickup_time_id")
    ):
        raise ShopeeError(
            "logistics.ship_order_need_address_pickup_time",
            "Parameter address_id and pickup_time_id are required.",
        )
    if as_int(pickup["address_id"], "address_id") != ADDRESS_ID:
        raise ShopeeError("logistics.address_not_found", "Address is not found.")
    if pickup["pickup_time_id"] not in {s["pickup_time_id"] for s in _pickup_slots(today)}:
        raise ShopeeError("logistics.error_param", "The pickup time is invalid.")


def get_tracking_number(call: Call) -> dict[str, Any]:
    order = _order(call, call.text("order_sn"))
    _check_package(call.query.get("package_number"), order)
    if not order.tracking_number:
        return {"tracking_number": "", "hint": "The tracking number is not ready yet."}
    return {"tracking_number": order.tracking_number}


ENDPOINTS = [
    Endpoint("GET", "/api/v2/order/get_order_list", "shop", get_order_list),
    Endpoint("GET", "/api/v2/order/get_order_detail", "shop", get_order_detail),
    Endpoint("GET", "/api/v2/logistics/get_shipping_parameter", "shop", get_shipping_parameter),
    Endpoint("POST", "/api/v2/logistics/ship_order", "shop", ship_order, "bare"),
    Endpoint("GET", "/api/v2/logistics/get_tracking_number", "shop", get_tracking_number),
]
