"""TikTok Shop 202309 payloads → StoreSync DTOs: products, orders (with their recipient, carrier
and packages) and their statuses, tokens and authorized shops. Returns are mapped in `returns`."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from storesync.channels.schemas import (
    ChannelOrder,
    ChannelOrderLine,
    ChannelPackage,
    ChannelProduct,
    ChannelVariant,
    Credentials,
    ShippingAddress,
)
from storesync.core.errors import AppError, ErrorType
from storesync.orders.status import OrderStatus

# §2.5. The order API says CANCELLED, the webhook says CANCEL: both are accepted. ON_HOLD is a
# paid order inside the buyer's cancellation window, so it waits to ship like AWAITING_SHIPMENT;
# AWAITING_COLLECTION has a label but the parcel is still in the warehouse.
STATUS_MAP: dict[str, OrderStatus] = {
    "UNPAID": OrderStatus.UNPAID,
    "ON_HOLD": OrderStatus.TO_SHIP,
    "AWAITING_SHIPMENT": OrderStatus.TO_SHIP,
    "PARTIALLY_SHIPPING": OrderStatus.TO_SHIP,
    "AWAITING_COLLECTION": OrderStatus.TO_SHIP,
    "IN_TRANSIT": OrderStatus.SHIPPED,
    "DELIVERED": OrderStatus.DELIVERED,
    "COMPLETED": OrderStatus.COMPLETED,
    "CANCELLED": OrderStatus.CANCELLED,
    "CANCEL": OrderStatus.CANCELLED,
}


def order_status(platform_status: str) -> OrderStatus:
    """StoreSync's status for a TikTok order status; an unknown value is a platform error (a new
    status must be mapped on purpose, never guessed)."""
    try:
        return STATUS_MAP[platform_status]
    except KeyError:
        raise AppError(
            ErrorType.PLATFORM_API,
            "unknown_order_status",
            f"TikTok Shop sent an unknown order status {platform_status!r}",
            details={"status": platform_status},
            retryable=False,
        ) from None


def epoch(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value not in (None, "") else None


def decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: Decimal) -> str:
    """A decimal string as TikTok takes it ("45000", "12.5")."""
    return format(value.normalize(), "f")


def product(raw: dict[str, Any]) -> ChannelProduct:
    """A product of products/search or the product detail, with one variant per SKU.

    Built with `model_construct`: every field is converted to its type right here, and a large
    catalog fetch maps hundreds of thousands of SKUs, where validating each again cost a fifth
    of the import's CPU."""
    product_id, title = str(raw["id"]), str(raw.get("title", ""))
    status = str(raw.get("status", ""))
    return ChannelProduct.model_construct(
        platform_item_id=product_id,
        title=title,
        status=status,
        variants=[_variant(product_id, title, status, sku) for sku in raw.get("skus") or []],
        updated_at=epoch(raw.get("update_time")),
    )


def _variant(product_id: str, title: str, status: str, sku: dict[str, Any]) -> ChannelVariant:
    price = sku.get("price") or {}
    inventory = sku.get("inventory") or []
    attributes = sku.get("sales_attributes") or []
    return ChannelVariant.model_construct(
        platform_item_id=product_id,
        platform_model_id=str(sku["id"]),
        sku=str(sku.get("seller_sku", "")),
        title=title,
        model_name=" / ".join(str(a.get("value_name", "")) for a in attributes),
        price=decimal(price.get("sale_price") or price.get("tax_exclusive_price")),
        currency=str(price.get("currency", "")),
        quantity=sum(int(entry.get("quantity", 0)) for entry in inventory) if inventory else None,
        status=status,
        location_id=str(inventory[0].get("warehouse_id", "")) if inventory else "",
    )


def warehouses(raw: dict[str, Any]) -> dict[str, list[str]]:
    """SKU id → the warehouse ids holding its stock, from a product payload."""
    return {
        str(sku["id"]): [str(entry.get("warehouse_id", "")) for entry in sku.get("inventory") or []]
        for sku in raw.get("skus") or []
    }


def has_details(raw: dict[str, Any]) -> bool:
    """Whether a search result is a full order (lines and payment), not just an id and status."""
    return "line_items" in raw and "payment" in raw


def order(raw: dict[str, Any]) -> ChannelOrder:
    """A full order (order search or order detail). TikTok sends one line item per unit, so
    units of the same SKU at the same price are counted into one line."""
    platform_status = str(raw.get("status", ""))
    payment = raw.get("payment") or {}
    items = raw.get("line_items") or []
    created = epoch(raw.get("create_time")) or datetime.fromtimestamp(0, UTC)
    return ChannelOrder(
        platform_order_id=str(raw["id"]),
        order_number=str(raw["id"]),
        platform_status=platform_status,
        status=order_status(platform_status).value,
        currency=str(payment.get("currency", "")),
        total=decimal(payment.get("total_amount")) or Decimal(0),
        customer_name=str((raw.get("recipient_address") or {}).get("name", "")),
        ordered_at=created,
        updated_at=epoch(raw.get("update_time")) or created,
        lines=_lines(items),
        tracking_number=tracking(raw),
        carrier=carrier(raw),
        shipping_address=shipping_address(raw.get("recipient_address")),
        packages=packages(raw),
        raw=raw,
    )


def carrier(raw: dict[str, Any]) -> str:
    """The order's shipping provider (the order's own field, else its first line item's)."""
    if raw.get("shipping_provider"):
        return str(raw["shipping_provider"])
    items = raw.get("line_items") or []
    return next(
        (str(i["shipping_provider_name"]) for i in items if i.get("shipping_provider_name")), ""
    )


def shipping_address(raw: Any) -> ShippingAddress | None:
    """The recipient as TikTok sends it (masked: "A*** F***i", "(+62)812*****89"); district,
    city and state come from `district_info` levels L3, L2 and L1."""
    if not isinstance(raw, dict):
        return None
    levels = {
        str(d.get("address_level", "")): str(d.get("address_name", ""))
        for d in raw.get("district_info") or []
        if isinstance(d, dict)
    }
    lines = [str(raw.get(f"address_line{n}") or "") for n in range(1, 5)]
    address = str(raw.get("address_detail") or "") or ", ".join(line for line in lines if line)
    return ShippingAddress(
        name=str(raw.get("name") or ""),
        phone=str(raw.get("phone_number") or ""),
        address=address or str(raw.get("full_address") or ""),
        district=levels.get("L3", ""),
        city=levels.get("L2", "") or str(raw.get("post_town") or ""),
        state=levels.get("L1", ""),
        postcode=str(raw.get("postal_code") or ""),
        country=str(raw.get("region_code") or ""),
    )


def packages(raw: dict[str, Any]) -> list[ChannelPackage]:
    """The order's packages (`packages[].id`), with the tracking number, carrier and package
    status its line items carry."""
    items = raw.get("line_items") or []
    found = []
    for entry in raw.get("packages") or []:
        package_id = str(entry.get("id", "")) if isinstance(entry, dict) else ""
        if not package_id:
            continue
        mine = [i for i in items if str(i.get("package_id", "")) == package_id]
        if not any(i.get("package_id") for i in items):
            mine = items  # line items that do not say their package belong to the only one
        first = mine[0] if mine else {}
        found.append(
            ChannelPackage(
                package_id=package_id,
                tracking_number=str(first.get("tracking_number") or ""),
                carrier=str(first.get("shipping_provider_name") or ""),
                status=str(first.get("package_status") or ""),
            )
        )
    return found


def _lines(items: list[dict[str, Any]]) -> list[ChannelOrderLine]:
    units: Counter[tuple[str, str, str]] = Counter()
    first: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in items:
        key = (str(item.get("product_id", "")), str(item.get("sku_id", "")), _price(item))
        units[key] += int(item.get("quantity", 1))
        first.setdefault(key, item)
    return [_line(first[key], count) for key, count in units.items()]


def _line(item: dict[str, Any], quantity: int) -> ChannelOrderLine:
    return ChannelOrderLine(
        platform_item_id=str(item.get("product_id", "")),
        platform_model_id=str(item.get("sku_id", "")),
        sku=str(item.get("seller_sku", "")),
        title=str(item.get("product_name", "")),
        model_name=str(item.get("sku_name", "")),
        quantity=quantity,
        unit_price=decimal(_price(item)) or Decimal(0),
    )


def _price(item: dict[str, Any]) -> str:
    return str(item.get("sale_price") or item.get("original_price") or "0")


def tracking(raw: dict[str, Any]) -> str:
    """The order's tracking number (its own field, else its first line item's); "" while
    shipment is not arranged."""
    if raw.get("tracking_number"):
        return str(raw["tracking_number"])
    items = raw.get("line_items") or []
    return next((str(i["tracking_number"]) for i in items if i.get("tracking_number")), "")


def credentials(tokens: dict[str, Any], *, shop_id: str, cipher: str) -> Credentials:
    """The shop's tokens from a token/get or token/refresh answer (`*_expire_in` are absolute
    Unix times)."""
    try:
        return Credentials(
            access_token=str(tokens["access_token"]),
            refresh_token=str(tokens["refresh_token"]),
            access_expires_at=datetime.fromtimestamp(int(tokens["access_token_expire_in"]), UTC),
            refresh_expires_at=epoch(tokens.get("refresh_token_expire_in")),
            shop_id=shop_id,
            shop_cipher=cipher,
        )
    except (KeyError, TypeError, ValueError):
        raise AppError(
            ErrorType.PLATFORM_API,
            "malformed_response",
            "TikTok Shop sent a token answer without the expected fields",
            retryable=False,
        ) from None


def pick_shop(payload: dict[str, Any], shop_id: str | None) -> dict[str, Any]:
    shops = [s for s in payload.get("shops") or [] if isinstance(s, dict) and s.get("id")]
    for shop in shops:
        if shop_id is None or str(shop["id"]) == str(shop_id):
            return shop
    raise AppError(
        ErrorType.AUTHORIZATION,
        "shop_not_authorized",
        f"TikTok Shop did not authorize shop {shop_id}" if shop_id else "no authorized shop",
        details={"shop_id": shop_id or ""},
    )
