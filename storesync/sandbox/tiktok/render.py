"""Sandbox objects in TikTok Shop 202309 wire form: products with SKUs, orders, packages.

Choices where the docs leave room:
- Money is a decimal string ("45000", "12.50"), as TikTok sends it.
- Orders carry one `line_items[]` entry PER UNIT and no `quantity` field, as the 202309 order
  API does: two units of one SKU are two line items with the same `sku_id`. Clients count them.
- Every order has exactly one package; its id is assigned the first time the order is shown.
- The recipient is masked as TikTok masks it for platform-shipped orders (a captured answer:
  name "A*** F***i", phone "(+60)113*****36", address detail "BL*****", postal code "32***");
  the sandbox makes up one address per buyer, the same every time.
- The carrier and the tracking number appear once shipment is arranged [UNCONF: whether TikTok
  shows the assigned carrier before the seller arranges shipment].
"""

from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal
from typing import Any

from storesync.sandbox.state import Item, Order, OrderLine, SandboxState, Shop

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
HANDOVER_METHOD = {"pickup": "PICKUP", "dropoff": "DROP_OFF"}
# Seller cancellation reasons (Cancel Order `cancel_reason`) and the text TikTok shows for them;
# `*_unpaid_*` apply to UNPAID orders, the others to paid orders awaiting shipment [CODE].
SELLER_CANCEL_REASONS = {
    "seller_cancel_reason_out_of_stock": "Out of stock",
    "seller_cancel_reason_wrong_price": "Pricing error",
    "seller_cancel_paid_reason_address_not_deliver": "Unable to deliver to buyer address",
    "seller_cancel_paid_reason_buyer_requested_cancellation": "Buyer requested cancellation",
}
SELLER_CANCEL_UNPAID_REASONS = {
    "seller_cancel_unpaid_reason_out_of_stock": "Out of stock",
    "seller_cancel_unpaid_reason_wrong_price": "Pricing error",
    "seller_cancel_unpaid_reason_buyer_requested_cancellation": "Buyer requested cancellation",
    "seller_cancel_unpaid_reason_buyer_hasnt_paid_within_time_allowed": (
        "Buyer did not pay in time"
    ),
}
_COUNTRY = {"ID": ("Indonesia", "62"), "MY": ("Malaysia", "60"), "SG": ("Singapore", "65")}
_ID_PLACES = (
    ("DKI Jakarta", "Jakarta Selatan", "Setiabudi", "12910", "Jl. Jend. Sudirman No. 1"),
    ("Jawa Barat", "Bandung", "Coblong", "40132", "Jl. Ir. H. Juanda No. 88"),
    ("Jawa Timur", "Surabaya", "Gubeng", "60281", "Jl. Raya Darmo No. 25"),
    ("DI Yogyakarta", "Sleman", "Depok", "55281", "Jl. Kaliurang Km 5 No. 12"),
    ("Bali", "Denpasar", "Denpasar Selatan", "80225", "Jl. Bypass Ngurah Rai No. 9"),
)


def money(amount: Decimal) -> str:
    return format(amount.normalize() if amount == amount.to_integral() else amount, "f")


def numeric_id(*parts: str, digits: int = 19) -> str:
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


# -- orders ------------------------------------------------------------------------------------


def ensure_package(state: SandboxState, order: Order) -> str:
    with state.lock:
        if not order.package_id:
            order.package_id = str(1_152_000_000_000_000_000 + secrets.randbelow(10**15))
        return order.package_id


def units(order: Order) -> list[tuple[OrderLine, str]]:
    """Every unit of the order with its line item id (stable: derived from order and index)."""
    found: list[tuple[OrderLine, str]] = []
    for line in order.lines:
        for _unit in range(line.quantity):
            found.append((line, numeric_id(order.id, str(len(found)), digits=17)))
    return found


def cancel_reason_text(order: Order) -> str:
    """What the order shows as `cancel_reason`: the text of a seller's reason key, or the
    buyer's reason as given."""
    reasons = {**SELLER_CANCEL_REASONS, **SELLER_CANCEL_UNPAID_REASONS}
    return reasons.get(order.cancel_reason, order.cancel_reason)


def order(state: SandboxState, shop: Shop, order: Order) -> dict[str, Any]:
    package_id = ensure_package(state, order)
    cancelled = order.status == "CANCELLED"
    initiator = (order.cancel_by or "system").upper() if cancelled else ""
    items: list[dict[str, Any]] = []
    for line, unit_id in units(order):
        image = shop.items[line.item_id].images[0] if line.item_id in shop.items else ""
        items.append(
            {
                "id": unit_id,
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
                **_carrier(order, "shipping_provider_name"),
                "cancel_reason": cancel_reason_text(order),
                "cancel_user": initiator,
                "is_gift": False,
                **({"rts_time": order.arranged_time} if order.arranged_time else {}),
            }
        )
    total = money(order.total)
    data: dict[str, Any] = {
        "id": order.id,
        "status": order.status,
        "order_type": "NORMAL",
        "create_time": order.create_time,
        "update_time": order.update_time,
        "paid_time": order.create_time,
        "user_id": numeric_id("buyer", order.buyer),
        "buyer_email": f"{numeric_id('mail', order.buyer, digits=12)}@scs.tiktokw.us",
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
        "cancel_reason": cancel_reason_text(order),
        "cancellation_initiator": initiator,
        **_carrier(order, "shipping_provider"),
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
        "recipient_address": recipient_address(shop, order),
    }
    times = {
        "rts_time": order.arranged_time,
        "collection_time": order.shipped_time,
        "delivery_time": order.delivered_time,
        "cancel_time": order.update_time if cancelled else 0,
    }
    data.update({name: moment for name, moment in times.items() if moment})
    return data


def _carrier(order: Order, name_field: str) -> dict[str, str]:
    """Tracking number and carrier, once shipment is arranged."""
    shipped = bool(order.tracking_number)
    return {
        "tracking_number": order.tracking_number,
        "shipping_provider_id": SHIPPING_PROVIDER["id"] if shipped else "",
        name_field: SHIPPING_PROVIDER["name"] if shipped else "",
    }


# -- the recipient -----------------------------------------------------------------------------


def recipient_address(shop: Shop, order: Order) -> dict[str, Any]:
    """The buyer's address, masked as TikTok masks it (the first letters stay)."""
    country, calling = _COUNTRY.get(shop.region, (shop.region, "62"))
    seed = int(numeric_id("address", order.buyer), 10)
    province, city, district, postcode, street = _ID_PLACES[seed % len(_ID_PLACES)]
    phone = f"8{seed % 10**10:010d}"
    detail = _mask_tail(street, keep=2)
    levels = [("Country", country), ("Province", province), ("City", city)]
    levels.append(("District", district))
    return {
        "name": mask_name(order.buyer),
        "phone_number": f"(+{calling}){phone[:3]}{'*' * (len(phone) - 5)}{phone[-2:]}",
        "full_address": f"{country}, {province}, {city}, {district},{detail}",
        "address_detail": detail,
        "postal_code": _mask_tail(postcode, keep=2),
        "region_code": shop.region,
        "district_info": [
            {
                "address_level": f"L{level}",
                "address_level_name": level_name,
                "address_name": name,
                **({"iso_code": shop.region} if level == 0 else {}),
            }
            for level, (level_name, name) in enumerate(levels)
        ],
    }


def mask_name(name: str) -> str:
    """TikTok's masking: each word keeps its first letter, the last word its last letter too
    ("Ahmad Fauzi" → "A*** F***i")."""
    words = name.split() or ["?"]
    masked = [word[0] + "***" for word in words[:-1]]
    last = words[-1]
    masked.append(last[0] + "***" + (last[-1] if len(last) > 1 else ""))
    return " ".join(masked)


def _mask_tail(text: str, *, keep: int) -> str:
    return text[:keep] + "*" * max(len(text) - keep, 3)


def sender_address(shop: Shop) -> dict[str, Any]:
    """The shop's pickup (warehouse) address, as the package detail shows it."""
    country, calling = _COUNTRY.get(shop.region, (shop.region, "62"))
    return {
        "name": shop.name,
        "phone_number": f"(+{calling})21555{int(numeric_id('shop', shop.id)) % 10**4:04d}",
        "full_address": f"Jl. Gudang Raya No. 7, Cakung, Jakarta Timur, DKI Jakarta, {country}",
        "address_detail": "Jl. Gudang Raya No. 7",
        "postal_code": "13910",
        "region_code": shop.region,
    }


# -- packages ----------------------------------------------------------------------------------


def package(state: SandboxState, shop: Shop, order: Order) -> dict[str, Any]:
    """Get Package Detail's `data`."""
    skus: dict[str, dict[str, Any]] = {}
    for line in order.lines:
        entry = skus.setdefault(
            line.model_id,
            {"id": line.model_id, "name": line.model_name, "image_url": "", "quantity": 0},
        )
        entry["quantity"] += line.quantity
    shipped = bool(order.tracking_number)
    data: dict[str, Any] = {
        "package_id": ensure_package(state, order),
        "package_status": PACKAGE_STATUS.get(order.status, "TO_FULFILL"),
        "order_line_item_ids": [unit_id for _line, unit_id in units(order)],
        "orders": [{"id": order.id, "skus": list(skus.values())}],
        "shipping_type": "TIKTOK",
        "delivery_option_name": "Standard shipping",
        "tracking_number": order.tracking_number,
        "shipping_provider_id": SHIPPING_PROVIDER["id"] if shipped else "",
        "shipping_provider_name": SHIPPING_PROVIDER["name"] if shipped else "",
        "handover_method": HANDOVER_METHOD.get(order.handover_method, ""),
        "has_multi_skus": len(skus) > 1,
        "sender_address": sender_address(shop),
        "recipient_address": recipient_address(shop, order),
        "create_time": order.create_time,
        "update_time": order.update_time,
    }
    slot = pickup_slot(order)
    if slot is not None:
        data["pickup_slot"] = slot
    return data


def pickup_slot(order: Order) -> dict[str, int] | None:
    """The slot chosen at ship time ("start-end" in the state) as TikTok shows it."""
    start, _, end = order.pickup_slot.partition("-")
    if not (start.isdigit() and end.isdigit()):
        return None
    return {"start_time": int(start), "end_time": int(end)}


def _warehouse(shop: Shop, order: Order) -> str:
    for line in order.lines:
        item = shop.items.get(line.item_id)
        for model in item.models if item else []:
            if model.id == line.model_id and model.warehouse_id:
                return model.warehouse_id
    return ""
