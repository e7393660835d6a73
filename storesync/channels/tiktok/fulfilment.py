"""Shipping a TikTok order: its package's handover options, Ship Package, the tracking number,
the shipping label (the document link, downloaded) and the seller's cancellation.

The functions take the adapter's signed-call function (`Api`), so they share its refresh and
retry; a refusal (already shipped, cancelled, slot not offered) arrives as the `AppError` that
`wire.classify` made of TikTok's answer, with TikTok's message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

from storesync.channels.resilience import ResilientClient
from storesync.channels.schemas import (
    CANCEL_REASONS,
    HandoverMethod,
    PickupAddress,
    PickupSlot,
    Shipment,
    ShippingLabel,
    ShippingOptions,
    ShipRequest,
)
from storesync.channels.tiktok import mapping, wire
from storesync.channels.tiktok.paths import (
    CANCELLATIONS,
    HANDOVER_TIME_SLOTS,
    ORDERS,
    PACKAGE,
    SHIP_PACKAGE,
    SHIPPING_DOCUMENTS,
)
from storesync.core.errors import AppError, ErrorType, NotFound, ValidationFailed


class Api(Protocol):
    """The adapter's signed API call; answers the envelope's `data`."""

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        shop: bool = True,
    ) -> dict[str, Any]: ...


# StoreSync's reason → TikTok's `cancel_reason` for a paid order, and for an unpaid one (None:
# TikTok has no such reason before payment) [CODE: the seller reason keys integrations send].
SELLER_CANCEL_REASONS: dict[str, tuple[str, str | None]] = {
    "out_of_stock": (
        "seller_cancel_reason_out_of_stock",
        "seller_cancel_unpaid_reason_out_of_stock",
    ),
    "customer_request": (
        "seller_cancel_paid_reason_buyer_requested_cancellation",
        "seller_cancel_unpaid_reason_buyer_requested_cancellation",
    ),
    "undeliverable_area": ("seller_cancel_paid_reason_address_not_deliver", None),
}
PICKUP_ADDRESS_ID = "shop"  # TikTok collects at the address set in Seller Center: there is one
UTC_OFFSET_HOURS = {"ID": 7, "TH": 7, "VN": 7, "MY": 8, "SG": 8, "PH": 8, "GB": 0}
_SLOT_ID = re.compile(r"^(\d{9,11})-(\d{9,11})$")


async def order_detail(api: Api, order_id: str) -> dict[str, Any]:
    """The order as Get Order Detail answers it; `NotFound` when the shop has no such order."""
    page = await api("GET", ORDERS, query={"ids": order_id})
    for raw in page.get("orders") or []:
        if str(raw.get("id")) == str(order_id):
            return dict(raw)
    raise NotFound("order", order_id)


def first_package(raw: dict[str, Any]) -> str:
    for entry in raw.get("packages") or []:
        if isinstance(entry, dict) and entry.get("id"):
            return str(entry["id"])
    raise AppError(
        ErrorType.CONFLICT,
        "no_package",
        f"TikTok order {raw.get('id')} has no package yet; try again in a few minutes",
        details={"order_id": str(raw.get("id", ""))},
        retryable=False,
    )


async def shipping_options(api: Api, order_id: str) -> ShippingOptions:
    """The first package's handover: pickup (TikTok collects at the shop's address in one of
    the offered slots) and/or drop-off (no branches: any of the carrier's points)."""
    raw = await order_detail(api, order_id)
    package_id = first_package(raw)
    handover = await api("GET", HANDOVER_TIME_SLOTS.format(package_id=package_id))
    package = await api("GET", PACKAGE.format(package_id=package_id))
    methods: list[HandoverMethod] = []
    if handover.get("can_pickup"):
        methods.append("pickup")
    if handover.get("can_drop_off"):
        methods.append("dropoff")
    offset = _utc_offset((raw.get("recipient_address") or {}).get("region_code"))
    slots = [
        _slot(entry, offset)
        for entry in handover.get("pickup_slots") or []
        if entry.get("avaliable", entry.get("available", True))  # TikTok spells "avaliable"
    ]
    sender = package.get("sender_address") or {}
    label = str(sender.get("full_address") or "") or "The pickup address set in Seller Center"
    return ShippingOptions(
        platform_order_id=str(order_id),
        package_id=package_id,
        methods=methods,
        carrier=str(package.get("shipping_provider_name") or mapping.carrier(raw)),
        addresses=(
            [PickupAddress(address_id=PICKUP_ADDRESS_ID, label=label, slots=slots)]
            if "pickup" in methods
            else []
        ),
    )


def _utc_offset(region: Any) -> timezone:
    return timezone(timedelta(hours=UTC_OFFSET_HOURS.get(str(region or ""), 0)))


def _slot(entry: dict[str, Any], offset: timezone) -> PickupSlot:
    start, end = int(entry["start_time"]), int(entry["end_time"])
    starts = datetime.fromtimestamp(start, UTC)
    ends = datetime.fromtimestamp(end, UTC)
    local_start, local_end = starts.astimezone(offset), ends.astimezone(offset)
    label = (
        f"{local_start:%a} {local_start.day} {local_start:%b}, "
        f"{local_start:%H:%M} - {local_end:%H:%M}"
    )
    return PickupSlot(slot_id=f"{start}-{end}", label=label, starts_at=starts, ends_at=ends)


async def arrange_shipment(api: Api, order_id: str, request: ShipRequest) -> Shipment:
    """Ship Package for the first package: PICKUP in the chosen slot (TikTok picks the first
    offered one when `slot_id` is empty) or DROP_OFF; then the package's tracking number."""
    body: dict[str, Any] = {
        "handover_method": "PICKUP" if request.method == "pickup" else "DROP_OFF"
    }
    if request.method == "pickup" and request.slot_id:
        found = _SLOT_ID.match(request.slot_id)
        if found is None:
            raise ValidationFailed("slot_id", "expected a TikTok slot id (start-end)")
        body["pickup_slot"] = {"start_time": int(found[1]), "end_time": int(found[2])}
    raw = await order_detail(api, order_id)
    package_id = first_package(raw)
    await api("POST", SHIP_PACKAGE.format(package_id=package_id), body=body)
    package = await api("GET", PACKAGE.format(package_id=package_id))
    return Shipment(
        platform_order_id=str(order_id),
        package_id=package_id,
        method=request.method,
        tracking_number=str(package.get("tracking_number") or ""),
        carrier=str(package.get("shipping_provider_name") or ""),
    )


async def tracking_number(api: Api, order_id: str) -> str:
    return mapping.tracking(await order_detail(api, order_id))


async def shipping_label(api: Api, http: ResilientClient, order_id: str) -> ShippingLabel:
    """The first package's SHIPPING_LABEL (A6): TikTok answers a link, downloaded here with a
    plain GET and checked to be a PDF."""
    raw = await order_detail(api, order_id)
    package_id = first_package(raw)
    document = await api(
        "GET",
        SHIPPING_DOCUMENTS.format(package_id=package_id),
        query={"document_type": "SHIPPING_LABEL", "document_size": "A6"},
    )
    url = str(document.get("doc_url") or "")
    if not url:
        raise AppError(
            ErrorType.PLATFORM_API,
            "malformed_response",
            "TikTok Shop answered no shipping document link",
            retryable=False,
        )
    response = await http.send(lambda: wire.document_request(url), wire.classify_document)
    return ShippingLabel(
        platform_order_id=str(order_id),
        package_id=package_id,
        tracking_number=str(document.get("tracking_number") or mapping.tracking(raw)),
        pdf=response.content,
    )


async def cancel_order(api: Api, order_id: str, reason: str) -> None:
    """Cancel Order as the seller, with TikTok's reason for `reason` at the order's status."""
    if reason not in CANCEL_REASONS:
        raise ValidationFailed("reason", f"must be one of {', '.join(CANCEL_REASONS)}")
    raw = await order_detail(api, order_id)
    paid, unpaid = SELLER_CANCEL_REASONS[reason]
    value = unpaid if raw.get("status") == "UNPAID" else paid
    if value is None:
        raise AppError(
            ErrorType.VALIDATION,
            "reason_not_allowed",
            f"TikTok Shop takes no {reason!r} cancellation for an unpaid order",
            details={"order_id": str(order_id), "reason": reason},
            retryable=False,
        )
    await api("POST", CANCELLATIONS, body={"order_id": str(order_id), "cancel_reason": value})
