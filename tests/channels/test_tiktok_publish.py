"""TikTokShopAdapter publishing against the TikTok Shop sandbox over real HTTP on 127.0.0.1:
categories, category detail, image upload (multipart), publish, content update, every refusal
as VALIDATION with TikTok's code and the field it names; and the request bodies, exactly."""

from __future__ import annotations

import io
import time
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image

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
    PublishedListing,
    PublishedVariant,
    UploadedImage,
)
from storesync.channels.tiktok import catalog as tiktok_catalog
from storesync.channels.tiktok.adapter import TikTokShopAdapter
from storesync.channels.tiktok.catalog import TikTokCatalog, field_of
from storesync.channels.tiktok.paths import PRODUCT
from storesync.core.errors import AppError, ErrorType
from storesync.sandbox.catalog import TIKTOK_LIMITS
from tests.channels.test_tiktok_adapter import calls, collect, connect, run, tiktok_shop
from tests.sandbox.conftest import RunningSandbox

WAREHOUSE = "7000714532876273"
BRAND_ERIGO = DraftAttribute(
    attribute_id="100010", values=[AttributeValue(value_id="1001", name="Erigo")]
)
COTTON = DraftAttribute(attribute_id="100020", values=[AttributeValue(value_id="", name="Cotton")])


def picture(kind: str = "PNG", size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(out, kind)
    return out.getvalue()


def variant(sku: str, color: str | None, price: str, quantity: int) -> DraftVariant:
    return DraftVariant(
        sku=sku,
        options={"Color": color} if color else {},
        price=Decimal(price),
        quantity=quantity,
    )


def draft(images: list[str], **changes: Any) -> ListingDraft:
    fields: dict[str, Any] = {
        "title": "Kaos Polos Cotton Combed 30s Unisex",
        "description": "<p>Kaos katun combed 30s.</p>",
        "category_id": "100101",
        "currency": "IDR",
        "images": images,
        "attributes": [BRAND_ERIGO, COTTON],
        "variants": [
            variant("KAOS-BLK", "Black", "150000", 7),
            variant("KAOS-WHT", "White", "155000", 3),
        ],
        "weight_grams": 350,
        "length_cm": 30,
        "width_cm": 20,
        "height_cm": 3,
    }
    return ListingDraft(**{**fields, **changes})


async def upload(adapter: TikTokShopAdapter, count: int = 1) -> list[str]:
    return [(await adapter.upload_image(picture(), f"kaos-{n}.png")).image_id for n in range(count)]


def refusal(raised: pytest.ExceptionInfo[AppError]) -> tuple[Any, ...]:
    error = raised.value
    details = {k: v for k, v in error.details.items() if k != "request_id"}
    return error.type, error.code, error.message, error.retryable, details


# -- categories and rules ----------------------------------------------------------------------


def test_categories_map_the_tree_with_roots_under_nothing(running_sandbox: RunningSandbox) -> None:
    async def scenario() -> list[ChannelCategory]:
        return await (await connect(running_sandbox)).categories()

    tree = run(scenario)

    assert len(tree) == 14
    assert tree[:3] == [
        ChannelCategory(category_id="100001", parent_id="", name="Fashion", leaf=False),
        ChannelCategory(category_id="100011", parent_id="100001", name="Men Clothes", leaf=False),
        ChannelCategory(category_id="100101", parent_id="100011", name="T-Shirts", leaf=True),
    ]
    assert [c.category_id for c in tree if c.leaf] == [
        "100101",
        "100102",
        "100103",
        "100201",
        "100301",
        "100302",
        "100022",
        "100401",
    ]


def test_category_detail_keeps_product_attributes_and_the_documented_limits(
    running_sandbox: RunningSandbox,
) -> None:
    async def scenario() -> tuple[CategoryDetail, pytest.ExceptionInfo[AppError]]:
        adapter = await connect(running_sandbox)
        detail = await adapter.category_detail("100301")
        with pytest.raises(AppError) as branch:
            await adapter.category_detail("100002")
        return detail, branch

    detail, branch = run(scenario)

    assert detail == CategoryDetail(
        category_id="100301",
        attributes=[
            ChannelAttribute(
                attribute_id="100010",
                name="Brand",
                required=True,
                values=[
                    AttributeValue(value_id="0", name="No Brand"),
                    AttributeValue(value_id="1001", name="Erigo"),
                    AttributeValue(value_id="1002", name="3Second"),
                    AttributeValue(value_id="1003", name="Lock&Lock"),
                ],
            ),
            ChannelAttribute(
                attribute_id="100021",
                name="Body Material",
                required=True,
                values=[
                    AttributeValue(value_id="2101", name="Stainless Steel"),
                    AttributeValue(value_id="2102", name="Ceramic"),
                    AttributeValue(value_id="2103", name="Plastic"),
                ],
            ),
            ChannelAttribute(attribute_id="100040", name="Capacity", required=False),
            ChannelAttribute(
                attribute_id="100050",
                name="Country of Origin",
                required=False,
                values=[
                    AttributeValue(value_id="3001", name="Indonesia"),
                    AttributeValue(value_id="3002", name="China"),
                ],
            ),
        ],
        rules=ListingRules(
            title_min=25,
            title_max=255,
            description_max=10_000,
            images_min=1,
            images_max=9,
            image_max_bytes=5 * 1024 * 1024,
            price_min=Decimal("100"),
            price_max=Decimal("100000000"),
            stock_min=0,
            stock_max=99_999,
            max_variants=300,
            needs_logistics=False,
            needs_package=True,
        ),
        logistics=[],
    )
    assert refusal(branch) == (
        ErrorType.VALIDATION,
        "12052001",
        "category_id 100002 (Home & Living) is not a leaf category: products take leaf "
        "categories only",
        False,
        {"platform_error": 12052001, "field": "category_id"},
    )


def test_the_adapters_limits_are_the_sandboxs() -> None:
    rules = tiktok_catalog.listing_rules(needs_package=False)

    assert (rules.title_min, rules.title_max) == (TIKTOK_LIMITS.title_min, TIKTOK_LIMITS.title_max)
    assert rules.description_max == TIKTOK_LIMITS.description_max
    assert (rules.images_min, rules.images_max, rules.image_max_bytes) == (
        TIKTOK_LIMITS.images_min,
        TIKTOK_LIMITS.images_max,
        TIKTOK_LIMITS.image_max_bytes,
    )
    assert (rules.price_min, rules.price_max) == (TIKTOK_LIMITS.price_min, TIKTOK_LIMITS.price_max)
    assert (rules.stock_min, rules.stock_max) == (TIKTOK_LIMITS.stock_min, TIKTOK_LIMITS.stock_max)
    assert rules.max_variants == TIKTOK_LIMITS.max_models


# -- images ------------------------------------------------------------------------------------


def test_upload_image_sends_multipart_and_answers_the_uri(running_sandbox: RunningSandbox) -> None:
    state = running_sandbox.state
    big = picture("JPEG") + b"\0" * TIKTOK_LIMITS.image_max_bytes

    async def scenario() -> tuple[UploadedImage, Any, Any]:
        adapter = await connect(running_sandbox)
        image = await adapter.upload_image(picture("PNG", (800, 800)), "kaos.png")
        with pytest.raises(AppError) as too_big:
            await adapter.upload_image(big, "big.jpg")
        with pytest.raises(AppError) as not_image:
            await adapter.upload_image(b"GIF89a-not-taken", "x.gif")
        return image, too_big, not_image

    started = time.time()
    before = len(state.images)
    image, too_big, not_image = run(scenario)

    stored = state.image("tiktok", image.image_id)
    assert image == UploadedImage(image_id=stored.id, url=stored.url)
    assert (stored.content_type, stored.width, stored.height) == ("image/png", 800, 800)
    assert len(state.images) == before + 1
    assert refusal(too_big) == (
        ErrorType.VALIDATION,
        "12052102",
        f"data: the image is {len(big)} bytes, at most {TIKTOK_LIMITS.image_max_bytes} (5 MB)",
        False,
        {"platform_error": 12052102, "field": "data"},
    )
    assert refusal(not_image)[1:] == (
        "12052101",
        "data: the file is not a JPG, PNG or WEBP image",
        False,
        {"platform_error": 12052101, "field": "data"},
    )
    uploads = calls(running_sandbox, "/product/202309/images/upload", started)
    assert [c["status"] for c in uploads] == [200, 200, 200]


# -- publish -----------------------------------------------------------------------------------


def test_publish_then_read_back_through_fetch_products(running_sandbox: RunningSandbox) -> None:
    state = running_sandbox.state
    shop = tiktok_shop(running_sandbox)

    async def scenario() -> tuple[PublishedListing, PublishedListing, list[Any], dict[str, Any]]:
        adapter = await connect(running_sandbox)
        images = await upload(adapter, 2)
        two = await adapter.publish(draft(images))
        one = await adapter.publish(
            draft(
                images[:1],
                title="Tumbler Stainless Steel 500ml Hitam",
                category_id="100301",
                attributes=[
                    BRAND_ERIGO,
                    DraftAttribute(
                        attribute_id="100021",
                        values=[AttributeValue(value_id="2101", name="Stainless Steel")],
                    ),
                    DraftAttribute(
                        attribute_id="100040", values=[AttributeValue(value_id="", name="500")]
                    ),
                ],
                variants=[variant("TMBL-500", None, "89000", 12)],
            )
        )
        products = await collect(adapter.fetch_products())
        found = await adapter._call(
            "POST",
            "/product/202502/products/search",
            query={"page_size": "10"},
            body={"seller_skus": ["TMBL-500"]},
        )
        return two, one, products, found

    started = time.time()
    two, one, products, found = run(scenario)

    black, white = shop.items[two.platform_item_id].models
    [tumbler] = shop.items[one.platform_item_id].models
    assert two == PublishedListing(
        platform_item_id=two.platform_item_id,
        variants=[
            PublishedVariant(sku="KAOS-BLK", platform_model_id=black.id),
            PublishedVariant(sku="KAOS-WHT", platform_model_id=white.id),
        ],
    )
    assert one == PublishedListing(
        platform_item_id=one.platform_item_id,
        variants=[PublishedVariant(sku="TMBL-500", platform_model_id=tumbler.id)],
    )
    by_id = {p.platform_item_id: p for p in products}
    assert len(products) == len(shop.items)
    shirt, mug = by_id[two.platform_item_id], by_id[one.platform_item_id]
    assert (shirt.title, shirt.status, mug.title) == (
        "Kaos Polos Cotton Combed 30s Unisex",
        "ACTIVATE",
        "Tumbler Stainless Steel 500ml Hitam",
    )
    assert [
        (v.platform_model_id, v.sku, v.price, v.currency, v.quantity, v.location_id)
        for v in shirt.variants
    ] == [
        (black.id, "KAOS-BLK", Decimal("150000"), "IDR", 7, WAREHOUSE),
        (white.id, "KAOS-WHT", Decimal("155000"), "IDR", 3, WAREHOUSE),
    ]
    assert [(v.platform_model_id, v.sku, v.price, v.quantity) for v in mug.variants] == [
        (tumbler.id, "TMBL-500", Decimal("89000"), 12)
    ]
    assert [(m.options, m.name) for m in (black, white, tumbler)] == [
        ([("Color", "Black")], "Black"),
        ([("Color", "White")], "White"),
        ([], ""),
    ]
    item = shop.items[two.platform_item_id]
    assert (item.weight_grams, item.dimensions_cm) == (350, (30, 20, 3))
    assert item.attributes == {"100010": ["1001"], "100020": ["Cotton"]}
    assert shop.items[one.platform_item_id].attributes["100040"] == ["500"]
    assert [p["id"] for p in found["products"]] == [one.platform_item_id]
    assert found["products"][0]["audit"]["status"] == "APPROVED"
    assert len(calls(running_sandbox, "/logistics/202309/warehouses", started)) == 1
    assert sum(1 for e in state.events if e.kind == "listing.created") == 2


def _ten_images(images: list[str]) -> dict[str, Any]:
    return {"images": images * 10}


REFUSALS = [
    (
        "short title",
        lambda images: {"title": "Kaos Polos"},
        "12052002",
        "title must be 25 to 255 characters long, got 10",
        "title",
    ),
    (
        "too many images",
        _ten_images,
        "12052004",
        "main_images: 1 to 9 images, got 10",
        "main_images",
    ),
    (
        "missing required attribute",
        lambda images: {"attributes": [BRAND_ERIGO]},
        "12052005",
        "product_attributes: the required attribute Material (100020) is missing",
        "product_attributes",
    ),
    (
        "disallowed value",
        lambda images: {
            "attributes": [
                BRAND_ERIGO,
                DraftAttribute(
                    attribute_id="100020", values=[AttributeValue(value_id="", name="Silk")]
                ),
            ]
        },
        "12052006",
        "product_attributes: 'Silk' is not an allowed value of Material (100020); allowed: "
        "Cotton, Polyester, Fleece, Voal",
        "product_attributes",
    ),
    (
        "no package dimensions",
        lambda images: {"length_cm": 0, "width_cm": 0, "height_cm": 0},
        "12052008",
        "package_dimensions is required in this category (rules: package_dimension)",
        "package_dimensions",
    ),
    (
        "duplicate sales attribute combination",
        lambda images: {
            "variants": [
                variant("KAOS-BLK", "Black", "150000", 7),
                variant("KAOS-BLK-2", "Black", "150000", 7),
            ]
        },
        "12052012",
        "skus[1].sales_attributes: Black is already skus[0]",
        "skus[1].sales_attributes",
    ),
    (
        "price under the minimum",
        lambda images: {"variants": [variant("KAOS-BLK", "Black", "99", 7)]},
        "12052010",
        "skus[0].price.amount must be a decimal string from 100 to 100000000, got '99'",
        "skus[0].price.amount",
    ),
]


@pytest.mark.parametrize(
    ("change", "code", "message", "field"),
    [pytest.param(c, code, m, f, id=name) for name, c, code, m, f in REFUSALS],
)
def test_publish_refusals_are_validation_with_tiktoks_code_and_field(
    running_sandbox: RunningSandbox, change: Any, code: str, message: str, field: str
) -> None:
    shop = tiktok_shop(running_sandbox)
    items = set(shop.items)

    async def scenario() -> pytest.ExceptionInfo[AppError]:
        adapter = await connect(running_sandbox)
        images = await upload(adapter)
        with pytest.raises(AppError) as raised:
            await adapter.publish(draft(**{"images": images, **change(images)}))
        return raised

    raised = run(scenario)

    assert refusal(raised) == (
        ErrorType.VALIDATION,
        code,
        message,
        False,
        {"platform_error": int(code), "field": field},
    )
    assert raised.value.details["request_id"]
    assert set(shop.items) == items


# -- update content ----------------------------------------------------------------------------


def test_update_content_partially_edits_what_is_given(running_sandbox: RunningSandbox) -> None:
    shop = tiktok_shop(running_sandbox)

    async def scenario() -> tuple[PublishedListing, dict[str, Any], Any, Any]:
        adapter = await connect(running_sandbox)
        listing = await adapter.publish(draft(await upload(adapter)))
        await adapter.update_content(
            ContentUpdate(
                platform_item_id=listing.platform_item_id,
                title="Kaos Polos Cotton Combed 30s Premium",
                description="<p>Bahan lebih tebal.</p>",
            )
        )
        detail = await adapter._call("GET", PRODUCT.format(product_id=listing.platform_item_id))
        with pytest.raises(AppError) as short:
            await adapter.update_content(
                ContentUpdate(platform_item_id=listing.platform_item_id, title="Kaos")
            )
        with pytest.raises(AppError) as half:
            await adapter.update_content(
                ContentUpdate(platform_item_id=listing.platform_item_id, length_cm=10)
            )
        return listing, detail, short, half

    started = time.time()
    listing, detail, short, half = run(scenario)

    item = shop.items[listing.platform_item_id]
    assert (detail["title"], detail["description"]) == (
        "Kaos Polos Cotton Combed 30s Premium",
        "<p>Bahan lebih tebal.</p>",
    )
    assert [(s["seller_sku"], s["price"]["sale_price"]) for s in detail["skus"]] == [
        ("KAOS-BLK", "150000"),
        ("KAOS-WHT", "155000"),
    ]
    assert (item.title, item.weight_grams, item.dimensions_cm) == (
        "Kaos Polos Cotton Combed 30s Premium",
        350,
        (30, 20, 3),
    )
    assert refusal(short) == (
        ErrorType.VALIDATION,
        "12052002",
        "title must be 25 to 255 characters long, got 4",
        False,
        {"platform_error": 12052002, "field": "title"},
    )
    assert (half.value.type, half.value.code, half.value.details) == (
        ErrorType.VALIDATION,
        "incomplete_dimensions",
        {"field": "package_dimensions"},
    )
    edits = calls(running_sandbox, f"/products/{listing.platform_item_id}/partial_edit", started)
    assert len(edits) == 2  # the incomplete dimensions never left StoreSync


# -- the request bodies ------------------------------------------------------------------------


class Recorder:
    """Stands in for the adapter's signed call: keeps each request, answers what it is told."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []

    async def __call__(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        self.requests.append((method, path, kwargs.get("body")))
        return self.answers.get(path, {})


def test_publish_sends_skus_in_order_with_options_package_and_the_shops_warehouse() -> None:
    api = Recorder(
        {
            "/logistics/202309/warehouses": {
                "warehouses": [
                    {"id": "R1", "type": "RETURN_WAREHOUSE", "effect_status": "ENABLED"},
                    {"id": "S2", "type": "SALES_WAREHOUSE", "effect_status": "DISABLED"},
                    {"id": "S1", "type": "SALES_WAREHOUSE", "effect_status": "ENABLED"},
                ]
            },
            "/product/202309/products": {
                "product_id": "P1",
                "skus": [{"id": "K2", "seller_sku": "B"}, {"id": "K1", "seller_sku": "A"}],
            },
        }
    )
    listing_draft = draft(
        ["u1", "u2"],
        attributes=[BRAND_ERIGO, COTTON],
        variants=[
            DraftVariant(
                sku="A",
                options={"Color": "Black", "Size": "M"},
                price=Decimal("150000.50"),
                quantity=4,
            ),
            DraftVariant(
                sku="B", options={"Color": "White", "Size": "L"}, price=Decimal("99000"), quantity=0
            ),
        ],
        weight_grams=1250,
    )

    published = run(lambda: TikTokCatalog(api).publish(listing_draft))

    assert published == PublishedListing(
        platform_item_id="P1",
        variants=[
            PublishedVariant(sku="A", platform_model_id="K1"),
            PublishedVariant(sku="B", platform_model_id="K2"),
        ],
    )
    assert [(m, p) for m, p, _b in api.requests] == [
        ("GET", "/logistics/202309/warehouses"),
        ("POST", "/product/202309/products"),
    ]
    assert api.requests[1][2] == {
        "title": "Kaos Polos Cotton Combed 30s Unisex",
        "description": "<p>Kaos katun combed 30s.</p>",
        "category_id": "100101",
        "main_images": [{"uri": "u1"}, {"uri": "u2"}],
        "product_attributes": [
            {"id": "100010", "values": [{"id": "1001"}]},
            {"id": "100020", "values": [{"name": "Cotton"}]},
        ],
        "package_weight": {"value": "1.25", "unit": "KILOGRAM"},
        "package_dimensions": {"length": "30", "width": "20", "height": "3", "unit": "CENTIMETER"},
        "skus": [
            {
                "seller_sku": "A",
                "price": {"amount": "150000.5", "currency": "IDR"},
                "inventory": [{"warehouse_id": "S1", "quantity": 4}],
                "sales_attributes": [
                    {"name": "Color", "value_name": "Black"},
                    {"name": "Size", "value_name": "M"},
                ],
            },
            {
                "seller_sku": "B",
                "price": {"amount": "99000", "currency": "IDR"},
                "inventory": [{"warehouse_id": "S1", "quantity": 0}],
                "sales_attributes": [
                    {"name": "Color", "value_name": "White"},
                    {"name": "Size", "value_name": "L"},
                ],
            },
        ],
    }


def test_update_content_sends_only_the_fields_set() -> None:
    api = Recorder({})
    catalog = TikTokCatalog(api)

    async def scenario() -> None:
        await catalog.update_content(ContentUpdate(platform_item_id="P1", description="<p>x</p>"))
        await catalog.update_content(
            ContentUpdate(
                platform_item_id="P1",
                images=["u9"],
                attributes=[COTTON],
                weight_grams=80,
                length_cm=5,
                width_cm=4,
                height_cm=1,
            )
        )
        await catalog.update_content(ContentUpdate(platform_item_id="P1"))

    run(scenario)

    assert api.requests == [
        ("POST", "/product/202309/products/P1/partial_edit", {"description": "<p>x</p>"}),
        (
            "POST",
            "/product/202309/products/P1/partial_edit",
            {
                "main_images": [{"uri": "u9"}],
                "product_attributes": [{"id": "100020", "values": [{"name": "Cotton"}]}],
                "package_weight": {"value": "0.08", "unit": "KILOGRAM"},
                "package_dimensions": {
                    "length": "5",
                    "width": "4",
                    "height": "1",
                    "unit": "CENTIMETER",
                },
            },
        ),
    ]


@pytest.mark.parametrize(
    ("message", "fields", "expected"),
    [
        ("skus[1].price.amount must be a decimal string", ("skus",), "skus[1].price.amount"),
        ("title must be 25 to 255 characters long", ("title", "skus"), "title"),
        (
            "Required attribute missing: product_attributes",
            ("product_attributes",),
            "product_attributes",
        ),
        ("the subtitle is wrong", ("title",), ""),
        ("data: the image is too big", ("data", "use_case"), "data"),
    ],
)
def test_field_of_finds_the_request_field_a_message_names(
    message: str, fields: tuple[str, ...], expected: str
) -> None:
    assert field_of(message, fields) == expected


def test_a_refusal_that_is_not_about_the_request_is_left_alone() -> None:
    limited = AppError(
        ErrorType.RATE_LIMIT, "rate_limited", "slow down", details={"platform_code": 36009002}
    )
    frozen = AppError(
        ErrorType.PLATFORM_API,
        "platform_error",
        "TikTok Shop: frozen",
        details={"platform_code": 12019001, "platform_message": "frozen", "request_id": "r"},
    )

    assert tiktok_catalog.refusal(limited, ("title",)) is limited
    converted = tiktok_catalog.refusal(frozen, ("title",))
    assert (converted.type, converted.code, converted.message, converted.details) == (
        ErrorType.VALIDATION,
        "12019001",
        "frozen",
        {"platform_error": 12019001, "request_id": "r"},
    )
