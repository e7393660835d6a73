"""Shopee fulfilment behind `ShopeeAdapter`: shipping options, arranging shipment, tracking
numbers, shipping labels, seller cancellation and returns (docs/marketplaces/shopee-fulfilment.md).

Reads the logistics payloads (get_shipping_parameter, the shipping-document batches) itself;
orders and returns go through `mapping`. Every platform refusal is an `AppError` carrying
Shopee's code in `details["platform_error"]` and its message, never retried.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storesync.channels.schemas import (
    CANCEL_REASONS,
    ChannelReturn,
    DropoffBranch,
    HandoverMethod,
    PickupAddress,
    PickupSlot,
    Shipment,
    ShippingLabel,
    ShippingOptions,
    ShipRequest,
)
from storesync.channels.shopee import client as api
from storesync.channels.shopee import mapping
from storesync.channels.shopee.client import ShopeeClient
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, ValidationFailed

log = logging.getLogger(__name__)

LABEL_POLLS = 10  # get_shipping_document_result calls before giving up
LABEL_POLL_SECONDS = 1.0  # between them
RETURN_WINDOW = 15 * 86400  # get_return_list's longest update_time range
RETURN_PAGE_SIZE = 100
ALL_FAILED = "common.batch_api_all_failed"  # a batch call whose every order failed
DEFAULT_DOCUMENT = "THERMAL_AIR_WAYBILL"
HANDOVER: tuple[HandoverMethod, ...] = ("pickup", "dropoff")
# Where a shop's pickup dates are local days (offset used when the zone database is missing).
REGION_ZONES = {
    "SG": ("Asia/Singapore", 8),
    "MY": ("Asia/Kuala_Lumpur", 8),
    "PH": ("Asia/Manila", 8),
    "TW": ("Asia/Taipei", 8),
    "ID": ("Asia/Jakarta", 7),
    "TH": ("Asia/Bangkok", 7),
    "VN": ("Asia/Ho_Chi_Minh", 7),
    "BR": ("America/Sao_Paulo", -3),
    "MX": ("America/Mexico_City", -6),
    "CO": ("America/Bogota", -5),
    "CL": ("America/Santiago", -4),
    "AR": ("America/Argentina/Buenos_Aires", -3),
    "PL": ("Europe/Warsaw", 1),
    "ES": ("Europe/Madrid", 1),
}
TIME_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


class ShopeeFulfilment:
    """The fulfilment calls of one store connection. `label_polls` and `label_poll_seconds`
    bound how long `shipping_label` waits for Shopee to render a document."""

    def __init__(
        self,
        client: ShopeeClient,
        *,
        label_polls: int = LABEL_POLLS,
        label_poll_seconds: float = LABEL_POLL_SECONDS,
    ) -> None:
        self.client = client
        self.label_polls = label_polls
        self.label_poll_seconds = label_poll_seconds

    # -- shipping ------------------------------------------------------------------------------

    async def shipping_options(self, order_id: str) -> ShippingOptions:
        detail = await self.order_detail(order_id)
        package, split = _package(detail)
        params: list[tuple[str, str | int]] = [("order_sn", order_id)]
        if split:
            params.append(("package_number", package))
        answer = await self.client.shop("GET", api.SHIPPING_PARAMETER, params=params)
        return shipping_options(
            order_id, package, _carrier(detail), answer.get("response") or {}, _zone(detail)
        )

    async def arrange_shipment(self, order_id: str, request: ShipRequest) -> Shipment:
        detail = await self.order_detail(order_id)
        package, split = _package(detail)
        body: dict[str, Any] = {"order_sn": order_id}
        if split:  # Shopee refuses package_number on an order that was not split
            body["package_number"] = package
        body[request.method] = _handover(request)
        await self.client.shop("POST", api.SHIP_ORDER, body=body)
        log.info("Shopee order %s arranged for %s", order_id, request.method)
        tracking = await self._tracking(order_id, package if split else "")
        return Shipment(
            platform_order_id=order_id,
            package_id=package,
            method=request.method,
            tracking_number=tracking,
            carrier=_carrier(detail),
        )

    async def tracking_number(self, order_id: str) -> str:
        return await self._tracking(order_id, "")

    async def _tracking(self, order_id: str, package: str) -> str:
        params: list[tuple[str, str | int]] = [("order_sn", order_id)]
        if package:
            params.append(("package_number", package))
        answer = await self.client.shop("GET", api.TRACKING_NUMBER, params=params)
        return str((answer.get("response") or {}).get("tracking_number") or "")

    async def shipping_label(self, order_id: str) -> ShippingLabel:
        detail = await self.order_detail(order_id)
        package, split = _package(detail)
        tracking = await self._tracking(order_id, package if split else "")
        ref = {"order_sn": order_id, **({"package_number": package} if package else {})}
        parameter = await self._batch(api.DOCUMENT_PARAMETER, ref)
        kind = str(parameter.get("suggest_shipping_document_type") or DEFAULT_DOCUMENT)
        create = {**ref, "shipping_document_type": kind}
        if tracking:
            create["tracking_number"] = tracking
        await self._batch(api.CREATE_DOCUMENT, create)
        await self._until_ready(order_id, {**ref, "shipping_document_type": kind})
        pdf = await self.client.shop_file(
            "POST",
            api.DOWNLOAD_DOCUMENT,
            body={"shipping_document_type": kind, "order_list": [ref]},
        )
        log.info("Shopee label of order %s downloaded (%d bytes)", order_id, len(pdf))
        return ShippingLabel(
            platform_order_id=order_id, package_id=package, tracking_number=tracking, pdf=pdf
        )

    async def _until_ready(self, order_id: str, ref: dict[str, Any]) -> None:
        """Poll get_shipping_document_result until READY: at most `label_polls` times."""
        for attempt in range(1, self.label_polls + 1):
            result = await self._batch(api.DOCUMENT_RESULT, ref)
            status = str(result.get("status") or "")
            if status == "READY":
                return
            if status == "FAILED":
                raise AppError(
                    ErrorType.PLATFORM_API,
                    "label_failed",
                    f"Shopee could not print the label of order {order_id}: "
                    f"{result.get('fail_message') or 'the document failed'}",
                    details={
                        "path": api.DOCUMENT_RESULT,
                        "platform_error": str(result.get("fail_error") or ""),
                        "order_sn": order_id,
                    },
                    retryable=False,
                )
            if attempt < self.label_polls:
                await asyncio.sleep(self.label_poll_seconds)
        raise AppError(
            ErrorType.PLATFORM_API,
            "label_not_ready",
            f"Shopee is still printing the label of order {order_id}; try again shortly",
            details={"path": api.DOCUMENT_RESULT, "order_sn": order_id},
            retryable=True,
        )

    async def _batch(self, path: str, entry: dict[str, Any]) -> dict[str, Any]:
        """One order through a shipping-document batch call: its result_list entry, or its
        `fail_error` raised (the whole call answers batch_api_all_failed then). A document
        whose `status` is FAILED also carries a fail_error: `_until_ready` reads that one."""
        answer = await self.client.shop(
            "POST", path, body={"order_list": [entry]}, accept={ALL_FAILED}
        )
        results = (answer.get("response") or {}).get("result_list") or []
        result = next((r for r in results if r.get("order_sn") == entry["order_sn"]), None)
        if result is None:
            raise AppError(
                ErrorType.PLATFORM_API,
                "malformed_response",
                f"Shopee {path} answered no result for order {entry['order_sn']}",
                details={"path": path},
                retryable=False,
            )
        if result.get("fail_error") and not result.get("status"):  # FAILED is a status
            raise AppError(
                ErrorType.VALIDATION,
                "rejected",
                f"Shopee {path}: {result.get('fail_message') or result['fail_error']}",
                details={
                    "path": path,
                    "platform_error": str(result["fail_error"]),
                    "order_sn": entry["order_sn"],
                },
                retryable=False,
            )
        return dict(result)

    # -- cancellation --------------------------------------------------------------------------

    async def cancel_order(self, order_id: str, reason: str) -> None:
        code = mapping.CANCEL_REASON.get(reason)
        if code is None:
            raise ValidationFailed("reason", f"one of {', '.join(CANCEL_REASONS)}")
        body: dict[str, Any] = {"order_sn": order_id, "cancel_reason": code}
        if code == "OUT_OF_STOCK":  # Shopee wants the items that ran out: all of the order's
            detail = await self.order_detail(order_id)
            pairs = dict.fromkeys(
                (int(line["item_id"]), int(line.get("model_id") or 0))
                for line in detail.get("item_list") or []
            )
            body["item_list"] = [{"item_id": i, "model_id": m} for i, m in pairs]
        await self.client.shop("POST", api.CANCEL_ORDER, body=body)
        log.info("Shopee order %s cancelled by the seller (%s)", order_id, code)

    # -- returns -------------------------------------------------------------------------------

    async def fetch_returns(
        self, *, since: datetime, until: datetime | None = None
    ) -> AsyncIterator[ChannelReturn]:
        start = math.floor(_aware(since).timestamp())
        end = math.ceil(_aware(until or utcnow()).timestamp())
        seen: set[str] = set()
        while start < end:
            stop = min(start + RETURN_WINDOW, end)
            async for found in self._returns_in(start, stop - 1, seen):
                yield found
            start = stop

    async def _returns_in(
        self, time_from: int, time_to: int, seen: set[str]
    ) -> AsyncIterator[ChannelReturn]:
        """One update_time window (both ends inclusive), paged by page_no from 0."""
        page_no = 0
        while True:
            params: list[tuple[str, str | int]] = [
                ("page_no", page_no),
                ("page_size", RETURN_PAGE_SIZE),
                ("update_time_from", time_from),
                ("update_time_to", time_to),
            ]
            answer = await self.client.shop("GET", api.RETURN_LIST, params=params)
            page = answer.get("response") or {}
            rows = page.get("return") or []
            for row in rows:
                return_sn = str(row.get("return_sn") or "")
                if not return_sn or return_sn in seen:
                    continue
                seen.add(return_sn)
                if not row.get("item"):  # no lines in the list: the detail has them
                    row = await self._return_detail(return_sn)
                yield mapping.channel_return(row)
            if not page.get("more") or not rows:
                return
            page_no += 1

    async def _return_detail(self, return_sn: str) -> dict[str, Any]:
        answer = await self.client.shop("GET", api.RETURN_DETAIL, params=[("return_sn", return_sn)])
        return {"return_sn": return_sn, **(answer.get("response") or {})}

    # -- orders --------------------------------------------------------------------------------

    async def order_detail(self, order_id: str) -> dict[str, Any]:
        """get_order_detail of one order (NOT_FOUND when Shopee does not know it)."""
        answer = await self.client.shop(
            "GET",
            api.ORDER_DETAIL,
            params=[
                ("order_sn_list", order_id),
                ("response_optional_fields", mapping.ORDER_DETAIL_FIELDS),
            ],
        )
        for detail in (answer.get("response") or {}).get("order_list") or []:
            if str(detail.get("order_sn")) == order_id:
                return dict(detail)
        raise AppError(
            ErrorType.NOT_FOUND,
            "not_found",
            f"Shopee has no order {order_id} in this shop",
            details={"path": api.ORDER_DETAIL, "order_sn": order_id},
            retryable=False,
        )


# -- payloads ----------------------------------------------------------------------------------


def shipping_options(
    order_id: str, package: str, carrier: str, answer: dict[str, Any], zone: tzinfo
) -> ShippingOptions:
    """get_shipping_parameter's answer: a mode is offered when `info_needed` names it."""
    needed = answer.get("info_needed") or {}
    addresses = (answer.get("pickup") or {}).get("address_list") or []
    addresses = sorted(
        addresses, key=lambda a: "pickup_address" not in (a.get("address_flag") or [])
    )
    branches = (answer.get("dropoff") or {}).get("branch_list") or []
    return ShippingOptions(
        platform_order_id=order_id,
        package_id=package,
        methods=[m for m in HANDOVER if m in needed],
        carrier=carrier,
        addresses=[
            PickupAddress(
                address_id=str(a["address_id"]),
                label=_place(a),
                slots=[_slot(s, zone) for s in a.get("time_slot_list") or []],
            )
            for a in addresses
        ],
        branches=[DropoffBranch(branch_id=str(b["branch_id"]), label=_place(b)) for b in branches],
    )


def _place(raw: dict[str, Any]) -> str:
    parts = [raw.get(k) for k in ("address", "district", "city", "state", "zipcode")]
    return ", ".join(str(p) for p in parts if p)


def _slot(raw: dict[str, Any], zone: tzinfo) -> PickupSlot:
    """ "Tue 08 Dec 09:00 - 12:00": `date` is a day (a timestamp within it, shown in the shop's
    zone) and `time_text` its hours; either may be missing on some channels."""
    text = str(raw.get("time_text") or "")
    date = raw.get("date")
    if not date:
        return PickupSlot(slot_id=str(raw["pickup_time_id"]), label=text or "Any time")
    day = datetime.fromtimestamp(int(date), zone)
    hours = TIME_RANGE.search(text)
    starts = ends = None
    if hours:
        start_hour, start_minute, end_hour, end_minute = (int(g) for g in hours.groups())
        starts = day.replace(hour=start_hour, minute=start_minute, second=0, microsecond=0)
        ends = day.replace(hour=end_hour, minute=end_minute, second=0, microsecond=0)
    return PickupSlot(
        slot_id=str(raw["pickup_time_id"]),
        label=f"{day:%a %d %b} {text}".strip(),
        starts_at=starts.astimezone(UTC) if starts else None,
        ends_at=ends.astimezone(UTC) if ends else None,
    )


def _handover(request: ShipRequest) -> dict[str, Any]:
    """ship_order's `pickup` or `dropoff` object for the merchant's choice."""
    if request.method == "pickup":
        if not request.address_id.isdigit():
            raise ValidationFailed("address_id", "choose one of the order's pickup addresses")
        pickup: dict[str, Any] = {"address_id": int(request.address_id)}
        if request.slot_id:
            pickup["pickup_time_id"] = request.slot_id
        return pickup
    if request.branch_id and not request.branch_id.isdigit():
        raise ValidationFailed("branch_id", "choose one of the order's drop-off branches")
    return {"branch_id": int(request.branch_id)} if request.branch_id else {}


def _package(detail: dict[str, Any]) -> tuple[str, bool]:
    """The order's first package and whether the order was split into several."""
    packages = detail.get("package_list") or []
    first = str(packages[0].get("package_number") or "") if packages else ""
    return first, len(packages) > 1


def _carrier(detail: dict[str, Any]) -> str:
    packages = detail.get("package_list") or []
    return str(
        detail.get("shipping_carrier")
        or (packages[0].get("shipping_carrier") if packages else "")
        or ""
    )


def _zone(detail: dict[str, Any]) -> tzinfo:
    name, hours = REGION_ZONES.get(str(detail.get("region") or ""), ("UTC", 0))
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=hours))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
