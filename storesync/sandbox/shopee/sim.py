"""The Shopee Open Platform v2 simulator, mounted at `/shopee`: a client swaps only the host.

Wire details live in `wire` (signing, envelope, HTTP statuses), the endpoints in `auth`,
`product` and `order` (all in this package). Pushes follow §1.6: code 3 for order
status, code 8 for stock (see `ShopeeSim.webhook`), signed as HMAC(partner_key, url|body).
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

from storesync.sandbox.shopee import auth, order, product
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
RESERVED_STOCK_PUSH = 8


class ShopeeSim:
    """`PlatformSim` for Shopee. Push codes switched off through set_app_push_config are
    remembered here (all codes are on until then)."""

    name: Platform = "shopee"

    def __init__(self) -> None:
        self.push_off: set[int] = set()

    def mounts(self, state: SandboxState) -> dict[str, ASGIApp]:
        return {PREFIX: self.build_app(state)}

    def build_app(self, state: SandboxState) -> Starlette:
        pages = auth.ConsentPages(state)
        endpoints = [
            *auth.endpoints(self.push_off),
            *product.ENDPOINTS,
            *order.ENDPOINTS,
        ]
        routes = [
            Route("/api/v2/shop/auth_partner", pages.show, methods=["GET"]),
            Route("/api/v2/shop/auth_partner", pages.submit, methods=["POST"]),
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
        """Code 3 `{ordersn, status, update_time}` for order.created/order.status; code 8
        `{item_id, model_id, stock, update_time}` (model_id 0 without models, `stock` the new
        seller stock) for stock.changed. Compact JSON, `Authorization` = HMAC(url|body)."""
        if event.platform != "shopee":
            return None
        data: dict[str, Any]
        if event.kind in ("order.created", "order.status"):
            code = ORDER_STATUS_PUSH
            data = {
                "ordersn": event.data["order_id"],
                "status": event.data["status"],
                "update_time": event.timestamp,
            }
        elif event.kind == "stock.changed":
            code = RESERVED_STOCK_PUSH
            data = {
                "item_id": int(event.data["item_id"]),
                "model_id": int(event.data["model_id"]),
                "stock": event.data["stock"],
                "update_time": event.timestamp,
            }
        else:
            return None
        if code in self.push_off:
            return None
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


def _route(state: SandboxState, endpoint: Endpoint) -> Route:
    async def run(request: Request) -> Response:
        try:
            call = await authenticate(state, request, endpoint.level)
            result = endpoint.handler(call)
        except ShopeeError as exc:
            return error_response(exc)
        return success_response(result, endpoint.shape, call.warning)

    return Route(endpoint.path, run, methods=[endpoint.method])


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    """Unknown paths and wrong methods answer in Shopee's envelope too."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        return error_response(ShopeeError("error_param", "Wrong request method.", status=405))
    return error_response(ShopeeError("error_not_found", "Api not found.", status=status))
