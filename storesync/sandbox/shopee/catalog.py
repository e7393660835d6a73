"""Shopee's catalog as a listing meets it: the category tree, a leaf's attributes and item
limits (from the shared taxonomy, `sandbox.catalog`), the shop's logistics channels, and what
each listing field must be to pass them (docs/marketplaces/shopee-publishing.md).

The field readers return a field as the sandbox keeps it or raise the `ShopeeError` Shopee
answers: codes from the official error lists, messages in Shopee's wording with the field and
value at fault added where Shopee's own text leaves them out. `listing` uses them.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from storesync.sandbox import catalog
from storesync.sandbox.shopee.product import DECIMAL_REGIONS, location_id
from storesync.sandbox.shopee.wire import (
    Call,
    Endpoint,
    ShopeeError,
    as_int,
    money,
    param_error,
)
from storesync.sandbox.state import Image, SandboxError

LIMITS = catalog.SHOPEE_LIMITS
LANGUAGES = frozenset(
    {"en", "id", "ms-my", "th", "vi", "zh-hans", "zh-hant", "pt-br", "es-mx", "pl", "es-co"}
)
MAX_SIDE_CM = 150  # every sandbox channel's item_max_dimension, per side
MIN_WEIGHT_KG = 0.01


def leaf(call: Call) -> catalog.Category:
    """The `category_id` query parameter, a leaf of the tree."""
    category_id = call.integer("category_id")
    found = catalog.category(str(category_id))
    if found is None:
        raise param_error(f"category_id {category_id} is not a Shopee category")
    if not found.leaf:
        raise param_error(f"category_id {category_id} has children: choose a leaf category")
    return found


def _language(call: Call) -> None:
    language = call.query.get("language")
    if language is not None and language.lower() not in LANGUAGES:
        raise ShopeeError("error_invalid_language", "Invalid language.")


def get_category(call: Call) -> dict[str, Any]:
    """The whole tree, parents before children; `parent_category_id` 0 at the root."""
    _language(call)
    return {
        "category_list": [
            {
                "category_id": int(c.id),
                "parent_category_id": int(c.parent_id or 0),
                "original_category_name": c.name,
                "display_category_name": c.name,
                "has_children": not c.leaf,
            }
            for c in catalog.CATEGORIES
        ]
    }


def input_type(attribute: catalog.Attribute) -> str:
    if attribute.multiple:
        return "MULTIPLE_SELECT_COMBO_BOX"
    return "DROP_DOWN" if attribute.values else "TEXT_FILED"  # Shopee's own spelling


def get_attributes(call: Call) -> dict[str, Any]:
    _language(call)
    category = leaf(call)
    return {
        "attribute_list": [
            {
                "attribute_id": int(a.id),
                "original_attribute_name": a.name,
                "display_attribute_name": a.name,
                "is_mandatory": a.required,
                "input_validation_type": "STRING_TYPE",
                "format_type": "NORMAL",
                "input_type": input_type(a),
                "attribute_unit": [],
                "attribute_value_list": [
                    {
                        "value_id": int(value_id),
                        "original_value_name": name,
                        "display_value_name": name,
                    }
                    for value_id, name in a.values
                ],
            }
            for a in catalog.attributes(category.id)
        ]
    }


def _bounds(low: int | float, high: int | float) -> dict[str, int | float]:
    return {"min_limit": low, "max_limit": high}


def get_item_limit(call: Call) -> dict[str, Any]:
    """SHOPEE_LIMITS as Shopee reports them; `category_id` is optional (the limits are the
    same in every sandbox category). `item_count_limit` carries the model cap: what Shopee
    means by it is not documented beyond "Item count max limit"."""
    if call.query.get("category_id"):
        leaf(call)
    return {
        "price_limit": _bounds(money(LIMITS.price_min), money(LIMITS.price_max)),
        "stock_limit": _bounds(LIMITS.stock_min, LIMITS.stock_max),
        "item_name_length_limit": _bounds(LIMITS.title_min, LIMITS.title_max),
        "item_image_count_limit": _bounds(LIMITS.images_min, LIMITS.images_max),
        "item_description_length_limit": _bounds(LIMITS.description_min, LIMITS.description_max),
        "tier_variation_name_length_limit": _bounds(1, LIMITS.tier_name_max),
        "tier_variation_option_length_limit": _bounds(1, LIMITS.tier_option_max),
        "item_count_limit": {"max_limit": LIMITS.max_models},
        "weight_limit": {"weight_mandatory": True},
        "dimension_limit": {"dimension_mandatory": False},
    }


def channel(channel_id: str, name: str, max_grams: int) -> dict[str, Any]:
    return {
        "logistics_channel_id": int(channel_id),
        "logistics_channel_name": name,
        "enabled": True,
        "cod_enabled": True,
        "fee_type": "SIZE_INPUT",
        "size_list": [],
        "weight_limit": {"item_max_weight": max_grams / 1000, "item_min_weight": MIN_WEIGHT_KG},
        "item_max_dimension": {
            "height": MAX_SIDE_CM,
            "width": MAX_SIDE_CM,
            "length": MAX_SIDE_CM,
            "unit": "cm",
        },
        "volume_limit": {"item_max_volume": 0, "item_min_volume": 0},
        "logistics_description": "",
        "force_enable": False,
        "mask_channel_id": 0,
    }


def get_channel_list(_call: Call) -> dict[str, Any]:
    """Every sandbox shop has the channels of `sandbox.catalog.LOGISTICS` enabled."""
    return {"logistics_channel_list": [channel(*c) for c in catalog.LOGISTICS]}


# -- listing fields ----------------------------------------------------------------------------

MAX_SKU = 100  # model_sku / item_sku length [OFF]
CONDITIONS = ("NEW", "USED")
LISTING_STATUSES = ("NORMAL", "UNLIST")
DIMENSIONS = ("package_length", "package_width", "package_height")
CHANNELS = {cid: (name, grams) for cid, name, grams in catalog.LOGISTICS}
Dimensions = tuple[int, int, int]  # length, width, height (cm)


def string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise param_error(f"{name} should be a string")
    return value


def _number(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise param_error(f"{name} should be a number")
    return Decimal(str(value))


def item_name(value: Any) -> str:
    name = string(value, "item_name").strip()
    if not name:
        raise ShopeeError("error_item_name_empty", "Item name could not be empty.")
    if len(name) < LIMITS.title_min:
        raise ShopeeError(
            "error_item_name_is_too_short",
            f"Item_name length is less than min limit ({LIMITS.title_min}).",
        )
    if len(name) > LIMITS.title_max:
        raise ShopeeError(
            "error_title_exceeds_max_length",
            f"The length of item_name is bigger than max limit ({LIMITS.title_max}).",
        )
    return name


def description(value: Any) -> str:
    text = string(value, "description")
    if len(text.strip()) < LIMITS.description_min:
        raise ShopeeError(
            "error_desc_length_min_limit",
            f"Description length is less than the min limit ({LIMITS.description_min}).",
        )
    if len(text) > LIMITS.description_max:
        raise param_error(f"description should be at most {LIMITS.description_max} characters")
    return text


def images(call: Call, value: Any) -> list[Image]:
    """`image.image_id_list`: 1 to 9 ids, each uploaded through this sandbox's upload_image."""
    ids = value.get("image_id_list") if isinstance(value, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise param_error("image.image_id_list should be a list of image ids")
    if len(ids) < LIMITS.images_min:
        raise ShopeeError(
            "error_image_num_min", f"image_id_list needs at least {LIMITS.images_min} image"
        )
    if len(ids) > LIMITS.images_max:
        raise param_error(f"image_id_list should hold at most {LIMITS.images_max} images")
    found = []
    for image_id in ids:
        try:
            found.append(call.state.image("shopee", image_id))
        except SandboxError:
            raise ShopeeError("error_param", f"Image not exist: image_id {image_id}.") from None
    return found


def price(call: Call, value: Any, name: str) -> Decimal:
    if value is None:
        raise param_error(f"invalid field {name}: value must Not Null")
    amount = _number(value, name)
    if amount < LIMITS.price_min:
        raise ShopeeError(
            "error_price_exceed_min_limitt",
            f"Original_price is less than min price limit ({money(LIMITS.price_min)}): {name}.",
        )
    if amount > LIMITS.price_max:
        raise ShopeeError(
            "error_price_exceed_max_limitt",
            f"Original_price is bigger than max price limit ({money(LIMITS.price_max)}): {name}.",
        )
    decimals = 2 if call.shop.region in DECIMAL_REGIONS else 0
    try:
        exact = amount == amount.quantize(Decimal(1).scaleb(-decimals))
    except InvalidOperation:
        exact = False
    if not exact:
        raise ShopeeError(
            "error_invalid_price",
            f"Invalid price, please use the correct format: {name} of {call.shop.region} can "
            f"only have {decimals} decimal places.",
        )
    return amount


def seller_stock(call: Call, value: Any, name: str) -> int:
    """One seller stock entry (the shop's one location, or none named)."""
    if not isinstance(value, list) or not value or not all(isinstance(e, dict) for e in value):
        raise param_error(f"{name} should be a list with one stock entry")
    if len(value) != 1 or value[0].get("location_id", "") not in ("", location_id(call.shop)):
        raise ShopeeError(
            "error_auth",
            "The location_id input is not matched the shop's location_id(more/wrong). "
            "Please double check.",
        )
    stock = as_int(value[0].get("stock"), f"{name}.stock")
    if not LIMITS.stock_min <= stock <= LIMITS.stock_max:
        raise param_error(
            f"{name}.stock should be between {LIMITS.stock_min} and {LIMITS.stock_max}"
        )
    return stock


def sku(value: Any, name: str) -> str:
    text = string(value, name) if value is not None else ""
    if len(text) > MAX_SKU:
        raise param_error(f"{name} should be at most {MAX_SKU} characters")
    return text


def weight(value: Any) -> int:
    """Kilograms on the wire, grams in the sandbox."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ShopeeError("error_param", "Invalid Weight. weight should be a number of kg.")
    grams = round(Decimal(str(value)) * 1000)
    if grams <= 0 or grams > LIMITS.weight_max_grams:
        raise ShopeeError(
            "error_param",
            f"Invalid Weight. weight should be above 0 and at most "
            f"{LIMITS.weight_max_grams / 1000:g} kg.",
        )
    return int(grams)


def dimension(value: Any) -> Dimensions:
    """All three sides or none: whole centimetres above 0."""
    if not isinstance(value, dict) or any(value.get(side) is None for side in DIMENSIONS):
        raise param_error("dimension needs package_length, package_width and package_height")
    sides = tuple(as_int(value[side], f"dimension.{side}") for side in DIMENSIONS)
    if min(sides) <= 0:
        raise param_error("dimension sides should be above 0 cm")
    return sides[0], sides[1], sides[2]


def logistics(value: Any) -> list[str]:
    """The enabled channels of `logistic_info`; at least one, each a channel of the shop."""
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise param_error("logistic_info should be a list of channels")
    enabled: list[str] = []
    for entry in value:
        channel_id = str(as_int(entry.get("logistic_id"), "logistic_id"))
        if channel_id not in CHANNELS:
            raise ShopeeError(
                "error_invalid_logistic_info",
                f"invalid logistic info , logistic_id {channel_id} is not a channel of this shop",
            )
        if entry.get("enabled") is True and channel_id not in enabled:
            enabled.append(channel_id)
    if not enabled:
        raise ShopeeError(
            "error_invalid_logistic_info",
            "invalid logistic info , at least one logistic_id should be enabled",
        )
    return enabled


def fits_channels(channel_ids: list[str], grams: int, sides: Dimensions) -> None:
    for channel_id in channel_ids:
        name, max_grams = CHANNELS[channel_id]
        if grams > max_grams:
            raise ShopeeError(
                "error_invalid_logistic_info",
                f"invalid logistic info , weight {grams / 1000:g} kg exceeds the max weight "
                f"{max_grams / 1000:g} kg of logistic_id {channel_id} ({name})",
            )
        if max(sides) > MAX_SIDE_CM:
            raise ShopeeError(
                "error_invalid_logistic_info",
                f"invalid logistic info , dimension exceeds the {MAX_SIDE_CM} cm a side of "
                f"logistic_id {channel_id} ({name})",
            )


def category(value: Any) -> catalog.Category:
    category_id = as_int(value, "category_id")
    found = catalog.category(str(category_id))
    if found is None:
        raise ShopeeError(
            "error_invalid_category", f"Invalid category ID {category_id}: unknown category_id."
        )
    if not found.leaf:
        raise ShopeeError(
            "error_invalid_category",
            f"Invalid category ID {category_id}: category_id has children, use a leaf category.",
        )
    return found


def attribute_values(category_id: str, value: Any) -> dict[str, list[str]]:
    """`attribute_list` as attribute id → values (the value id, or the name for value_id 0),
    every attribute one of the category's and every value allowed."""
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise param_error("attribute_list should be a list of attributes")
    known = {a.id: a for a in catalog.attributes(category_id)}
    given: dict[str, list[str]] = {}
    for entry in value:
        attribute_id = str(as_int(entry.get("attribute_id"), "attribute_id"))
        attribute = known.get(attribute_id)
        if attribute is None:
            raise ShopeeError(
                "error_invalid_category_attribute",
                f"Category and attribute not match: attribute_id {attribute_id} is not an "
                f"attribute of category_id {category_id}.",
            )
        raw_values = entry.get("attribute_value_list") or []
        if not isinstance(raw_values, list) or not all(isinstance(v, dict) for v in raw_values):
            raise param_error("attribute_value_list should be a list of values")
        given[attribute_id] = [_value(attribute, raw) for raw in raw_values]
        if len(given[attribute_id]) > 1 and not attribute.multiple:
            raise ShopeeError(
                "error_invalid_attribute_value",
                f"Invalid attribute value: attribute {attribute.name} ({attribute.id}) takes "
                "one value.",
            )
    check_attributes(category_id, given)
    return given


def _value(attribute: catalog.Attribute, raw: dict[str, Any]) -> str:
    value_id = as_int(raw.get("value_id", 0), "value_id")
    name = raw.get("original_value_name")
    if value_id and not attribute.values:
        raise ShopeeError(
            "error_value_id_must_equal_zero",
            f"Value_id must equal 0: attribute {attribute.name} ({attribute.id}) takes text.",
        )
    if value_id:
        return str(value_id)
    if not isinstance(name, str) or not name.strip():
        raise ShopeeError(
            "error_value_name_required",
            f"Value_name is required: attribute {attribute.name} ({attribute.id}) has value_id "
            "0 without original_value_name.",
        )
    return name.strip()


def check_attributes(category_id: str, given: dict[str, list[str]]) -> None:
    """Every attribute one of the category's, every value allowed, none required missing."""
    bad = catalog.disallowed_value(category_id, given)
    if bad is not None:
        attribute, value = bad
        if attribute.id not in {a.id for a in catalog.attributes(category_id)}:
            raise ShopeeError(
                "error_invalid_category_attribute",
                f"Category and attribute not match: attribute_id {attribute.id} is not an "
                f"attribute of category_id {category_id}.",
            )
        raise ShopeeError(
            "error_invalid_attribute_value",
            f"Invalid attribute value: {value!r} is not a value of attribute {attribute.name} "
            f"({attribute.id}).",
        )
    missing = catalog.missing_required(category_id, given)
    if missing:
        names = ", ".join(f"{a.name} ({a.id})" for a in missing)
        raise ShopeeError(
            "error_less_required_attribute", f"Mandatory attribute information required: {names}."
        )


def choice(value: Any, name: str, allowed: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        raise param_error(f"{name} should be one of {', '.join(allowed)}")
    return str(value)


ENDPOINTS = [
    Endpoint("GET", "/api/v2/product/get_category", "shop", get_category),
    Endpoint("GET", "/api/v2/product/get_attributes", "shop", get_attributes),
    Endpoint("GET", "/api/v2/product/get_item_limit", "shop", get_item_limit),
    Endpoint("GET", "/api/v2/logistics/get_channel_list", "shop", get_channel_list),
]
