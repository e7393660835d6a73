"""Shopee logistics APIs for arranging shipment: get_shipping_parameter, ship_order (pickup at
an offered slot, or drop-off at any or an offered branch) and get_tracking_number.

Every sandbox order has one package and ships with SPX Express, an integrated channel that
offers both pickup (the shop's one address, the next three mornings) and drop-off (two
branches, or any). Refusals use the codes and messages of the official error lists.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from storesync.sandbox.shopee.order import package_number
from storesync.sandbox.shopee.wire import Call, Endpoint, ShopeeError, as_int, param_error
from storesync.sandbox.state import CANCELLED_STATUS, Order, Shop

SHIPPABLE = ("READY_TO_SHIP", "RETRY_SHIP")
ADDRESS_ID = 200_001
BRANCHES = (  # branch_id, city, district, address, zipcode
    (300_101, "Kota Jakarta Barat", "Kebon Jeruk", "Jl. Arjuna Utara 12, SPX Kebon Jeruk", "11510"),
    (300_102, "Kota Jakarta Barat", "Palmerah", "Jl. Palmerah Barat 3, SPX Palmerah", "11480"),
)
SLOT_DAYS = (1, 2, 3)  # pickup slots on the next three days
SLOT_HOURS = (9, 12)  # 09:00 - 12:00 local time
# Hours ahead of UTC in each region (the sandbox shows slot dates at local midnight).
REGION_OFFSETS = {"ID": 7, "TH": 7, "VN": 7, "SG": 8, "MY": 8, "PH": 8, "TW": 8, "BR": -3}
NOT_EXIST = "The order is not exist."


def region_zone(region: str) -> timezone:
    return timezone(timedelta(hours=REGION_OFFSETS.get(region, 0)))


def pickup_slots(shop: Shop, now: int) -> list[dict[str, Any]]:
    """The shop's pickup slots as of `now` (Unix seconds): the next mornings, local time.
    `date` is the local midnight of the day, `pickup_time_id` the slot's start in Unix seconds
    (a string, as Shopee sends it); the first is flagged `recommended`."""
    zone = region_zone(shop.region)
    today = (
        datetime.fromtimestamp(now, UTC)
        .astimezone(zone)
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    start, end = SLOT_HOURS
    slots = []
    for index, offset in enumerate(SLOT_DAYS):
        day = today + timedelta(days=offset)
        slots.append(
            {
                "date": int(day.timestamp()),
                "time_text": f"{start:02d}:00 - {end:02d}:00",
                "pickup_time_id": str(int((day + timedelta(hours=start)).timestamp())),
                "flags": ["recommended"] if index == 0 else [],
            }
        )
    return slots


def pickup_address(shop: Shop, now: int) -> dict[str, Any]:
    return {
        "address_id": ADDRESS_ID,
        "region": shop.region,
        "state": "DKI Jakarta",
        "city": "Kota Jakarta Barat",
        "district": "Kebon Jeruk",
        "town": "",
        "address": f"Jl. Panjang No. 5, Gudang {shop.name}",
        "zipcode": "11530",
        "address_flag": ["default_address", "pickup_address", "return_address"],
        "time_slot_list": pickup_slots(shop, now),
    }


def branch_list(shop: Shop) -> list[dict[str, Any]]:
    return [
        {
            "branch_id": branch_id,
            "region": shop.region,
            "state": "DKI Jakarta",
            "city": city,
            "address": address,
            "zipcode": zipcode,
            "district": district,
            "town": "",
        }
        for branch_id, city, district, address, zipcode in BRANCHES
    ]


def _order(call: Call, order_sn: str, *, missing: tuple[str, str]) -> Order:
    order = call.state.orders.get(("shopee", order_sn))
    if order is None or order.shop_id != call.shop.id:
        raise ShopeeError(*missing)
    return order


def _query_order(call: Call, *, missing: tuple[str, str]) -> Order:
    """The order of a GET call (`order_sn`, optional `package_number`)."""
    order = _order(call, call.text("order_sn"), missing=missing)
    package = call.query.get("package_number")
    if package not in (None, "") and package != package_number(order):
        raise ShopeeError("logistics.package_not_exist", "The package is not exist.")
    return order


def get_shipping_parameter(call: Call) -> dict[str, Any]:
    """Both handover modes: pickup needs an address and one of its slots; drop-off needs
    nothing (a branch may be named). Only while the package waits to be arranged."""
    order = _query_order(
        call, missing=("error_not_found", "Wrong parameters, detail: the order is not found.")
    )
    if order.status == CANCELLED_STATUS:
        raise ShopeeError("error_status", "The order has been cancelled.")
    if order.status not in SHIPPABLE:
        raise ShopeeError(
            "error_param",
            "Shipping parameters can only be obtained when package is ready to be shipped",
        )
    return {
        "info_needed": {"dropoff": [], "pickup": ["address_id", "pickup_time_id"]},
        "dropoff": {"branch_list": branch_list(call.shop), "slug_list": []},
        "pickup": {"address_list": [pickup_address(call.shop, call.state.now())]},
    }


def ship_order(call: Call) -> None:
    """Arrange shipment: READY_TO_SHIP/RETRY_SHIP → PROCESSED with a tracking number (and a
    tracking-number push). Checked in the platform's order: order, package, one mode, status,
    then the mode's own fields. The answer has no `response`."""
    order = _order(
        call,
        call.string_field("order_sn"),
        missing=("error_not_found", "Wrong parameters, detail: the order is not found."),
    )
    if call.body.get("package_number") not in (None, ""):
        raise ShopeeError(
            "logistics.ship_order_not_need_pacakge_number",
            "Please don\u2019t request with package_number for this unsplit order.",
        )
    modes = [m for m in ("pickup", "dropoff", "non_integrated") if call.body.get(m) is not None]
    if len(modes) != 1:
        raise ShopeeError(
            "logistics.ship_order_only_support_one_type",
            "Please select just one way to ship order: pickup or dropoff or non_integrated.",
        )
    mode = modes[0]
    with call.state.lock:
        if order.status not in SHIPPABLE:
            raise ShopeeError(
                "logistics.ship_order_not_ready_to_ship", "The order is not ready to ship."
            )
        if mode == "non_integrated":
            raise ShopeeError(
                "logistics.ship_order_unsupport_non_integrated",
                "This order does not support ship with non_integrated.",
            )
        details = call.body[mode]
        if not isinstance(details, dict):
            raise param_error(f"{mode} should be an object")
        _no_tracking_number(details)
        check = _check_pickup if mode == "pickup" else _check_dropoff
        slot = check(call, details)
        order.package_id = package_number(order)
        call.state.arrange_order("shopee", order.id, to_status="PROCESSED", method=mode, slot=slot)
    call.state.emit(
        "shopee",
        order.shop_id,
        "order.tracking_number",
        {
            "order_id": order.id,
            "package_id": order.package_id,
            "tracking_number": order.tracking_number,
        },
    )
    return None


def _no_tracking_number(details: dict[str, Any]) -> None:
    """SPX Express assigns its own tracking number (info_needed never asks for one)."""
    if details.get("tracking_number") or details.get("tracking_no"):
        raise ShopeeError(
            "error_param",
            "Please do not request with tracking_no for this channel which does not require "
            "tracking_no.",
        )
    if details.get("slug"):
        raise ShopeeError("error_param", "Slug not required.")


def _check_pickup(call: Call, pickup: dict[str, Any]) -> str:
    """The chosen pickup_time_id: the shop's address and one of the slots offered now."""
    if not pickup.get("address_id") or not pickup.get("pickup_time_id"):
        raise ShopeeError(
            "logistics.ship_order_need_address_pickup_time",
            "Parameter address_id and pickup_time_id are required.",
        )
    if as_int(pickup["address_id"], "address_id") != ADDRESS_ID:
        raise ShopeeError("logistics.address_not_found", "Address is not found.")
    offered = {s["pickup_time_id"] for s in pickup_slots(call.shop, call.state.now())}
    if pickup["pickup_time_id"] not in offered:
        raise ShopeeError(
            "logistics.ship_order_pickup_time_invalid",
            "Invalid pickup time id. Please check the pick up time id.",
        )
    return str(pickup["pickup_time_id"])


def _check_dropoff(call: Call, dropoff: dict[str, Any]) -> str:
    """The chosen branch ("" for any): when named, one of get_shipping_parameter's."""
    branch = dropoff.get("branch_id")
    if branch in (None, 0):
        return ""
    if as_int(branch, "branch_id") not in {b["branch_id"] for b in branch_list(call.shop)}:
        raise ShopeeError("logistics.error_store_not_found", "Store is not found.")
    return str(branch)


def get_tracking_number(call: Call) -> dict[str, Any]:
    """ "" (with a `hint`) until shipment is arranged; `response_optional_fields` adds the
    cross-border fields, always empty for a local seller."""
    order = _query_order(call, missing=("logistics.invalid_error", NOT_EXIST))
    wanted = {f.strip() for f in call.query.get("response_optional_fields", "").split(",")}
    answer: dict[str, Any] = {"tracking_number": order.tracking_number}
    if not order.tracking_number:
        answer["hint"] = "The tracking number is not ready yet."
    for name in ("plp_number", "first_mile_tracking_number", "last_mile_tracking_number"):
        if name in wanted:
            answer[name] = ""
    return answer


ENDPOINTS = [
    Endpoint("GET", "/api/v2/logistics/get_shipping_parameter", "shop", get_shipping_parameter),
    Endpoint("POST", "/api/v2/logistics/ship_order", "shop", ship_order, "bare"),
    Endpoint("GET", "/api/v2/logistics/get_tracking_number", "shop", get_tracking_number),
]
