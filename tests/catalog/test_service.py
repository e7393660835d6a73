"""Products and variants: creation, SKU/handle uniqueness, updates, soft delete, search,
pagination, bulk edits and permissions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from storesync.catalog import service as catalog
from storesync.catalog.errors import HandleTaken, SkuTaken
from storesync.catalog.schemas import (
    BulkUpdateItem,
    ProductDTO,
    ProductUpdate,
    VariantInput,
    VariantUpdate,
)
from storesync.core.errors import NotFound, PermissionDenied, ValidationFailed
from storesync.db import session_scope
from storesync.tenancy.context import RequestContext
from tests.catalog.conftest import counts, new_org, viewer_of


def make_product(engine: Engine, ctx: RequestContext, handle: str, **kwargs: Any) -> ProductDTO:
    with session_scope(ctx, engine=engine) as session:
        return catalog.create_product(
            session, ctx=ctx, handle=handle, title=kwargs.pop("title", handle.title()), **kwargs
        )


def test_product_without_variants_gets_one_default_variant_named_after_its_handle(
    engine: Engine, owner: RequestContext
) -> None:
    product = make_product(engine, owner, "kaos-polos")
    given = make_product(engine, owner, "topi", sku="TP-01")

    assert [v.sku for v in product.variants] == ["KAOS-POLOS"]
    assert product.variants[0].currency == "IDR"
    assert product.variants[0].price is None
    assert [v.sku for v in given.variants] == ["TP-01"]
    assert counts(engine, owner).variants == 2


def test_product_with_variants_keeps_their_fields(engine: Engine, owner: RequestContext) -> None:
    product = make_product(
        engine,
        owner,
        "kaos",
        variants=[
            VariantInput(sku="KAOS-S", options={"Size": "S"}, price=Decimal("59000")),
            VariantInput(sku="KAOS-M", options={"Size": "M"}, currency="sgd", weight_grams=210),
        ],
        attributes={"material": "cotton"},
        images=["https://img.example.com/k.jpg"],
    )

    with session_scope(owner, engine=engine) as session:
        fetched = catalog.get_product(session, ctx=owner, product_id=product.id)
    assert fetched == product
    assert [(v.sku, v.options, v.currency) for v in fetched.variants] == [
        ("KAOS-M", {"Size": "M"}, "SGD"),
        ("KAOS-S", {"Size": "S"}, "IDR"),
    ]
    assert fetched.variants[1].price == Decimal("59000")
    assert fetched.attributes == {"material": "cotton"}


def test_sku_used_by_another_product_is_a_conflict_naming_the_field_and_writes_nothing(
    engine: Engine, owner: RequestContext
) -> None:
    make_product(engine, owner, "kaos", sku="SKU-1")
    before = counts(engine, owner)

    with pytest.raises(SkuTaken) as raised:
        make_product(engine, owner, "topi", sku="SKU-1")

    assert raised.value.code == "sku_taken"
    assert raised.value.details["field"] == "sku"
    assert raised.value.message == "sku: 'SKU-1' is already used by a variant of product 'kaos'"
    assert counts(engine, owner) == before


def test_create_and_update_variant_refuse_a_taken_sku(
    engine: Engine, owner: RequestContext
) -> None:
    kaos = make_product(engine, owner, "kaos", sku="KAOS")
    topi = make_product(engine, owner, "topi", sku="TOPI")

    with session_scope(owner, engine=engine) as session:
        with pytest.raises(SkuTaken):
            catalog.create_variant(
                session, ctx=owner, product_id=topi.id, variant=VariantInput(sku="KAOS")
            )
        with pytest.raises(SkuTaken):
            catalog.update_variant(
                session,
                ctx=owner,
                variant_id=topi.variants[0].id,
                changes=VariantUpdate(sku="KAOS"),
            )
        renamed = catalog.update_variant(
            session, ctx=owner, variant_id=kaos.variants[0].id, changes=VariantUpdate(sku="KAOS")
        )

    assert renamed.sku == "KAOS"
    assert counts(engine, owner).variants == 2


def test_sku_may_repeat_across_organizations(engine: Engine, owner: RequestContext) -> None:
    other = new_org(engine)
    make_product(engine, other, "kaos", sku="SAME")

    product = make_product(engine, owner, "kaos", sku="SAME")

    assert product.variants[0].sku == "SAME"


def test_taken_handle_and_bad_fields_are_refused_with_the_field_named(
    engine: Engine, owner: RequestContext
) -> None:
    make_product(engine, owner, "kaos")
    before = counts(engine, owner)

    with pytest.raises(HandleTaken) as taken:
        make_product(engine, owner, "kaos", sku="OTHER")
    with pytest.raises(ValidationFailed) as negative:
        make_product(engine, owner, "topi", variants=[VariantInput(sku="T", price=Decimal(-1))])
    with pytest.raises(ValidationFailed) as status:
        make_product(engine, owner, "sepatu", status="sold")
    with pytest.raises(ValidationFailed) as spaces:
        make_product(engine, owner, "tas besar")

    assert taken.value.details["field"] == "handle"
    assert negative.value.details["field"] == "price"
    assert negative.value.message == "price: must not be negative"
    assert status.value.details["field"] == "status"
    assert spaces.value.message == "handle: must not contain spaces"
    assert counts(engine, owner) == before


def test_update_product_and_variant_apply_only_the_given_fields(
    engine: Engine, owner: RequestContext
) -> None:
    product = make_product(
        engine,
        owner,
        "kaos",
        brand="Maju",
        variants=[VariantInput(sku="K", price=Decimal("10"), cost=Decimal("4"))],
    )

    with session_scope(owner, engine=engine) as session:
        updated = catalog.update_product(
            session, ctx=owner, product_id=product.id, changes=ProductUpdate(title="Kaos Baru")
        )
        variant = catalog.update_variant(
            session, ctx=owner, variant_id=product.variants[0].id, changes=VariantUpdate(price=None)
        )

    assert (updated.title, updated.brand, updated.handle) == ("Kaos Baru", "Maju", "kaos")
    assert updated.updated_at is not None
    assert (variant.price, variant.cost) == (None, Decimal("4"))


def test_deleted_product_disappears_but_keeps_its_handle_and_skus(
    engine: Engine, owner: RequestContext
) -> None:
    product = make_product(engine, owner, "kaos", sku="KAOS")

    with session_scope(owner, engine=engine) as session:
        deleted = catalog.delete_product(session, ctx=owner, product_id=product.id)
    with session_scope(owner, engine=engine) as session:
        with pytest.raises(NotFound):
            catalog.get_product(session, ctx=owner, product_id=product.id)
        listed = catalog.list_products(session, ctx=owner)
    with pytest.raises(SkuTaken):
        make_product(engine, owner, "kaos-2", sku="KAOS")
    with pytest.raises(HandleTaken) as taken:
        make_product(engine, owner, "kaos", sku="NEW")

    assert deleted.deleted_at is not None
    assert listed.items == []
    assert taken.value.details["deleted"] is True
    assert counts(engine, owner).products == 1


def test_another_organizations_product_is_not_found(engine: Engine, owner: RequestContext) -> None:
    other = new_org(engine)
    foreign = make_product(engine, other, "kaos")

    with session_scope(owner, engine=engine) as session:
        with pytest.raises(NotFound):
            catalog.get_product(session, ctx=owner, product_id=foreign.id)
        with pytest.raises(NotFound):
            catalog.update_product(
                session, ctx=owner, product_id=foreign.id, changes=ProductUpdate(title="Mine")
            )
        assert catalog.list_products(session, ctx=owner).items == []


def test_list_pages_through_every_product_once_in_handle_order(
    engine: Engine, owner: RequestContext
) -> None:
    handles = [f"p-{i:02d}" for i in range(7)]
    for handle in reversed(handles):
        make_product(engine, owner, handle)

    seen: list[str] = []
    cursor = None
    pages = 0
    with session_scope(owner, engine=engine) as session:
        while True:
            page = catalog.list_products(session, ctx=owner, limit=3, cursor=cursor)
            seen += [p.handle for p in page.items]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break

    assert seen == handles
    assert pages == 3


def test_search_matches_title_handle_or_sku_case_insensitively_and_filters_status(
    engine: Engine, owner: RequestContext
) -> None:
    make_product(engine, owner, "kaos-polos", title="Kaos Polos Hitam", sku="KP-001")
    make_product(engine, owner, "topi", title="Topi Rimba", sku="TR-100", status="draft")
    make_product(engine, owner, "diskon", title="Diskon 100% asli", sku="D-1")

    with session_scope(owner, engine=engine) as session:

        def handles(**kwargs: Any) -> list[str]:
            return [p.handle for p in catalog.list_products(session, ctx=owner, **kwargs).items]

        assert handles(search="hitam") == ["kaos-polos"]
        assert handles(search="TOPI") == ["topi"]
        assert handles(search="tr-1") == ["topi"]
        assert handles(search="100") == ["diskon", "topi"]
        assert handles(search="0%") == ["diskon"]  # % is literal, not a wildcard
        assert handles(search="nothing") == []
        assert handles(status="draft") == ["topi"]
        assert handles(status="active", search="100") == ["diskon"]
        with pytest.raises(ValidationFailed):
            handles(cursor="not-a-cursor")


def test_bulk_update_applies_good_items_and_reports_bad_ones(
    engine: Engine, owner: RequestContext
) -> None:
    kaos = make_product(
        engine,
        owner,
        "kaos",
        attributes={"material": "cotton", "season": "dry"},
        variants=[
            VariantInput(sku="K-S", price=Decimal("10")),
            VariantInput(sku="K-M", price=Decimal("10")),
        ],
    )
    make_product(engine, owner, "topi", variants=[VariantInput(sku="T-1", price=Decimal("5"))])

    with session_scope(owner, engine=engine) as session:
        result = catalog.bulk_update(
            session,
            ctx=owner,
            items=[
                BulkUpdateItem(sku="T-1", price=Decimal("7.5"), is_active=False),
                BulkUpdateItem(sku="NOPE", price=Decimal("1")),
                BulkUpdateItem(sku="K-S", price=Decimal("-3")),
                BulkUpdateItem(handle="kaos", cost=Decimal("4"), attributes={"season": None}),
                BulkUpdateItem(sku="K-M", attributes={"x": 1}),
            ],
        )
    with session_scope(owner, engine=engine) as session:
        products = {p.handle: p for p in catalog.list_products(session, ctx=owner).items}

    assert [(r.index, r.ok, r.code) for r in result.items] == [
        (0, True, ""),
        (1, False, "variant_not_found"),
        (2, False, "invalid_field"),
        (3, True, ""),
        (4, False, "invalid_field"),
    ]
    assert result.items[2].message == "price: must not be negative"
    assert (result.succeeded, result.failed) == (2, 3)
    topi = products["topi"].variants[0]
    assert (topi.price, topi.is_active) == (Decimal("7.5"), False)
    assert products["kaos"].attributes == {"material": "cotton"}
    assert [(v.sku, v.price, v.cost) for v in products["kaos"].variants] == [
        ("K-M", Decimal("10"), Decimal("4")),
        ("K-S", Decimal("10"), Decimal("4")),  # the negative price was not applied
    ]
    assert kaos.variants[0].cost is None


def _writes(product: ProductDTO) -> dict[str, Callable[[Any, RequestContext], object]]:
    variant_id = product.variants[0].id
    return {
        "create_product": lambda s, c: catalog.create_product(s, ctx=c, handle="x", title="X"),
        "update_product": lambda s, c: catalog.update_product(
            s, ctx=c, product_id=product.id, changes=ProductUpdate(title="Changed")
        ),
        "delete_product": lambda s, c: catalog.delete_product(s, ctx=c, product_id=product.id),
        "create_variant": lambda s, c: catalog.create_variant(
            s, ctx=c, product_id=product.id, variant=VariantInput(sku="NEW")
        ),
        "update_variant": lambda s, c: catalog.update_variant(
            s, ctx=c, variant_id=variant_id, changes=VariantUpdate(price=Decimal("1"))
        ),
        "bulk_update": lambda s, c: catalog.bulk_update(
            s, ctx=c, items=[BulkUpdateItem(sku="KAOS", price=Decimal("1"))]
        ),
    }


@pytest.mark.parametrize(
    "write",
    [
        "create_product",
        "update_product",
        "delete_product",
        "create_variant",
        "update_variant",
        "bulk_update",
    ],
)
def test_viewer_may_not_write_and_nothing_changes(
    engine: Engine, owner: RequestContext, write: str
) -> None:
    product = make_product(engine, owner, "kaos", sku="KAOS")
    viewer = viewer_of(owner)
    before = counts(engine, owner)

    with session_scope(viewer, engine=engine) as session:
        with pytest.raises(PermissionDenied):
            _writes(product)[write](session, viewer)
        assert catalog.get_product(session, ctx=viewer, product_id=product.id) == product

    assert counts(engine, owner) == before


def test_unknown_ids_are_not_found(engine: Engine, owner: RequestContext) -> None:
    with session_scope(owner, engine=engine) as session:
        with pytest.raises(NotFound):
            catalog.get_product(session, ctx=owner, product_id=uuid.uuid4())
        with pytest.raises(NotFound):
            catalog.update_variant(
                session, ctx=owner, variant_id=uuid.uuid4(), changes=VariantUpdate(name="x")
            )
