"""Shopee payloads ↔ StoreSync DTOs: Shopee's product, order and return field names (the
logistics payloads of arranging shipment and printing labels are read in `fulfilment`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from storesync.channels.schemas import (
    ChannelOrder,
    ChannelOrderLine,
    ChannelPackage,
    ChannelProduct,
    ChannelReturn,
    ChannelReturnLine,
    ChannelVariant,
    PriceUpdate,
    ReturnState,
    ShippingAddress,
    StockUpdate,
)
from storesync.orders.status import OrderStatus

log = logging.getLogger(__name__)

# MARKETPLACES §1.5 onto our lifecycle. PROCESSED (shipment arranged, parcel not yet collected)
# and IN_CANCEL (the buyer asked to cancel; the seller may still refuse) keep holding stock, so
# they stay to_ship. TO_CONFIRM_RECEIVE means the courier has delivered (Shopee's logistics
# status is DELIVERY_DONE) and the buyer has yet to confirm.
ORDER_STATUS: dict[str, OrderStatus] = {
    "UNPAID": OrderStatus.UNPAID,
    "PENDING": OrderStatus.UNPAID,
    "INVOICE_PENDING": OrderStatus.UNPAID,
    "READY_TO_SHIP": OrderStatus.TO_SHIP,
    "RETRY_SHIP": OrderStatus.TO_SHIP,
    "PROCESSED": OrderStatus.TO_SHIP,
    "IN_CANCEL": OrderStatus.TO_SHIP,
    "SHIPPED": OrderStatus.SHIPPED,
    "TO_CONFIRM_RECEIVE": OrderStatus.DELIVERED,
    "COMPLETED": OrderStatus.COMPLETED,
    "CANCELLED": OrderStatus.CANCELLED,
    "TO_RETURN": OrderStatus.RETURNED,
}

# Detail fields get_order_detail leaves out unless asked.
ORDER_DETAIL_FIELDS = (
    "buyer_username,item_list,total_amount,pay_time,package_list,cancel_reason,"
    "shipping_carrier,payment_method,recipient_address"
)

# StoreSync's cancellation reasons (`schemas.CANCEL_REASONS`) → cancel_order's cancel_reason.
# UNDELIVERABLE_AREA applies to TW and MY shops only: elsewhere Shopee refuses it.
CANCEL_REASON = {
    "out_of_stock": "OUT_OF_STOCK",
    "customer_request": "CUSTOMER_REQUEST",
    "undeliverable_area": "UNDELIVERABLE_AREA",
}

# Shopee's ReturnStatus → StoreSync's reading. The buyer asked (REQUESTED); the seller agreed
# or Shopee is deciding (ACCEPTED, PROCESSING, JUDGING, SELLER_DISPUTE); the refund went out
# (REFUND_PAID); the buyer withdrew (CANCELLED); closed without a refund (CLOSED).
RETURN_STATE: dict[str, ReturnState] = {
    "REQUESTED": "requested",
    "ACCEPTED": "in_progress",
    "PROCESSING": "in_progress",
    "JUDGING": "in_progress",
    "SELLER_DISPUTE": "in_progress",
    "REFUND_PAID": "completed",
    "CANCELLED": "cancelled",
    "CLOSED": "rejected",
}
REFUND_ONLY = 1  # return_solution: 0 return and refund, 1 refund only


def order_status(platform_status: str) -> OrderStatus:
    """Our status for a Shopee order status. An unknown value (Shopee adds some per region) is
    logged and read as to_ship: the order keeps its stock until a known status arrives."""
    status = ORDER_STATUS.get(platform_status)
    if status is None:
        log.warning("unknown Shopee order status %r, treated as to_ship", platform_status)
        return OrderStatus.TO_SHIP
    return status


def epoch(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def model_id(raw: Any) -> str:
    """Our variant key: "" for an item without models (Shopee's model_id 0)."""
    return "" if raw in (None, 0, "0", "") else str(raw)


def _stock(info: dict[str, Any] | None) -> tuple[int | None, str]:
    """Seller stock over all locations, and the location when there is exactly one."""
    stocks = (info or {}).get("seller_stock") or []
    if not stocks:
        summary = (info or {}).get("summary_info") or {}
        total = summary.get("total_available_stock")
        return (int(total) if total is not None else None), ""
    locations = {str(s.get("location_id") or "") for s in stocks}
    location = locations.pop() if len(locations) == 1 else ""
    return sum(int(s.get("stock") or 0) for s in stocks), location


def _price(price_info: list[dict[str, Any]] | None) -> tuple[Decimal | None, str]:
    if not price_info:
        return None, ""
    first = price_info[0]
    return decimal(first.get("original_price")), str(first.get("currency") or "")


def product(base: dict[str, Any], models: dict[str, Any] | None) -> ChannelProduct:
    """One item from get_item_base_info, with its get_model_list answer when it has models."""
    item_id = str(base["item_id"])
    title = str(base.get("item_name") or "")
    status = str(base.get("item_status") or "")
    variants: list[ChannelVariant] = []
    if base.get("has_model") and models is not None:
        names = _model_names(models)
        for model in models.get("model") or []:
            price, currency = _price(model.get("price_info"))
            quantity, location = _stock(model.get("stock_info_v2"))
            model_status = str(model.get("model_status") or "MODEL_NORMAL")
            variants.append(
                ChannelVariant(
                    platform_item_id=item_id,
                    platform_model_id=model_id(model.get("model_id")),
                    sku=str(model.get("model_sku") or ""),
                    title=title,
                    model_name=str(
                        model.get("model_name")
                        or names.get(tuple(model.get("tier_index") or ()), "")
                    ),
                    price=price,
                    currency=currency,
                    quantity=quantity,
                    status=status if model_status == "MODEL_NORMAL" else model_status,
                    location_id=location,
                )
            )
    else:
        price, currency = _price(base.get("price_info"))
        quantity, location = _stock(base.get("stock_info_v2"))
        variants.append(
            ChannelVariant(
                platform_item_id=item_id,
                platform_model_id="",
                sku=str(base.get("item_sku") or ""),
                title=title,
                model_name="",
                price=price,
                currency=currency,
                quantity=quantity,
                status=status,
                location_id=location,
            )
        )
    return ChannelProduct(
        platform_item_id=item_id,
        title=title,
        status=status,
        variants=variants,
        updated_at=epoch(base.get("update_time")),
    )


def _model_names(models: dict[str, Any]) -> dict[tuple[int, ...], str]:
    """Model names from the tier variations: tier_index [1, 0] → "Merah, M"."""
    tiers = [
        [str(o.get("option") or "") for o in tier.get("option_list") or []]
        for tier in models.get("tier_variation") or []
    ]
    names: dict[tuple[int, ...], str] = {}
    for model in models.get("model") or []:
        index = tuple(int(i) for i in model.get("tier_index") or ())
        parts = [
            tiers[tier][option]
            for tier, option in enumerate(index)
            if tier < len(tiers) and option < len(tiers[tier])
        ]
        names[index] = ", ".join(p for p in parts if p)
    return names


def order(detail: dict[str, Any]) -> ChannelOrder:
    """One order from get_order_detail (asked with ORDER_DETAIL_FIELDS)."""
    platform_status = str(detail.get("order_status") or "")
    created = epoch(detail.get("create_time")) or datetime.fromtimestamp(0, UTC)
    lines = [
        ChannelOrderLine(
            platform_item_id=str(line.get("item_id") or ""),
            platform_model_id=model_id(line.get("model_id")),
            sku=str(line.get("model_sku") or line.get("item_sku") or ""),
            title=str(line.get("item_name") or ""),
            model_name=str(line.get("model_name") or ""),
            quantity=int(line.get("model_quantity_purchased") or 0),
            unit_price=decimal(
                line.get("model_discounted_price") or line.get("model_original_price")
            ),
        )
        for line in detail.get("item_list") or []
    ]
    packages = [_package(p, detail) for p in detail.get("package_list") or []]
    return ChannelOrder(
        platform_order_id=str(detail["order_sn"]),
        order_number=str(detail["order_sn"]),
        platform_status=platform_status,
        status=order_status(platform_status).value,
        currency=str(detail.get("currency") or ""),
        total=decimal(detail.get("total_amount")),
        customer_name=str(detail.get("buyer_username") or ""),
        ordered_at=created,
        updated_at=epoch(detail.get("update_time")) or created,
        lines=lines,
        carrier=str(detail.get("shipping_carrier") or "")
        or next((p.carrier for p in packages if p.carrier), ""),
        shipping_address=_address(detail.get("recipient_address")),
        packages=packages,
        raw=detail,
    )


def _address(raw: Any) -> ShippingAddress | None:
    """recipient_address as given: Shopee masks name and phone ("B****i"); so do we."""
    if not isinstance(raw, dict):
        return None
    return ShippingAddress(
        name=str(raw.get("name") or ""),
        phone=str(raw.get("phone") or ""),
        address=str(raw.get("full_address") or ""),
        district=str(raw.get("district") or ""),
        city=str(raw.get("city") or ""),
        state=str(raw.get("state") or ""),
        postcode=str(raw.get("zipcode") or ""),
        country=str(raw.get("region") or ""),
    )


def _package(raw: dict[str, Any], detail: dict[str, Any]) -> ChannelPackage:
    return ChannelPackage(
        package_id=str(raw.get("package_number") or ""),
        carrier=str(raw.get("shipping_carrier") or detail.get("shipping_carrier") or ""),
        status=str(raw.get("logistics_status") or ""),
    )


def channel_return(raw: dict[str, Any]) -> ChannelReturn:
    """One return from get_return_list or get_return_detail (the same fields)."""
    platform_status = str(raw.get("status") or "")
    state = RETURN_STATE.get(platform_status)
    if state is None:
        log.warning("unknown Shopee return status %r, treated as in_progress", platform_status)
        state = "in_progress"
    created = epoch(raw.get("create_time")) or datetime.fromtimestamp(0, UTC)
    amount = raw.get("refund_amount")
    return ChannelReturn(
        platform_return_id=str(raw["return_sn"]),
        platform_order_id=str(raw.get("order_sn") or ""),
        platform_status=platform_status,
        state=state,
        reason=str(raw.get("text_reason") or raw.get("reason") or ""),
        refund_only=raw.get("return_solution") == REFUND_ONLY,
        lines=[
            ChannelReturnLine(
                platform_item_id=str(item.get("item_id") or ""),
                platform_model_id=model_id(item.get("model_id")),
                sku=str(item.get("variation_sku") or item.get("item_sku") or ""),
                quantity=int(item.get("amount") or 0),
            )
            for item in raw.get("item") or []
        ],
        refund_amount=decimal(amount) if amount not in (None, "") else None,
        currency=str(raw.get("currency") or ""),
        created_at=created,
        updated_at=epoch(raw.get("update_time")) or created,
    )


# -- StoreSync → Shopee requests ----------------------------------------------------------------


def stock_entry(update: StockUpdate) -> dict[str, Any]:
    """One `stock_list` entry of update_stock: absolute seller stock (model_id 0: no models)."""
    stock: dict[str, Any] = {"stock": update.quantity}
    if update.location_id:
        stock["location_id"] = update.location_id
    return {"model_id": int(update.platform_model_id or 0), "seller_stock": [stock]}


def price_entry(update: PriceUpdate) -> dict[str, Any]:
    """One `price_list` entry of update_price (a JSON number, whole when it is whole)."""
    price = update.price
    number: int | float = int(price) if price == price.to_integral_value() else float(price)
    return {"model_id": int(update.platform_model_id or 0), "original_price": number}
