"""Shopee listing writes: image upload (media_space), add_item, init_tier_variation and
update_item (docs/marketplaces/shopee-publishing.md).

Every field is checked (`catalog`) before anything changes, so a refused call creates or
changes nothing. upload_image is the one multipart call: `upload_route` checks its public-level
signature (the body is never signed) before reading the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from storesync.sandbox.shopee.catalog import (
    CONDITIONS,
    LIMITS,
    LISTING_STATUSES,
    attribute_values,
    category,
    check_attributes,
    choice,
    description,
    dimension,
    fits_channels,
    images,
    item_name,
    logistics,
    price,
    seller_stock,
    sku,
    string,
    weight,
)
from storesync.sandbox.shopee.product import attribute_list, location_id
from storesync.sandbox.shopee.wire import (
    Call,
    Endpoint,
    ShopeeError,
    as_int,
    authenticate,
    error_response,
    money,
    param_error,
    success_response,
)
from storesync.sandbox.state import Item, Model, SandboxState

UPLOAD_IMAGE = "/api/v2/media_space/upload_image"
MAX_UPLOAD_FILES = 9  # "image number should be less than 9" [OFF]; the sandbox takes up to 9
SCENES = ("normal", "desc")
RATIOS = ("1:1", "3:4")
IMAGE_REGION = "ID"  # a public call names no shop: the sandbox's shops are Indonesian
JPEG = b"\xff\xd8\xff"
PNG = b"\x89PNG\r\n\x1a\n"


# -- media_space -------------------------------------------------------------------------------


def image_format(data: bytes) -> tuple[str, int, int] | None:
    """Content type, width and height (0 when not read) of JPEG or PNG bytes; None otherwise."""
    if data.startswith(PNG) and len(data) >= 24:
        return "image/png", int.from_bytes(data[16:20]), int.from_bytes(data[20:24])
    if data.startswith(JPEG):
        return "image/jpeg", 0, 0
    return None


async def upload_image(call: Call, request: Request) -> dict[str, Any]:
    """Every file of the `image` field (1 to 9) must be JPG or PNG (by its bytes, whatever its
    name or declared type says) and at most 10 MB, or the call is refused and nothing kept."""
    if "multipart/form-data" not in request.headers.get("content-type", ""):
        raise param_error("Content-Type should be multipart/form-data with an image file")
    try:
        form = await request.form(max_files=MAX_UPLOAD_FILES + 1)
    except HTTPException:
        raise param_error("the multipart body could not be read") from None
    files = [f for f in form.getlist("image") if isinstance(f, UploadFile)]
    if not files:
        raise param_error("image is required: send the file in the multipart field image")
    if len(files) > MAX_UPLOAD_FILES:
        raise param_error(f"image number should be at most {MAX_UPLOAD_FILES}")
    for name, allowed in (("scene", SCENES), ("ratio", RATIOS)):
        value = form.get(name)
        if value is not None and value not in allowed:
            raise param_error(f"{name} should be one of {', '.join(allowed)}")
    checked = []
    for upload in files:
        data = await upload.read()
        if len(data) > LIMITS.image_max_bytes:
            raise ShopeeError("error_file_size", "image size exceeds 10MB")
        found = image_format(data)
        if found is None:
            raise ShopeeError(
                "error_image_format", "image format should be JPG, JPEG or PNG (image)"
            )
        checked.append((len(data), *found))
    infos = []
    for size, content_type, width, height in checked:
        image = call.state.store_image("shopee", size, content_type, width, height)
        infos.append(
            {
                "image_id": image.id,
                "image_url_list": [{"image_url_region": IMAGE_REGION, "image_url": image.url}],
            }
        )
    return {
        "image_info": infos[0],
        "image_info_list": [
            {"id": index, "error": "", "message": "", "image_info": info}
            for index, info in enumerate(infos)
        ],
    }


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def upload_route(state: SandboxState) -> Route:
    """POST upload_image: signed at public level over the query alone; the gateway's JSON
    reading does not apply to a multipart body, so the signature is checked on a view of the
    request without one, and the form is read afterwards."""

    async def run(request: Request) -> Response:
        try:
            call = await authenticate(state, Request(request.scope, _no_body), "public")
            result = await upload_image(call, request)
        except ShopeeError as exc:
            return error_response(exc)
        return success_response(result, "response", "")

    return Route(UPLOAD_IMAGE, run, methods=["POST"])


# -- add_item ----------------------------------------------------------------------------------


def add_item(call: Call) -> dict[str, Any]:
    """A listing without variations: model "0" holds its price, stock and item_sku."""
    body = call.body
    leaf = category(call.field("category_id"))
    title = item_name(call.field("item_name"))
    text = description(call.field("description"))
    pictures = images(call, call.field("image"))
    amount = price(call, call.field("original_price"), "original_price")
    stock = (
        seller_stock(call, body["seller_stock"], "seller_stock") if body.get("seller_stock") else 0
    )
    grams = weight(call.field("weight"))
    sides = dimension(body["dimension"]) if body.get("dimension") is not None else (0, 0, 0)
    channels = logistics(call.field("logistic_info"))
    attributes = attribute_values(leaf.id, body.get("attribute_list") or [])
    fits_channels(channels, grams, sides)
    item_sku = sku(body.get("item_sku"), "item_sku")
    condition = choice(body.get("condition"), "condition", CONDITIONS, "NEW")
    status = choice(body.get("item_status"), "item_status", LISTING_STATUSES, "NORMAL")
    created = call.state.now()
    item = Item(
        id=call.state.new_id("shopee"),
        title=title,
        status=status,
        has_models=False,
        models=[Model("0", item_sku, "", amount, stock)],
        images=[p.url for p in pictures],
        create_time=created,
        update_time=created,
        description=text,
        category_id=leaf.id,
        attributes=attributes,
        weight_grams=grams,
        dimensions_cm=sides,
        logistics_ids=channels,
    )
    call.state.add_item("shopee", call.shop.id, item)
    return {
        **item_view(item),
        "price_info": {"original_price": money(amount), "current_price": money(amount)},
        "seller_stock": [{"location_id": location_id(call.shop), "stock": stock}],
        "item_sku": item_sku,
        "condition": condition,
        "pre_order": {"is_pre_order": False, "days_to_ship": 2},
    }


def item_view(item: Item) -> dict[str, Any]:
    """The content fields add_item and update_item answer with."""
    view: dict[str, Any] = {
        "item_id": int(item.id),
        "item_name": item.title,
        "description": item.description,
        "item_status": item.status,
        "category_id": int(item.category_id) if item.category_id else 0,
        "images": {
            "image_id_list": [url.rsplit("/", 1)[-1].split(".")[0] for url in item.images],
            "image_url_list": list(item.images),
        },
        "weight": item.weight_grams / 1000,
        "logistic_info": [
            {"logistic_id": int(c), "enabled": True, "shipping_fee": 0, "size_id": 0}
            for c in item.logistics_ids
        ],
        "attribute": attribute_list(item),
    }
    if any(item.dimensions_cm):
        length, width, height = item.dimensions_cm
        view["dimension"] = {
            "package_length": length,
            "package_width": width,
            "package_height": height,
        }
    return view


def own_item(call: Call) -> Item:
    item = call.shop.items.get(str(as_int(call.field("item_id"), "item_id")))
    if item is None:
        raise ShopeeError("error_item_not_found", "Item_id is not found.")
    return item


# -- init_tier_variation -----------------------------------------------------------------------

Tiers = list[tuple[str, list[str]]]


@dataclass
class _ModelSpec:
    tier_index: list[int]
    price: Decimal
    stock: int
    sku: str


def tiers(value: Any) -> Tiers:
    """1 or 2 tiers, names and options within the limits, options unique in a tier."""
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value) or not value:
        raise param_error("tier_variation should be a list of 1 or 2 tiers")
    if len(value) > 2:
        raise ShopeeError("error_param", "The level of tier-variation over 2.")
    found: Tiers = []
    for tier in value:
        name = string(tier.get("name"), "tier_variation.name").strip()
        if not name or len(name) > LIMITS.tier_name_max:
            raise ShopeeError(
                "error_tier_var_name_too_long",
                f"tier_variation name {name!r} should be 1 to {LIMITS.tier_name_max} characters",
            )
        raw_options = tier.get("option_list")
        if not isinstance(raw_options, list) or not raw_options:
            raise param_error(f"tier_variation {name!r} needs an option_list")
        options = [_option(name, raw) for raw in raw_options]
        if len(set(options)) != len(options) or name in (n for n, _ in found):
            raise ShopeeError(
                "error_model_duplicate_name",
                f"Item tier_variation have duplicate name: tier_variation {name!r}.",
            )
        found.append((name, options))
    return found


def _option(tier: str, raw: Any) -> str:
    option = string(raw.get("option") if isinstance(raw, dict) else None, "option").strip()
    if not option or len(option) > LIMITS.tier_option_max:
        raise ShopeeError(
            "error_tier_opt_val_too_long",
            f"tier_variation option {option!r} of {tier!r} should be 1 to "
            f"{LIMITS.tier_option_max} characters",
        )
    return option


def models(call: Call, value: Any, found: Tiers) -> list[_ModelSpec]:
    if not isinstance(value, list) or not value or not all(isinstance(m, dict) for m in value):
        raise param_error("model should be a list of models")
    if len(value) > LIMITS.max_models:
        raise ShopeeError(
            "error_model_count_over_limit",
            f"The count of model is too large. Should be at most {LIMITS.max_models}.",
        )
    specs: list[_ModelSpec] = []
    for number, raw in enumerate(value):
        index = raw.get("tier_index")
        if not isinstance(index, list) or not index:
            raise ShopeeError(
                "error_model_nonempty_itemtier_empty_index", "Item tier_index is required."
            )
        index = [as_int(i, "tier_index") for i in index]
        if len(index) != len(found) or any(
            not 0 <= i < len(options) for i, (_, options) in zip(index, found, strict=False)
        ):
            raise ShopeeError(
                "error_model_tier_index_bound",
                f"Invalid item iter_index: model[{number}].tier_index {index} does not match "
                "tier_variation.",
            )
        if any(spec.tier_index == index for spec in specs):
            raise ShopeeError(
                "error_model_duplicate_tier_variation_index",
                f"Item have duplicate tier_index: {index}.",
            )
        specs.append(
            _ModelSpec(
                index,
                price(call, raw.get("original_price"), f"model[{number}].original_price"),
                seller_stock(call, raw.get("seller_stock"), f"model[{number}].seller_stock"),
                sku(raw.get("model_sku"), f"model[{number}].model_sku"),
            )
        )
    return specs


def init_tier_variation(call: Call) -> dict[str, Any]:
    """Variations for an item that has none yet: its models are replaced by one per tier_index
    combination given (new model ids, name = the options joined with ",")."""
    item = own_item(call)
    if item.has_models or item.tiers:
        raise ShopeeError(
            "error_param",
            f"Wrong parameters, detail: item {item.id} already has tier variation; change "
            "it with update_tier_variation.",
        )
    found = tiers(call.field("tier_variation"))
    specs = models(call, call.field("model"), found)
    new_models = []
    for spec in specs:
        chosen = [
            (name, options[i]) for i, (name, options) in zip(spec.tier_index, found, strict=True)
        ]
        new_models.append(
            Model(
                call.state.new_id("shopee"),
                spec.sku,
                ",".join(option for _, option in chosen),
                spec.price,
                spec.stock,
                tier_index=spec.tier_index,
                options=chosen,
            )
        )
    with call.state.lock:
        item.tiers = found
        item.has_models = True
        item.models = new_models
        item.update_time = call.state.now()
    return {
        "item_id": int(item.id),
        "tier_variation": tier_view(found),
        "model": [
            {
                "model_id": int(m.id),
                "tier_index": m.tier_index,
                "model_sku": m.sku,
                "price_info": [{"original_price": money(m.price)}],
                "seller_stock": [{"location_id": location_id(call.shop), "stock": m.stock}],
            }
            for m in new_models
        ],
    }


def tier_view(found: Tiers) -> list[dict[str, Any]]:
    return [
        {"name": name, "option_list": [{"option": option} for option in options]}
        for name, options in found
    ]


# -- update_item -------------------------------------------------------------------------------

CONTENT = ("item_name", "description", "image", "attribute_list", "weight", "dimension")


def update_item(call: Call) -> dict[str, Any]:
    """The content fields given (item_name, description, image, attribute_list, weight,
    dimension, category_id, item_status), each checked as add_item checks it, and the item's
    attributes against its category (the new one, if it changes)."""
    item = own_item(call)
    body = call.body
    if not any(body.get(name) is not None for name in (*CONTENT, "category_id", "item_status")):
        raise param_error("nothing to update: give at least one field of the item")
    changes: dict[str, Any] = {}
    if body.get("item_name") is not None:
        changes["title"] = item_name(body["item_name"])
    if body.get("description") is not None:
        changes["description"] = description(body["description"])
    if body.get("image") is not None:
        changes["images"] = [p.url for p in images(call, body["image"])]
    if body.get("item_status") is not None:
        changes["status"] = choice(body["item_status"], "item_status", LISTING_STATUSES, "")
    leaf_id = category(body["category_id"]).id if body.get("category_id") is not None else ""
    category_id = leaf_id or item.category_id
    if body.get("attribute_list") is not None or leaf_id:
        if not category_id:
            raise ShopeeError(
                "error_invalid_category",
                "Invalid category ID 0: give category_id with the item's attribute_list.",
            )
        if body.get("attribute_list") is not None:
            changes["attributes"] = attribute_values(category_id, body["attribute_list"])
        else:
            check_attributes(category_id, item.attributes)
        changes["category_id"] = category_id
    grams = weight(body["weight"]) if body.get("weight") is not None else item.weight_grams
    sides = (
        dimension(body["dimension"]) if body.get("dimension") is not None else item.dimensions_cm
    )
    fits_channels(item.logistics_ids, grams, sides)
    changes["weight_grams"], changes["dimensions_cm"] = grams, sides
    with call.state.lock:
        for name, value in changes.items():
            setattr(item, name, value)
        item.update_time = call.state.now()
    return item_view(item)


ENDPOINTS = [
    Endpoint("POST", "/api/v2/product/add_item", "shop", add_item),
    Endpoint("POST", "/api/v2/product/init_tier_variation", "shop", init_tier_variation),
    Endpoint("POST", "/api/v2/product/update_item", "shop", update_item),
]
