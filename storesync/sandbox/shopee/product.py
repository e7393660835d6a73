"""Shopee product APIs: item list and details, models, stock and price updates (§1.4).

Items made through add_item / init_tier_variation (`listing`) show their own category,
attributes, weight, dimension and tier variations; seeded items show fixed ones."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from storesync.sandbox import catalog
from storesync.sandbox.shopee.wire import (
    MAX_PAGE_SIZE,
    Call,
    Endpoint,
    ShopeeError,
    as_int,
    as_list,
    money,
    param_error,
)
from storesync.sandbox.state import Item, Model, SandboxError, Shop

ITEM_STATUSES = ("NORMAL", "BANNED", "UNLIST", "REVIEWING", "SELLER_DELETE", "SHOPEE_DELETE")
MAX_IDS = 50
MAX_UPDATES = 50
# Regions whose prices may carry 2 decimals; every other region needs whole numbers.
DECIMAL_REGIONS = frozenset({"SG", "MY", "BR", "MX", "PL", "ES", "AR"})
CATEGORY_ID = 100_017
TIER_NAME = "Variasi"


def location_id(shop: Shop) -> str:
    """The shop's one seller warehouse (Shopee names a local seller's default one `<region>Z`)."""
    return f"{shop.region}Z"


def stock_info(shop: Shop, models: list[Model]) -> dict[str, Any]:
    total = sum(m.stock for m in models)
    return {
        "summary_info": {"total_reserved_stock": 0, "total_available_stock": total},
        "seller_stock": [{"location_id": location_id(shop), "stock": total, "if_saleable": True}],
    }


def _item(call: Call, item_id: int) -> Item:
    item = call.shop.items.get(str(item_id))
    if item is None:
        raise ShopeeError("error_item_not_found", "Item_id is not found.")
    return item


def get_item_list(call: Call) -> dict[str, Any]:
    """Ordered by item_id so that `offset` paging walks every item exactly once."""
    offset = call.integer("offset", low=0)
    page_size = call.integer("page_size", low=1, high=MAX_PAGE_SIZE)
    statuses = call.query.getlist("item_status")
    if not statuses:
        raise param_error("item_status is required")
    if any(s not in ITEM_STATUSES for s in statuses):
        raise ShopeeError("error_param_item_status", "Item status error.")
    since, until = (
        call.optional_integer("update_time_from"),
        call.optional_integer("update_time_to"),
    )
    if since is not None and until is not None and until < since:
        raise ShopeeError(
            "error_update_time_range", "Update_time_to should be later than update_time_from."
        )
    items = sorted(
        (
            i
            for i in list(call.shop.items.values())
            if i.status in statuses
            and (since is None or i.update_time >= since)
            and (until is None or i.update_time <= until)
        ),
        key=lambda i: int(i.id),
    )
    page = items[offset : offset + page_size]
    has_next = offset + len(page) < len(items)
    return {
        "item": [
            {
                "item_id": int(i.id),
                "item_status": i.status,
                "update_time": i.update_time,
                "tag": {"kit": False},
            }
            for i in page
        ],
        "total_count": len(items),
        "has_next_page": has_next,
        "next_offset": offset + len(page),
    }


def get_item_base_info(call: Call) -> dict[str, Any]:
    ids = [_int_id(v, "item_id_list") for v in call.csv("item_id_list", high=MAX_IDS)]
    found = [call.shop.items[str(i)] for i in ids if str(i) in call.shop.items]
    if not found:
        raise ShopeeError("error_item_not_found", "Item_id is not found.")
    return {"item_list": [_base_info(call.shop, item) for item in found]}


def _base_info(shop: Shop, item: Item) -> dict[str, Any]:
    info: dict[str, Any] = {
        "item_id": int(item.id),
        "category_id": int(item.category_id) if item.category_id else CATEGORY_ID,
        "item_name": item.title,
        "description": item.description,
        "description_type": "normal",
        "item_sku": "" if item.has_models else item.models[0].sku,
        "create_time": item.create_time,
        "update_time": item.update_time,
        "image": {
            "image_url_list": item.images,
            "image_id_list": [url.rsplit("/", 1)[-1].split(".")[0] for url in item.images],
        },
        "weight": _weight(item),
        "dimension": _dimension(item),
        "pre_order": {"is_pre_order": False, "days_to_ship": 2},
        "condition": "NEW",
        "item_status": item.status,
        "has_model": item.has_models,
        "has_promotion": False,
        "deboost": False,
        "item_dangerous": 0,
        "tag": {"kit": False},
        "stock_info_v2": stock_info(shop, item.models),
    }
    if not item.has_models:  # Shopee leaves price_info out when the item has models
        info["price_info"] = [_price(shop, item.models[0])]
    if item.category_id:  # made through add_item: its own attributes
        info["attribute_list"] = attribute_list(item)
    return info


def _weight(item: Item) -> str:
    """Kilograms, as a string like Shopee's."""
    return f"{item.weight_grams / 1000:g}" if item.weight_grams else "0.3"


def _dimension(item: Item) -> dict[str, int]:
    length, width, height = item.dimensions_cm if any(item.dimensions_cm) else (20, 15, 5)
    return {"package_length": length, "package_width": width, "package_height": height}


def attribute_list(item: Item) -> list[dict[str, Any]]:
    """The item's attributes with the names of its category's values (a value given by name,
    value_id 0, keeps that name)."""
    known = {a.id: a for a in catalog.attributes(item.category_id)}
    listed = []
    for attribute_id, values in item.attributes.items():
        attribute = known.get(attribute_id)
        names = dict(attribute.values) if attribute is not None else {}
        listed.append(
            {
                "attribute_id": int(attribute_id),
                "original_attribute_name": attribute.name if attribute is not None else "",
                "is_mandatory": bool(attribute and attribute.required),
                "attribute_value_list": [
                    {"value_id": int(v), "original_value_name": names.get(v, ""), "value_unit": ""}
                    if v in names
                    else {"value_id": 0, "original_value_name": v, "value_unit": ""}
                    for v in values
                ],
            }
        )
    return listed


def _price(shop: Shop, model: Model) -> dict[str, Any]:
    price = money(model.price)
    return {"currency": shop.currency, "original_price": price, "current_price": price}


def get_model_list(call: Call) -> dict[str, Any]:
    """Items without variations answer empty lists: their stock is set with model_id 0."""
    item = _item(call, call.integer("item_id"))
    if not item.has_models:
        return {"tier_variation": [], "model": []}
    tiers = item.tiers or [(TIER_NAME, [m.name for m in item.models])]  # seeded: one tier
    return {
        "tier_variation": [
            {"name": name, "option_list": [{"option": option} for option in options]}
            for name, options in tiers
        ],
        "model": [
            {
                "model_id": int(m.id),
                "model_sku": m.sku,
                "model_status": "MODEL_NORMAL",
                "tier_index": m.tier_index or [index],
                "price_info": [_price(call.shop, m)],
                "stock_info_v2": stock_info(call.shop, [m]),
                "pre_order": {"is_pre_order": False, "days_to_ship": 2},
                "has_promotion": False,
                "weight": _weight(item),
            }
            for index, m in enumerate(item.models)
        ],
    }


def _int_id(raw: str, name: str) -> int:
    if not raw.isdigit():
        raise param_error(f"{name} should hold integers")
    return int(raw)


def _model_entries(
    call: Call, list_name: str, check: Callable[[dict[str, Any]], None]
) -> tuple[Item, list[dict[str, Any]]]:
    """The item and its 1 to 50 per-model entries, all well-typed (`check`) before anything
    changes; a malformed entry or a repeated model_id fails the whole call."""
    entries = as_list(call.field(list_name), list_name, 1, MAX_UPDATES)
    item_id = as_int(call.field("item_id"), "item_id")
    seen: set[int] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            raise param_error(f"{list_name} entries should be objects")
        model_id = as_int(entry.get("model_id", 0), "model_id")
        if model_id in seen:
            raise ShopeeError("error_param", "Repeat model_id.")
        seen.add(model_id)
        check(entry)
    return _item(call, item_id), entries


def _check_stock_entry(entry: dict[str, Any]) -> None:
    seller_stock = entry.get("seller_stock")
    if not isinstance(seller_stock, list) or not seller_stock:
        raise param_error("invalid field seller_stock: value must Not Null")
    for part in seller_stock:
        if not isinstance(part, dict):
            raise param_error("seller_stock entries should be objects")
        as_int(part.get("stock"), "stock")


def _check_price_entry(entry: dict[str, Any]) -> None:
    raw = entry.get("original_price")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise param_error("invalid field original_price: value must be a number")


def _model(item: Item, model_id: int) -> Model | str:
    """The model an update addresses, or the failed_reason."""
    if model_id == 0:
        if item.has_models:
            return "Can't to edit item stock directly while item has models."
        return item.models[0]
    for model in item.models if item.has_models else []:
        if model.id == str(model_id):
            return model
    return "Wrong model_id."


def update_stock(call: Call) -> dict[str, Any]:
    """Absolute seller_stock per model; refusals go to failure_list, and when nothing
    succeeds the call fails with `error_busi_update_stock_failed`."""
    item, entries = _model_entries(call, "stock_list", _check_stock_entry)
    success: list[dict[str, Any]] = []
    failure: list[dict[str, Any]] = []
    for entry in entries:
        model_id = as_int(entry.get("model_id", 0), "model_id")
        outcome = _stock_change(call, item, model_id, entry.get("seller_stock"))
        if isinstance(outcome, str):
            failure.append({"model_id": model_id, "failed_reason": outcome})
        else:
            success.append(
                {"model_id": model_id, "location_id": location_id(call.shop), "stock": outcome}
            )
    return _outcome(success, failure, "error_busi_update_stock_failed", "Update stock failed")


def _stock_change(call: Call, item: Item, model_id: int, seller_stock: Any) -> int | str:
    model = _model(item, model_id)
    if isinstance(model, str):
        return model
    entry = seller_stock[0]
    if len(seller_stock) != 1 or entry.get("location_id", "") not in ("", location_id(call.shop)):
        return "The location_id input is not matched the shop's location_id(more/wrong)."
    stock: int = entry["stock"]
    try:
        call.state.set_stock("shopee", call.shop.id, item.id, model.id, stock)
    except SandboxError:
        return "Stock should be larger than or equal to 0 and reserved stock."
    return stock


def update_price(call: Call) -> dict[str, Any]:
    """original_price per model; regions outside DECIMAL_REGIONS need whole numbers."""
    item, entries = _model_entries(call, "price_list", _check_price_entry)
    success: list[dict[str, Any]] = []
    failure: list[dict[str, Any]] = []
    for entry in entries:
        model_id = as_int(entry.get("model_id", 0), "model_id")
        outcome = _price_change(call, item, model_id, entry.get("original_price"))
        if isinstance(outcome, str):
            failure.append({"model_id": model_id, "failed_reason": outcome})
        else:
            success.append({"model_id": model_id, "original_price": money(outcome)})
    return _outcome(success, failure, "error_busi_update_price_failed", "Update price failed")


def _price_change(call: Call, item: Item, model_id: int, raw: Any) -> Decimal | str:
    model = _model(item, model_id)
    if isinstance(model, str):
        return model.replace("stock", "price")
    try:
        price = Decimal(str(raw))
    except InvalidOperation:
        return "Invalid original_price."
    if not price.is_finite():
        return "Invalid original_price."
    if price <= 0:
        return "Price should be greater than 0."
    decimals = 2 if call.shop.region in DECIMAL_REGIONS else 0
    if price != price.quantize(Decimal(1).scaleb(-decimals)):
        return f"Price of {call.shop.region} can only have {decimals} decimal places."
    with call.state.lock:
        model.price = price
        item.update_time = call.state.now()
    return price


def _outcome(
    success: list[dict[str, Any]], failure: list[dict[str, Any]], error: str, what: str
) -> dict[str, Any]:
    response = {"failure_list": failure, "success_list": success}
    if failure and not success:
        raise ShopeeError(
            error, f"{what}, please check failure_list for detailed reason", response=response
        )
    return response


ENDPOINTS = [
    Endpoint("GET", "/api/v2/product/get_item_list", "shop", get_item_list),
    Endpoint("GET", "/api/v2/product/get_item_base_info", "shop", get_item_base_info),
    Endpoint("GET", "/api/v2/product/get_model_list", "shop", get_model_list),
    Endpoint("POST", "/api/v2/product/update_stock", "shop", update_stock),
    Endpoint("POST", "/api/v2/product/update_price", "shop", update_price),
]
