"""The TikTok Shop simulator's publishing endpoints over real HTTP, called as a client written
from TikTok's documentation calls them (`Client` of test_tiktok, signed with the published
algorithm): categories, attributes, rules, warehouses, image upload (multipart, signed without
the body), create / edit / partial edit product, and product search at 202502."""

from __future__ import annotations

import copy
import io
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PIL import Image

from storesync.core.clock import utcnow
from storesync.sandbox.catalog import TIKTOK_LIMITS
from storesync.sandbox.state import SandboxState, Shop
from tests.sandbox.conftest import RunningSandbox
from tests.sandbox.test_tiktok import Client, tts_sign

WAREHOUSE = "7000714532876273"
PRODUCTS = "/product/202309/products"
UPLOAD = "/product/202309/images/upload"
Body = dict[str, Any]


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def client(running_sandbox: RunningSandbox) -> Client:
    """A client authorized for the sandbox's TikTok shop (code from the control API)."""
    base = running_sandbox.base_url
    app = httpx.get(f"{base}/sandbox/apps").json()["tiktok"]
    code = httpx.post(f"{base}/sandbox/authorize", json={"platform": "tiktok"}).json()["code"]
    token = httpx.get(
        f"{base}/tiktok-auth/api/v2/token/get",
        params={
            "app_key": app["app_key"],
            "app_secret": app["app_secret"],
            "auth_code": code,
            "grant_type": "authorized_code",
        },
    ).json()["data"]
    signed = Client(base + "/tiktok", app["app_key"], app["app_secret"])
    signed.access_token = token["access_token"]
    signed.cipher = signed.ok("GET", "/authorization/202309/shops", shop=False)["shops"][0][
        "cipher"
    ]
    return signed


def picture(kind: str = "PNG", size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, kind)
    return out.getvalue()


def upload(
    client: Client,
    files: dict[str, tuple[str, bytes, str]],
    fields: dict[str, str] | None = None,
    *,
    sign_body: bool = False,
) -> httpx.Response:
    """Upload Product Image as the documentation says: multipart/form-data, `sign` over the path
    and query only (a multipart body is left out of the signature), no shop_cipher."""
    headers = {"x-tts-access-token": client.access_token}
    if files:
        request = client.http.build_request(
            "POST", client.base + UPLOAD, files=files, data=fields or {}, headers=headers
        )
    else:  # httpx sends a form without files urlencoded: write the multipart body out
        parts = b"".join(
            b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
            % (name.encode(), value.encode())
            for name, value in (fields or {}).items()
        )
        headers["content-type"] = "multipart/form-data; boundary=B"
        request = client.http.build_request(
            "POST", client.base + UPLOAD, content=parts + b"--B--\r\n", headers=headers
        )
    params = {"app_key": client.app_key, "timestamp": str(int(utcnow().timestamp()))}
    body = request.read() if sign_body else b""
    params["sign"] = tts_sign(client.app_secret, UPLOAD, params, body)
    request.url = request.url.copy_merge_params(params)
    return client.http.send(request)


def uploaded(client: Client, count: int = 1) -> list[str]:
    uris = []
    for n in range(count):
        answer = upload(client, {"data": (f"p{n}.png", picture(), "image/png")}).json()
        assert answer["code"] == 0, answer
        uris.append(answer["data"]["uri"])
    return uris


def sku(seller_sku: str, color: str | None, amount: str, quantity: int) -> Body:
    entry: Body = {
        "seller_sku": seller_sku,
        "price": {"amount": amount, "currency": "IDR"},
        "inventory": [{"warehouse_id": WAREHOUSE, "quantity": quantity}],
    }
    if color is not None:
        entry["sales_attributes"] = [{"name": "Color", "value_name": color}]
    return entry


def product_body(uris: list[str]) -> Body:
    return {
        "title": "Kaos Polos Cotton Combed 30s Unisex",
        "description": "<p>Kaos katun combed 30s, adem.</p>",
        "category_id": "100101",
        "main_images": [{"uri": uri} for uri in uris],
        "product_attributes": [
            {"id": "100010", "values": [{"id": "1001"}]},
            {"id": "100020", "values": [{"name": "Cotton"}]},
            {"id": "100030", "values": [{"name": "Casual"}, {"name": "Basic"}]},
        ],
        "package_weight": {"value": "0.35", "unit": "KILOGRAM"},
        "package_dimensions": {"length": "30", "width": "20", "height": "3", "unit": "CENTIMETER"},
        "skus": [sku("KAOS-BLK", "Black", "150000", 7), sku("KAOS-WHT", "White", "155000", 3)],
    }


def refused(response: httpx.Response) -> tuple[int, int, str]:
    payload = response.json()
    assert set(payload) == {"code", "message", "request_id", "data"} and payload["data"] is None
    return response.status_code, payload["code"], payload["message"]


def tiktok_shop(state: SandboxState) -> Shop:
    return state.shops_of("tiktok")[0]


def created_events(state: SandboxState) -> int:
    return sum(1 for e in state.events if e.kind == "listing.created")


# -- categories, attributes, rules, warehouses -------------------------------------------------


def test_categories_answer_the_tree_and_filter_by_keyword(client: Client) -> None:
    tree = client.ok("GET", "/product/202309/categories", query={"locale": "id-ID"})
    shirts = client.ok("GET", "/product/202309/categories", query={"keyword": "SHIRT"})
    bad_version = client.call("GET", "/product/202309/categories", query={"category_version": "v3"})
    bad_locale = client.call("GET", "/product/202309/categories", query={"locale": "xx"})

    assert len(tree["categories"]) == 14
    assert tree["categories"][:3] == [
        {
            "id": "100001",
            "parent_id": "0",
            "local_name": "Fashion",
            "is_leaf": False,
            "permission_statuses": ["AVAILABLE"],
        },
        {
            "id": "100011",
            "parent_id": "100001",
            "local_name": "Men Clothes",
            "is_leaf": False,
            "permission_statuses": ["AVAILABLE"],
        },
        {
            "id": "100101",
            "parent_id": "100011",
            "local_name": "T-Shirts",
            "is_leaf": True,
            "permission_statuses": ["AVAILABLE"],
        },
    ]
    assert [c["id"] for c in shirts["categories"]] == ["100101", "100102"]
    assert refused(bad_version) == (200, 36009004, "category_version must be v1 or v2")
    assert refused(bad_locale)[1:] == (
        36009004,
        "locale must be one of en-GB, en-US, id-ID, ms-MY, th-TH, vi-VN, zh-CN",
    )


def test_attributes_list_product_and_sales_properties_of_a_leaf(client: Client) -> None:
    data = client.ok("GET", "/product/202309/categories/100301/attributes")
    branch = client.call("GET", "/product/202309/categories/100002/attributes")
    unknown = client.call("GET", "/product/202309/categories/999/attributes")

    by_id = {a["id"]: a for a in data["attributes"]}
    assert [a["id"] for a in data["attributes"]] == [
        "100010",
        "100021",
        "100040",
        "100050",
        "100000",
        "100007",
    ]
    assert by_id["100021"] == {
        "id": "100021",
        "name": "Body Material",
        "type": "PRODUCT_PROPERTY",
        "is_requried": True,
        "is_multiple_selection": False,
        "is_customizable": False,
        "values": [
            {"id": "2101", "name": "Stainless Steel"},
            {"id": "2102", "name": "Ceramic"},
            {"id": "2103", "name": "Plastic"},
        ],
    }
    assert by_id["100040"]["value_data_format"] == "POSITIVE_INT_OR_DECIMAL"
    assert by_id["100040"]["is_customizable"] is True and by_id["100040"]["values"] == []
    assert by_id["100000"] == {
        "id": "100000",
        "name": "Color",
        "type": "SALES_PROPERTY",
        "is_requried": False,
        "is_multiple_selection": False,
        "is_customizable": True,
        "values": [],
    }
    assert by_id["100007"]["name"] == "Size" and by_id["100007"]["type"] == "SALES_PROPERTY"
    assert refused(branch) == (
        200,
        12052001,
        "category_id 100002 (Home & Living) is not a leaf category: products take leaf "
        "categories only",
    )
    assert refused(unknown) == (200, 12052001, "category_id 999 does not exist")


def test_rules_ask_for_package_dimensions_and_size_charts_in_fashion(client: Client) -> None:
    shirts = client.ok("GET", "/product/202309/categories/100101/rules")
    mugs = client.ok("GET", "/product/202309/categories/100301/rules")
    branch = client.call("GET", "/product/202309/categories/100011/rules")

    assert shirts == {
        "product_certifications": [],
        "size_chart": {"is_supported": True, "is_required": False},
        "cod": {"is_supported": True},
        "package_dimension": {"is_required": True},
        "epr": {"is_required": False},
    }
    assert mugs["size_chart"] == {"is_supported": False, "is_required": False}
    assert refused(branch)[1] == 12052001


def test_warehouses_list_the_default_sales_warehouse(client: Client) -> None:
    data = client.ok("GET", "/logistics/202309/warehouses")

    assert [
        (w["id"], w["type"], w["effect_status"], w["is_default"]) for w in data["warehouses"]
    ] == [
        (WAREHOUSE, "SALES_WAREHOUSE", "ENABLED", True),
        ("7000714532876274", "RETURN_WAREHOUSE", "ENABLED", True),
    ]


# -- images ------------------------------------------------------------------------------------


def test_an_image_uploads_as_multipart_signed_without_its_body(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    png = picture("PNG", (800, 600))
    jpeg = picture("JPEG", (300, 400))
    webp = picture("WEBP", (120, 100))

    answer = upload(client, {"data": ("shirt.png", png, "image/png")}, {"use_case": "MAIN_IMAGE"})
    jpeg_answer = upload(client, {"data": ("x.jpg", jpeg, "image/jpeg")}).json()
    webp_answer = upload(
        client, {"data": ("x.webp", webp, "image/webp")}, {"use_case": "SIZE_CHART_IMAGE"}
    ).json()
    body_signed = upload(client, {"data": ("shirt.png", png, "image/png")}, sign_body=True)

    data = answer.json()["data"]
    stored = running_sandbox.state.image("tiktok", data["uri"])
    assert answer.status_code == 200 and answer.json()["code"] == 0
    assert data == {
        "uri": stored.id,
        "url": stored.url,
        "width": 800,
        "height": 600,
        "use_case": "MAIN_IMAGE",
    }
    assert (stored.size, stored.content_type) == (len(png), "image/png")
    assert (jpeg_answer["data"]["width"], jpeg_answer["data"]["height"]) == (300, 400)
    assert jpeg_answer["data"]["use_case"] == "MAIN_IMAGE"
    assert running_sandbox.state.image("tiktok", jpeg_answer["data"]["uri"]).content_type == (
        "image/jpeg"
    )
    assert webp_answer["data"]["use_case"] == "SIZE_CHART_IMAGE"
    assert refused(body_signed) == (
        401,
        106001,
        "Invalid credentials. The 'sign' query parameter is invalid.",
    )


def test_uploads_are_refused_when_missing_too_big_or_not_an_image(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    state = running_sandbox.state
    limit = TIKTOK_LIMITS.image_max_bytes
    jpeg = picture("JPEG")
    at_limit = jpeg + b"\0" * (limit - len(jpeg))
    before = len(state.images)

    missing = upload(client, {}, {"use_case": "MAIN_IMAGE"})
    too_big = upload(client, {"data": ("big.jpg", at_limit + b"\0", "image/jpeg")})
    pdf = upload(client, {"data": ("x.png", b"%PDF-1.4 not an image", "image/png")})
    gif = upload(client, {"data": ("x.gif", picture("GIF"), "image/gif")})
    use_case = upload(client, {"data": ("x.png", picture(), "image/png")}, {"use_case": "LOGO"})
    assert len(state.images) == before
    exactly = upload(client, {"data": ("big.jpg", at_limit, "image/jpeg")}).json()

    assert refused(missing) == (200, 36009004, "data (the image file) is required")
    assert refused(too_big) == (
        200,
        12052102,
        f"data: the image is {limit + 1} bytes, at most {limit} (5 MB)",
    )
    assert refused(pdf) == (200, 12052101, "data: the file is not a JPG, PNG or WEBP image")
    assert refused(gif) == (200, 12052101, "data: the file is not a JPG, PNG or WEBP image")
    assert refused(use_case)[1:] == (
        36009004,
        "use_case must be one of MAIN_IMAGE, ATTRIBUTE_IMAGE, DESCRIPTION_IMAGE, "
        "CERTIFICATION_IMAGE, SIZE_CHART_IMAGE",
    )
    assert exactly["code"] == 0 and len(state.images) == before + 1


# -- create product ----------------------------------------------------------------------------


def test_create_product_makes_the_listing_and_it_reads_back_everywhere(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    state, uris = running_sandbox.state, uploaded(client, 2)
    shop = tiktok_shop(state)
    before = len(shop.items)

    made = client.ok("POST", PRODUCTS, body=product_body(uris))
    detail = client.ok("GET", f"{PRODUCTS}/{made['product_id']}")
    search = client.ok(
        "POST",
        "/product/202309/products/search",
        query={"page_size": "10"},
        body={"seller_skus": ["KAOS-WHT"]},
    )
    with httpx.Client(base_url=f"{running_sandbox.base_url}/sandbox") as control:
        listings = control.get(
            "/listings", params={"platform": "tiktok", "shop_id": shop.id}
        ).json()

    item = shop.items[made["product_id"]]
    black, white = item.models
    color_black = {"id": "100000", "value_id": made["skus"][0]["sales_attributes"][0]["value_id"]}
    assert len(shop.items) == before + 1 and created_events(state) == 1
    assert made == {
        "product_id": item.id,
        "skus": [
            {"id": black.id, "seller_sku": "KAOS-BLK", "sales_attributes": [color_black]},
            {
                "id": white.id,
                "seller_sku": "KAOS-WHT",
                "sales_attributes": [
                    {
                        "id": "100000",
                        "value_id": made["skus"][1]["sales_attributes"][0]["value_id"],
                    }
                ],
            },
        ],
        "warnings": [],
    }
    assert color_black["value_id"] != made["skus"][1]["sales_attributes"][0]["value_id"]
    assert (item.status, item.category_id, item.weight_grams, item.dimensions_cm) == (
        "ACTIVATE",
        "100101",
        350,
        (30, 20, 3),
    )
    assert item.attributes == {
        "100010": ["1001"],
        "100020": ["Cotton"],
        "100030": ["Casual", "Basic"],
    }
    assert item.images == [state.image("tiktok", uri).url for uri in uris]
    assert [(m.sku, m.name, m.options, m.price, m.stock, m.warehouse_id) for m in item.models] == [
        ("KAOS-BLK", "Black", [("Color", "Black")], 150000, 7, WAREHOUSE),
        ("KAOS-WHT", "White", [("Color", "White")], 155000, 3, WAREHOUSE),
    ]
    assert detail["title"] == "Kaos Polos Cotton Combed 30s Unisex"
    assert detail["description"] == "<p>Kaos katun combed 30s, adem.</p>"
    assert detail["status"] == "ACTIVATE"
    assert detail["skus"][0] == {
        "id": black.id,
        "seller_sku": "KAOS-BLK",
        "price": {"currency": "IDR", "sale_price": "150000", "tax_exclusive_price": "150000"},
        "inventory": [{"warehouse_id": WAREHOUSE, "quantity": 7}],
        "sales_attributes": [
            {
                "id": "100000",
                "name": "Color",
                "value_id": color_black["value_id"],
                "value_name": "Black",
            }
        ],
    }
    assert [c["local_name"] for c in detail["category_chains"]] == [
        "Fashion",
        "Men Clothes",
        "T-Shirts",
    ]
    assert detail["product_attributes"] == [
        {"id": "100010", "name": "Brand", "values": [{"id": "1001", "name": "Erigo"}]},
        {"id": "100020", "name": "Material", "values": [{"id": "2001", "name": "Cotton"}]},
        {
            "id": "100030",
            "name": "Style",
            "values": [
                {"id": detail["product_attributes"][2]["values"][0]["id"], "name": "Casual"},
                {"id": detail["product_attributes"][2]["values"][1]["id"], "name": "Basic"},
            ],
        },
    ]
    assert detail["package_weight"] == {"value": "0.35", "unit": "KILOGRAM"}
    assert detail["package_dimensions"] == {
        "length": "30",
        "width": "20",
        "height": "3",
        "unit": "CENTIMETER",
    }
    assert [(i["uri"], i["width"], i["height"]) for i in detail["main_images"]] == [
        (uris[0], 640, 480),
        (uris[1], 640, 480),
    ]
    assert [p["id"] for p in search["products"]] == [item.id]
    assert [
        (s["seller_sku"], s["inventory"][0]["quantity"]) for s in search["products"][0]["skus"]
    ] == [
        ("KAOS-BLK", 7),
        ("KAOS-WHT", 3),
    ]
    assert [
        (row["sku"], row["model_name"], row["stock"], row["price"])
        for row in listings
        if row["item_id"] == item.id
    ] == [
        ("KAOS-BLK", "Black", 7, "150000"),
        ("KAOS-WHT", "White", 3, "155000"),
    ]


def test_a_single_sku_without_sales_attributes_and_a_default_warehouse(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    body = product_body(uploaded(client))
    body["skus"] = [
        {
            "seller_sku": "TMBL-1",
            "price": {"amount": "89000", "currency": "IDR"},
            "inventory": [{"quantity": 12}],
        }
    ]

    made = client.ok("POST", PRODUCTS, body=body)
    detail = client.ok("GET", f"{PRODUCTS}/{made['product_id']}")

    [model] = tiktok_shop(running_sandbox.state).items[made["product_id"]].models
    assert made["skus"] == [{"id": model.id, "seller_sku": "TMBL-1", "sales_attributes": []}]
    assert (model.name, model.options, model.stock, model.warehouse_id) == ("", [], 12, WAREHOUSE)
    assert detail["skus"][0]["sales_attributes"] == []
    assert detail["skus"][0]["inventory"] == [{"warehouse_id": WAREHOUSE, "quantity": 12}]


def _set(path: str, value: Any) -> Callable[[Body], None]:
    """A change to the body at `path` (dots and list indexes; a value of ... deletes)."""

    def change(body: Body) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        key: Any = int(last) if last.isdigit() else last
        if value is ...:
            del target[key]
        else:
            target[key] = value

    return change


def _more_images(body: Body) -> None:
    body["main_images"] = body["main_images"] * 10  # one uploaded image, ten times


REFUSALS = [
    (
        "short title",
        _set("title", "Kaos Polos"),
        12052002,
        "title must be 25 to 255 characters long, got 10",
    ),
    (
        "ten images",
        _more_images,
        12052004,
        "main_images: 1 to 9 images, got 10",
    ),
    (
        "unknown image",
        _set("main_images.0.uri", "nope"),
        12052004,
        "main_images[0].uri 'nope' was not uploaded (images/upload)",
    ),
    (
        "missing required attribute",
        _set("product_attributes.1", {"id": "100050", "values": [{"id": "3001"}]}),
        12052005,
        "product_attributes: the required attribute Material (100020) is missing",
    ),
    (
        "disallowed value",
        _set("product_attributes.1.values", [{"name": "Silk"}]),
        12052006,
        "product_attributes: 'Silk' is not an allowed value of Material (100020); allowed: "
        "Cotton, Polyester, Fleece, Voal",
    ),
    (
        "two values for a single-value attribute",
        _set("product_attributes.1.values", [{"id": "2001"}, {"id": "2002"}]),
        12052006,
        "product_attributes: Material (100020) takes one value, got 2",
    ),
    (
        "attribute of another category",
        _set("product_attributes.2", {"id": "100021", "values": [{"id": "2101"}]}),
        12052006,
        "product_attributes: attribute 100021 does not belong to category 100101",
    ),
    (
        "no package dimensions",
        _set("package_dimensions", ...),
        12052008,
        "package_dimensions is required in this category (rules: package_dimension)",
    ),
    (
        "zero height",
        _set("package_dimensions.height", "0"),
        12052008,
        "package_dimensions.height must be a positive whole number string, got '0'",
    ),
    (
        "pounds in Indonesia",
        _set("package_weight.unit", "POUND"),
        12052007,
        "package_weight.unit: only KILOGRAM outside the US",
    ),
    (
        "duplicate sales attribute combination",
        _set("skus.1.sales_attributes.0.value_name", "black"),
        12052012,
        "skus[1].sales_attributes: black is already skus[0]",
    ),
    (
        "sales attributes that differ",
        _set("skus.1.sales_attributes.0.name", "Size"),
        12052012,
        "skus[1].sales_attributes: every SKU takes Color in that order, got Size",
    ),
    (
        "several SKUs, one without sales attributes",
        _set("skus.1.sales_attributes", []),
        12052012,
        "skus[1].sales_attributes: a product with several SKUs needs sales attributes on each",
    ),
    (
        "price below the minimum",
        _set("skus.0.price.amount", "99"),
        12052010,
        "skus[0].price.amount must be a decimal string from 100 to 100000000, got '99'",
    ),
    (
        "another currency",
        _set("skus.1.price.currency", "MYR"),
        12052014,
        "skus[1].price.currency must be IDR",
    ),
    (
        "too much stock",
        _set("skus.0.inventory.0.quantity", 100_000),
        12052011,
        "skus[0].inventory[0].quantity must be from 0 to 99999, got 100000",
    ),
    (
        "another warehouse",
        _set("skus.0.inventory.0.warehouse_id", "123"),
        12052015,
        "skus[0].inventory[0].warehouse_id '123' is not a sales warehouse of the shop",
    ),
    (
        "same seller SKU twice",
        _set("skus.1.seller_sku", "KAOS-BLK"),
        12052013,
        "skus[1].seller_sku 'KAOS-BLK' is already skus[0]",
    ),
    (
        "a branch category",
        _set("category_id", "100011"),
        12052001,
        "category_id 100011 (Men Clothes) is not a leaf category: products take leaf "
        "categories only",
    ),
    (
        "skus not a list",
        _set("skus", {"seller_sku": "X"}),
        36009004,
        "skus is required: a list of objects",
    ),
]


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [pytest.param(change, code, message, id=name) for name, change, code, message in REFUSALS],
)
def test_create_product_refusals_name_the_field_and_create_nothing(
    running_sandbox: RunningSandbox,
    client: Client,
    change: Callable[[Body], None],
    code: int,
    message: str,
) -> None:
    state = running_sandbox.state
    body = product_body(uploaded(client))
    change(body)
    items = set(tiktok_shop(state).items)

    answer = client.call("POST", PRODUCTS, body=body)

    assert refused(answer) == (200, code, message)
    assert set(tiktok_shop(state).items) == items and created_events(state) == 0


def test_three_hundred_skus_are_taken_and_three_hundred_and_one_refused(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    body = product_body(uploaded(client))
    body["skus"] = [sku(f"S-{n}", f"C{n}", "10000", 1) for n in range(301)]
    over = client.call("POST", PRODUCTS, body=body)
    body["skus"] = body["skus"][:300]

    made = client.ok("POST", PRODUCTS, body=body)

    assert refused(over) == (200, 12052009, "skus: 1 to 300 SKUs, got 301")
    assert len(tiktok_shop(running_sandbox.state).items[made["product_id"]].models) == 300


def test_the_limits_are_inclusive(running_sandbox: RunningSandbox, client: Client) -> None:
    limits = TIKTOK_LIMITS
    body = product_body(uploaded(client, 9))
    body["title"] = "T" * limits.title_max
    body["description"] = "d" * limits.description_max
    body["skus"] = [
        sku("LOW", "Black", str(limits.price_min), limits.stock_min),
        sku("HIGH", "White", str(limits.price_max), limits.stock_max),
    ]
    longer = copy.deepcopy(body)
    longer["title"] += "T"
    wordier = copy.deepcopy(body)
    wordier["description"] += "d"
    dearer = copy.deepcopy(body)
    dearer["skus"][1]["price"]["amount"] = str(limits.price_max + 1)

    made = client.ok("POST", PRODUCTS, body=body)

    item = tiktok_shop(running_sandbox.state).items[made["product_id"]]
    assert (len(item.images), len(item.title), len(item.description)) == (9, 255, 10_000)
    assert [(m.price, m.stock) for m in item.models] == [(100, 0), (100_000_000, 99_999)]
    assert refused(client.call("POST", PRODUCTS, body=longer)) == (
        200,
        12052002,
        "title must be 25 to 255 characters long, got 256",
    )
    assert refused(client.call("POST", PRODUCTS, body=wordier)) == (
        200,
        12052003,
        "description: at most 10000 characters, got 10001",
    )
    assert refused(client.call("POST", PRODUCTS, body=dearer))[1:] == (
        12052010,
        "skus[1].price.amount must be a decimal string from 100 to 100000000, got '100000001'",
    )


# -- edit and partial edit ---------------------------------------------------------------------


def test_edit_replaces_the_product_matching_skus_by_id_then_seller_sku(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    state, uris = running_sandbox.state, uploaded(client, 2)
    made = client.ok("POST", PRODUCTS, body=product_body(uris))
    black_id, white_id = (s["id"] for s in made["skus"])
    body = product_body(uris[1:])
    body["title"] = "Kaos Polos Cotton Combed 30s Edisi Baru"
    body["skus"] = [
        {**sku("KAOS-BLACK", "Black", "160000", 9), "id": black_id},  # renamed, matched by id
        sku("KAOS-WHT", "White", "155000", 3),  # matched by seller SKU
        sku("KAOS-NVY", "Navy", "150000", 5),  # new
    ]
    events_before = len(state.events)

    edited = client.ok("PUT", f"{PRODUCTS}/{made['product_id']}", body=body)
    foreign = copy.deepcopy(body)
    foreign["skus"][0]["id"] = "1"
    refused_edit = client.call("PUT", f"{PRODUCTS}/{made['product_id']}", body=foreign)
    missing = client.call("PUT", f"{PRODUCTS}/42", body=body)

    item = tiktok_shop(state).items[made["product_id"]]
    assert [s["id"] for s in edited["skus"]][:2] == [black_id, white_id]
    assert edited["skus"][2]["id"] not in (black_id, white_id)
    assert [(m.sku, m.name, m.price, m.stock) for m in item.models] == [
        ("KAOS-BLACK", "Black", 160000, 9),
        ("KAOS-WHT", "White", 155000, 3),
        ("KAOS-NVY", "Navy", 150000, 5),
    ]
    assert item.title == "Kaos Polos Cotton Combed 30s Edisi Baru"
    assert item.images == [state.image("tiktok", uris[1]).url]
    stock_events = [e.data for e in list(state.events)[events_before:] if e.kind == "stock.changed"]
    assert stock_events == [{"item_id": item.id, "model_id": black_id, "stock": 9}]
    assert refused(refused_edit) == (
        200,
        12052009,
        f"skus[0].id 1 does not belong to product {item.id}",
    )
    assert refused(missing) == (200, 36009004, "product 42 does not exist in this shop")
    assert [m.sku for m in item.models] == ["KAOS-BLACK", "KAOS-WHT", "KAOS-NVY"]


def test_partial_edit_changes_only_the_fields_given(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    state, uris = running_sandbox.state, uploaded(client, 2)
    made = client.ok("POST", PRODUCTS, body=product_body(uris))
    path = f"{PRODUCTS}/{made['product_id']}/partial_edit"
    item = tiktok_shop(state).items[made["product_id"]]
    models = copy.deepcopy(item.models)

    answer = client.ok(
        "POST",
        path,
        body={
            "title": "Kaos Polos Cotton Combed 30s Premium",
            "description": "<p>Baru</p>",
            "package_weight": {"value": "1.2", "unit": "KILOGRAM"},
        },
    )
    short = client.call("POST", path, body={"title": "Kaos", "description": "<p>x</p>"})
    skus = client.call("POST", path, body={"skus": []})
    empty = client.call("POST", path, body={})
    attributes = client.call(
        "POST", path, body={"product_attributes": [{"id": "100010", "values": [{"id": "0"}]}]}
    )

    assert answer == {"product_id": item.id}
    assert (item.title, item.description, item.weight_grams) == (
        "Kaos Polos Cotton Combed 30s Premium",
        "<p>Baru</p>",
        1200,
    )
    assert item.dimensions_cm == (30, 20, 3) and item.models == models
    assert item.images == [state.image("tiktok", uri).url for uri in uris]
    assert refused(short) == (200, 12052002, "title must be 25 to 255 characters long, got 4")
    assert item.description == "<p>Baru</p>"
    assert refused(skus) == (200, 36009004, "skus cannot be changed by partial_edit in the sandbox")
    assert refused(empty)[1] == 36009004
    assert refused(attributes) == (
        200,
        12052005,
        "product_attributes: the required attribute Material (100020) is missing",
    )
    assert item.attributes["100010"] == ["1001"]

    client.ok(
        "POST",
        path,
        body={
            "main_images": [{"uri": uris[1]}],
            "package_dimensions": {
                "length": "31",
                "width": "21",
                "height": "4",
                "unit": "CENTIMETER",
            },
        },
    )

    assert item.images == [state.image("tiktok", uris[1]).url]
    assert (item.dimensions_cm, item.weight_grams, item.title) == (
        (31, 21, 4),
        1200,
        "Kaos Polos Cotton Combed 30s Premium",
    )


# -- search 202502 -----------------------------------------------------------------------------


def test_search_202502_finds_a_new_product_with_the_202502_fields(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    made = client.ok("POST", PRODUCTS, body=product_body(uploaded(client)))
    query, body = {"page_size": "5"}, {"seller_skus": ["KAOS-BLK"], "status": "ACTIVATE"}

    new = client.ok("POST", "/product/202502/products/search", query=query, body=body)
    old = client.ok("POST", "/product/202309/products/search", query=query, body=body)
    whole = client.ok("POST", "/product/202502/products/search", query={"page_size": "100"})

    [product] = new["products"]
    assert (product["id"], new["total_count"], new["next_page_token"]) == (
        made["product_id"],
        1,
        "",
    )
    assert product["audit"] == {"status": "APPROVED", "pre_approved_reasons": []}
    assert (product["has_draft"], product["product_tags"], product["recommended_categories"]) == (
        False,
        [],
        [],
    )
    assert [s["status_info"] for s in product["skus"]] == [{"status": "NORMAL"}] * 2
    assert {k: v for k, v in product.items() if k not in old["products"][0]} == {
        "audit": product["audit"],
        "has_draft": False,
        "product_tags": [],
        "recommended_categories": [],
    }
    assert "status_info" not in old["products"][0]["skus"][0]
    assert whole["total_count"] == len(tiktok_shop(running_sandbox.state).items)
    assert whole["products"][0]["id"] == made["product_id"]  # newest first


def test_publishing_calls_need_a_signed_token_and_a_shop_cipher(client: Client) -> None:
    no_cipher = client.call("GET", "/product/202309/categories", shop=False)
    expired = client.call("GET", "/product/202309/categories", timestamp=int(time.time()) - 3600)

    assert refused(no_cipher) == (200, 36009004, "shop_cipher is required for this endpoint")
    assert refused(expired) == (401, 36009004, "timestamp is expired or in the future")
