"""The TikTok Shop Open API host (`open-api.tiktokglobalshop.com`) as a Starlette app: the
route table, products, authorized shops and shop webhooks (`GET`/`PUT`/`DELETE
/event/202309/webhooks`; PUT only, as documented). Orders live in `orders`, packages, shipping
and documents in `fulfillment`, cancellations and returns in `returns`; categories, warehouses,
images and how created listings read back in `catalog`, creating and editing them in `listing`.

Parameter and business errors answer HTTP 200 with code 36009004 (see `wire`); a listing that
breaks a product rule answers a product business code 12xxxxxx (see `catalog`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storesync.sandbox.state import Item, SandboxState, Shop
from storesync.sandbox.tiktok import catalog, fulfillment, listing, orders, render, returns
from storesync.sandbox.tiktok.filters import in_range, scope
from storesync.sandbox.tiktok.fulfillment import Documents
from storesync.sandbox.tiktok.wire import (
    INVALID_PARAMETER,
    Call,
    TikTokError,
    endpoint,
    envelope,
    invalid,
    page_size,
    paginate_sorted,
    sorted_rows,
)

MAX_INVENTORY_SKUS_PER_CALL = 100  # [UNCONF] TikTok does not publish it; a product has ≤ 100 SKUs
MAX_QUANTITY = 99_999  # per warehouse, as Seller Center allows
PRODUCT_STATUSES = (
    "DRAFT",
    "PENDING",
    "FAILED",
    "ACTIVATE",
    "SELLER_DEACTIVATED",
    "PLATFORM_DEACTIVATED",
    "FREEZE",
    "DELETED",
)
WEBHOOK_EVENT_TYPES = (
    "ORDER_STATUS_CHANGE",
    "RECIPIENT_ADDRESS_UPDATE",
    "PACKAGE_UPDATE",
    "PRODUCT_STATUS_CHANGE",
    "SELLER_DEAUTHORIZATION",
    "UPCOMING_AUTHORIZATION_EXPIRATION",
    "CANCELLATION_STATUS_CHANGE",
    "RETURN_STATUS_CHANGE",
    "PRODUCT_INFORMATION_CHANGE",
    "INVENTORY_STATUS_CHANGE",
)


# -- products ----------------------------------------------------------------------------------


def search_products(call: Call) -> dict[str, Any]:
    shop, body = call.the_shop(), call.json()
    size = page_size(call.query)
    status = body.get("status", "ALL")
    if status != "ALL" and status not in PRODUCT_STATUSES:
        raise invalid(f"status must be ALL or one of {', '.join(PRODUCT_STATUSES)}")
    wanted = body.get("seller_skus")
    if wanted is not None and not (
        isinstance(wanted, list) and all(isinstance(s, str) for s in wanted)
    ):
        raise invalid("seller_skus must be a list of strings")
    created, updated = in_range(body, "create_time", "le"), in_range(body, "update_time", "le")

    def keep(item: Item) -> bool:
        return (
            ((status == "ALL" and item.status != "DELETED") or item.status == status)
            and (wanted is None or any(m.sku in wanted for m in item.models))
            and created(item.create_time)
            and updated(item.update_time)
        )

    page, next_token, total = paginate_sorted(
        sorted_rows(shop, shop.items.values(), key=lambda i: (i.create_time, i.id)),
        keep=keep,
        descending=True,
        size=size,
        token=call.query.get("page_token", ""),
        scope=scope(call, body),
    )
    return {
        "products": [render.product(shop, item) for item in page],
        "next_page_token": next_token,
        "total_count": total,
    }


def _product_id(call: Call) -> str:
    return str(call.request.path_params["product_id"])


def get_product(call: Call) -> dict[str, Any]:
    shop = call.the_shop()
    item = shop.items.get(_product_id(call))
    if item is None:
        raise invalid(f"product {_product_id(call)} does not exist in this shop")
    return catalog.detail(call.state, shop, item)


def _skus(body: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    skus = body.get("skus")
    if not isinstance(skus, list) or not skus or not all(isinstance(s, dict) for s in skus):
        raise invalid("skus must be a non-empty list of objects")
    if len(skus) > limit:
        raise invalid(f"at most {limit} skus per call")
    return skus


def update_inventory(call: Call) -> dict[str, Any]:
    shop, product_id = call.the_shop(), _product_id(call)
    item = shop.items.get(product_id)
    if item is None:
        raise invalid(f"product {product_id} does not exist in this shop")
    models = {m.id: m for m in item.models}
    changes: list[tuple[str, int]] = []
    for sku in _skus(call.json(), MAX_INVENTORY_SKUS_PER_CALL):
        model = models.get(str(sku.get("id", "")))
        if model is None:
            raise invalid(f"sku {sku.get('id')!r} does not belong to product {product_id}")
        inventory = sku.get("inventory")
        if not isinstance(inventory, list) or not inventory:
            raise invalid(f"sku {model.id}: inventory must be a non-empty list")
        for entry in inventory:
            warehouse = entry.get("warehouse_id") if isinstance(entry, dict) else None
            quantity = entry.get("quantity") if isinstance(entry, dict) else None
            if warehouse != model.warehouse_id:
                raise invalid(f"sku {model.id}: unknown warehouse_id {warehouse!r}")
            if isinstance(quantity, bool) or not isinstance(quantity, int):
                raise invalid(f"sku {model.id}: quantity must be an integer")
            if not 0 <= quantity <= MAX_QUANTITY:
                raise invalid(f"sku {model.id}: quantity must be between 0 and {MAX_QUANTITY}")
            changes.append((model.id, quantity))
    # validated as a whole first: a refused call changes nothing
    for model_id, quantity in changes:
        call.state.set_stock("tiktok", shop.id, product_id, model_id, quantity)
    return {}


def update_prices(call: Call) -> dict[str, Any]:
    shop, product_id = call.the_shop(), _product_id(call)
    item = shop.items.get(product_id)
    if item is None:
        raise invalid(f"product {product_id} does not exist in this shop")
    models = {m.id: m for m in item.models}
    changes = []
    for sku in _skus(call.json(), MAX_INVENTORY_SKUS_PER_CALL):
        model = models.get(str(sku.get("id", "")))
        if model is None:
            raise invalid(f"sku {sku.get('id')!r} does not belong to product {product_id}")
        price = sku.get("price")
        if not isinstance(price, dict):
            raise invalid(f"sku {model.id}: price must be an object with amount and currency")
        if price.get("currency") != shop.currency:
            raise invalid(f"sku {model.id}: currency must be {shop.currency}")
        changes.append((model, _amount(model.id, price.get("amount"))))
    with call.state.lock:
        for model, amount in changes:
            model.price = amount
        item.update_time = call.state.now()
    return {}


def _amount(sku_id: str, raw: Any) -> Decimal:
    try:
        amount = Decimal(str(raw)) if isinstance(raw, str | int) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise invalid(f"sku {sku_id}: price.amount must be a positive decimal string")
    return amount


# -- shops and webhooks ------------------------------------------------------------------------


def authorized_shops(call: Call) -> dict[str, Any]:
    shop = call.state.shop("tiktok", call.token.shop_id)
    return {"shops": [_shop_info(shop)]}


def _shop_info(shop: Shop) -> dict[str, Any]:
    return {
        "id": shop.id,
        "name": shop.name,
        "region": shop.region,
        "seller_type": "LOCAL",
        "cipher": shop.cipher,
        "code": f"{shop.region}LC{shop.id[-6:]}",
    }


class Webhooks:
    """Registered event types → (address, create_time, update_time). The sandbox delivers to one
    URL per platform (`state.webhooks["tiktok"]`): the last address registered wins."""

    def __init__(self) -> None:
        self.events: dict[str, tuple[str, int, int]] = {}

    def active(self, state: SandboxState) -> dict[str, tuple[str, int, int]]:
        url = _registered(state)
        return {k: v for k, v in self.events.items() if url and v[0] == url}

    def get(self, call: Call) -> dict[str, Any]:
        hooks = [
            {"event_type": kind, "address": address, "create_time": created, "update_time": upd}
            for kind, (address, created, upd) in sorted(self.active(call.state).items())
        ]
        return {"webhooks": hooks, "total_count": len(hooks)}

    def put(self, call: Call) -> dict[str, Any]:
        body = call.json()
        kind, address = body.get("event_type"), body.get("address")
        if kind not in WEBHOOK_EVENT_TYPES:
            raise invalid(f"event_type must be one of {', '.join(WEBHOOK_EVENT_TYPES)}")
        if not isinstance(address, str) or urlparse(address).scheme not in ("http", "https"):
            raise invalid("address must be an http(s) URL")
        created = self.events.get(kind, (address, call.state.now(), 0))[1]
        with call.state.lock:
            self.events[kind] = (address, created, call.state.now())
            hooks = getattr(call.state, "webhooks", None)
            if hooks is None:
                hooks = {}
                call.state.webhooks = hooks
            hooks["tiktok"] = address
        return {}

    def delete(self, call: Call) -> dict[str, Any]:
        kind = call.json().get("event_type")
        if kind not in self.events:
            raise invalid(f"no webhook registered for event_type {kind!r}")
        with call.state.lock:
            address = self.events.pop(kind)[0]
            if not any(a == address for a, _c, _u in self.events.values()):
                getattr(call.state, "webhooks", {}).pop("tiktok", None)
        return {}


def _registered(state: SandboxState) -> str:
    return str((getattr(state, "webhooks", None) or {}).get("tiktok", ""))


# -- the app -----------------------------------------------------------------------------------


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return envelope(
        None, code=INVALID_PARAMETER, message=f"{request.method} {request.url.path}", status=status
    )


def build_api_app(state: SandboxState, webhooks: Webhooks, documents: Documents) -> Starlette:
    def route(path: str, handler: Any, method: str, *, shop_scoped: bool = True) -> Route:
        return Route(path, endpoint(state, handler, shop_scoped=shop_scoped), methods=[method])

    async def document(request: Request) -> Response:
        return documents.download(state, request)

    package = "/fulfillment/202309/packages/{package_id}"
    category = "/product/202309/categories/{category_id}"
    product = "/product/202309/products/{product_id}"
    return Starlette(
        routes=[
            route("/authorization/202309/shops", authorized_shops, "GET", shop_scoped=False),
            route("/product/202309/products/search", search_products, "POST"),
            route(
                "/product/202502/products/search", catalog.search_202502(search_products), "POST"
            ),
            route("/product/202309/categories", catalog.categories, "GET"),
            route(f"{category}/attributes", catalog.attributes, "GET"),
            route(f"{category}/rules", catalog.rules, "GET"),
            route("/product/202309/images/upload", catalog.upload_image, "POST", shop_scoped=False),
            route("/logistics/202309/warehouses", catalog.warehouses, "GET"),
            route("/product/202309/products", listing.create_product, "POST"),
            route(product, get_product, "GET"),
            route(product, listing.edit_product, "PUT"),
            route(f"{product}/partial_edit", listing.partial_edit_product, "POST"),
            route(
                "/product/202309/products/{product_id}/inventory/update", update_inventory, "POST"
            ),
            route("/product/202309/products/{product_id}/prices/update", update_prices, "POST"),
            route("/order/202309/orders/search", orders.search_orders, "POST"),
            route("/order/202309/orders", orders.get_orders, "GET"),
            route("/order/202507/orders", orders.get_orders, "GET"),
            route("/fulfillment/202309/packages/search", fulfillment.search_packages, "POST"),
            route(package, fulfillment.get_package, "GET"),
            route(f"{package}/handover_time_slots", fulfillment.handover_time_slots, "GET"),
            route(f"{package}/ship", fulfillment.ship_package, "POST"),
            route(f"{package}/shipping_documents", documents.get_document, "GET"),
            route("/fulfillment/202309/orders/{order_id}/tracking", fulfillment.tracking, "GET"),
            route("/return_refund/202309/cancellations", returns.cancel_order, "POST"),
            route(
                "/return_refund/202309/cancellations/search", returns.search_cancellations, "POST"
            ),
            route("/return_refund/202309/returns/search", returns.search_returns, "POST"),
            route("/event/202309/webhooks", webhooks.get, "GET"),
            route("/event/202309/webhooks", webhooks.put, "PUT"),
            route("/event/202309/webhooks", webhooks.delete, "DELETE"),
            Route("/cdn/shipping_documents/{token}.pdf", document, methods=["GET"]),
        ],
        exception_handlers={404: _not_found, 405: _not_found},
    )


__all__ = ["MAX_INVENTORY_SKUS_PER_CALL", "TikTokError", "Webhooks", "build_api_app"]
