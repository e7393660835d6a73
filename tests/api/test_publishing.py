"""Publishing through the API against the sandbox over HTTP: the store's categories and a
category's attributes and rules, a product checked then published (refused first naming the
field, nothing created), where it is published, a store's own title, and the bulk publish and
content jobs queued."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal

import pytest
from PIL import Image

from storesync.catalog import service as catalog
from storesync.catalog.content import images
from storesync.catalog.schemas import VariantInput
from storesync.db import session_scope
from storesync.settings import Settings
from storesync.sync.models import Publication, SyncJob
from tests.api.conftest import ApiWorld
from tests.api.test_stores import marketplace  # noqa: F401
from tests.channels.conftest import connect_store
from tests.sandbox.conftest import RunningSandbox, running_sandbox  # noqa: F401
from tests.sync.listings_fixtures import shop

TITLE = "Kaos Polos Cotton Combed 30s Premium"
FORM = {
    "category_id": "100101",
    "attributes": [
        {"attribute_id": "100010", "values": [{"value_id": "0", "name": "No Brand"}]},
        {"attribute_id": "100020", "values": [{"value_id": "2001", "name": "Cotton"}]},
    ],
    "logistics_ids": ["8003"],
}


def _product(world: ApiWorld, sku: str) -> uuid.UUID:
    out = io.BytesIO()
    Image.new("RGB", (300, 300), "olive").save(out, "PNG")
    with session_scope(world.ctx, engine=world.engine) as session:
        product = catalog.create_product(
            session,
            ctx=world.ctx,
            title=TITLE,
            description="Kaos polos bahan cotton combed 30s, adem dan nyaman dipakai.",
            variants=[
                VariantInput(
                    sku=f"{sku}-S", options={"Size": "S"}, price=Decimal("45000"), weight_grams=200
                ),
                VariantInput(
                    sku=f"{sku}-M", options={"Size": "M"}, price=Decimal("46000"), weight_grams=220
                ),
            ],
        )
        images.add_image(session, ctx=world.ctx, product_id=product.id, data=out.getvalue())
    return product.id


@pytest.mark.postgres
def test_a_product_is_checked_published_and_its_store_title_kept_through_the_api(
    world: ApiWorld,
    marketplace: Settings,  # noqa: F811
    running_sandbox: RunningSandbox,  # noqa: F811
) -> None:
    store = connect_store(world.engine, world.ctx, "shopee", marketplace)
    product = _product(world, "APIK")
    items_before = len(shop(running_sandbox, "shopee").items)

    tree = world.api.get(f"/stores/{store}/categories")
    fresh = world.api.get(f"/stores/{store}/categories", params={"refresh": "true"})
    detail = world.api.get(f"/stores/{store}/categories/100101")
    not_a_leaf = world.api.get(f"/stores/{store}/categories/100001")
    without_brand = {**FORM, "attributes": FORM["attributes"][1:]}
    checked = world.api.post(
        f"/stores/{store}/publish/check",
        json={"product_ids": [str(product)], "form": without_brand},
    )
    refused = world.api.post(
        f"/products/{product}/publish", json={"store_id": str(store), **without_brand}
    )

    assert tree.status_code == 200 and tree.json() == fresh.json()
    assert {"category_id": "100101", "parent_id": "100011", "name": "T-Shirts", "leaf": True} in (
        tree.json()
    )
    assert detail.status_code == 200
    required = sorted(a["name"] for a in detail.json()["attributes"] if a["required"])
    assert required == ["Brand", "Material"]
    assert detail.json()["rules"]["needs_logistics"] is True
    assert not_a_leaf.status_code == 422
    assert not_a_leaf.json()["details"]["field"] == "category_id"
    assert checked.status_code == 200
    assert checked.json() == [
        {
            "product_id": str(product),
            "problems": [{"field": "attributes.Brand", "message": "is required in this category"}],
        }
    ]
    assert refused.status_code == 422
    assert refused.json()["details"]["field"] == "attributes.Brand"
    assert len(shop(running_sandbox, "shopee").items) == items_before  # nothing sent
    assert world.count(Publication) == 0

    viewer, read_only = world.key("write", role="viewer"), world.key("stores:read")
    not_allowed = [
        world.api.post(
            f"/products/{product}/publish", json={"store_id": str(store), **FORM}, key=key
        )
        for key in (viewer, read_only)
    ]
    assert [(r.status_code, r.json()["code"]) for r in not_allowed] == [
        (403, "permission_denied"),
        (403, "scope_missing"),
    ]
    assert world.count(Publication) == 0

    published = world.api.post(
        f"/products/{product}/publish", json={"store_id": str(store), **FORM}
    )
    again = world.api.post(f"/products/{product}/publish", json={"store_id": str(store), **FORM})
    where = world.api.get(f"/products/{product}/publications")

    assert published.status_code == 201, published.text
    body = published.json()
    assert (body["ok"], body["listings"]) == (True, 2)
    item = shop(running_sandbox, "shopee").items[body["platform_item_id"]]
    assert sorted(m.sku for m in item.models) == ["APIK-M", "APIK-S"]
    assert again.status_code == 422
    assert again.json()["details"]["field"] == "product_id"
    assert [(p["store_id"], p["status"]) for p in where.json()] == [(str(store), "published")]

    jobs_before = world.count(SyncJob)
    title = world.api.get(f"/products/{product}").json()["title"]
    same = world.api.patch(f"/products/{product}", json={"title": title, "handle": "apik-kaos"})
    assert same.status_code == 200, same.text
    assert world.count(SyncJob) == jobs_before  # the channels show nothing it changed
    kept = world.api.put(
        f"/stores/{store}/publications/{product}",
        json={"title_override": "Kaos Polos Shopee Only Edition"},
    )
    unknown = world.api.put(
        f"/stores/{store}/publications/{uuid.uuid4()}", json={"title_override": "x"}
    )
    assert kept.status_code == 200
    assert kept.json()["title_override"] == "Kaos Polos Shopee Only Edition"
    assert unknown.status_code == 404
    assert world.count(SyncJob) == jobs_before + 1  # the content push, queued

    content = world.api.post(f"/stores/{store}/content", json={"product_ids": [str(product)]})
    assert content.status_code == 409  # the one queued above reads the products when it runs


@pytest.mark.postgres
def test_many_products_are_published_as_one_job(
    world: ApiWorld,
    marketplace: Settings,  # noqa: F811
) -> None:
    store = connect_store(world.engine, world.ctx, "shopee", marketplace)
    products = [_product(world, f"BULK{n}") for n in range(3)]

    queued = world.api.post(
        f"/stores/{store}/publish",
        json={"product_ids": [str(p) for p in products], "form": FORM},
    )
    too_many = world.api.post(
        f"/stores/{store}/publish",
        json={"product_ids": [str(uuid.uuid4()) for _ in range(501)], "form": FORM},
    )
    content = world.api.post(f"/stores/{store}/content", json={"product_ids": [str(products[0])]})

    assert queued.status_code == 202, queued.text
    job = world.api.get(f"/jobs/{queued.json()['job_id']}")
    assert (job.json()["kind"], job.json()["status"]) == ("publish", "queued")
    assert job.json()["params"]["product_ids"] == sorted(str(p) for p in products)
    assert too_many.status_code == 422
    assert content.status_code == 202
