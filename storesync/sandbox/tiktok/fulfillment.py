"""Fulfillment endpoints (202309): search packages, package detail, handover time slots, Ship
Package (PICKUP in an offered slot, or DROP_OFF), shipping documents and order tracking.

A package is shipped through `SandboxState.arrange_order` (AWAITING_SHIPMENT → AWAITING_COLLECTION,
a tracking number, `order.status` sent). Refusals answer 36009004 with TikTok-worded messages
(see `wire`). The shipping document is a link the sandbox serves itself, unsigned like TikTok's
CDN link, under `/cdn/shipping_documents/{token}.pdf` of the TikTok mount; the token is random
and expires after `DOCUMENT_URL_LIFETIME` [UNCONF: TikTok does not publish the link lifetime].
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from storesync.sandbox.fulfilment.labels import LabelPage, render
from storesync.sandbox.state import Order, SandboxState, Shop
from storesync.sandbox.tiktok import render as tiktok
from storesync.sandbox.tiktok.filters import in_range, scope, sort
from storesync.sandbox.tiktok.wire import Call, invalid, page_size, paginate

MAX_PACKAGE_PAGE = 50
DOCUMENT_URL_LIFETIME = 24 * 3600
DOCUMENT_TYPES = (
    "SHIPPING_LABEL",
    "PACKING_SLIP",
    "SHIPPING_LABEL_AND_PACKING_SLIP",
    "SHIPPING_LABEL_PICTURE",
    "HAZMAT_LABEL",
    "INVOICE_LABEL",
)
PRINTABLE_TYPES = frozenset({"SHIPPING_LABEL", "PACKING_SLIP", "SHIPPING_LABEL_AND_PACKING_SLIP"})
PACKAGE_STATUSES = ("TO_FULFILL", "PROCESSING", "FULFILLING", "COMPLETED", "CANCELLED")
# Local pickup windows offered for the next days [UNCONF: the carrier's real windows vary].
PICKUP_WINDOWS = ((9, 12), (13, 17))
PICKUP_DAYS = 3
UTC_OFFSET_HOURS = {"ID": 7, "TH": 7, "VN": 7, "MY": 8, "SG": 8, "PH": 8}


# -- packages ----------------------------------------------------------------------------------


def package_order(call: Call) -> Order:
    """The shop's order whose package is the path's `package_id`."""
    package_id = str(call.request.path_params["package_id"])
    shop = call.the_shop()
    for order in call.state.orders_of("tiktok", shop.id):
        if tiktok.ensure_package(call.state, order) == package_id:
            return order
    raise invalid(f"package {package_id} does not exist in this shop")


def get_package(call: Call) -> dict[str, Any]:
    return tiktok.package(call.state, call.the_shop(), package_order(call))


def search_packages(call: Call) -> dict[str, Any]:
    shop, body = call.the_shop(), call.json()
    size = page_size(call.query, maximum=MAX_PACKAGE_PAGE)
    field, descending = sort(call)
    status = body.get("package_status")
    if status is not None and status not in PACKAGE_STATUSES:
        raise invalid(f"package_status must be one of {', '.join(PACKAGE_STATUSES)}")
    created, updated = in_range(body, "create_time", "lt"), in_range(body, "update_time", "lt")
    orders = [
        o
        for o in call.state.orders_of("tiktok", shop.id)
        if (status is None or tiktok.PACKAGE_STATUS.get(o.status) == status)
        and created(o.create_time)
        and updated(o.update_time)
    ]
    page, next_token = paginate(
        orders,
        key=lambda o: (getattr(o, field), o.id),
        descending=descending,
        size=size,
        token=call.query.get("page_token", ""),
        scope=scope(call, body, "sort_field", "sort_order"),
    )
    return {
        "packages": [_package_summary(call.state, shop, o) for o in page],
        "total_count": len(orders),
        "next_page_token": next_token,
    }


def _package_summary(state: SandboxState, shop: Shop, order: Order) -> dict[str, Any]:
    detail = tiktok.package(state, shop, order)
    return {
        "id": detail["package_id"],
        "status": detail["package_status"],
        "order_line_item_ids": detail["order_line_item_ids"],
        "orders": detail["orders"],
        "tracking_number": detail["tracking_number"],
        "shipping_provider_id": detail["shipping_provider_id"],
        "shipping_provider_name": detail["shipping_provider_name"],
        "create_time": detail["create_time"],
        "update_time": detail["update_time"],
    }


# -- handover ----------------------------------------------------------------------------------


def offered_slots(state: SandboxState, shop: Shop) -> list[tuple[int, int]]:
    """The pickup windows offered now: two a day for the next days, in the shop's local time."""
    offset = timedelta(hours=UTC_OFFSET_HOURS.get(shop.region, 0))
    today = (datetime.fromtimestamp(state.now(), UTC) + offset).date()
    slots = []
    for days in range(1, PICKUP_DAYS + 1):
        day = today + timedelta(days=days)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) - offset
        for start, end in PICKUP_WINDOWS:
            slots.append(
                (
                    int((midnight + timedelta(hours=start)).timestamp()),
                    int((midnight + timedelta(hours=end)).timestamp()),
                )
            )
    return slots


def handover_time_slots(call: Call) -> dict[str, Any]:
    order = package_order(call)
    _check_shippable(order)
    return {
        "can_pickup": True,
        "can_drop_off": True,
        "can_van_collection": False,
        "drop_off_point_url": "",
        "pickup_slots": [
            {"start_time": start, "end_time": end, "avaliable": True}
            for start, end in offered_slots(call.state, call.the_shop())
        ],
    }


def ship_package(call: Call) -> dict[str, Any]:
    """Ship Package: `handover_method` PICKUP (default) with an offered `pickup_slot` (the first
    offered one when none is sent) or DROP_OFF; `self_shipment.tracking_number` keeps the
    seller's own number."""
    order, body = package_order(call), call.json()
    method = body.get("handover_method") or "PICKUP"
    if method not in ("PICKUP", "DROP_OFF"):
        raise invalid("handover_method must be PICKUP or DROP_OFF")
    self_shipment = body.get("self_shipment") or {}
    if not isinstance(self_shipment, dict):
        raise invalid("self_shipment must be an object")
    _check_shippable(order)
    slot = ""
    if method == "PICKUP":
        offered = offered_slots(call.state, call.the_shop())
        start, end = _chosen_slot(body.get("pickup_slot"), offered)
        slot = f"{start}-{end}"
    tracking = str(self_shipment.get("tracking_number") or "")
    with call.state.lock:
        if tracking:
            order.tracking_number = tracking
        call.state.arrange_order(
            "tiktok",
            order.id,
            to_status="AWAITING_COLLECTION",
            method="pickup" if method == "PICKUP" else "dropoff",
            slot=slot,
        )
    return {}


def _check_shippable(order: Order) -> None:
    if order.status == "CANCELLED":
        raise invalid(f"The order {order.id} has been cancelled. The package cannot be shipped.")
    if order.tracking_number or order.status != "AWAITING_SHIPMENT":
        status = tiktok.PACKAGE_STATUS.get(order.status, "TO_FULFILL")
        raise invalid(
            f"The package of order {order.id} cannot be shipped: it has already been shipped "
            f"or is not ready (order status {order.status}, package status {status})."
        )


def _chosen_slot(raw: Any, offered: list[tuple[int, int]]) -> tuple[int, int]:
    if raw in (None, {}, []):  # EcomPHP sends an empty array when no slot is chosen
        return offered[0]
    if not isinstance(raw, dict):
        raise invalid("pickup_slot must be an object with start_time and end_time")
    start, end = raw.get("start_time"), raw.get("end_time")
    if not isinstance(start, int) or not isinstance(end, int) or _flag(start) or _flag(end):
        raise invalid("pickup_slot.start_time and pickup_slot.end_time must be Unix timestamps")
    chosen = (start, end)
    if chosen not in offered:
        raise invalid(
            "The pickup slot is not available. Choose one of the slots from Get Package "
            "Handover Time Slots."
        )
    return chosen


def _flag(value: int) -> bool:
    return isinstance(value, bool)  # JSON true/false are ints to Python


# -- tracking ----------------------------------------------------------------------------------


def tracking(call: Call) -> dict[str, Any]:
    """Get Tracking: the order's logistics events, newest first; none before it is shipped."""
    order_id = str(call.request.path_params["order_id"])
    order = call.state.orders.get(("tiktok", order_id))
    if order is None or order.shop_id != call.the_shop().id:
        raise invalid(f"order {order_id} does not exist in this shop")
    carrier = tiktok.SHIPPING_PROVIDER["name"]
    events = []
    if order.arranged_time:
        waiting = (
            f"Waiting for the seller to drop off the package at a {carrier} point"
            if order.handover_method == "dropoff"
            else f"Shipping label created; waiting for {carrier} to collect the package"
        )
        events.append((order.arranged_time, waiting))
    if order.shipped_time:
        events.append((order.shipped_time, f"Package collected by {carrier}; in transit"))
    if order.delivered_time:
        events.append((order.delivered_time, "Package delivered"))
    return {
        "tracking": [
            {"description": text, "update_time_millis": moment * 1000}
            for moment, text in reversed(sorted(events, key=lambda event: event[0]))
        ]
    }


# -- shipping documents ------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    shop_id: str
    order_id: str
    document_type: str
    expires_at: int


class Documents:
    """Issued shipping-document links: random token → what it prints, until when."""

    def __init__(self, *, lifetime: int = DOCUMENT_URL_LIFETIME) -> None:
        self.lifetime = lifetime
        self.issued: dict[str, Document] = {}

    def get_document(self, call: Call) -> dict[str, Any]:
        """Get Package Shipping Document: `doc_url` (and the tracking number) once shipped."""
        order = package_order(call)
        document_type = call.query.get("document_type", "")
        if document_type not in DOCUMENT_TYPES:
            raise invalid(f"document_type must be one of {', '.join(DOCUMENT_TYPES)}")
        if call.query.get("document_size", "A6") not in ("A6", "A5"):
            raise invalid("document_size must be A6 or A5")
        document_format = call.query.get("document_format", "PDF")
        if document_format not in ("PDF", "ZPL"):
            raise invalid("document_format must be PDF or ZPL")
        if document_format == "ZPL" or document_type not in PRINTABLE_TYPES:
            raise invalid(f"{document_type} as {document_format} is not available in this region")
        if order.status == "CANCELLED":
            raise invalid(f"The order {order.id} has been cancelled. No shipping document.")
        if not order.tracking_number:
            raise invalid(
                f"The shipping document of order {order.id} is not ready: ship the package first."
            )
        now = call.state.now()
        self.issued = {t: d for t, d in self.issued.items() if d.expires_at > now}
        token = secrets.token_urlsafe(24)
        expires = now + self.lifetime
        self.issued[token] = Document(order.shop_id, order.id, document_type, expires)
        url = call.request.url
        root = call.request.scope.get("root_path", "")
        doc_url = (
            f"{url.scheme}://{url.netloc}{root}/cdn/shipping_documents/{token}.pdf?expire={expires}"
        )
        return {"doc_url": doc_url, "tracking_number": order.tracking_number}

    def download(self, state: SandboxState, request: Request) -> Response:
        """The PDF behind a `doc_url`: no signature, like a CDN link; 404 once expired."""
        token = str(request.path_params["token"])
        with state.lock:
            found = self.issued.get(token)
            order = state.orders.get(("tiktok", found.order_id)) if found else None
            if found is None or order is None or found.expires_at <= state.now():
                return Response("The link is invalid or has expired.", 404, media_type="text/plain")
            pdf = render([label_page(state.shop("tiktok", found.shop_id), order)])
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{order.package_id}.pdf"'},
        )


def label_page(shop: Shop, order: Order) -> LabelPage:
    recipient = tiktok.recipient_address(shop, order)
    sender = tiktok.sender_address(shop)
    return LabelPage(
        platform="TikTok Shop",
        carrier=tiktok.SHIPPING_PROVIDER["name"],
        tracking_number=order.tracking_number,
        order_id=order.id,
        package_id=order.package_id,
        sender=f"{shop.name}, {sender['full_address']}",
        recipient=[
            recipient["name"],
            recipient["phone_number"],
            recipient["full_address"],
            recipient["postal_code"],
        ],
        items=[f"{line.quantity} x {line.sku} {line.title}" for line in order.lines],
    )
