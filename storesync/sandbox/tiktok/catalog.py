"""What a seller reads before listing on the simulated TikTok Shop (Product API 202309): the
category tree, a category's attributes and rules, the shop's warehouses and image upload
(multipart/form-data); and how listings made through the API read back (Get Product, Search
Products at 202502). Creating and editing them is `listing`. docs/marketplaces/
tiktok-publishing.md lists every field and refusal, and which facts are documented and which are
the sandbox's own.

Refusals: a malformed request (wrong type, missing field, unknown enum value) answers 36009004;
a rule the listing breaks answers a product business code (12xxxxxx). TikTok publishes its
per-rule codes behind the partner login [UNCONF], so the numbers below are the sandbox's own,
one per rule; every message starts with the request field it is about (`skus[1].price.amount
...`).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from PIL import Image as Picture
from PIL import UnidentifiedImageError

from storesync.sandbox import catalog as taxonomy
from storesync.sandbox.state import Item, SandboxState, Shop
from storesync.sandbox.tiktok import render
from storesync.sandbox.tiktok.wire import Call, TikTokError, invalid

CATEGORY_REFUSED = 12052001
TITLE_REFUSED = 12052002
DESCRIPTION_REFUSED = 12052003
IMAGES_REFUSED = 12052004
ATTRIBUTE_MISSING = 12052005
ATTRIBUTE_VALUE_REFUSED = 12052006
WEIGHT_REFUSED = 12052007
DIMENSIONS_REFUSED = 12052008
SKUS_REFUSED = 12052009
PRICE_REFUSED = 12052010
STOCK_REFUSED = 12052011
SALES_ATTRIBUTES_REFUSED = 12052012
SELLER_SKU_REFUSED = 12052013
CURRENCY_REFUSED = 12052014
WAREHOUSE_REFUSED = 12052015
IMAGE_FORMAT_REFUSED = 12052101
IMAGE_SIZE_REFUSED = 12052102

LIMITS = taxonomy.TIKTOK_LIMITS
WAREHOUSE_ID = "7000714532876273"  # the seeded SKUs' warehouse (sandbox.seed)
RETURN_WAREHOUSE_ID = "7000714532876274"
LOCALES = ("en-GB", "en-US", "id-ID", "ms-MY", "th-TH", "vi-VN", "zh-CN")
CATEGORY_VERSIONS = ("v1", "v2")
USE_CASES = (
    "MAIN_IMAGE",
    "ATTRIBUTE_IMAGE",
    "DESCRIPTION_IMAGE",
    "CERTIFICATION_IMAGE",
    "SIZE_CHART_IMAGE",
)
SALES_ATTRIBUTES = {"100000": "Color", "100007": "Size"}  # built in; any other name is custom
NUMERIC_FORMAT = "POSITIVE_INT_OR_DECIMAL"
NUMERIC_ATTRIBUTES = frozenset({taxonomy.CAPACITY.id})
SIZE_CHART_ROOT = "100001"  # Fashion: its categories support size charts


def refuse(code: int, message: str) -> TikTokError:
    return TikTokError(code, message)


# -- categories, attributes, rules, warehouses -------------------------------------------------


def categories(call: Call) -> dict[str, Any]:
    _locale_and_version(call)
    keyword = call.query.get("keyword", "").strip().lower()
    return {
        "categories": [
            {
                "id": c.id,
                "parent_id": c.parent_id or "0",
                "local_name": c.name,
                "is_leaf": c.leaf,
                "permission_statuses": ["AVAILABLE"],
            }
            for c in taxonomy.CATEGORIES
            if keyword in c.name.lower()
        ]
    }


def attributes(call: Call) -> dict[str, Any]:
    _locale_and_version(call)
    category = leaf(str(call.request.path_params["category_id"]))
    rows = [_attribute(a) for a in taxonomy.attributes(category.id)]
    rows += [
        {
            "id": attribute_id,
            "name": name,
            "type": "SALES_PROPERTY",
            "is_requried": False,
            "is_multiple_selection": False,
            "is_customizable": True,
            "values": [],
        }
        for attribute_id, name in SALES_ATTRIBUTES.items()
    ]
    return {"attributes": rows}


def _attribute(attribute: taxonomy.Attribute) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": attribute.id,
        "name": attribute.name,
        "type": "PRODUCT_PROPERTY",
        "is_requried": attribute.required,  # sic: TikTok's documented field name
        "is_multiple_selection": attribute.multiple,
        "is_customizable": not attribute.values,
        "values": [{"id": vid, "name": name} for vid, name in attribute.values],
    }
    if attribute.id in NUMERIC_ATTRIBUTES:
        row["value_data_format"] = NUMERIC_FORMAT
    return row


def rules(call: Call) -> dict[str, Any]:
    _locale_and_version(call)
    category = leaf(str(call.request.path_params["category_id"]))
    return {
        "product_certifications": [],
        "size_chart": {"is_supported": _under(category, SIZE_CHART_ROOT), "is_required": False},
        "cod": {"is_supported": True},
        "package_dimension": {"is_required": True},
        "epr": {"is_required": False},
    }


def warehouses(call: Call) -> dict[str, Any]:
    shop = call.the_shop()
    address = render.sender_address(shop)
    rows = [
        (WAREHOUSE_ID, "SALES_WAREHOUSE", "DOMESTIC_WAREHOUSE", "Sales warehouse"),
        (RETURN_WAREHOUSE_ID, "RETURN_WAREHOUSE", "DOMESTIC_WAREHOUSE", "Return warehouse"),
    ]
    return {
        "warehouses": [
            {
                "id": wid,
                "name": f"{shop.name} {label}",
                "effect_status": "ENABLED",
                "type": kind,
                "sub_type": sub_type,
                "is_default": True,
                "address": address,
            }
            for wid, kind, sub_type, label in rows
        ]
    }


def _locale_and_version(call: Call) -> None:
    locale = call.query.get("locale")
    if locale is not None and locale not in LOCALES:
        raise invalid(f"locale must be one of {', '.join(LOCALES)}")
    if call.query.get("category_version", "v1") not in CATEGORY_VERSIONS:
        raise invalid("category_version must be v1 or v2")


def leaf(category_id: str) -> taxonomy.Category:
    found = taxonomy.category(category_id)
    if found is None:
        raise refuse(CATEGORY_REFUSED, f"category_id {category_id} does not exist")
    if not found.leaf:
        raise refuse(
            CATEGORY_REFUSED,
            f"category_id {category_id} ({found.name}) is not a leaf category: "
            "products take leaf categories only",
        )
    return found


def _under(category: taxonomy.Category, root: str) -> bool:
    current: taxonomy.Category | None = category
    while current is not None:
        if current.id == root:
            return True
        current = taxonomy.category(current.parent_id) if current.parent_id else None
    return False


# -- images ------------------------------------------------------------------------------------


def upload_image(call: Call) -> dict[str, Any]:
    parts = form_parts(call.request.headers.get("content-type", ""), call.body)
    data = parts.get("data", (None, b""))[1]
    if not data:
        raise invalid("data (the image file) is required")
    use_case = parts.get("use_case", (None, b"MAIN_IMAGE"))[1].decode("utf-8", "replace")
    if use_case not in USE_CASES:
        raise invalid(f"use_case must be one of {', '.join(USE_CASES)}")
    if len(data) > LIMITS.image_max_bytes:
        raise refuse(
            IMAGE_SIZE_REFUSED,
            f"data: the image is {len(data)} bytes, at most {LIMITS.image_max_bytes} (5 MB)",
        )
    content_type, width, height = _image_type(data), 0, 0
    try:
        with Picture.open(io.BytesIO(data)) as picture:
            width, height = picture.size
    except (UnidentifiedImageError, OSError):
        content_type = None
    if content_type is None:
        raise refuse(IMAGE_FORMAT_REFUSED, "data: the file is not a JPG, PNG or WEBP image")
    image = call.state.store_image("tiktok", len(data), content_type, width, height)
    return {
        "uri": image.id,
        "url": image.url,
        "width": width,
        "height": height,
        "use_case": use_case,
    }


def _image_type(data: bytes) -> str | None:
    """The type the file's magic bytes announce, among those TikTok takes."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def form_parts(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """A multipart/form-data body: field name → (file name or None, exact content bytes)."""
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        raise invalid("Content-Type must be multipart/form-data")
    boundary = next(
        (
            v.strip().strip('"')
            for k, _, v in (p.partition("=") for p in params.split(";"))
            if k.strip().lower() == "boundary"
        ),
        "",
    )
    delimiter = b"--" + boundary.encode()
    if not boundary or not body.startswith(delimiter):
        raise invalid("the multipart/form-data body does not match its boundary")
    parts: dict[str, tuple[str | None, bytes]] = {}
    for chunk in body[len(delimiter) :].split(b"\r\n" + delimiter):
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, found, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not found:
            raise invalid("a multipart/form-data part has no headers")
        name, filename = _disposition(head.decode("utf-8", "replace"))
        parts[name] = (filename, content)
    return parts


def _disposition(head: str) -> tuple[str, str | None]:
    for line in head.split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-disposition":
            params = {
                k.strip().lower(): v.strip().strip('"')
                for k, _, v in (p.partition("=") for p in value.split(";")[1:])
            }
            if "name" in params:
                return params["name"], params.get("filename")
    raise invalid("a multipart/form-data part has no Content-Disposition name")


def sales_attribute_id(name: str) -> str:
    """The built-in id of Color / Size; a custom name's id, the same for the same name."""
    builtin = {n.lower(): i for i, n in SALES_ATTRIBUTES.items()}
    return builtin.get(name.lower()) or render.numeric_id("sales-attribute", name.lower())


def sales_value_id(name: str, value: str) -> str:
    return render.numeric_id("sales-value", name.lower(), value.lower())


# -- reading listings back ---------------------------------------------------------------------


def detail(state: SandboxState, shop: Shop, item: Item) -> dict[str, Any]:
    """Get Product's `data`: the seeded shape (`render.product`), plus what a listing made
    through the API carries: its SKUs' sales attributes, category chain, attributes, package
    and main images with their uri."""
    data = render.product(shop, item, detail=True)
    for sku, model in zip(data["skus"], item.models, strict=True):
        if model.options:
            sku["sales_attributes"] = [
                {
                    "id": sales_attribute_id(name),
                    "name": name,
                    "value_id": sales_value_id(name, value),
                    "value_name": value,
                }
                for name, value in model.options
            ]
    if item.category_id:
        data.update(_listing_fields(state, item))
    return data


def _listing_fields(state: SandboxState, item: Item) -> dict[str, Any]:
    chain: list[taxonomy.Category] = []
    current = taxonomy.category(item.category_id)
    while current is not None:
        chain.insert(0, current)
        current = taxonomy.category(current.parent_id) if current.parent_id else None
    known = {a.id: a for a in taxonomy.attributes(item.category_id)}
    uploaded = {i.url: i for (p, _id), i in state.images.items() if p == "tiktok"}
    length, width, height = item.dimensions_cm
    return {
        "category_chains": [
            {"id": c.id, "parent_id": c.parent_id or "0", "local_name": c.name, "is_leaf": c.leaf}
            for c in chain
        ],
        "product_attributes": [
            {
                "id": attribute_id,
                "name": known[attribute_id].name if attribute_id in known else attribute_id,
                "values": [_value(known.get(attribute_id), attribute_id, v) for v in values],
            }
            for attribute_id, values in item.attributes.items()
        ],
        "package_weight": {
            "value": render.money(Decimal(item.weight_grams) / 1000),
            "unit": "KILOGRAM",
        },
        "package_dimensions": {
            "length": str(length),
            "width": str(width),
            "height": str(height),
            "unit": "CENTIMETER",
        },
        "main_images": [
            {
                "uri": uploaded[url].id if url in uploaded else url.rsplit("/", 1)[-1],
                "urls": [url],
                "width": uploaded[url].width if url in uploaded else 0,
                "height": uploaded[url].height if url in uploaded else 0,
            }
            for url in item.images
        ],
    }


def _value(attribute: taxonomy.Attribute | None, attribute_id: str, value: str) -> dict[str, str]:
    """{id, name} of a stored value: a listed value by id or name; a free-text value gets an
    id of its own, as TikTok gives custom values one."""
    for vid, name in attribute.values if attribute else ():
        if value in (vid, name):
            return {"id": vid, "name": name}
    return {"id": render.numeric_id("attribute-value", attribute_id, value), "name": value}


def search_202502(search: Callable[[Call], dict[str, Any]]) -> Callable[[Call], dict[str, Any]]:
    """Search Products 202502: the 202309 query and body, and its answer with the fields a
    captured 202502 answer adds (`audit`, `has_draft`, `product_tags`, `recommended_categories`,
    and each SKU's `status_info`)."""

    def run(call: Call) -> dict[str, Any]:
        data = search(call)
        for product in data["products"]:
            product.update(
                audit={"status": "APPROVED", "pre_approved_reasons": []},
                has_draft=False,
                product_tags=[],
                recommended_categories=[],
            )
            for sku in product["skus"]:
                sku["status_info"] = {"status": "NORMAL"}
        return data

    return run
