"""Shopee listing publishing behind `ShopeeAdapter` (docs/marketplaces/shopee-publishing.md):
the category tree, a category's attributes, rules and logistics channels, image upload, a new
listing (add_item, then init_tier_variation for variations) and content edits (update_item).

Shopee's refusals of these calls are raised as VALIDATION `AppError`s with Shopee's code and
message and the draft field at fault (`refusals`); authentication, throttling and outages stay
as `wire` maps them.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from storesync.channels.schemas import (
    AttributeValue,
    CategoryDetail,
    ChannelAttribute,
    ChannelCategory,
    ContentUpdate,
    DraftAttribute,
    DraftVariant,
    ListingDraft,
    ListingRules,
    LogisticsChannel,
    PublishedListing,
    PublishedVariant,
    UploadedImage,
)
from storesync.channels.shopee import client as api
from storesync.channels.shopee.client import ShopeeClient
from storesync.channels.shopee.refusals import refused
from storesync.core.errors import AppError, ErrorType, ValidationFailed

log = logging.getLogger(__name__)

IMAGE_MAX_BYTES = 10 * 1024 * 1024  # upload_image: "Max 10.0 MB each" (not in get_item_limit)
MAX_TIERS = 2  # "The level of tier-variation over 2."
DEFAULT_MAX_MODELS = 50
MULTIPLE_INPUTS = frozenset({"MULTIPLE_SELECT", "MULTIPLE_SELECT_COMBO_BOX"})
# get_item_limit bounds used when Shopee leaves one out (not documented: our own choice).
DEFAULT_LIMITS: dict[str, tuple[float, float]] = {
    "item_name_length_limit": (1, 120),
    "item_description_length_limit": (0, 3000),
    "item_image_count_limit": (1, 9),
    "price_limit": (0.01, 1_000_000_000),
    "stock_limit": (0, 999_999),
}
Tiers = list[tuple[str, list[str]]]


class ShopeeCatalog:
    """The publishing calls of one store connection."""

    def __init__(self, client: ShopeeClient) -> None:
        self.client = client

    async def categories(self) -> list[ChannelCategory]:
        answer = await self.client.shop("GET", api.CATEGORIES, refusal=refused)
        rows = (answer.get("response") or {}).get("category_list") or []
        return [
            ChannelCategory(
                category_id=str(row["category_id"]),
                parent_id=str(row.get("parent_category_id") or ""),  # 0 at the root
                name=_name(row, "category"),
                leaf=not row.get("has_children"),
            )
            for row in rows
        ]

    async def category_detail(self, category_id: str) -> CategoryDetail:
        if not category_id.isdigit():
            raise ValidationFailed("category_id", "a Shopee category id is a number")
        params = [("category_id", category_id)]
        attributes, limits, channels = await asyncio.gather(
            self.client.shop("GET", api.ATTRIBUTES, params=params, refusal=refused),
            self.client.shop("GET", api.ITEM_LIMIT, params=params, refusal=refused),
            self.client.shop("GET", api.CHANNEL_LIST, refusal=refused),
        )
        return CategoryDetail(
            category_id=category_id,
            attributes=[
                attribute(a) for a in (attributes.get("response") or {}).get("attribute_list") or []
            ],
            rules=rules(limits.get("response") or {}),
            logistics=[
                logistics_channel(c)
                for c in (channels.get("response") or {}).get("logistics_channel_list") or []
                if c.get("enabled")
            ],
        )

    async def upload_image(self, data: bytes, filename: str) -> UploadedImage:
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        answer = await self.client.upload(
            api.UPLOAD_IMAGE,
            files=[("image", (filename, data, content_type))],
            data={"scene": "normal"},
            refusal=refused,
        )
        info = (answer.get("response") or {}).get("image_info") or {}
        urls = info.get("image_url_list") or []
        if not info.get("image_id") or not urls:
            raise _malformed(api.UPLOAD_IMAGE, "no image_id or image URL")
        return UploadedImage(image_id=str(info["image_id"]), url=str(urls[0].get("image_url")))

    async def publish(self, draft: ListingDraft) -> PublishedListing:
        tiers, indexes = variation_tiers(draft.variants)
        answer = await self.client.shop(
            "POST", api.ADD_ITEM, body=item_body(draft, bool(tiers)), refusal=refused
        )
        item_id = str((answer.get("response") or {}).get("item_id") or "")
        if not item_id:
            raise _malformed(api.ADD_ITEM, "no item_id")
        log.info("Shopee item %s created", item_id)
        if not tiers:
            variant = PublishedVariant(sku=draft.variants[0].sku, platform_model_id="")
            return PublishedListing(platform_item_id=item_id, variants=[variant])
        try:
            answer = await self.client.shop(
                "POST",
                api.INIT_TIER_VARIATION,
                body=tier_body(item_id, tiers, indexes, draft.variants),
                refusal=refused,
            )
            variants = published_models(answer.get("response") or {}, indexes, draft.variants)
        except AppError as error:
            # The item exists without its models: the caller records or deletes it.
            error.details["platform_item_id"] = item_id
            log.warning("Shopee item %s created but its variations refused: %s", item_id, error)
            raise
        return PublishedListing(platform_item_id=item_id, variants=variants)

    async def update_content(self, update: ContentUpdate) -> None:
        body = content_body(update)
        if len(body) == 1:  # only item_id: nothing to change
            return
        await self.client.shop("POST", api.UPDATE_ITEM, body=body, refusal=refused)
        log.info("Shopee item %s content updated (%s)", update.platform_item_id, ", ".join(body))


# -- reading -----------------------------------------------------------------------------------


def _name(row: dict[str, Any], kind: str) -> str:
    return str(row.get(f"display_{kind}_name") or row.get(f"original_{kind}_name") or "")


def attribute(row: dict[str, Any]) -> ChannelAttribute:
    """One get_attributes entry; its values by their display names."""
    return ChannelAttribute(
        attribute_id=str(row["attribute_id"]),
        name=_name(row, "attribute"),
        required=bool(row.get("is_mandatory")),
        values=[
            AttributeValue(value_id=str(v["value_id"]), name=_name(v, "value"))
            for v in row.get("attribute_value_list") or []
        ],
        multiple=str(row.get("input_type") or "") in MULTIPLE_INPUTS,
    )


def _bounds(limits: dict[str, Any], key: str) -> tuple[Decimal, Decimal]:
    low, high = DEFAULT_LIMITS[key]
    found = limits.get(key) or {}
    low = found["min_limit"] if found.get("min_limit") is not None else low
    high = found["max_limit"] if found.get("max_limit") is not None else high
    return Decimal(str(low)), Decimal(str(high))


def rules(limits: dict[str, Any]) -> ListingRules:
    """get_item_limit's answer; the image size is upload_image's documented 10 MB, and the
    model cap `item_count_limit` (50 when absent)."""
    title = _bounds(limits, "item_name_length_limit")
    description = _bounds(limits, "item_description_length_limit")
    images = _bounds(limits, "item_image_count_limit")
    price = _bounds(limits, "price_limit")
    stock = _bounds(limits, "stock_limit")
    models = (limits.get("item_count_limit") or {}).get("max_limit")
    return ListingRules(
        title_min=int(title[0]),
        title_max=int(title[1]),
        description_max=int(description[1]),
        images_min=int(images[0]),
        images_max=int(images[1]),
        image_max_bytes=IMAGE_MAX_BYTES,
        price_min=price[0],
        price_max=price[1],
        stock_min=int(stock[0]),
        stock_max=int(stock[1]),
        max_variants=int(models or DEFAULT_MAX_MODELS),
        needs_logistics=True,
    )


def logistics_channel(row: dict[str, Any]) -> LogisticsChannel:
    """A get_channel_list entry; `item_max_weight` (kg, 0 or null: no limit) in grams."""
    heaviest = (row.get("weight_limit") or {}).get("item_max_weight")
    return LogisticsChannel(
        channel_id=str(row["logistics_channel_id"]),
        name=str(row.get("logistics_channel_name") or ""),
        max_weight_grams=round(Decimal(str(heaviest)) * 1000) if heaviest else None,
    )


# -- writing -----------------------------------------------------------------------------------


def variation_tiers(variants: Sequence[DraftVariant]) -> tuple[Tiers, list[list[int]]]:
    """The tier variations the variants make (a tier per option name, in order, its options in
    the order the variants use them) and each variant's tier_index; none for one variant
    without options. Refused here, before anything is created, when Shopee could not take
    them: no variant, more than two option names, variants with different option names or
    none, or two variants with the same options."""
    if not variants:
        raise ValidationFailed("variants", "a listing needs at least one variant")
    names = list(variants[0].options)
    if len(variants) == 1 and not names:
        return [], []
    if not names:
        raise ValidationFailed("variants", "variants need options (e.g. Color) on Shopee")
    if len(names) > MAX_TIERS:
        raise ValidationFailed(
            "variants",
            f"Shopee takes at most {MAX_TIERS} variation tiers, not {len(names)} "
            f"({', '.join(names)})",
        )
    for variant in variants:
        if list(variant.options) != names:
            raise ValidationFailed(
                "variants", f"variant {variant.sku} has options other than {', '.join(names)}"
            )
    tiers = [(name, list(dict.fromkeys(v.options[name] for v in variants))) for name in names]
    indexes = [[options.index(v.options[name]) for name, options in tiers] for v in variants]
    if len({tuple(i) for i in indexes}) != len(indexes):
        raise ValidationFailed("variants", "two variants have the same options")
    return tiers, indexes


def _amount(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _attributes(attributes: Sequence[DraftAttribute]) -> list[dict[str, Any]]:
    """A value with an id goes by its id; a free-text one as value_id 0 with its name."""
    return [
        {
            "attribute_id": int(a.attribute_id),
            "attribute_value_list": [
                {"value_id": int(v.value_id) if v.value_id.isdigit() else 0,
                 "original_value_name": v.name}
                for v in a.values
            ],
        }
        for a in attributes
        if a.values
    ]  # fmt: skip


def _digits(value: str, field: str) -> int:
    if not value.isdigit():
        raise ValidationFailed(field, f"{value!r} is not a Shopee id")
    return int(value)


def item_body(draft: ListingDraft, tiered: bool) -> dict[str, Any]:
    """add_item: the first variant's price (init_tier_variation prices each model), the stock
    of all variants, weight in kg, the package when all three sides are known."""
    first = draft.variants[0]
    body: dict[str, Any] = {
        "item_name": draft.title,
        "description": draft.description,
        "category_id": _digits(draft.category_id, "category_id"),
        "original_price": _amount(first.price),
        "seller_stock": [{"stock": sum(v.quantity for v in draft.variants)}],
        "weight": draft.weight_grams / 1000,
        "image": {"image_id_list": list(draft.images)},
        "logistic_info": [
            {"logistic_id": _digits(c, "logistics_ids"), "enabled": True}
            for c in draft.logistics_ids
        ],
        "attribute_list": _attributes(draft.attributes),
        "condition": "NEW",
        "item_status": "NORMAL",
    }
    if not tiered:
        body["item_sku"] = first.sku
    sides = (draft.length_cm, draft.width_cm, draft.height_cm)
    if min(sides) > 0:
        body["dimension"] = _dimension(*sides)
    return body


def _dimension(length: int, width: int, height: int) -> dict[str, int]:
    return {"package_length": length, "package_width": width, "package_height": height}


def tier_body(
    item_id: str, tiers: Tiers, indexes: list[list[int]], variants: Sequence[DraftVariant]
) -> dict[str, Any]:
    return {
        "item_id": int(item_id),
        "tier_variation": [
            {"name": name, "option_list": [{"option": option} for option in options]}
            for name, options in tiers
        ],
        "model": [
            {
                "tier_index": index,
                "original_price": _amount(variant.price),
                "model_sku": variant.sku,
                "seller_stock": [{"stock": variant.quantity}],
            }
            for variant, index in zip(variants, indexes, strict=True)
        ],
    }


def published_models(
    answer: dict[str, Any], indexes: list[list[int]], variants: Sequence[DraftVariant]
) -> list[PublishedVariant]:
    """Each variant's new model id, found by its tier_index in init_tier_variation's answer."""
    by_index = {
        tuple(int(i) for i in m.get("tier_index") or ()): str(m.get("model_id") or "")
        for m in answer.get("model") or []
    }
    published = []
    for variant, index in zip(variants, indexes, strict=True):
        model_id = by_index.get(tuple(index), "")
        if not model_id:
            raise _malformed(api.INIT_TIER_VARIATION, f"no model for variant {variant.sku}")
        published.append(PublishedVariant(sku=variant.sku, platform_model_id=model_id))
    return published


def content_body(update: ContentUpdate) -> dict[str, Any]:
    """update_item with only the fields the update sets; the package only as all three sides."""
    body: dict[str, Any] = {"item_id": _digits(update.platform_item_id, "platform_item_id")}
    if update.title is not None:
        body["item_name"] = update.title
    if update.description is not None:
        body["description"] = update.description
    if update.images is not None:
        body["image"] = {"image_id_list": list(update.images)}
    if update.attributes is not None:
        body["attribute_list"] = _attributes(update.attributes)
    if update.weight_grams is not None:
        body["weight"] = update.weight_grams / 1000
    sides = (update.length_cm, update.width_cm, update.height_cm)
    if any(side is not None for side in sides):
        length, width, height = sides
        if length is None or width is None or height is None:
            raise ValidationFailed("package", "give the package length, width and height together")
        body["dimension"] = _dimension(length, width, height)
    return body


def _malformed(path: str, what: str) -> AppError:
    return AppError(
        ErrorType.PLATFORM_API,
        "malformed_response",
        f"Shopee answered {path} with {what}",
        details={"path": path},
        retryable=False,
    )
