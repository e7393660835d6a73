"""Sandbox objects in TikTok Shop 202309 wire form: products with SKUs, orders, packages.

Choices where the docs leave room:
- Money is a decimal string ("45000", "12.50"), as TikTok sends it.
- Orders carry one `line_items[]` entry PER UNIT and no `quantity` field, as the 202309 order
  API does: two units of one SKU are two line items with the same `sku_id`. Clients count them.
- Every order has exactly one package; its id is assigned the first time the order is shown.
"""

from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal
from typing import Any

from storesync.sandbox.state import Item, Order, SandboxState, Shop

PACKAGE_STATUS = {
    "UNPAID": "TO_FULFILL",
    "ON_HOLD": "TO_FULFILL",
    "AWAITING_SHIPMENT": "TO_FULFILL",
    "PARTIALLY_SHIPPING": "PROCESSING",
    "AWAITING_COLLECTION": "PROCESSING",
    "IN_TRANSIT": "FULFILLING",
    "DELIVERED": "COMPLETED",
    "COMPLETED": "COMPLETED",
    "CANCELLED": "CANCELLED",
}
SHIPPING_PROVIDER = {"id": "7129736293304270637", "name": "J&T Express"}


def money(amount: Decimal) -> str:
    return format(amount.normalize() if amount == amount.to_integral() else amount, "f")


def _numeric_id(*parts: str, digits: int = 19) -> str:
    """A stable TikTok-looking numeric id derived from `parts`."""
    value = int(hashlib.sha256(":".join(parts).encode()).hexdigest(), 16)
    return str(10 ** (digits - 1) + value % (9 * 10 ** (digits - 1)))


def product(shop: Shop, item: Item, *, detail: bool = False) -> dict[str, Any]:
    skus = []
    for model in item.models:
        sku: dict[str, Any] = {
            "id": model.id,
            "seller_sku": model.sku,
            "price": {
                "currency": shop.currency,
                "sale_price": money(model.price),
                "tax_exclusive_price": money(model.price),
            },
            "inventory": [{"warehouse_id": model.warehouse_id, "quantity": model.stock}],
        }
        if detail:
            sku["sales_attributes"] = (
                [{"id": "100000", "name": "Variant", "value_name": model.name}]
                if model.name
                else []
            )
        skus.append(sku)
    data: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "status": item.status,
        "skus": skus,
        "sales_regions": [shop.region],
        "create_time": item.create_time,
        "update_time": item.update_time,
        "is_not_for_sale": False,
    }
    if detail:
        data["description"] = item.description
        data["main_images"] = [
            {"urls": [url], "uri": url.rsplit("/", 1)[-1]} for url in item.images
        ]
    return data


def ensure_package(state: SandboxState, order: Order) -> str:
    with state.lock:
        if not order.package_id:
            order.package_id = str(1_152_000_000_000_000_000 + secrets.randbelow(10**15))
        return order.package_id


def order(state: SandboxState, shop: Shop, order: Order) -> dict[str, Any]:
    package_id = ensure_package(state, order)
    shipped = bool(order.tracking_number)
    items: list[dict[str, Any]] = []
    for line in order.lines:
        image = shop.items[line.item_id].images[0] if line.item_id in shop.items else ""
        for _unit in range(line.quantity):
            items.append(
                {
                    "id": _numeric_id(order.id, str(len(items)), digits=17),
                    "product_id": line.item_id,
                    "sku_id": line.model_id,
                    "seller_sku": line.sku,
                    "product_name": line.title,
                    "sku_name": line.model_name,
                    "sku_image": image,
                    "sku_type": "NORMAL",
                    "currency": order.currency,
                    "original_price": money(line.price),
                    "sale_price": money(line.price),
                    "platform_discount": "0",
                    "seller_discount": "0",
                    "display_status": order.status,
                    "package_id": package_id,
                    "package_status": PACKAGE_STATUS.get(order.status, "TO_FULFILL"),
                    "tracking_number": order.tracking_number,
                    "shipping_provider_id": SHIPPING_PROVIDER["id"] if shipped else "",
                    "shipping_provider_name": SHIPPING_PROVIDER["name"] if shipped else "",
                    "cancel_reason": order.cancel_reason,
                    "is_gift": False,
                }
            )
    total = money(order.total)
    return {
        "id": order.id,
        "status": order.status,
        "order_type": "NORMAL",
        "create_time": order.create_time,
        "update_time": order.update_time,
        "paid_time": order.create_time,
        "user_id": _numeric_id("buyer", order.buyer),
        "buyer_email": f"{order.buyer}@scs.tiktokw.us",
        "buyer_message": "",
        "commerce_platform": "TIKTOK_SHOP",
        "fulfillment_type": "FULFILLMENT_BY_SELLER",
        "shipping_type": "TIKTOK",
        "delivery_type": "HOME_DELIVERY",
        "delivery_option_name": "Standard shipping",
        "warehouse_id": _warehouse(shop, order),
        "is_cod": False,
        "is_on_hold_order": False,
        "is_sample_order": False,
        "is_buyer_request_cancel": False,
        "cancel_reason": order.cancel_reason,
        "tracking_number": order.tracking_number,
        "shipping_provider": SHIPPING_PROVIDER["name"] if shipped else "",
        "shipping_provider_id": SHIPPING_PROVIDER["id"] if shipped else "",
        "packages": [{"id": package_id}],
        "line_items": items,
        "payment": {
            "currency": order.currency,
            "sub_total": total,
            "original_total_product_price": total,
            "shipping_fee": "0",
            "original_shipping_fee": "0",
            "seller_discount": "0",
            "platform_discount": "0",
            "tax": "0",
            "total_amount": total,
        },
        "recipient_address": {
            "name": order.buyer,
            "phone_number": "(+62)812****89",
            "region_code": shop.region,
            "postal_code": "12940",
            "full_address": "Jl. Jend. Sudirman No. 1, Setiabudi, Jakarta Selatan, DKI Jakarta",
            "address_detail": "Jl. Jend. Sudirman No. 1",
        },
    }


def package(state: SandboxState, order: Order) -> dict[str, Any]:
    units: dict[str, dict[str, Any]] = {}
    for line in order.lines:
        entry = units.setdefault(
            line.model_id, {"id": line.model_id, "name": line.model_name, "quantity": 0}
        )
        entry["quantity"] += line.quantity
    shipped = bool(order.tracking_number)
    return {
        "package_id": ensure_package(state, order),
        "package_status": PACKAGE_STATUS.get(order.status, "TO_FULFILL"),
        "tracking_number": order.tracking_number,
        "shipping_provider_id": SHIPPING_PROVIDER["id"] if shipped else "",
        "shipping_provider_name": SHIPPING_PROVIDER["name"] if shipped else "",
        "orders": [{"id": order.id, "skus": list(units.values())}],
        "create_time": order.create_time,
        "update_time": order.update_time,
    }


def _warehouse(shop: Shop, order: Order) -> str:
    for line in order.lines:
        item = shop.items.get(line.item_id)
        for model in item.models if item else []:
            if model.id == line.model_id and model.warehouse_id:
                return model.warehouse_id
    return ""
