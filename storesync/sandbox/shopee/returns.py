"""Shopee returns: get_return_list and get_return_detail, rendering the sandbox's shared
`Return` with Shopee's own return statuses.

The shared stages map onto Shopee's ReturnStatus (see `STATUS`); `return_solution` 1 marks a
refund-only request. The list pages by `page_no` (from 0) and `page_size` (1 to 100), newest
request first, answered with `more`; `create_time_*` and `update_time_*` windows span at most
15 days each.
"""

from __future__ import annotations

from typing import Any

from storesync.sandbox.shopee.order import find_order, recipient_address
from storesync.sandbox.shopee.wire import MAX_PAGE_SIZE, Call, Endpoint, ShopeeError, money
from storesync.sandbox.state import Return, ReturnLine, Shop

MAX_WINDOW = 15 * 86400
# The shared stage → Shopee's ReturnStatus.
STATUS = {
    "requested": "REQUESTED",
    "accepted": "ACCEPTED",
    "completed": "REFUND_PAID",
    "cancelled": "CANCELLED",
    "rejected": "CLOSED",
}
RETURN_STATUSES = (
    "REQUESTED",
    "ACCEPTED",
    "CANCELLED",
    "JUDGING",
    "CLOSED",
    "PROCESSING",
    "SELLER_DISPUTE",
    "REFUND_PAID",
)
NEGOTIATION = {"requested": "PENDING_RESPOND"}  # then TERMINATED
RESPOND_DAYS = 3  # the seller's time to answer a request
SHIP_BACK_DAYS = 7  # the buyer's time to send the goods back
REASONS = (  # the buyer's words → Shopee's ReturnReason
    ("damag", "PHYSICAL_DMG"),
    ("wrong", "WRONG_ITEM"),
    ("missing", "ITEM_MISSING"),
    ("not receiv", "NOT_RECEIPT"),
    ("defect", "FUNCTIONAL_DMG"),
    ("describ", "DIFFERENT_DESCRIPTION"),
)


def status_of(found: Return) -> str:
    return STATUS[found.stage]


def _reason(text: str) -> str:
    lowered = text.lower()
    return next((code for part, code in REASONS if part in lowered), "OTHERS")


def _window(call: Call, field: str) -> tuple[int | None, int | None]:
    since = call.optional_integer(f"{field}_from")
    until = call.optional_integer(f"{field}_to")
    if since is not None and until is not None:
        if until < since:
            raise ShopeeError("error_param", f"The {field}_to should be later than {field}_from.")
        if until - since > MAX_WINDOW:
            created = "created_time_of" if field == "create_time" else f"{field}_to"
            raise ShopeeError(
                "error_param",
                f"The period between {field}_from and {created} must not more than 15 days.",
            )
    return since, until


def _within(value: int, window: tuple[int | None, int | None]) -> bool:
    since, until = window
    return (since is None or value >= since) and (until is None or value <= until)


def get_return_list(call: Call) -> dict[str, Any]:
    page_no = call.integer("page_no", low=0)
    page_size = call.integer("page_size", low=1, high=MAX_PAGE_SIZE)
    created = _window(call, "create_time")
    updated = _window(call, "update_time")
    if created[0] is not None and updated[0] is not None and updated[0] < created[0]:
        raise ShopeeError("error_param", "The update_time_from must be after create_time_from.")
    status = call.query.get("status") or None
    if status is not None and status not in RETURN_STATUSES:
        raise ShopeeError("error_param", "Wrong parameters, detail: status is invalid.")
    filters = {
        name: call.query.get(name)
        for name in ("negotiation_status", "seller_proof_status", "seller_compensation_status")
        if call.query.get(name)
    }
    rendered = [
        _render(call, found)
        for found in sorted(
            call.state.returns_of("shopee", call.shop.id),
            key=lambda r: (r.create_time, r.id),
            reverse=True,
        )
        if _within(found.create_time, created)
        and _within(found.update_time, updated)
        and (status is None or status_of(found) == status)
    ]
    rendered = [r for r in rendered if all(r[k] == v for k, v in filters.items())]
    start = page_no * page_size
    page = rendered[start : start + page_size]
    return {"more": start + len(page) < len(rendered), "return": page}


def get_return_detail(call: Call) -> dict[str, Any]:
    return_sn = call.text("return_sn")
    found = call.state.returns.get(("shopee", return_sn))
    if found is None or found.shop_id != call.shop.id:
        raise ShopeeError("error_data", "The return you queried doesn't exist.")
    detail = _render(call, found)
    seller_proof = {"seller_proof_status": detail.pop("seller_proof_status")}
    compensation = {"seller_compensation_status": detail.pop("seller_compensation_status")}
    negotiation = {
        "negotiation_status": detail.pop("negotiation_status"),
        "latest_solution": "REFUND" if found.refund_only else "RETURN_REFUND",
        "latest_offer_amount": detail["refund_amount"],
        "latest_offer_creator": "",
        "counter_limit": 0,
        "offer_due_date": 0,
    }
    address = recipient_address(call.shop)
    return {
        **detail,
        "buyer_videos": [],
        "activity": [],
        "seller_proof": {**seller_proof, "seller_evidence_deadline": 0},
        "seller_compensation": {**compensation, "seller_compensation_due_date": 0},
        "negotiation": negotiation,
        "logistics_status": _reverse_logistics(found),
        "reverse_logistics_status": _reverse_logistics(found),
        "return_pickup_address": {
            k: address[k]
            for k in ("name", "phone", "town", "district", "city", "state", "region", "zipcode")
        }
        | {"address": address["full_address"]},
        "return_address": {"whs_id": ""},
        "has_uploaded_shipping_proof": False,
        "is_reverse_logistics_channel_integrated": not found.refund_only,
        "reverse_logistics_channel_name": "" if found.refund_only else "SPX Express",
    }


def _reverse_logistics(found: Return) -> str:
    if found.refund_only or found.stage == "requested":
        return "LOGISTICS_NOT_START"
    if found.stage == "accepted":
        return "LOGISTICS_REQUEST_CREATED"
    if found.stage == "completed":
        return "LOGISTICS_DELIVERY_DONE"
    return "LOGISTICS_REQUEST_CANCELED"


def _render(call: Call, found: Return) -> dict[str, Any]:
    """One return as get_return_list shows it (get_return_detail adds to it)."""
    order = find_order(call, found.order_id)
    refund = money(found.refund_amount)
    day = 86400
    return {
        "image": [],
        "reason": _reason(found.reason),
        "text_reason": found.reason,
        "reassessed_request_reason": "NONE",
        "return_sn": found.id,
        "refund_amount": refund,
        "currency": found.currency,
        "create_time": found.create_time,
        "update_time": found.update_time,
        "status": status_of(found),
        "due_date": found.create_time + RESPOND_DAYS * day,
        "tracking_number": "",
        "dispute_reason": [],
        "dispute_text_reason": [],
        "needs_logistics": not found.refund_only,
        "amount_before_discount": refund,
        "user": {"username": order.buyer, "email": "", "portrait": ""},
        "item": [_item(call.shop, line) for line in found.lines],
        "order_sn": found.order_id,
        "return_ship_due_date": found.create_time + (RESPOND_DAYS + SHIP_BACK_DAYS) * day,
        "return_seller_due_date": found.create_time + (RESPOND_DAYS + SHIP_BACK_DAYS + 3) * day,
        "negotiation_status": NEGOTIATION.get(found.stage, "TERMINATED"),
        "seller_proof_status": "NOT_NEEDED",
        "seller_compensation_status": "NOT_REQUIRED",
        "return_refund_type": "RRAOC" if order.status == "COMPLETED" else "RRBOC",
        "return_solution": 1 if found.refund_only else 0,
        "is_seller_arrange": False,
        "is_shipping_proof_mandatory": False,
        "return_refund_request_type": 0,
        "validation_type": "seller_validation",
    }


def _item(shop: Shop, line: ReturnLine) -> dict[str, Any]:
    item = shop.items.get(line.item_id)
    no_model = line.model_id == "0"
    return {
        "model_id": int(line.model_id),
        "name": item.title if item else "",
        "images": list(item.images[:1]) if item else [],
        "amount": line.quantity,
        "item_price": money(line.price),
        "is_add_on_deal": False,
        "is_main_item": False,
        "add_on_deal_id": 0,
        "item_id": int(line.item_id),
        "item_sku": line.sku if no_model else "",
        "variation_sku": "" if no_model else line.sku,
    }


ENDPOINTS = [
    Endpoint("GET", "/api/v2/returns/get_return_list", "shop", get_return_list),
    Endpoint("GET", "/api/v2/returns/get_return_detail", "shop", get_return_detail),
]
