"""Many products created at once (`catalog.bulk.create_products`): handles made from titles,
the catalog's defaults, SKU conflicts and permissions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from storesync.catalog import bulk
from storesync.catalog import service as catalog
from storesync.catalog.errors import ImportConflict
from storesync.core.errors import PermissionDenied, ValidationFailed
from storesync.db import session_scope
from storesync.tenancy.context import RequestContext
from tests.catalog.conftest import counts, viewer_of


def test_products_get_free_handles_from_their_titles_and_the_catalog_defaults(
    engine: Engine, owner: RequestContext
) -> None:
    with session_scope(owner, engine=engine) as session:
        catalog.create_product(session, ctx=owner, handle="kaos-polos", title="Kaos", sku="OLD")
    wanted = [
        bulk.NewProduct(
            title="Kaos Polos!",
            handle_key="A 1",
            variants=[
                bulk.NewVariant(sku="K-S", name="S", price=Decimal("59000.50")),
                bulk.NewVariant(sku="K-M", name="M", currency="SGD"),
            ],
        ),
        bulk.NewProduct(title="Kaos  polos", handle_key="A 1", variants=[bulk.NewVariant("K2")]),
        bulk.NewProduct(title="¡¿", handle_key="B", variants=[bulk.NewVariant("ODD")]),
    ]

    with session_scope(owner, engine=engine) as session:
        ids = bulk.create_products(session, ctx=owner, products=wanted)
        assert bulk.create_products(session, ctx=owner, products=[]) == []
    with session_scope(owner, engine=engine) as session:
        products = catalog.list_products(session, ctx=owner).items

    by_handle = {p.handle: p for p in products}
    assert sorted(by_handle) == ["item", "kaos-polos", "kaos-polos-a-1", "kaos-polos-a-1-2"]
    first = by_handle["kaos-polos-a-1"]
    assert (first.title, first.status, first.description, first.attributes, first.images) == (
        "Kaos Polos!",
        "active",
        "",
        {},
        [],
    )
    variants = {v.sku: v for p in products for v in p.variants}
    assert ids == [variants[sku].id for sku in ("K-S", "K-M", "K2", "ODD")]
    small = variants["K-S"]
    assert (small.name, small.price, small.currency, small.options) == (
        "S",
        Decimal("59000.50"),
        "IDR",
        {},
    )
    assert (small.barcode, small.cost, small.weight_grams, small.is_active) == (
        "",
        None,
        None,
        True,
    )
    assert (variants["K-M"].currency, variants["K-M"].price) == ("SGD", None)
    assert {v.product_id for v in first.variants} == {first.id}


def test_a_sku_given_twice_or_already_stored_is_refused_and_nothing_is_written(
    engine: Engine, owner: RequestContext
) -> None:
    with session_scope(owner, engine=engine) as session:
        catalog.create_product(session, ctx=owner, handle="topi", title="Topi", sku="TAKEN")
    before = counts(engine, owner)
    twice = [
        bulk.NewProduct(title="A", handle_key="1", variants=[bulk.NewVariant("X")]),
        bulk.NewProduct(title="B", handle_key="2", variants=[bulk.NewVariant("X")]),
    ]
    stored = [bulk.NewProduct(title="C", handle_key="3", variants=[bulk.NewVariant("TAKEN")])]

    with pytest.raises(ValidationFailed, match="given twice"):
        with session_scope(owner, engine=engine) as session:
            bulk.create_products(session, ctx=owner, products=twice)
    with pytest.raises(ImportConflict):
        with session_scope(owner, engine=engine) as session:
            bulk.create_products(session, ctx=owner, products=stored)
    with pytest.raises(PermissionDenied):
        with session_scope(owner, engine=engine) as session:
            bulk.create_products(session, ctx=viewer_of(owner), products=twice[:1])

    assert counts(engine, owner) == before
