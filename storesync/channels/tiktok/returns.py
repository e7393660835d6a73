"""TikTok returns and refunds → `ChannelReturn`: Search Returns by update time, paged to the
end, each return once, with its lines' products.

TikTok's return line items name the SKU and the order line item but not the product, one entry
per unit (like order line items), so the products come from the orders' details (one Get Order
Detail call per 50 orders of a page) and units are counted into lines.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from storesync.channels.schemas import ChannelReturn, ChannelReturnLine, ReturnState
from storesync.channels.tiktok import batching
from storesync.channels.tiktok.fulfilment import Api
from storesync.channels.tiktok.mapping import decimal, epoch
from storesync.channels.tiktok.paths import ORDERS, RETURNS_SEARCH
from storesync.core.errors import AppError, ErrorType

PAGE_SIZE = 50
MAX_ORDER_IDS = 50
# TikTok's return_status → StoreSync's reading. REFUND_OR_RETURN_REQUEST_REJECT is TikTok's
# spelling; RETURN_OR_REFUND_REQUEST_REJECT is accepted too (seen in integrations' code).
RETURN_STATES: dict[str, ReturnState] = {
    "RETURN_OR_REFUND_REQUEST_PENDING": "requested",
    "REPLACEMENT_REQUEST_PENDING": "requested",
    "AWAITING_BUYER_SHIP": "in_progress",
    "BUYER_SHIPPED_ITEM": "in_progress",
    "AWAITING_BUYER_RESPONSE": "in_progress",
    "RETURN_OR_REFUND_REQUEST_SUCCESS": "in_progress",
    "RETURN_OR_REFUND_REQUEST_COMPLETE": "completed",
    "REPLACEMENT_REQUEST_COMPLETE": "completed",
    "REPLACEMENT_REQUEST_REFUND_SUCCESS": "completed",
    "RETURN_OR_REFUND_REQUEST_CANCEL": "cancelled",
    "REPLACEMENT_REQUEST_CANCEL": "cancelled",
    "REFUND_OR_RETURN_REQUEST_REJECT": "rejected",
    "RETURN_OR_REFUND_REQUEST_REJECT": "rejected",
    "REPLACEMENT_REQUEST_REJECT": "rejected",
    "REJECT_RECEIVE_PACKAGE": "rejected",
}
REFUND_ONLY_TYPES = frozenset({"REFUND", "REFUND_ONLY"})


async def fetch_returns(
    api: Api, *, since: datetime, until: datetime | None = None
) -> AsyncIterator[ChannelReturn]:
    """Returns updated in [since, until), oldest update first, each once."""
    body: dict[str, Any] = {"update_time_ge": math.ceil(since.timestamp())}
    if until is not None:
        body["update_time_lt"] = math.ceil(until.timestamp())
    seen: set[str] = set()
    token = ""
    while True:
        query = {"page_size": str(PAGE_SIZE), "sort_field": "update_time", "sort_order": "ASC"}
        if token:
            query["page_token"] = token
        page = await api("POST", RETURNS_SEARCH, query=query, body=body)
        raws = [r for r in page.get("return_orders") or [] if str(r.get("return_id")) not in seen]
        products = await _products(api, {str(r.get("order_id", "")) for r in raws})
        for raw in raws:
            seen.add(str(raw.get("return_id")))
            yield channel_return(raw, products)
        token = str(page.get("next_page_token") or "")
        if not token:
            break


async def _products(api: Api, order_ids: set[str]) -> dict[str, str]:
    """Order line item id → product id, from the orders' details."""
    products: dict[str, str] = {}
    for chunk in batching.chunks(sorted(i for i in order_ids if i), MAX_ORDER_IDS):
        page = await api("GET", ORDERS, query={"ids": ",".join(chunk)})
        for order in page.get("orders") or []:
            for item in order.get("line_items") or []:
                products[str(item.get("id", ""))] = str(item.get("product_id", ""))
    return products


def return_state(platform_status: str) -> ReturnState:
    """StoreSync's reading of a return status; an unknown one is a platform error (mapped on
    purpose, never guessed)."""
    try:
        return RETURN_STATES[platform_status]
    except KeyError:
        raise AppError(
            ErrorType.PLATFORM_API,
            "unknown_return_status",
            f"TikTok Shop sent an unknown return status {platform_status!r}",
            details={"status": platform_status},
            retryable=False,
        ) from None


def channel_return(raw: dict[str, Any], products: dict[str, str]) -> ChannelReturn:
    platform_status = str(raw.get("return_status", ""))
    refund = raw.get("refund_amount") or {}
    created = epoch(raw.get("create_time")) or datetime.fromtimestamp(0, UTC)
    return ChannelReturn(
        platform_return_id=str(raw["return_id"]),
        platform_order_id=str(raw.get("order_id", "")),
        platform_status=platform_status,
        state=return_state(platform_status),
        reason=str(raw.get("return_reason_text") or raw.get("return_reason") or ""),
        refund_only=str(raw.get("return_type", "")) in REFUND_ONLY_TYPES,
        lines=_lines(raw.get("return_line_items") or [], products),
        refund_amount=decimal(refund.get("refund_total")),
        currency=str(refund.get("currency") or ""),
        created_at=created,
        updated_at=epoch(raw.get("update_time")) or created,
    )


def _lines(items: list[dict[str, Any]], products: dict[str, str]) -> list[ChannelReturnLine]:
    units: Counter[tuple[str, str, str]] = Counter()
    for item in items:
        product = products.get(str(item.get("order_line_item_id", "")), "")
        key = (product, str(item.get("sku_id", "")), str(item.get("seller_sku", "")))
        units[key] += int(item.get("quantity", 1))
    return [
        ChannelReturnLine(
            platform_item_id=product, platform_model_id=sku_id, sku=sku, quantity=quantity
        )
        for (product, sku_id, sku), quantity in units.items()
    ]
