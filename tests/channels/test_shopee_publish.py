"""ShopeeAdapter's publishing (categories, category detail, image upload, publish, content
updates) against the Shopee simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import io
import time
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image as PILImage

from storesync.channels.schemas import (
    AttributeValue,
    ChannelCategory,
    ChannelProduct,
    ContentUpdate,
    DraftAttribute,
    DraftVariant,
    ListingDraft,
    ListingRules,
    LogisticsChannel,
    PublishedListing,
    PublishedVariant,
)
from storesync.channels.shopee.adapter import ShopeeAdapter
from storesync.channels.shopee.refusals import field_named
from storesync.core.errors import AppError, ErrorType
from storesync.sandbox.state import Item
from tests.channels.test_shopee_adapter import adapter_for, authorize, calls, run, the_shop
from tests.sandbox.conftest import RunningSandbox

PRODUCT = "/api/v2/product"
MB = 1024 * 1024


def picture(kind: str = "JPEG") -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (64, 48), (20, 90, 200)).save(out, kind)
    return out.getvalue()


def draft(images: list[str], **changes: Any) -> ListingDraft:
    """A T-shirt with two colour variants, ready for Shopee's T-shirts leaf."""
    fields: dict[str, Any] = {
        "title": "Kaos Polos Katun Combed 30s",
        "description": "Kaos polos bahan katun combed 30s, adem dan nyaman dipakai.",
        "category_id": "100101",
        "currency": "IDR",
        "images": images,
        "attributes": [
            DraftAttribute(attribute_id="100010", values=[AttributeValue(value_id="1002", name="3Second")]),  # noqa: E501
            DraftAttribute(attribute_id="100020", values=[AttributeValue(value_id="2001", name="Cotton")]),  # noqa: E501
            DraftAttribute(attribute_id="100030", values=[AttributeValue(value_id="", name="Casual")]),  # noqa: E501
        ],
        "variants": [
            DraftVariant(sku="KAOS-MERAH", options={"Warna": "Merah"}, price=Decimal(79_000), quantity=12),  # noqa: E501
            DraftVariant(sku="KAOS-BIRU", options={"Warna": "Biru"}, price=Decimal(82_500), quantity=7),  # noqa: E501
        ],
        "weight_grams": 250,
        "length_cm": 30,
        "width_cm": 20,
        "height_cm": 3,
        "logistics_ids": ["8003", "8005"],
    }  # fmt: skip
    fields.update(changes)
    return ListingDraft(**fields)


SINGLE = [DraftVariant(sku="TUMBLER-500", price=Decimal(125_000), quantity=40)]


async def images(adapter: ShopeeAdapter, count: int = 1) -> list[str]:
    return [(await adapter.upload_image(picture(), f"p{n}.jpg")).image_id for n in range(count)]


def refusal(sandbox: RunningSandbox, scenario: Any) -> AppError:
    """The AppError `scenario` raises; the shop's item count must not have changed."""
    shop = the_shop(sandbox)
    before = len(shop.items)
    with pytest.raises(AppError) as raised:
        run(adapter_for(sandbox), scenario)
    assert len(shop.items) == before
    return raised.value


# -- reading the catalog -----------------------------------------------------------------------


def test_categories_are_the_whole_tree(running_sandbox: RunningSandbox) -> None:
    async def scenario(adapter: ShopeeAdapter) -> list[ChannelCategory]:
        await authorize(adapter)
        return await adapter.categories()

    found = {c.category_id: c for c in run(adapter_for(running_sandbox), scenario)}
    assert len(found) == 14
    assert found["100001"] == ChannelCategory(
        category_id="100001", parent_id="", name="Fashion", leaf=False
    )
    assert found["100101"] == ChannelCategory(
        category_id="100101", parent_id="100011", name="T-Shirts", leaf=True
    )
    assert sorted(c.category_id for c in found.values() if c.leaf) == [
        "100022", "100101", "100102", "100103", "100201", "100301", "100302", "100401"
    ]  # fmt: skip


def test_category_detail_reads_attributes_rules_and_channels(
    running_sandbox: RunningSandbox,
) -> None:
    async def scenario(adapter: ShopeeAdapter) -> Any:
        await authorize(adapter)
        return await adapter.category_detail("100101")

    detail = run(adapter_for(running_sandbox), scenario)
    assert detail.category_id == "100101"
    assert [(a.attribute_id, a.name, a.required, a.multiple) for a in detail.attributes] == [
        ("100010", "Brand", True, False),
        ("100020", "Material", True, False),
        ("100030", "Style", False, True),
        ("100050", "Country of Origin", False, False),
    ]
    assert detail.attributes[0].values == [
        AttributeValue(value_id="0", name="No Brand"),
        AttributeValue(value_id="1001", name="Erigo"),
        AttributeValue(value_id="1002", name="3Second"),
        AttributeValue(value_id="1003", name="Lock&Lock"),
    ]
    assert detail.attributes[2].values == []
    assert detail.rules == ListingRules(
        title_min=10,
        title_max=120,
        description_max=3000,
        images_min=1,
        images_max=9,
        image_max_bytes=10 * MB,
        price_min=Decimal(100),
        price_max=Decimal(150_000_000),
        stock_min=0,
        stock_max=999_999,
        max_variants=50,
        needs_logistics=True,
        needs_package=False,
    )
    assert detail.logistics == [
        LogisticsChannel(channel_id="8003", name="SPX Express", max_weight_grams=50_000),
        LogisticsChannel(channel_id="8005", name="J&T Express", max_weight_grams=50_000),
        LogisticsChannel(channel_id="8002", name="JNE Reguler", max_weight_grams=30_000),
    ]


def test_category_detail_of_a_parent_category_is_refused(running_sandbox: RunningSandbox) -> None:
    async def scenario(adapter: ShopeeAdapter) -> Any:
        await authorize(adapter)
        return await adapter.category_detail("100001")

    error = refusal(running_sandbox, scenario)
    assert (error.type, error.code, error.retryable) == (ErrorType.VALIDATION, "error_param", False)
    assert error.message == (
        "Wrong parameters, detail: category_id 100001 has children: choose a leaf category."
    )
    assert (error.details["field"], error.details["platform_field"]) == (
        "category_id",
        "category_id",
    )


# -- images ------------------------------------------------------------------------------------


def test_upload_image_answers_the_stored_image(running_sandbox: RunningSandbox) -> None:
    data = picture("PNG")

    async def scenario(adapter: ShopeeAdapter) -> Any:
        return await adapter.upload_image(data, "kaos.png")  # public level: no shop needed

    since = time.time()
    uploaded = run(adapter_for(running_sandbox), scenario)
    stored = running_sandbox.state.images[("shopee", uploaded.image_id)]
    assert uploaded.url == stored.url
    assert (stored.size, stored.content_type, stored.width) == (len(data), "image/png", 64)
    assert calls(running_sandbox, "/api/v2/media_space/upload_image", since)["total"] == 1


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        (b"\xff\xd8\xff\xe0" + bytes(10 * MB - 3), "error_file_size", "image size exceeds 10MB"),
        (b"GIF89a not wanted", "error_image_format", "image format should be JPG, JPEG or PNG (image)"),  # noqa: E501
    ],
)  # fmt: skip
def test_upload_image_refusals_name_the_images(
    running_sandbox: RunningSandbox, data: bytes, code: str, message: str
) -> None:
    before = len(running_sandbox.state.images)

    async def scenario(adapter: ShopeeAdapter) -> Any:
        return await adapter.upload_image(data, "big.jpg")

    error = refusal(running_sandbox, scenario)
    assert (error.type, error.code, error.message, error.retryable) == (
        ErrorType.VALIDATION,
        code,
        message,
        False,
    )
    assert (error.details["platform_error"], error.details["field"]) == (code, "images")
    assert len(running_sandbox.state.images) == before


# -- publishing --------------------------------------------------------------------------------


def test_a_two_variant_product_is_published_and_read_back(running_sandbox: RunningSandbox) -> None:
    shop = the_shop(running_sandbox)
    before = len(shop.items)

    async def scenario(adapter: ShopeeAdapter) -> tuple[PublishedListing, list[ChannelProduct]]:
        await authorize(adapter)
        published = await adapter.publish(draft(await images(adapter, 2)))
        return published, [p async for p in adapter.fetch_products()]

    published, products = run(adapter_for(running_sandbox), scenario)
    assert len(shop.items) == before + 1
    item: Item = shop.items[published.platform_item_id]
    red, blue = item.models
    assert published.variants == [
        PublishedVariant(sku="KAOS-MERAH", platform_model_id=red.id),
        PublishedVariant(sku="KAOS-BIRU", platform_model_id=blue.id),
    ]
    assert item.tiers == [("Warna", ["Merah", "Biru"])]
    assert [(m.sku, m.name, m.tier_index, m.price, m.stock) for m in item.models] == [
        ("KAOS-MERAH", "Merah", [0], Decimal(79_000), 12),
        ("KAOS-BIRU", "Biru", [1], Decimal(82_500), 7),
    ]
    assert item.attributes == {"100010": ["1002"], "100020": ["2001"], "100030": ["Casual"]}
    assert (item.weight_grams, item.dimensions_cm, item.logistics_ids) == (
        250,
        (30, 20, 3),
        ["8003", "8005"],
    )
    assert len(item.images) == 2
    (product,) = [p for p in products if p.platform_item_id == published.platform_item_id]
    assert (product.title, product.status) == ("Kaos Polos Katun Combed 30s", "NORMAL")
    assert [
        (v.sku, v.platform_model_id, v.model_name, v.price, v.currency, v.quantity)
        for v in product.variants
    ] == [
        ("KAOS-MERAH", red.id, "Merah", Decimal(79_000), "IDR", 12),
        ("KAOS-BIRU", blue.id, "Biru", Decimal(82_500), "IDR", 7),
    ]


def test_a_single_product_is_published_without_variations(running_sandbox: RunningSandbox) -> None:
    shop = the_shop(running_sandbox)
    attributes = [
        DraftAttribute(attribute_id="100010", values=[AttributeValue(value_id="0", name="No Brand")]),  # noqa: E501
        DraftAttribute(attribute_id="100021", values=[AttributeValue(value_id="2101", name="Stainless Steel")]),  # noqa: E501
        DraftAttribute(attribute_id="100040", values=[AttributeValue(value_id="", name="500 ml")]),
    ]  # fmt: skip

    async def scenario(adapter: ShopeeAdapter) -> tuple[PublishedListing, list[ChannelProduct]]:
        await authorize(adapter)
        single = draft(
            await images(adapter),
            title="Tumbler Stainless 500 ml",
            category_id="100301",
            attributes=attributes,
            variants=SINGLE,
            length_cm=0,
            logistics_ids=["8002"],
        )
        since = time.time()
        published = await adapter.publish(single)
        assert calls(running_sandbox, f"{PRODUCT}/init_tier_variation", since)["total"] == 0
        return published, [p async for p in adapter.fetch_products()]

    published, products = run(adapter_for(running_sandbox), scenario)
    assert published.variants == [PublishedVariant(sku="TUMBLER-500", platform_model_id="")]
    item: Item = shop.items[published.platform_item_id]
    assert (item.has_models, item.category_id, item.dimensions_cm) == (False, "100301", (0, 0, 0))
    assert item.attributes == {"100010": ["No Brand"], "100021": ["2101"], "100040": ["500 ml"]}
    (product,) = [p for p in products if p.platform_item_id == published.platform_item_id]
    (variant,) = product.variants
    assert (variant.sku, variant.platform_model_id, variant.price, variant.quantity) == (
        "TUMBLER-500",
        "",
        Decimal(125_000),
        40,
    )


def _refused_publish(sandbox: RunningSandbox, **changes: Any) -> AppError:
    async def scenario(adapter: ShopeeAdapter) -> Any:
        await authorize(adapter)
        return await adapter.publish(draft(**{"images": await images(adapter), **changes}))

    return refusal(sandbox, scenario)


@pytest.mark.parametrize(
    ("changes", "code", "message", "field"),
    [
        ({"title": "Kaos"}, "error_item_name_is_too_short", "Item_name length is less than min limit (10).", "title"),  # noqa: E501
        ({"attributes": []}, "error_less_required_attribute", "Mandatory attribute information required: Brand (100010), Material (100020).", "attributes"),  # noqa: E501
        ({"attributes": [DraftAttribute(attribute_id="100010", values=[AttributeValue(value_id="1001", name="Erigo")]), DraftAttribute(attribute_id="100020", values=[AttributeValue(value_id="2999", name="Silk")])]}, "error_invalid_attribute_value", "Invalid attribute value: '2999' is not a value of attribute Material (100020).", "attributes"),  # noqa: E501
        ({"logistics_ids": ["9999"]}, "error_invalid_logistic_info", "invalid logistic info , logistic_id 9999 is not a channel of this shop", "logistics_ids"),  # noqa: E501
        ({"weight_grams": 0}, "error_param", "Invalid Weight. weight should be above 0 and at most 50 kg.", "weight_grams"),  # noqa: E501
        ({"description": "Kaos"}, "error_desc_length_min_limit", "Description length is less than the min limit (20).", "description"),  # noqa: E501
        ({"images": ["e" * 32]}, "error_param", f"Image not exist: image_id {'e' * 32}.", "images"),
    ],
)  # fmt: skip
def test_a_refused_listing_names_the_field_and_creates_nothing(
    running_sandbox: RunningSandbox, changes: dict[str, Any], code: str, message: str, field: str
) -> None:
    since = time.time()
    error = _refused_publish(running_sandbox, **changes)
    assert (error.type, error.code, error.message, error.retryable) == (
        ErrorType.VALIDATION,
        code,
        message,
        False,
    )
    assert (error.details["platform_error"], error.details["field"]) == (code, field)
    assert "platform_item_id" not in error.details
    assert calls(running_sandbox, f"{PRODUCT}/add_item", since)["total"] == 1
    assert calls(running_sandbox, f"{PRODUCT}/init_tier_variation", since)["total"] == 0


def test_too_many_images_are_refused_by_shopee(running_sandbox: RunningSandbox) -> None:
    async def scenario(adapter: ShopeeAdapter) -> Any:
        await authorize(adapter)
        return await adapter.publish(draft(await images(adapter, 10)))

    error = refusal(running_sandbox, scenario)
    assert (error.code, error.message, error.details["field"]) == (
        "error_param",
        "Wrong parameters, detail: image_id_list should hold at most 9 images.",
        "images",
    )


def test_three_option_names_are_refused_before_any_call(running_sandbox: RunningSandbox) -> None:
    variants = [
        DraftVariant(sku="A", options={"Warna": "Merah", "Ukuran": "M", "Bahan": "Katun"}, price=Decimal(79_000), quantity=1),  # noqa: E501
        DraftVariant(sku="B", options={"Warna": "Biru", "Ukuran": "M", "Bahan": "Katun"}, price=Decimal(79_000), quantity=1),  # noqa: E501
    ]  # fmt: skip
    since = time.time()
    error = _refused_publish(running_sandbox, variants=variants)
    assert (error.type, error.code, error.details["field"]) == (
        ErrorType.VALIDATION,
        "invalid_field",
        "variants",
    )
    assert error.message == (
        "variants: Shopee takes at most 2 variation tiers, not 3 (Warna, Ukuran, Bahan)"
    )
    assert calls(running_sandbox, f"{PRODUCT}/add_item", since)["total"] == 0


def test_two_tiers_become_one_model_per_variant(running_sandbox: RunningSandbox) -> None:
    variants = [
        DraftVariant(sku=f"KAOS-{c}{s}", options={"Warna": c, "Ukuran": s}, price=Decimal(79_000 + 1000 * n), quantity=n)  # noqa: E501
        for n, (c, s) in enumerate([("Merah", "M"), ("Merah", "L"), ("Biru", "L")])
    ]  # fmt: skip

    async def scenario(adapter: ShopeeAdapter) -> PublishedListing:
        await authorize(adapter)
        return await adapter.publish(draft(await images(adapter), variants=variants))

    published = run(adapter_for(running_sandbox), scenario)
    item: Item = the_shop(running_sandbox).items[published.platform_item_id]
    assert item.tiers == [("Warna", ["Merah", "Biru"]), ("Ukuran", ["M", "L"])]
    by_id = {m.id: m for m in item.models}
    assert [
        (v.sku, by_id[v.platform_model_id].tier_index, by_id[v.platform_model_id].price)
        for v in published.variants
    ] == [
        ("KAOS-MerahM", [0, 0], Decimal(79_000)),
        ("KAOS-MerahL", [0, 1], Decimal(80_000)),
        ("KAOS-BiruL", [1, 1], Decimal(81_000)),
    ]


def test_refused_variations_leave_the_item_and_say_which(running_sandbox: RunningSandbox) -> None:
    """add_item takes the first variant's price; init_tier_variation refuses the second's."""
    shop = the_shop(running_sandbox)
    before = len(shop.items)
    variants = [
        DraftVariant(sku="KAOS-MERAH", options={"Warna": "Merah"}, price=Decimal(79_000), quantity=1),  # noqa: E501
        DraftVariant(sku="KAOS-BIRU", options={"Warna": "Biru"}, price=Decimal(50), quantity=1),
    ]  # fmt: skip

    async def scenario(adapter: ShopeeAdapter) -> Any:
        await authorize(adapter)
        return await adapter.publish(draft(await images(adapter), variants=variants))

    with pytest.raises(AppError) as raised:
        run(adapter_for(running_sandbox), scenario)
    error = raised.value
    assert (error.type, error.code, error.details["field"]) == (
        ErrorType.VALIDATION,
        "error_price_exceed_min_limitt",
        "variants",
    )
    assert error.message == (
        "Original_price is less than min price limit (100): model[1].original_price."
    )
    assert len(shop.items) == before + 1
    left = shop.items[error.details["platform_item_id"]]
    assert (left.has_models, [m.id for m in left.models], left.tiers) == (False, ["0"], [])


# -- content updates ---------------------------------------------------------------------------


def test_update_content_changes_what_get_item_base_info_shows(
    running_sandbox: RunningSandbox,
) -> None:
    async def scenario(adapter: ShopeeAdapter) -> tuple[str, dict[str, Any], int]:
        await authorize(adapter)
        published = await adapter.publish(draft(await images(adapter)))
        new_images = await images(adapter, 2)
        await adapter.update_content(
            ContentUpdate(
                platform_item_id=published.platform_item_id,
                title="Kaos Polos Premium Combed 24s",
                description="Kaos polos premium bahan katun combed 24s yang lebih tebal.",
                images=new_images,
                weight_grams=300,
            )
        )
        since = time.time()
        await adapter.update_content(ContentUpdate(platform_item_id=published.platform_item_id))
        untouched = calls(running_sandbox, f"{PRODUCT}/update_item", since)["total"]
        answer = await adapter.client.shop(
            "GET", f"{PRODUCT}/get_item_base_info", params=[("item_id_list", published.platform_item_id)]  # noqa: E501
        )  # fmt: skip
        (info,) = answer["response"]["item_list"]
        return published.platform_item_id, {"info": info, "images": new_images}, untouched

    item_id, seen, untouched = run(adapter_for(running_sandbox), scenario)
    info = seen["info"]
    assert (info["item_name"], info["description"], info["weight"]) == (
        "Kaos Polos Premium Combed 24s",
        "Kaos polos premium bahan katun combed 24s yang lebih tebal.",
        "0.3",
    )
    assert info["image"]["image_id_list"] == seen["images"]
    item: Item = the_shop(running_sandbox).items[item_id]
    assert (item.attributes["100010"], item.dimensions_cm) == (["1002"], (30, 20, 3))
    assert untouched == 0


def test_a_refused_update_changes_nothing(running_sandbox: RunningSandbox) -> None:
    async def scenario(adapter: ShopeeAdapter) -> tuple[str, AppError, AppError]:
        await authorize(adapter)
        published = await adapter.publish(draft(await images(adapter)))
        item_id = published.platform_item_id
        with pytest.raises(AppError) as short:
            await adapter.update_content(ContentUpdate(platform_item_id=item_id, title="Kaos"))
        with pytest.raises(AppError) as partial:
            await adapter.update_content(ContentUpdate(platform_item_id=item_id, length_cm=40))
        return item_id, short.value, partial.value

    item_id, short, partial = run(adapter_for(running_sandbox), scenario)
    assert (short.code, short.details["field"]) == ("error_item_name_is_too_short", "title")
    assert (partial.code, partial.details["field"]) == ("invalid_field", "package")
    item: Item = the_shop(running_sandbox).items[item_id]
    assert (item.title, item.dimensions_cm) == ("Kaos Polos Katun Combed 30s", (30, 20, 3))


# -- reading a refusal -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("error_invalid_logistic_info", "invalid logistic info , weight 35 kg exceeds ...", ("logistic_info", "logistics_ids")),  # noqa: E501
        ("error_param", "Invalid Weight.", ("weight", "weight_grams")),
        ("error_param", "The level of tier-variation over 2.", ("tier_variation", "variants")),
        ("error_model_tier_index_bound", "Invalid item iter_index.", ("tier_index", "variants")),
        ("error_param", "Wrong parameters, detail: seller_stock.stock should be ...", ("seller_stock", "variants")),  # noqa: E501
        ("error_param", "Wrong parameters, detail: dimension needs ...", ("dimension", "package")),
        ("error_param", "parameter invalid", None),
    ],
)  # fmt: skip
def test_the_field_of_a_refusal_comes_from_its_code_or_message(
    code: str, message: str, expected: tuple[str, str] | None
) -> None:
    assert field_named(code, message) == expected
