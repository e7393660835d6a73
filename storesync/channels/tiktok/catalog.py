"""Publishing on TikTok Shop (Product API 202309): the category tree, a category's attributes and
listing rules, image upload (multipart, signed without the body), Create Product and Partial Edit
Product (docs/marketplaces/tiktok-publishing.md).

`TikTokCatalog` calls through the adapter's signed-call function, so it shares its refresh and
retry. TikTok's refusals arrive as the `AppError` `wire.classify` made of the answer; those about
the request (36009004, and the product business codes 12xxxxxx) are raised again as VALIDATION
with TikTok's own code and message, and the request field the message names.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from storesync.channels.schemas import (
    AttributeValue,
    CategoryDetail,
    ChannelAttribute,
    ChannelCategory,
    ContentUpdate,
    DraftAttribute,
    ListingDraft,
    ListingRules,
    PublishedListing,
    PublishedVariant,
    UploadedImage,
)
from storesync.channels.tiktok import mapping, wire
from storesync.channels.tiktok.paths import (
    CATEGORIES,
    CATEGORY_ATTRIBUTES,
    CATEGORY_RULES,
    IMAGES_UPLOAD,
    PARTIAL_EDIT,
    PRODUCTS,
    WAREHOUSES,
)
from storesync.core.errors import AppError, ErrorType

T = TypeVar("T")

# TikTok's product limits are documented rules of Create Product, not part of any answer (Get
# Category Rules says only what a category adds: package dimensions, size chart, certificates).
# From the Create Product reference: title 25 to 255 characters outside the US and UK; description
# at most 10,000 characters; 1 to 9 main images of at most 5 MB; Indonesian prices from 100 to
# 100,000,000 IDR; at most 300 SKUs outside the US and UK. Stock: up to 99,999 per warehouse, as
# Seller Center takes it (the inventory update's cap). The sandbox holds the same numbers in
# `sandbox.catalog.TIKTOK_LIMITS`; a test pins them.
TITLE_MIN, TITLE_MAX = 25, 255
DESCRIPTION_MAX = 10_000
IMAGES_MIN, IMAGES_MAX = 1, 9
IMAGE_MAX_BYTES = 5 * 1024 * 1024
PRICE_MIN, PRICE_MAX = Decimal("100"), Decimal("100000000")
STOCK_MIN, STOCK_MAX = 0, 99_999
MAX_SKUS = 300

PRODUCT_FIELDS = (
    "title",
    "description",
    "category_id",
    "brand_id",
    "main_images",
    "product_attributes",
    "package_weight",
    "package_dimensions",
    "skus",
    "is_cod_allowed",
)
IMAGE_FIELDS = ("data", "use_case")
CATEGORY_FIELDS = ("category_id", "category_version", "locale", "keyword")
PRODUCT_BUSINESS_CODES = range(12_000_000, 13_000_000)


class Api(Protocol):
    """The adapter's signed API call; answers the envelope's `data`."""

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        shop: bool = True,
        multipart: wire.Multipart | None = None,
    ) -> dict[str, Any]: ...


def listing_rules(*, needs_package: bool) -> ListingRules:
    return ListingRules(
        title_min=TITLE_MIN,
        title_max=TITLE_MAX,
        description_max=DESCRIPTION_MAX,
        images_min=IMAGES_MIN,
        images_max=IMAGES_MAX,
        image_max_bytes=IMAGE_MAX_BYTES,
        price_min=PRICE_MIN,
        price_max=PRICE_MAX,
        stock_min=STOCK_MIN,
        stock_max=STOCK_MAX,
        max_variants=MAX_SKUS,
        needs_package=needs_package,
    )


class TikTokCatalog:
    """One store connection's publishing calls; remembers the shop's sales warehouse."""

    def __init__(self, api: Api) -> None:
        self._api = api
        self._warehouse_id = ""

    async def categories(self) -> list[ChannelCategory]:
        data = await refused(self._api("GET", CATEGORIES), CATEGORY_FIELDS)
        return [
            ChannelCategory(
                category_id=str(raw["id"]),
                parent_id="" if str(raw.get("parent_id") or "0") == "0" else str(raw["parent_id"]),
                name=str(raw.get("local_name", "")),
                leaf=bool(raw.get("is_leaf")),
            )
            for raw in data.get("categories") or []
        ]

    async def category_detail(self, category_id: str) -> CategoryDetail:
        path = {"category_id": category_id}
        attributes = await refused(
            self._api("GET", CATEGORY_ATTRIBUTES.format(**path)), CATEGORY_FIELDS
        )
        rules = await refused(self._api("GET", CATEGORY_RULES.format(**path)), CATEGORY_FIELDS)
        package = rules.get("package_dimension") or {}
        return CategoryDetail(
            category_id=category_id,
            attributes=[
                _attribute(raw)
                for raw in attributes.get("attributes") or []
                if raw.get("type") == "PRODUCT_PROPERTY"
            ],
            rules=listing_rules(needs_package=bool(package.get("is_required"))),
        )

    async def upload_image(self, data: bytes, filename: str) -> UploadedImage:
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        form = wire.Multipart(
            files={"data": (filename, data, content_type)}, fields={"use_case": "MAIN_IMAGE"}
        )
        answer = await refused(
            self._api("POST", IMAGES_UPLOAD, shop=False, multipart=form), IMAGE_FIELDS
        )
        return UploadedImage(image_id=str(answer["uri"]), url=str(answer.get("url", "")))

    async def publish(self, draft: ListingDraft) -> PublishedListing:
        warehouse_id = await self.warehouse()
        body: dict[str, Any] = {
            "title": draft.title,
            "description": draft.description,
            "category_id": draft.category_id,
            "main_images": [{"uri": uri} for uri in draft.images],
            "product_attributes": [_attribute_entry(a) for a in draft.attributes],
            "package_weight": _weight(draft.weight_grams),
            "skus": [
                {
                    "seller_sku": variant.sku,
                    "price": {"amount": mapping.money(variant.price), "currency": draft.currency},
                    "inventory": [{"warehouse_id": warehouse_id, "quantity": variant.quantity}],
                    "sales_attributes": [
                        {"name": name, "value_name": value}
                        for name, value in variant.options.items()
                    ],
                }
                for variant in draft.variants
            ],
        }
        sides = (draft.length_cm, draft.width_cm, draft.height_cm)
        if any(sides):  # none given: TikTok says whether the category needs them
            body["package_dimensions"] = _dimensions(*sides)
        answer = await refused(self._api("POST", PRODUCTS, body=body), PRODUCT_FIELDS)
        made = {str(s.get("seller_sku", "")): str(s["id"]) for s in answer.get("skus") or []}
        return PublishedListing(
            platform_item_id=str(answer["product_id"]),
            variants=[
                PublishedVariant(sku=v.sku, platform_model_id=made.get(v.sku, ""))
                for v in draft.variants
            ],
        )

    async def update_content(self, update: ContentUpdate) -> None:
        body: dict[str, Any] = {}
        if update.title is not None:
            body["title"] = update.title
        if update.description is not None:
            body["description"] = update.description
        if update.images is not None:
            body["main_images"] = [{"uri": uri} for uri in update.images]
        if update.attributes is not None:
            body["product_attributes"] = [_attribute_entry(a) for a in update.attributes]
        if update.weight_grams is not None:
            body["package_weight"] = _weight(update.weight_grams)
        sides = (update.length_cm, update.width_cm, update.height_cm)
        if any(side is not None for side in sides):
            length, width, height = sides
            if length is None or width is None or height is None:
                raise AppError(
                    ErrorType.VALIDATION,
                    "incomplete_dimensions",
                    "TikTok Shop takes the package's length, width and height together",
                    details={"field": "package_dimensions"},
                    retryable=False,
                )
            body["package_dimensions"] = _dimensions(length, width, height)
        if not body:
            return
        path = PARTIAL_EDIT.format(product_id=update.platform_item_id)
        await refused(self._api("POST", path, body=body), PRODUCT_FIELDS)

    async def warehouse(self) -> str:
        """The shop's sales warehouse (the enabled default one), asked once."""
        if not self._warehouse_id:
            answer = await self._api("GET", WAREHOUSES)
            sales = [
                w
                for w in answer.get("warehouses") or []
                if w.get("type") == "SALES_WAREHOUSE" and w.get("effect_status") == "ENABLED"
            ]
            if not sales:
                raise AppError(
                    ErrorType.VALIDATION,
                    "no_sales_warehouse",
                    "the TikTok shop has no enabled sales warehouse to stock a listing in",
                    retryable=False,
                )
            self._warehouse_id = str(max(sales, key=lambda w: bool(w.get("is_default")))["id"])
        return self._warehouse_id


# -- refusals ----------------------------------------------------------------------------------


async def refused(call: Awaitable[T], fields: tuple[str, ...]) -> T:
    """`call`'s answer; a refusal of the request is raised again by `refusal`."""
    try:
        return await call
    except AppError as error:
        converted = refusal(error, fields)
        if converted is error:
            raise
        raise converted from error


def refusal(error: AppError, fields: tuple[str, ...]) -> AppError:
    """TikTok's refusal of the request (invalid parameter, or a product rule) as VALIDATION with
    TikTok's code and message, and the field the message names among `fields`; any other error
    (credentials, rate limit, outage) unchanged."""
    code = error.details.get("platform_code")
    if not isinstance(code, int) or not (
        code == wire.INVALID_PARAMETER or code in PRODUCT_BUSINESS_CODES
    ):
        return error
    message = str(error.details.get("platform_message") or error.message)
    details: dict[str, Any] = {
        "platform_error": code,
        "request_id": error.details.get("request_id", ""),
    }
    named = field_of(message, fields)
    if named:
        details["field"] = named
    return AppError(ErrorType.VALIDATION, str(code), message, details=details, retryable=False)


def field_of(message: str, fields: tuple[str, ...]) -> str:
    """The first request field `message` names, with its path (`skus[1].price.amount`)."""
    names = "|".join(re.escape(name) for name in fields)
    found = re.search(rf"(?<![\w.])(?:{names})(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*\b", message)
    return found.group(0) if found else ""


# -- payload pieces ----------------------------------------------------------------------------


def _attribute(raw: dict[str, Any]) -> ChannelAttribute:
    return ChannelAttribute(
        attribute_id=str(raw["id"]),
        name=str(raw.get("name", "")),
        required=bool(raw.get("is_requried", raw.get("is_required"))),  # sic: TikTok's spelling
        values=[
            AttributeValue(value_id=str(v.get("id", "")), name=str(v.get("name", "")))
            for v in raw.get("values") or []
        ],
        multiple=bool(raw.get("is_multiple_selection")),
    )


def _attribute_entry(attribute: DraftAttribute) -> dict[str, Any]:
    return {
        "id": attribute.attribute_id,
        "values": [
            {"id": v.value_id} if v.value_id else {"name": v.name} for v in attribute.values
        ],
    }


def _weight(grams: int) -> dict[str, str]:
    return {"value": mapping.money(Decimal(grams) / 1000), "unit": "KILOGRAM"}


def _dimensions(length: int, width: int, height: int) -> dict[str, str]:
    return {"length": str(length), "width": str(width), "height": str(height), "unit": "CENTIMETER"}
