"""Shopee publishing in the simulator, called as a client built from the official specs calls
it: signed raw HTTP (categories, attributes, item limits, logistics channels, image upload,
add_item, init_tier_variation, update_item) and what each refuses, leaving nothing behind."""

from __future__ import annotations

import copy
import io
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from PIL import Image as PILImage

from storesync.sandbox.state import Item
from tests.sandbox.test_shopee import Client, World, fails, ok, world

__all__ = ["world"]  # the fixture, shared with test_shopee

PRODUCT = "/api/v2/product"
UPLOAD = "/api/v2/media_space/upload_image"
ADD = f"{PRODUCT}/add_item"
INIT = f"{PRODUCT}/init_tier_variation"
UPDATE = f"{PRODUCT}/update_item"
BASE_INFO = f"{PRODUCT}/get_item_base_info"
MODELS = f"{PRODUCT}/get_model_list"
TSHIRTS = 100101
MB = 1024 * 1024


def picture(kind: str = "PNG", size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, (200, 30, 30)).save(out, kind)
    return out.getvalue()


def upload(
    client: Client, data: bytes, *, name: str = "a.png", extra: dict[str, str] | None = None
) -> httpx.Response:
    """media_space/upload_image: multipart, signed at public level over the query only."""
    params = client.common(UPLOAD, shop=False)
    return client.http.post(UPLOAD, params=params, files={"image": (name, data)}, data=extra)


def uploaded(client: Client, count: int = 1) -> list[str]:
    return [
        ok(upload(client, picture()))["response"]["image_info"]["image_id"] for _ in range(count)
    ]


def item_body(client: Client, **changes: Any) -> dict[str, Any]:
    """A valid add_item body for the T-shirts leaf; `changes` replace fields (None drops one)."""
    body: dict[str, Any] = {
        "item_name": "Kaos Polos Katun Combed 30s",
        "description": "Kaos polos bahan katun combed 30s, adem dan nyaman dipakai.",
        "category_id": TSHIRTS,
        "original_price": 79_000,
        "seller_stock": [{"stock": 25}],
        "weight": 0.25,
        "dimension": {"package_length": 30, "package_width": 20, "package_height": 3},
        "image": {"image_id_list": uploaded(client)},
        "logistic_info": [{"logistic_id": 8003, "enabled": True}],
        "attribute_list": [
            {"attribute_id": 100010, "attribute_value_list": [{"value_id": 1001}]},
            {
                "attribute_id": 100020,
                "attribute_value_list": [{"value_id": 2001, "original_value_name": "Cotton"}],
            },
            {
                "attribute_id": 100030,
                "attribute_value_list": [
                    {"value_id": 0, "original_value_name": "Casual"},
                    {"value_id": 0, "original_value_name": "Basic"},
                ],
            },
        ],
        "item_sku": "KAOS-POLOS",
        "condition": "NEW",
        "item_status": "NORMAL",
    }
    for name, value in changes.items():
        if value is None:
            body.pop(name)
        else:
            body[name] = value
    return body


def added(world: World, client: Client, **changes: Any) -> Item:
    item_id = ok(client.post(ADD, item_body(client, **changes)))["response"]["item_id"]
    item: Item = world.shop.items[str(item_id)]
    return item


def tier_body(item_id: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "item_id": item_id,
        "tier_variation": [
            {"name": "Warna", "option_list": [{"option": "Merah"}, {"option": "Biru"}]},
            {"name": "Ukuran", "option_list": [{"option": "M"}, {"option": "L"}]},
        ],
        "model": [
            {
                "tier_index": [c, s],
                "original_price": 79_000 + 1000 * s,
                "model_sku": f"KAOS-{'MB'[c]}{'ML'[s]}",
                "seller_stock": [{"stock": 10 + 2 * c + s}],
            }
            for c in (0, 1)
            for s in (0, 1)
        ],
    }
    body.update(changes)
    return body


# -- reads -------------------------------------------------------------------------------------


def test_get_category_answers_the_whole_tree(world: World) -> None:
    client = world.client()
    answer = ok(client.get(f"{PRODUCT}/get_category", language="id"))["response"]
    rows = {row["category_id"]: row for row in answer["category_list"]}
    assert len(rows) == 14
    assert rows[100001] == {
        "category_id": 100001,
        "parent_category_id": 0,
        "original_category_name": "Fashion",
        "display_category_name": "Fashion",
        "has_children": True,
    }
    assert (rows[100101]["parent_category_id"], rows[100101]["has_children"]) == (100011, False)
    assert [r for r in rows.values() if not r["has_children"]] == [
        rows[i] for i in (100101, 100102, 100103, 100201, 100301, 100302, 100022, 100401)
    ]
    body = fails(
        client.get(f"{PRODUCT}/get_category", language="klingon"), 400, "error_invalid_language"
    )
    assert body["message"] == "Invalid language."


def test_get_attributes_lists_the_leaf_attributes_with_their_values(world: World) -> None:
    client = world.client()
    answer = ok(client.get(f"{PRODUCT}/get_attributes", category_id=TSHIRTS))["response"]
    attributes = {a["attribute_id"]: a for a in answer["attribute_list"]}
    assert list(attributes) == [100010, 100020, 100030, 100050]
    brand = attributes[100010]
    assert (brand["original_attribute_name"], brand["is_mandatory"], brand["input_type"]) == (
        "Brand",
        True,
        "DROP_DOWN",
    )
    assert brand["attribute_value_list"][1] == {
        "value_id": 1001,
        "original_value_name": "Erigo",
        "display_value_name": "Erigo",
    }
    assert [v["value_id"] for v in brand["attribute_value_list"]] == [0, 1001, 1002, 1003]
    style = attributes[100030]
    assert (style["is_mandatory"], style["input_type"], style["attribute_value_list"]) == (
        False,
        "MULTIPLE_SELECT_COMBO_BOX",
        [],
    )
    assert {a["input_validation_type"] for a in attributes.values()} == {"STRING_TYPE"}
    drinkware = ok(client.get(f"{PRODUCT}/get_attributes", category_id=100301))["response"]
    capacity = next(a for a in drinkware["attribute_list"] if a["attribute_id"] == 100040)
    assert capacity["input_type"] == "TEXT_FILED"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"category_id": 100001}, "Wrong parameters, detail: category_id 100001 has children: choose a leaf category."),  # noqa: E501
        ({"category_id": 999}, "Wrong parameters, detail: category_id 999 is not a Shopee category."),  # noqa: E501
        ({}, "Wrong parameters, detail: category_id is required."),
        ({"category_id": "abc"}, "Wrong parameters, detail: category_id should be an integer."),
    ],
)  # fmt: skip
def test_get_attributes_and_item_limit_want_a_leaf_category(
    world: World, params: dict[str, Any], message: str
) -> None:
    client = world.client()
    assert (
        fails(client.get(f"{PRODUCT}/get_attributes", **params), 400, "error_param")["message"]
        == message
    )
    if params:  # get_item_limit's category_id is optional
        limit = fails(client.get(f"{PRODUCT}/get_item_limit", **params), 400, "error_param")
        assert limit["message"] == message


def test_get_item_limit_reports_the_shopee_limits(world: World) -> None:
    client = world.client()
    answer = ok(client.get(f"{PRODUCT}/get_item_limit", category_id=TSHIRTS))["response"]
    assert answer == {
        "price_limit": {"min_limit": 100, "max_limit": 150_000_000},
        "stock_limit": {"min_limit": 0, "max_limit": 999_999},
        "item_name_length_limit": {"min_limit": 10, "max_limit": 120},
        "item_image_count_limit": {"min_limit": 1, "max_limit": 9},
        "item_description_length_limit": {"min_limit": 20, "max_limit": 3000},
        "tier_variation_name_length_limit": {"min_limit": 1, "max_limit": 14},
        "tier_variation_option_length_limit": {"min_limit": 1, "max_limit": 30},
        "item_count_limit": {"max_limit": 50},
        "weight_limit": {"weight_mandatory": True},
        "dimension_limit": {"dimension_mandatory": False},
    }
    assert ok(client.get(f"{PRODUCT}/get_item_limit"))["response"] == answer


def test_get_channel_list_answers_the_enabled_channels(world: World) -> None:
    client = world.client()
    channels = ok(client.get("/api/v2/logistics/get_channel_list"))["response"]
    listed = channels["logistics_channel_list"]
    assert [(c["logistics_channel_id"], c["logistics_channel_name"]) for c in listed] == [
        (8003, "SPX Express"),
        (8005, "J&T Express"),
        (8002, "JNE Reguler"),
    ]
    jne = listed[2]
    assert jne["weight_limit"] == {"item_max_weight": 30.0, "item_min_weight": 0.01}
    assert jne["item_max_dimension"] == {"height": 150, "width": 150, "length": 150, "unit": "cm"}
    assert (jne["enabled"], jne["fee_type"], jne["mask_channel_id"]) == (True, "SIZE_INPUT", 0)


# -- upload_image ------------------------------------------------------------------------------


def test_upload_image_keeps_a_png_or_jpeg_and_answers_its_id_and_url(world: World) -> None:
    client = world.client(authorized=False)
    before = len(world.state.images)
    png = picture("PNG", (40, 30))
    info = ok(upload(client, png, extra={"scene": "normal"}))["response"]["image_info"]
    stored = world.state.images[("shopee", info["image_id"])]
    assert (stored.size, stored.content_type, stored.width, stored.height) == (
        len(png),
        "image/png",
        40,
        30,
    )
    assert info["image_url_list"] == [{"image_url_region": "ID", "image_url": stored.url}]
    # The bytes decide, not the name: a JPEG called .png is a JPEG.
    jpeg = ok(upload(client, picture("JPEG"), name="photo.png"))["response"]["image_info"]
    assert world.state.images[("shopee", jpeg["image_id"])].content_type == "image/jpeg"
    assert len(world.state.images) == before + 2


def test_upload_image_refuses_what_shopee_refuses_and_keeps_nothing(world: World) -> None:
    client = world.client(authorized=False)
    before = len(world.state.images)
    text = fails(upload(client, b"hello, not an image", name="a.jpg"), 400, "error_image_format")
    assert text["message"] == "image format should be JPG, JPEG or PNG (image)"
    big = b"\xff\xd8\xff\xe0" + bytes(10 * MB - 3)  # a JPEG header, one byte over 10 MB
    assert fails(upload(client, big), 400, "error_file_size")["message"] == (
        "image size exceeds 10MB"
    )
    limit = b"\xff\xd8\xff\xe0" + bytes(10 * MB - 4)  # exactly 10 MB passes
    ok(upload(client, limit))
    params = client.common(UPLOAD, shop=False)
    missing = fails(
        client.http.post(UPLOAD, params=params, files={"photo": ("a.png", picture())}),
        400,
        "error_param",
    )
    assert missing["message"] == (
        "Wrong parameters, detail: image is required: send the file in the multipart field image."
    )
    scene = fails(upload(client, picture(), extra={"scene": "banner"}), 400, "error_param")
    assert scene["message"] == "Wrong parameters, detail: scene should be one of normal, desc."
    assert len(world.state.images) == before + 1


def test_upload_image_is_signed_at_public_level_over_the_query(world: World) -> None:
    client = world.client()
    shop_signed = client.common(UPLOAD, shop=True)  # public API: a shop-level base is wrong
    answer = client.http.post(UPLOAD, params=shop_signed, files={"image": ("a.png", picture())})
    fails(answer, 403, "error_sign")
    stale = client.common(UPLOAD, shop=False, timestamp=int(time.time()) - 400)
    answer = client.http.post(UPLOAD, params=stale, files={"image": ("a.png", picture())})
    assert fails(answer, 400, "error_param")["message"] == "Timestamp is expired"
    json_body = client.http.post(UPLOAD, params=client.common(UPLOAD, shop=False), json={})
    fails(json_body, 400, "error_param")
    assert client.http.get(UPLOAD, params=client.common(UPLOAD, shop=False)).status_code == 405


# -- add_item ----------------------------------------------------------------------------------


def test_add_item_creates_a_listing_readable_like_any_other(world: World) -> None:
    client = world.client()
    before = len(world.shop.items)
    body = item_body(client)
    answer = ok(client.post(ADD, body))["response"]
    item = world.shop.items[str(answer["item_id"])]
    assert len(world.shop.items) == before + 1
    assert (item.title, item.status, item.has_models, item.category_id) == (
        "Kaos Polos Katun Combed 30s",
        "NORMAL",
        False,
        "100101",
    )
    (model,) = item.models
    assert (model.id, model.sku, model.price, model.stock) == (
        "0",
        "KAOS-POLOS",
        Decimal(79_000),
        25,
    )
    assert item.attributes == {
        "100010": ["1001"],
        "100020": ["2001"],
        "100030": ["Casual", "Basic"],
    }
    assert (item.weight_grams, item.dimensions_cm, item.logistics_ids) == (
        250,
        (30, 20, 3),
        ["8003"],
    )
    image_id = body["image"]["image_id_list"][0]
    assert item.images == [world.state.images[("shopee", image_id)].url]
    assert answer["price_info"] == {"original_price": 79_000, "current_price": 79_000}
    assert (answer["item_name"], answer["category_id"], answer["weight"]) == (
        item.title,
        TSHIRTS,
        0.25,
    )

    info = ok(client.get(BASE_INFO, item_id_list=answer["item_id"]))["response"]["item_list"][0]
    assert (info["item_name"], info["item_sku"], info["has_model"]) == (
        item.title,
        "KAOS-POLOS",
        False,
    )
    assert (info["category_id"], info["weight"], info["description"]) == (
        TSHIRTS,
        "0.25",
        body["description"],
    )
    assert info["dimension"] == {"package_length": 30, "package_width": 20, "package_height": 3}
    assert info["image"]["image_id_list"] == [image_id]
    assert info["price_info"][0]["original_price"] == 79_000
    assert info["stock_info_v2"]["summary_info"]["total_available_stock"] == 25
    brand = info["attribute_list"][0]
    assert brand["attribute_value_list"] == [
        {"value_id": 1001, "original_value_name": "Erigo", "value_unit": ""}
    ]
    listed = ok(
        client.get(f"{PRODUCT}/get_item_list", offset=0, page_size=100, item_status="NORMAL")
    )["response"]
    assert answer["item_id"] in [i["item_id"] for i in listed["item"]]


def test_control_api_lists_an_added_listing(world: World) -> None:
    client = world.client()
    item = added(world, client)
    listings = httpx.get(
        f"{world.base_url}/sandbox/listings",
        params={"platform": "shopee", "shop_id": world.shop.id},
    ).json()
    mine = [row for row in listings if row["item_id"] == item.id]
    assert mine == [
        {
            "item_id": item.id,
            "model_id": "0",
            "sku": "KAOS-POLOS",
            "title": "Kaos Polos Katun Combed 30s",
            "model_name": "",
            "stock": 25,
            "price": "79000",
            "status": "NORMAL",
        }
    ]


def attr(attribute_id: int, *values: int | str) -> dict[str, Any]:
    """An attribute_list entry: an int is a value_id, a str a name sent with value_id 0."""
    return {
        "attribute_id": attribute_id,
        "attribute_value_list": [
            {"value_id": v} if isinstance(v, int) else {"value_id": 0, "original_value_name": v}
            for v in values
        ],
    }


BRAND = attr(100010, 1001)
MATERIAL = attr(100020, 2001)


REFUSALS = [
    ({"item_name": "Kaos"}, "error_item_name_is_too_short", "Item_name length is less than min limit (10)."),  # noqa: E501
    ({"item_name": "K" * 121}, "error_title_exceeds_max_length", "The length of item_name is bigger than max limit (120)."),  # noqa: E501
    ({"item_name": "   "}, "error_item_name_empty", "Item name could not be empty."),
    ({"description": "Kaos adem"}, "error_desc_length_min_limit", "Description length is less than the min limit (20)."),  # noqa: E501
    ({"description": "x" * 3001}, "error_param", "Wrong parameters, detail: description should be at most 3000 characters."),  # noqa: E501
    ({"image": {"image_id_list": []}}, "error_image_num_min", "image_id_list needs at least 1 image"),  # noqa: E501
    ({"image": {"image_id_list": ["0" * 32]}}, "error_param", f"Image not exist: image_id {'0' * 32}."),  # noqa: E501
    ({"attribute_list": [BRAND]}, "error_less_required_attribute", "Mandatory attribute information required: Material (100020)."),  # noqa: E501
    ({"attribute_list": []}, "error_less_required_attribute", "Mandatory attribute information required: Brand (100010), Material (100020)."),  # noqa: E501
    ({"attribute_list": [attr(100010, 9999), MATERIAL]}, "error_invalid_attribute_value", "Invalid attribute value: '9999' is not a value of attribute Brand (100010)."),  # noqa: E501
    ({"attribute_list": [BRAND, MATERIAL, attr(100050, "Japan")]}, "error_invalid_attribute_value", "Invalid attribute value: 'Japan' is not a value of attribute Country of Origin (100050)."),  # noqa: E501
    ({"attribute_list": [BRAND, MATERIAL, attr(100040, "500 ml")]}, "error_invalid_category_attribute", "Category and attribute not match: attribute_id 100040 is not an attribute of category_id 100101."),  # noqa: E501
    ({"attribute_list": [BRAND, MATERIAL, attr(100030, 7)]}, "error_value_id_must_equal_zero", "Value_id must equal 0: attribute Style (100030) takes text."),  # noqa: E501
    ({"attribute_list": [BRAND, MATERIAL, attr(100030, 0)]}, "error_value_name_required", "Value_name is required: attribute Style (100030) has value_id 0 without original_value_name."),  # noqa: E501
    ({"attribute_list": [attr(100010, 1001, 1002), MATERIAL]}, "error_invalid_attribute_value", "Invalid attribute value: attribute Brand (100010) takes one value."),  # noqa: E501
    ({"logistic_info": [{"logistic_id": 9999, "enabled": True}]}, "error_invalid_logistic_info", "invalid logistic info , logistic_id 9999 is not a channel of this shop"),  # noqa: E501
    ({"logistic_info": [{"logistic_id": 8003, "enabled": False}]}, "error_invalid_logistic_info", "invalid logistic info , at least one logistic_id should be enabled"),  # noqa: E501
    ({"weight": 35, "logistic_info": [{"logistic_id": 8002, "enabled": True}]}, "error_invalid_logistic_info", "invalid logistic info , weight 35 kg exceeds the max weight 30 kg of logistic_id 8002 (JNE Reguler)"),  # noqa: E501
    ({"dimension": {"package_length": 200, "package_width": 20, "package_height": 3}}, "error_invalid_logistic_info", "invalid logistic info , dimension exceeds the 150 cm a side of logistic_id 8003 (SPX Express)"),  # noqa: E501
    ({"weight": 0}, "error_param", "Invalid Weight. weight should be above 0 and at most 50 kg."),
    ({"weight": "0.3"}, "error_param", "Invalid Weight. weight should be a number of kg."),
    ({"weight": None}, "error_param", "Wrong parameters, detail: invalid field weight: value must Not Null."),  # noqa: E501
    ({"dimension": {"package_length": 30, "package_width": 20}}, "error_param", "Wrong parameters, detail: dimension needs package_length, package_width and package_height."),  # noqa: E501
    ({"original_price": 50}, "error_price_exceed_min_limitt", "Original_price is less than min price limit (100): original_price."),  # noqa: E501
    ({"original_price": 200_000_000}, "error_price_exceed_max_limitt", "Original_price is bigger than max price limit (150000000): original_price."),  # noqa: E501
    ({"original_price": 79_000.5}, "error_invalid_price", "Invalid price, please use the correct format: original_price of ID can only have 0 decimal places."),  # noqa: E501
    ({"seller_stock": [{"stock": 1_000_000}]}, "error_param", "Wrong parameters, detail: seller_stock.stock should be between 0 and 999999."),  # noqa: E501
    ({"category_id": 100001}, "error_invalid_category", "Invalid category ID 100001: category_id has children, use a leaf category."),  # noqa: E501
    ({"category_id": 4242}, "error_invalid_category", "Invalid category ID 4242: unknown category_id."),  # noqa: E501
    ({"condition": "REFURBISHED"}, "error_param", "Wrong parameters, detail: condition should be one of NEW, USED."),  # noqa: E501
    ({"item_sku": "S" * 101}, "error_param", "Wrong parameters, detail: item_sku should be at most 100 characters."),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(("changes", "error", "message"), REFUSALS)
def test_add_item_refuses_and_creates_nothing(
    world: World, changes: dict[str, Any], error: str, message: str
) -> None:
    client = world.client()
    body = item_body(client, **changes)
    before = copy.deepcopy(world.shop.items)
    assert fails(client.post(ADD, body), 400, error)["message"] == message
    assert world.shop.items == before


def test_add_item_takes_ten_images_no_more_than_nine(world: World) -> None:
    client = world.client()
    ten = item_body(client, image={"image_id_list": uploaded(client, 10)})
    before = len(world.shop.items)
    assert fails(client.post(ADD, ten), 400, "error_param")["message"] == (
        "Wrong parameters, detail: image_id_list should hold at most 9 images."
    )
    ten["image"]["image_id_list"].pop()
    item = world.shop.items[str(ok(client.post(ADD, ten))["response"]["item_id"])]
    assert len(item.images) == 9 and len(world.shop.items) == before + 1


def test_add_item_takes_a_value_by_name_and_an_unlisted_item(world: World) -> None:
    client = world.client()
    attributes = [attr(100010, "No Brand"), attr(100020, "Fleece")]
    item = added(world, client, attribute_list=attributes, item_status="UNLIST", dimension=None)
    assert item.attributes == {"100010": ["No Brand"], "100020": ["Fleece"]}
    assert (item.status, item.dimensions_cm) == ("UNLIST", (0, 0, 0))


# -- init_tier_variation -----------------------------------------------------------------------


def test_init_tier_variation_replaces_the_model_with_one_per_combination(world: World) -> None:
    client = world.client()
    item = added(world, client)
    answer = ok(client.post(INIT, tier_body(int(item.id))))["response"]
    assert item.has_models and item.tiers == [("Warna", ["Merah", "Biru"]), ("Ukuran", ["M", "L"])]
    assert [(m.sku, m.name, m.tier_index, m.price, m.stock) for m in item.models] == [
        ("KAOS-MM", "Merah,M", [0, 0], Decimal(79_000), 10),
        ("KAOS-ML", "Merah,L", [0, 1], Decimal(80_000), 11),
        ("KAOS-BM", "Biru,M", [1, 0], Decimal(79_000), 12),
        ("KAOS-BL", "Biru,L", [1, 1], Decimal(80_000), 13),
    ]
    assert item.models[3].options == [("Warna", "Biru"), ("Ukuran", "L")]
    assert "0" not in {m.id for m in item.models} and len({m.id for m in item.models}) == 4
    assert [(m["model_id"], m["tier_index"], m["model_sku"]) for m in answer["model"]] == [
        (int(m.id), m.tier_index, m.sku) for m in item.models
    ]
    assert answer["tier_variation"][1] == {
        "name": "Ukuran",
        "option_list": [{"option": "M"}, {"option": "L"}],
    }

    listed = ok(client.get(MODELS, item_id=item.id))["response"]
    assert listed["tier_variation"] == answer["tier_variation"]
    assert [
        (m["model_id"], m["tier_index"], m["model_sku"], m["price_info"][0]["original_price"],
         m["stock_info_v2"]["summary_info"]["total_available_stock"])
        for m in listed["model"]
    ] == [(int(m.id), m.tier_index, m.sku, int(m.price), m.stock) for m in item.models]  # fmt: skip
    info = ok(client.get(BASE_INFO, item_id_list=item.id))["response"]["item_list"][0]
    assert (info["has_model"], info["item_sku"], "price_info" in info) == (True, "", False)


def _tiers(*tiers: tuple[str, list[str]]) -> list[dict[str, Any]]:
    return [{"name": n, "option_list": [{"option": o} for o in opts]} for n, opts in tiers]


def _model(index: list[int], price: int = 79_000, stock: int = 1) -> dict[str, Any]:
    return {"tier_index": index, "original_price": price, "seller_stock": [{"stock": stock}]}


TIER_REFUSALS = [
    ({"model": [_model([0, 0]), _model([0, 2])]}, "error_model_tier_index_bound", "Invalid item iter_index: model[1].tier_index [0, 2] does not match tier_variation."),  # noqa: E501
    ({"model": [_model([0])]}, "error_model_tier_index_bound", "Invalid item iter_index: model[0].tier_index [0] does not match tier_variation."),  # noqa: E501
    ({"model": [_model([])]}, "error_model_nonempty_itemtier_empty_index", "Item tier_index is required."),  # noqa: E501
    ({"model": [_model([1, 1]), _model([1, 1])]}, "error_model_duplicate_tier_variation_index", "Item have duplicate tier_index: [1, 1]."),  # noqa: E501
    ({"tier_variation": _tiers(("A", ["x"]), ("B", ["y"]), ("C", ["z"])), "model": [_model([0, 0, 0])]}, "error_param", "The level of tier-variation over 2."),  # noqa: E501
    ({"tier_variation": _tiers(("Warna", ["Merah", "Merah"])), "model": [_model([0])]}, "error_model_duplicate_name", "Item tier_variation have duplicate name: tier_variation 'Warna'."),  # noqa: E501
    ({"tier_variation": _tiers(("Warna Pilihan Anda", ["Merah"])), "model": [_model([0])]}, "error_tier_var_name_too_long", "tier_variation name 'Warna Pilihan Anda' should be 1 to 14 characters"),  # noqa: E501
    ({"tier_variation": _tiers(("Warna", ["M" * 31])), "model": [_model([0])]}, "error_tier_opt_val_too_long", f"tier_variation option '{'M' * 31}' of 'Warna' should be 1 to 30 characters"),  # noqa: E501
    ({"tier_variation": _tiers(("Nomor", [str(n) for n in range(51)])), "model": [_model([n]) for n in range(51)]}, "error_model_count_over_limit", "The count of model is too large. Should be at most 50."),  # noqa: E501
    ({"model": [_model([0, 0], price=99)]}, "error_price_exceed_min_limitt", "Original_price is less than min price limit (100): model[0].original_price."),  # noqa: E501
    ({"model": [_model([0, 0], stock=-1)]}, "error_param", "Wrong parameters, detail: model[0].seller_stock.stock should be between 0 and 999999."),  # noqa: E501
    ({"tier_variation": []}, "error_param", "Wrong parameters, detail: tier_variation should be a list of 1 or 2 tiers."),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(("changes", "error", "message"), TIER_REFUSALS)
def test_init_tier_variation_refuses_and_changes_nothing(
    world: World, changes: dict[str, Any], error: str, message: str
) -> None:
    client = world.client()
    item = added(world, client)
    before = copy.deepcopy(item)
    answer = client.post(INIT, tier_body(int(item.id), **changes))
    assert fails(answer, 400, error)["message"] == message
    assert item == before


def test_a_second_init_tier_variation_is_refused(world: World) -> None:
    client = world.client()
    item = added(world, client)
    ok(client.post(INIT, tier_body(int(item.id))))
    before = copy.deepcopy(item)
    again = fails(client.post(INIT, tier_body(int(item.id))), 400, "error_param")
    assert again["message"] == (
        f"Wrong parameters, detail: item {item.id} already has tier variation; change it with "
        "update_tier_variation."
    )
    assert item == before
    missing = fails(client.post(INIT, tier_body(123)), 400, "error_item_not_found")
    assert missing["message"] == "Item_id is not found."


# -- update_item -------------------------------------------------------------------------------


def test_update_item_changes_only_the_fields_given(world: World) -> None:
    client = world.client()
    item = added(world, client)
    item.update_time -= 100
    stamp = item.update_time
    images = uploaded(client, 2)
    body = {
        "item_id": int(item.id),
        "item_name": "Kaos Polos Premium Combed 24s",
        "description": "Kaos polos premium bahan katun combed 24s yang lebih tebal.",
        "image": {"image_id_list": images},
        "weight": 0.3,
    }
    answer = ok(client.post(UPDATE, body))["response"]
    assert (answer["item_id"], answer["item_name"], answer["weight"]) == (
        int(item.id),
        "Kaos Polos Premium Combed 24s",
        0.3,
    )
    assert (item.title, item.weight_grams, item.dimensions_cm) == (
        "Kaos Polos Premium Combed 24s",
        300,
        (30, 20, 3),
    )
    assert item.images == [world.state.images[("shopee", i)].url for i in images]
    assert item.attributes["100020"] == ["2001"] and item.update_time > stamp
    info = ok(client.get(BASE_INFO, item_id_list=item.id))["response"]["item_list"][0]
    assert (info["item_name"], info["description"], info["weight"]) == (
        "Kaos Polos Premium Combed 24s",
        body["description"],
        "0.3",
    )
    assert info["image"]["image_id_list"] == images


def test_update_item_moves_a_listing_to_a_category_its_attributes_fit(world: World) -> None:
    client = world.client()
    item = added(world, client)
    before = copy.deepcopy(item)
    moved = {"item_id": int(item.id), "category_id": 100301}
    refused = fails(client.post(UPDATE, moved), 400, "error_invalid_category_attribute")
    assert refused["message"] == (
        "Category and attribute not match: attribute_id 100020 is not an attribute of "
        "category_id 100301."
    )
    assert item == before
    drinkware = [attr(100010, 1003), attr(100021, 2101), attr(100040, "500 ml")]
    ok(client.post(UPDATE, {**moved, "attribute_list": drinkware}))
    assert item.category_id == "100301"
    assert item.attributes == {"100010": ["1003"], "100021": ["2101"], "100040": ["500 ml"]}


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"item_name": "Kaos"}, "error_item_name_is_too_short", "Item_name length is less than min limit (10)."),  # noqa: E501
        ({"attribute_list": [BRAND]}, "error_less_required_attribute", "Mandatory attribute information required: Material (100020)."),  # noqa: E501
        ({"weight": 60}, "error_param", "Invalid Weight. weight should be above 0 and at most 50 kg."),  # noqa: E501
        ({"image": {"image_id_list": ["f" * 32]}}, "error_param", f"Image not exist: image_id {'f' * 32}."),  # noqa: E501
        ({"dimension": {"package_length": 151, "package_width": 1, "package_height": 1}}, "error_invalid_logistic_info", "invalid logistic info , dimension exceeds the 150 cm a side of logistic_id 8003 (SPX Express)"),  # noqa: E501
        ({}, "error_param", "Wrong parameters, detail: nothing to update: give at least one field of the item."),  # noqa: E501
    ],
)  # fmt: skip
def test_update_item_refuses_and_changes_nothing(
    world: World, changes: dict[str, Any], error: str, message: str
) -> None:
    client = world.client()
    item = added(world, client)
    before = copy.deepcopy(item)
    body = {"item_id": int(item.id), "description": "Deskripsi baru yang cukup panjang.", **changes}
    if not changes:
        body.pop("description")
    assert fails(client.post(UPDATE, body), 400, error)["message"] == message
    assert item == before


def test_update_item_of_an_unknown_item(world: World) -> None:
    client = world.client()
    answer = client.post(UPDATE, {"item_id": 77, "item_name": "Kaos Polos Premium"})
    assert fails(answer, 400, "error_item_not_found")["message"] == "Item_id is not found."
