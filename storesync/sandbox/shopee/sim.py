"""The Shopee Open Platform v2 simulator, mounted at `/shopee`: a client swaps only the host.

Wire details live in `wire` (signing, envelope, HTTP statuses), the endpoints in `auth`,
`product`, `catalog` (categories, attributes, limits, logistics channels, and the rules of each
listing field), `listing` (image upload, add_item, init_tier_variation, update_item), `order`,
`logistics` (arranging shipment), `documents` (shipping labels), `cancel` and `returns` (all in
this package).
Pushes follow §1.6: code 3 for order status, code 4 for a tracking number, code 8 for stock,
code 29 for returns (see `ShopeeSim.webhook`), signed as HMAC(partner_key, url|body).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from storesync.sandbox.shopee import (
    auth,
    cancel,
    catalog,
    documents,
    listing,
    logistics,
    order,
    product,
    returns,
)
from storesync.sandbox.shopee.wire import (
    Endpoint,
    ShopeeError,
    authenticate,
    error_response,
    push_signature,
    sign,
    success_response,
)
from storesync.sandbox.state import App, Platform, SandboxEvent, SandboxState

__all__ = ["ShopeeSim", "push_signature", "sign"]

PREFIX = "/shopee"
ORDER_STATUS_PUSH = 3
TRACKING_NUMBER_PUSH = 4
RESERVED_STOCK_PUSH = 8
RETURN_UPDATES_PUSH = 29


class ShopeeSim:
    """`PlatformSim` for Shopee. Push codes switched off through set_app_push_config are
    remembered here (all codes are on until then), as are the shipping documents created."""

    name: Platform = "shopee"

    def __init__(self) -> None:
        self.push_off: set[int] = set()
        self.documents = documents.DocumentTasks()

    def mounts(self, state: SandboxState) -> dict[str, ASGIApp]:
        return {PREFIX: self.build_app(state)}

    def build_app(self, state: SandboxState) -> Starlette:
        pages = auth.ConsentPages(state)
        endpoints = [
            *auth.endpoints(self.push_off),
            *product.ENDPOINTS,
            *catalog.ENDPOINTS,
            *listing.ENDPOINTS,
            *order.ENDPOINTS,
            *logistics.ENDPOINTS,
            *documents.endpoints(self.documents),
            *cancel.ENDPOINTS,
            *returns.ENDPOINTS,
        ]
        routes = [
            Route("/api/v2/shop/auth_partner", pages.show, methods=["GET"]),
            Route("/api/v2/shop/auth_partner", pages.submit, methods=["POST"]),
            listing.upload_route(state),
            *(_route(state, endpoint) for endpoint in endpoints),
        ]
        return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})

    def shop_key(self, request: Request) -> str:
        return request.query_params.get("shop_id", "")

    def rate_limited(self) -> Response:
        return error_response(
            ShopeeError(
                "error_rate_limit",
                "Too many requests. You have reached the rate limit. Please try again later.",
            )
        )

    def server_error(self, status: int) -> Response:
        if status == 503:
            error = ShopeeError(
                "error_system_busy",
                "Our system is taking some time to respond, please try later.",
                status=status,
            )
        else:
            error = ShopeeError("error_server", "Something wrong. Please try later.", status=status)
        return error_response(error)

    def webhook(
        self, app: App, url: str, event: SandboxEvent
    ) -> tuple[bytes, dict[str, str]] | None:
        """The push of a Shopee event, as compact JSON `{shop_id, code, timestamp, data}` with
        `Authorization` = HMAC(url|body); None for events Shopee does not push, or codes
        switched off. `data` per code (see `push_data`)."""
        if event.platform != "shopee":
            return None
        found = push_data(event)
        if found is None or found[0] in self.push_off:
            return None
        code, data = found
        payload = {
            "shop_id": int(event.shop_id),
            "code": code,
            "timestamp": event.timestamp,
            "data": data,
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        return body, {
            "Authorization": push_signature(app.secret, url, body),
            "Content-Type": "application/json",
        }


def push_data(event: SandboxEvent) -> tuple[int, dict[str, Any]] | None:
    """Push code and `data` of an event:
    - order.created / order.status → 3 `{ordersn, status, update_time}`
    - order.tracking_number (ship_order) → 4 `{ordersn, package_number, tracking_no}`
    - stock.changed → 8 `{item_id, model_id, stock, update_time}` (model_id 0 without models,
      `stock` the new seller stock)
    - return.status → 29 `{return_sn, order_sn, status, update_time}` (Shopee's ReturnStatus)
    """
    kind, raw = event.kind, event.data
    if kind in ("order.created", "order.status"):
        return ORDER_STATUS_PUSH, {
            "ordersn": raw["order_id"],
            "status": raw["status"],
            "update_time": event.timestamp,
        }
    if kind == "order.tracking_number":
        return TRACKING_NUMBER_PUSH, {
            "ordersn": raw["order_id"],
            "package_number": raw["package_id"],
            "tracking_no": raw["tracking_number"],
        }
    if kind == "stock.changed":
        return RESERVED_STOCK_PUSH, {
            "item_id": int(raw["item_id"]),
            "model_id": int(raw["model_id"]),
            "stock": raw["stock"],
            "update_time": event.timestamp,
        }
    if kind == "return.status":
        return RETURN_UPDATES_PUSH, {
            "return_sn": raw["return_id"],
            "order_sn": raw["order_id"],
            "status": returns.STATUS[raw["stage"]],
            "update_time": event.timestamp,
        }
    return None


def _route(state: SandboxState, endpoint: Endpoint) -> Route:
    async def run(request: Request) -> Response:
        try:
            call = await authenticate(state, request, endpoint.level)
            result = endpoint.handler(call)
        except ShopeeError as exc:
            return error_response(exc)
        if isinstance(result, Response):
            return result
        return success_response(result, endpoint.shape, call.warning)

    return Route(endpoint.path, run, methods=[endpoint.method])


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    """Unknown paths and wrong methods answer in Shopee's envelope too."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        return error_response(ShopeeError("error_param", "Wrong request method.", status=405))
    return error_response(ShopeeError("error_not_found", "Api not found.", status=status))
