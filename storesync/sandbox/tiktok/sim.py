"""The TikTok Shop Open API (202309) simulator: two hosts, as on the real platform.

`mounts()` gives `/tiktok` (the API host, `open-api.tiktokglobalshop.com`) and `/tiktok-auth`
(the auth host, `auth.tiktok-shops.com`), so a real client only swaps the two base URLs.
Wire details and the documented choices live in this package's modules: `wire` (signing,
envelope, error codes and HTTP statuses), `auth` (consent page, token get/refresh), `api`
(route table, products, webhooks), `orders`, `fulfillment`, `returns` (endpoints), `render`
(payload shapes), `filters` (search bodies).

Webhooks (§2.6): compact JSON, `Authorization` = HMAC-SHA256(app_secret, app_key + body).
- `order.created` / `order.status` → type 1 (ORDER_STATUS_CHANGE). The webhook spells a
  cancelled order `CANCEL`, as the official webhook page lists it (the order API says CANCELLED).
- `cancellation.status` → type 11 (CANCELLATION_STATUS_CHANGE): the sim emits it itself when a
  tiktok order is cancelled by the buyer or the seller (`order.status` CANCELLED with
  `cancel_by`), so both pushes go out. Data: `order_id`, `cancel_id`, `cancellations_role`
  (BUYER | SELLER), `cancel_status` (CANCELLATION_REQUEST_COMPLETE), `create_time` [CODE: the
  documented sample's fields].
- `return.status` → type 12 (RETURN_STATUS_CHANGE). Data: `order_id`, `return_id`,
  `return_role` (BUYER), `return_type` (REFUND | RETURN_AND_REFUND), `return_status` (the stage's
  status, see `returns`), `create_time`, `update_time` [CODE: the documented sample's fields].
- PACKAGE_UPDATE (type 4) is not sent: its documented data describes package splits and
  combinations (`sc_type`, `package_list`), which the sandbox does not model.
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
from storesync.sandbox.tiktok import returns
from storesync.sandbox.tiktok.api import Webhooks, build_api_app
from storesync.sandbox.tiktok.auth import build_auth_app
from storesync.sandbox.tiktok.fulfillment import Documents
from storesync.sandbox.tiktok.wire import (
    INTERNAL_ERROR,
    RATE_LIMITED,
    envelope,
    push_signature,
    sign,
)

__all__ = ["TikTokSim", "push_signature", "sign"]

ORDER_STATUS_CHANGE = 1
CANCELLATION_STATUS_CHANGE = 11
RETURN_STATUS_CHANGE = 12
INVENTORY_STATUS_CHANGE = 27
LOW_STOCK_THRESHOLD = 5
CANCELLATION_EVENT = "cancellation.status"
_EVENT_TYPES = {
    "order.created": (ORDER_STATUS_CHANGE, "ORDER_STATUS_CHANGE"),
    "order.status": (ORDER_STATUS_CHANGE, "ORDER_STATUS_CHANGE"),
    CANCELLATION_EVENT: (CANCELLATION_STATUS_CHANGE, "CANCELLATION_STATUS_CHANGE"),
    "return.status": (RETURN_STATUS_CHANGE, "RETURN_STATUS_CHANGE"),
    "stock.changed": (INVENTORY_STATUS_CHANGE, "INVENTORY_STATUS_CHANGE"),
}


class TikTokSim:
    """The TikTok Shop simulator (`PlatformSim`)."""

    name: Platform = "tiktok"

    def __init__(self, *, low_stock_threshold: int = LOW_STOCK_THRESHOLD) -> None:
        self.low_stock_threshold = low_stock_threshold
        self.webhooks = Webhooks()
        self.documents = Documents()
        self.state: SandboxState | None = None

    def mounts(self, state: SandboxState) -> dict[str, ASGIApp]:
        self.state = state
        if self._announce_cancellation not in state.listeners:
            state.listeners.append(self._announce_cancellation)
        return {
            "/tiktok": build_api_app(state, self.webhooks, self.documents),
            "/tiktok-auth": build_auth_app(state),
        }

    def _announce_cancellation(self, event: SandboxEvent) -> None:
        """A buyer's or seller's cancellation is also a cancellation record on TikTok: emit
        `cancellation.status` so the type 11 push goes out after the order's type 1."""
        if event.platform != "tiktok" or event.kind != "order.status":
            return
        if event.data.get("status") != "CANCELLED" or self.state is None:
            return
        order = self.state.orders.get(("tiktok", str(event.data.get("order_id"))))
        if order is None or order.cancel_by not in ("buyer", "seller"):
            return
        self.state.emit(
            "tiktok",
            order.shop_id,
            CANCELLATION_EVENT,
            {
                "order_id": order.id,
                "cancel_id": returns.cancel_id(order),
                "role": order.cancel_by.upper(),
                "create_time": order.update_time,
            },
        )

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
        data = self._data(number, event)
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

    def _data(self, number: int, event: SandboxEvent) -> dict[str, Any] | None:
        if number == ORDER_STATUS_CHANGE:
            return _order_data(event)
        if number == CANCELLATION_STATUS_CHANGE:
            return _cancellation_data(event)
        if number == RETURN_STATUS_CHANGE:
            return _return_data(self.state, event)
        return _inventory_data(event, self.low_stock_threshold)


def _order_data(event: SandboxEvent) -> dict[str, Any]:
    status = str(event.data.get("status", ""))
    return {
        "order_id": str(event.data.get("order_id", "")),
        "order_status": "CANCEL" if status == "CANCELLED" else status,
        "is_on_hold_order": status == "ON_HOLD",
        "update_time": event.timestamp,
    }


def _cancellation_data(event: SandboxEvent) -> dict[str, Any]:
    return {
        "order_id": str(event.data.get("order_id", "")),
        "cancel_id": str(event.data.get("cancel_id", "")),
        "cancellations_role": str(event.data.get("role", "")),
        "cancel_status": returns.CANCEL_COMPLETE,
        "create_time": int(event.data.get("create_time") or event.timestamp),
    }


def _return_data(state: SandboxState | None, event: SandboxEvent) -> dict[str, Any] | None:
    """The return as it was at the event (its stage then); None when the sandbox no longer
    knows it (reset)."""
    found = state.returns.get(("tiktok", str(event.data.get("return_id")))) if state else None
    stage = str(event.data.get("stage", ""))
    if found is None or stage not in returns.RETURN_STATUS:
        return None
    return {
        "order_id": found.order_id,
        "return_id": found.id,
        "return_role": "BUYER",
        "return_type": returns.return_type(found),
        "return_status": returns.return_status(found, stage),
        "create_time": found.create_time,
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
