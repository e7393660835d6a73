"""The TikTok Shop Open API (202309) simulator: two hosts, as on the real platform.

`mounts()` gives `/tiktok` (the API host, `open-api.tiktokglobalshop.com`) and `/tiktok-auth`
(the auth host, `auth.tiktok-shops.com`), so a real client only swaps the two base URLs.
Wire details and the documented choices live in this package's modules: `wire` (signing,
envelope, error codes and HTTP statuses), `auth` (consent page, token get/refresh), `api`
(endpoints), `render` (payload shapes).

Webhooks (§2.6): compact JSON, `Authorization` = HMAC-SHA256(app_secret, app_key + body).
- `order.created` / `order.status` → type 1 (ORDER_STATUS_CHANGE). The webhook spells a
  cancelled order `CANCEL`, as the official webhook page lists it (the order API says CANCELLED).
- `stock.changed` → type 27 (INVENTORY_STATUS_CHANGE, "Inventory status change" in the product
  webhook docs), and only like TikTok sends it: when the SKU is at or below the low-stock
  threshold (`LOW_STOCK`) or at zero (`OUT_OF_STOCK`), with `alert_type` REALTIME. Stock going up,
  or staying comfortable, sends nothing [UNCONF: TikTok has no documented per-change stock push].
- When event types were registered through `PUT /event/202309/webhooks`, only those are pushed;
  a URL set through the control API receives every kind.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from storesync.sandbox.state import App, Platform, SandboxEvent, SandboxState
from storesync.sandbox.tiktok.api import Webhooks, build_api_app
from storesync.sandbox.tiktok.auth import build_auth_app
from storesync.sandbox.tiktok.wire import (
    INTERNAL_ERROR,
    RATE_LIMITED,
    envelope,
    push_signature,
    sign,
)

__all__ = ["TikTokSim", "push_signature", "sign"]

ORDER_STATUS_CHANGE = 1
INVENTORY_STATUS_CHANGE = 27
LOW_STOCK_THRESHOLD = 5
_EVENT_TYPES = {
    "order.created": (ORDER_STATUS_CHANGE, "ORDER_STATUS_CHANGE"),
    "order.status": (ORDER_STATUS_CHANGE, "ORDER_STATUS_CHANGE"),
    "stock.changed": (INVENTORY_STATUS_CHANGE, "INVENTORY_STATUS_CHANGE"),
}


class TikTokSim:
    """The TikTok Shop simulator (`PlatformSim`)."""

    name: Platform = "tiktok"

    def __init__(self, *, low_stock_threshold: int = LOW_STOCK_THRESHOLD) -> None:
        self.low_stock_threshold = low_stock_threshold
        self.webhooks = Webhooks()
        self.state: SandboxState | None = None

    def mounts(self, state: SandboxState) -> dict[str, ASGIApp]:
        self.state = state
        return {
            "/tiktok": build_api_app(state, self.webhooks),
            "/tiktok-auth": build_auth_app(state),
        }

    def shop_key(self, request: Request) -> str:
        return request.query_params.get("shop_cipher", "")

    def rate_limited(self) -> Response:
        message = "Too many requests. You've made too many requests in a short period of time."
        return envelope(None, code=RATE_LIMITED, message=message, status=429)

    def server_error(self, status: int) -> Response:
        return envelope(
            None, code=INTERNAL_ERROR, message="Internal error, please retry.", status=status
        )

    def webhook(
        self, app: App, url: str, event: SandboxEvent
    ) -> tuple[bytes, dict[str, str]] | None:
        kind = _EVENT_TYPES.get(event.kind)
        if kind is None:
            return None
        number, event_type = kind
        registered = self.webhooks.active(self.state) if self.state is not None else {}
        if registered and event_type not in registered:
            return None
        data = (
            _order_data(event)
            if number == ORDER_STATUS_CHANGE
            else _inventory_data(event, self.low_stock_threshold)
        )
        if data is None:
            return None
        payload = {
            "type": number,
            "tts_notification_id": str(int(event.id, 16)),
            "shop_id": str(event.shop_id),
            "timestamp": event.timestamp,
            "data": data,
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Authorization": push_signature(app.key, app.secret, body),
            "Content-Type": "application/json",
        }
        return body, headers


def _order_data(event: SandboxEvent) -> dict[str, Any]:
    status = str(event.data.get("status", ""))
    return {
        "order_id": str(event.data.get("order_id", "")),
        "order_status": "CANCEL" if status == "CANCELLED" else status,
        "is_on_hold_order": status == "ON_HOLD",
        "update_time": event.timestamp,
    }


def _inventory_data(event: SandboxEvent, threshold: int) -> dict[str, Any] | None:
    stock = int(event.data.get("stock", 0))
    if stock > threshold:
        return None
    return {
        "product_id": str(event.data.get("item_id", "")),
        "sku_id": str(event.data.get("model_id", "")),
        "trigger_reason": {"alert_type": "REALTIME", "low_stock_threshold": threshold},
        "current_inventory_status": "OUT_OF_STOCK" if stock == 0 else "LOW_STOCK",
        "inventory_distribution": {
            "total_quantity": stock,
            "available_quantity": stock,
            "creator_reserved_quantity": 0,
            "campaign_reserved_quantity": 0,
            "committed_quantity": 0,
        },
        "update_time": event.timestamp,
    }
