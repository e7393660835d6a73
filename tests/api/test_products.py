"""Products through the API: the same catalog service as the UI, its rules and its errors."""

from __future__ import annotations

from decimal import Decimal

from storesync.catalog.models import Product, ProductVariant
from tests.api.conftest import ApiWorld


def test_create_get_list_update_and_delete_a_product(world: ApiWorld) -> None:
    created = world.api.post(
        "/products",
        json={
            "handle": "kaos-polos",
            "title": "Kaos Polos",
            "variants": [
                {"sku": "KP-S", "options": {"size": "S"}, "price": "59000"},
                {"sku": "KP-M", "options": {"size": "M"}, "price": "59000"},
            ],
        },
    )
    assert created.status_code == 201, created.text
    product = created.json()
    assert sorted(v["sku"] for v in product["variants"]) == ["KP-M", "KP-S"]

    got = world.api.get(f"/products/{product['id']}")
    assert got.status_code == 200 and got.json()["title"] == "Kaos Polos"

    listed = world.api.get("/products", params={"search": "kp-m"})
    assert [p["handle"] for p in listed.json()["items"]] == ["kaos-polos"]

    changed = world.api.patch(f"/products/{product['id']}", json={"title": "Kaos Polos Katun"})
    assert changed.status_code == 200 and changed.json()["title"] == "Kaos Polos Katun"

    variant = product["variants"][0]["id"]
    priced = world.api.patch(f"/products/variants/{variant}", json={"price": "61000"})
    assert priced.status_code == 200 and Decimal(priced.json()["price"]) == Decimal(61000)

    deleted = world.api.delete(f"/products/{product['id']}")
    assert deleted.status_code == 200 and deleted.json()["deleted_at"] is not None
    assert world.api.get(f"/products/{product['id']}").status_code == 404
    assert world.api.get("/products").json()["items"] == []


def test_keyset_pages_walk_every_product_once(world: ApiWorld) -> None:
    for n in range(5):
        assert (
            world.api.post("/products", json={"handle": f"p-{n}", "title": f"P {n}"}).status_code
            == 201
        )

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = world.api.get("/products", params=params).json()
        seen += [p["handle"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [f"p-{n}" for n in range(5)]


def test_bad_input_names_the_field_and_writes_nothing(world: ApiWorld) -> None:
    missing = world.api.post("/products", json={"handle": "x"})
    negative = world.api.post(
        "/products", json={"handle": "x", "title": "X", "variants": [{"sku": "X", "price": "-1"}]}
    )
    bad_status = world.api.get("/products", params={"status": "sold"})
    bad_id = world.api.get("/products/not-a-uuid")
    bad_limit = world.api.get("/products", params={"limit": 0})

    assert (missing.status_code, missing.json()["details"]["field"]) == (422, "title")
    assert negative.status_code == 422 and negative.json()["details"]["field"] == "price"
    assert (bad_status.status_code, bad_status.json()["details"]["field"]) == (422, "status")
    assert (bad_id.status_code, bad_id.json()["details"]["field"]) == (422, "product_id")
    assert (bad_limit.status_code, bad_limit.json()["details"]["field"]) == (422, "limit")
    assert missing.json()["type"] == "validation" and missing.json()["retryable"] is False
    assert (world.count(Product), world.count(ProductVariant)) == (0, 0)


def test_a_taken_sku_is_a_conflict_and_the_first_product_stays(world: ApiWorld) -> None:
    first = world.api.post("/products", json={"handle": "a", "title": "A", "sku": "SAME"})
    second = world.api.post("/products", json={"handle": "b", "title": "B", "sku": "SAME"})

    assert first.status_code == 201
    assert (second.status_code, second.json()["type"]) == (409, "conflict")
    assert (world.count(Product), world.count(ProductVariant)) == (1, 1)


def test_bulk_update_reports_each_item(world: ApiWorld) -> None:
    world.api.post("/products", json={"handle": "a", "title": "A", "sku": "A-1"})

    result = world.api.post(
        "/products/bulk",
        json={"items": [{"sku": "A-1", "price": "1000"}, {"sku": "NOPE", "price": "5"}]},
    )

    assert result.status_code == 200
    body = result.json()
    assert (body["succeeded"], body["failed"]) == (1, 1)
    assert [i["ok"] for i in body["items"]] == [True, False]


def test_malformed_json_is_a_400_and_an_unknown_field_a_422(world: ApiWorld) -> None:
    broken = world.api.post(
        "/products", content=b'{"handle": ', headers={"Content-Type": "application/json"}
    )
    unknown = world.api.post("/products", json={"handle": "a", "title": "A", "colour": "red"})

    assert (broken.status_code, broken.json()["code"]) == (400, "malformed_json")
    assert (unknown.status_code, unknown.json()["details"]["field"]) == (422, "colour")
    assert world.count(Product) == 0
