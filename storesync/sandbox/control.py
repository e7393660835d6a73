"""The sandbox-only control API (JSON, no marketplace signing) under `<sandbox>/sandbox/`.

For demos, tests and benchmarks: read the app credentials, authorize a shop without a browser,
inspect shops, listings and calls, place orders, switch faults and rate limits, register
webhook URLs, and reset the world.

It drives a `ControlTarget` (what `storesync.sandbox.app.Sandbox` offers) rather than importing
the `Sandbox` class, so `app` and `control` do not import each other.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from storesync.sandbox.faults import Faults
from storesync.sandbox.generator import OrderGenerator
from storesync.sandbox.state import PLATFORMS, Platform, SandboxError, SandboxState
from storesync.sandbox.webhooks import WebhookDispatcher


class ControlTarget(Protocol):
    """What the control API needs of a sandbox (`storesync.sandbox.app.Sandbox` is one)."""

    @property
    def state(self) -> SandboxState: ...

    @property
    def faults(self) -> Faults: ...

    @property
    def dispatcher(self) -> WebhookDispatcher: ...

    @property
    def generator(self) -> OrderGenerator: ...

    def app_credentials(self) -> dict[str, Any]: ...

    def reset(self, **seed_overrides: int) -> None: ...

    def expire_tokens(self, platform: Platform, shop_id: str) -> int: ...


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _platform(value: Any) -> Platform:
    if value not in PLATFORMS:
        raise SandboxError("bad_platform", f"platform must be one of {', '.join(PLATFORMS)}")
    return value


async def _json(request: Request) -> dict[str, Any]:
    if not (await request.body()).strip():
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise SandboxError("bad_body", "the body must be a JSON object")
    return data


def build_control_app(sandbox: ControlTarget) -> Starlette:
    state = sandbox.state

    async def apps(_request: Request) -> JSONResponse:
        return JSONResponse(sandbox.app_credentials())

    async def authorize(request: Request) -> JSONResponse:
        body = await _json(request)
        platform = _platform(body.get("platform"))
        shops = state.shops_of(platform)
        shop_id = str(body.get("shop_id") or (shops[0].id if shops else ""))
        code = state.issue_code(platform, shop_id)
        return JSONResponse(
            {
                "platform": platform,
                "code": code.code,
                "shop_id": shop_id,
                "expires_at": code.expires_at,
            }
        )

    async def shops(_request: Request) -> JSONResponse:
        return JSONResponse(
            [
                {
                    "platform": s.platform,
                    "shop_id": s.id,
                    "name": s.name,
                    "region": s.region,
                    "currency": s.currency,
                    "cipher": s.cipher,
                    "items": len(s.items),
                    "models": sum(len(i.models) for i in s.items.values()),
                }
                for s in state.shops.values()
            ]
        )

    async def listings(request: Request) -> JSONResponse:
        platform = _platform(request.query_params.get("platform"))
        shop = state.shop(platform, request.query_params.get("shop_id", ""))
        return JSONResponse(
            [
                {
                    "item_id": i.id,
                    "model_id": m.id,
                    "sku": m.sku,
                    "title": i.title,
                    "model_name": m.name,
                    "stock": m.stock,
                    "price": str(m.price),
                    "status": i.status,
                }
                for i in shop.items.values()
                for m in i.models
            ]
        )

    async def delete_item(request: Request) -> JSONResponse:
        """The seller deletes a listing in the seller centre (its models go with it)."""
        body = await _json(request)
        state.delete_item(
            _platform(body.get("platform")), str(body.get("shop_id", "")), str(body.get("item_id"))
        )
        return JSONResponse({"deleted": str(body.get("item_id"))})

    async def orders(request: Request) -> JSONResponse:
        body = await _json(request)
        platform = _platform(body.get("platform"))
        if not body.get("lines"):
            if not sandbox.generator.place_one_on(platform, body.get("shop_id")):
                return _bad("no shop of that platform has stock left", 409)
            order = max(state.orders.values(), key=lambda o: (o.create_time, o.id))
        else:
            shop_id = str(body.get("shop_id") or state.shops_of(platform)[0].id)
            lines = [_line(state, platform, shop_id, raw) for raw in body["lines"]]
            order = state.place_order(
                platform, shop_id, lines, buyer=str(body.get("buyer", "buyer"))
            )
        return JSONResponse(_order_json(order))

    async def order_status(request: Request) -> JSONResponse:
        body = await _json(request)
        platform = _platform(body.get("platform"))
        order = state.set_order_status(
            platform,
            str(body.get("order_id")),
            str(body.get("status")),
            restock=bool(body.get("restock", False)),
        )
        return JSONResponse(_order_json(order))

    async def order_get(request: Request) -> JSONResponse:
        platform = _platform(request.query_params.get("platform"))
        return JSONResponse(_order_json(state.order(platform, request.path_params["order_id"])))

    async def order_advance(request: Request) -> JSONResponse:
        """The parcel moves on one step: courier pickup, delivery, buyer confirms."""
        body = await _json(request)
        order = state.advance_order(_platform(body.get("platform")), str(body.get("order_id")))
        return JSONResponse(_order_json(order))

    async def order_cancel(request: Request) -> JSONResponse:
        """The buyer cancels (before the parcel leaves)."""
        body = await _json(request)
        order = state.cancel_order(
            _platform(body.get("platform")),
            str(body.get("order_id")),
            by="buyer",
            reason=str(body.get("reason") or "Change of mind"),
        )
        return JSONResponse(_order_json(order))

    async def returns(request: Request) -> JSONResponse:
        """GET: the returns of a platform; POST: the buyer asks to return (part of) an order,
        `{"platform", "order_id", "lines"?: [{"sku"|"item_id"+"model_id", "quantity"}],
        "reason"?, "refund_only"?}`."""
        if request.method == "GET":
            platform = _platform(request.query_params.get("platform"))
            rows = [r for r in state.returns.values() if r.platform == platform]
            return JSONResponse([_return_json(r) for r in rows])
        body = await _json(request)
        platform = _platform(body.get("platform"))
        order = state.order(platform, str(body.get("order_id")))
        lines = [_line(state, platform, order.shop_id, raw) for raw in body.get("lines") or []]
        found = state.open_return(
            platform,
            order.id,
            lines=lines or None,
            reason=str(body.get("reason") or "Damaged item"),
            refund_only=bool(body.get("refund_only", False)),
        )
        return JSONResponse(_return_json(found))

    async def return_stage(request: Request) -> JSONResponse:
        """`{"platform", "return_id", "stage": accepted|completed|cancelled|rejected}`."""
        body = await _json(request)
        found = state.move_return(
            _platform(body.get("platform")), str(body.get("return_id")), str(body.get("stage"))
        )
        return JSONResponse(_return_json(found))

    async def calls(request: Request) -> JSONResponse:
        platform = request.query_params.get("platform")
        path = request.query_params.get("path")
        since = float(request.query_params.get("since", 0))
        rows = [
            asdict(c)
            for c in list(sandbox.faults.calls)
            if (not platform or c.platform == platform)
            and (not path or c.path.endswith(path))
            and c.at >= since
        ]
        counts = Counter(f"{r['method']} {r['path']} {r['outcome']}" for r in rows)
        return JSONResponse({"total": len(rows), "counts": dict(counts), "calls": rows[-500:]})

    async def faults(request: Request) -> JSONResponse:
        if request.method == "POST":
            body = await _json(request)
            platforms = (
                PLATFORMS
                if body.get("platform") in (None, "all")
                else (_platform(body["platform"]),)
            )
            changes = {k: v for k, v in body.items() if k != "platform"}
            try:
                for platform in platforms:
                    sandbox.faults.update(platform, changes)
            except (ValueError, TypeError) as error:
                return _bad(str(error))
        return JSONResponse({p: sandbox.faults.of(p).public() for p in PLATFORMS})

    async def webhooks(request: Request) -> JSONResponse:
        if request.method == "POST":
            body = await _json(request)
            platforms = (
                PLATFORMS
                if body.get("platform") in (None, "all")
                else (_platform(body["platform"]),)
            )
            url = str(body.get("url", ""))
            if url and not url.startswith(("http://", "https://")):
                return _bad("url must be an http(s) URL")
            for platform in platforms:
                if url:
                    state.webhooks[platform] = url
                else:
                    state.webhooks.pop(platform, None)
        return JSONResponse(
            {
                "urls": dict(state.webhooks),
                "stats": sandbox.dispatcher.public_stats(),
                "events": len(state.events),
            }
        )

    async def generator(request: Request) -> JSONResponse:
        if request.method == "POST":
            body = await _json(request)
            sandbox.generator.set_rate(float(body.get("orders_per_minute", 0)))
        return JSONResponse(
            {
                "orders_per_minute": sandbox.generator.per_minute,
                "placed": sandbox.generator.placed,
                "skipped": sandbox.generator.skipped,
            }
        )

    async def expire_tokens(request: Request) -> JSONResponse:
        body = await _json(request)
        platform = _platform(body.get("platform"))
        expired = sandbox.expire_tokens(platform, str(body.get("shop_id", "")))
        return JSONResponse({"expired": expired})

    async def reset(request: Request) -> JSONResponse:
        body = await _json(request)
        sandbox.reset(
            **{
                k: int(v)
                for k, v in body.items()
                if k in ("seed", "shops_per_platform", "products_per_shop")
            }
        )
        return JSONResponse({"ok": True, "at": time.time()})

    routes = [
        Route("/apps", apps),
        Route("/authorize", authorize, methods=["POST"]),
        Route("/shops", shops),
        Route("/listings", listings),
        Route("/items/delete", delete_item, methods=["POST"]),
        Route("/orders", orders, methods=["POST"]),
        Route("/orders/status", order_status, methods=["POST"]),
        Route("/orders/advance", order_advance, methods=["POST"]),
        Route("/orders/cancel", order_cancel, methods=["POST"]),
        Route("/orders/{order_id}", order_get),
        Route("/returns", returns, methods=["GET", "POST"]),
        Route("/returns/stage", return_stage, methods=["POST"]),
        Route("/calls", calls),
        Route("/faults", faults, methods=["GET", "POST"]),
        Route("/webhooks", webhooks, methods=["GET", "POST"]),
        Route("/generator", generator, methods=["GET", "POST"]),
        Route("/tokens/expire", expire_tokens, methods=["POST"]),
        Route("/reset", reset, methods=["POST"]),
    ]

    async def sandbox_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SandboxError)
        status = (
            404
            if exc.code.endswith("not_found")
            else 409
            if exc.code == "insufficient_stock"
            else 400
        )
        return _bad(exc.message, status)

    return Starlette(routes=routes, exception_handlers={SandboxError: sandbox_error})


def _line(
    state: Any, platform: Platform, shop_id: str, raw: dict[str, Any]
) -> tuple[str, str, int]:
    quantity = int(raw.get("quantity", 1))
    if "sku" in raw:
        shop = state.shop(platform, shop_id)
        for item in shop.items.values():
            for model in item.models:
                if model.sku == raw["sku"]:
                    return item.id, model.id, quantity
        raise SandboxError("sku_not_found", f"no listing with SKU {raw['sku']} in shop {shop_id}")
    return str(raw["item_id"]), str(raw.get("model_id", "0")), quantity


def _order_json(order: Any) -> dict[str, Any]:
    data = asdict(order)
    data["total"] = str(order.total)
    for line in data["lines"]:
        line["price"] = str(line["price"])
    return data


def _return_json(found: Any) -> dict[str, Any]:
    data = asdict(found)
    data["refund_amount"] = str(found.refund_amount)
    for line in data["lines"]:
        line["price"] = str(line["price"])
    return data
