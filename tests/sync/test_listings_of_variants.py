"""The listings of some master variants (what the product editor and the products list show):
only linked listings of the given variants, of the caller's organization."""

from __future__ import annotations

import uuid

from sqlalchemy.engine import Engine
from sqlmodel import Session

from storesync.catalog import service as catalog
from storesync.db import session_scope
from storesync.sync.listings.service import listings_of_variants
from storesync.tenancy.context import RequestContext
from storesync.ui.state.product_editor.views import list_extras, listing_rows
from tests.channels.conftest import sandbox_settings
from tests.sandbox.conftest import RunningSandbox
from tests.sync.listings_fixtures import add_product, connect, models, org, run_import


def test_a_products_listings_are_its_linked_ones_with_their_state(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = org(sqlite_engine)
    store_id = connect(sqlite_engine, ctx, "shopee", cfg)
    model = models(running_sandbox, "shopee")[0]
    ids = add_product(sqlite_engine, ctx, "Gudang", [(model.sku, ""), ("NOT-ON-CHANNEL", "")])
    other = add_product(sqlite_engine, ctx, "Lain", [("OTHER-ONLY", "")])
    run_import(sqlite_engine, ctx, store_id, cfg)
    stranger = org(sqlite_engine)

    with session_scope(ctx, engine=sqlite_engine) as session:
        found = listings_of_variants(session, ctx=ctx, variant_ids=list(ids.values()))
        none = listings_of_variants(session, ctx=ctx, variant_ids=list(other.values()))
        product_id = _product_of(session, ctx, ids[model.sku])
        product = catalog.get_product(session, ctx=ctx, product_id=product_id)
        rows = listing_rows(session, ctx, product)
        extras = list_extras(session, ctx, [product])
    with session_scope(stranger, engine=sqlite_engine) as session:
        hidden = listings_of_variants(session, ctx=stranger, variant_ids=list(ids.values()))

    assert [(f.platform_sku, f.match_status, f.store_id) for f in found] == [
        (model.sku, "matched", store_id)
    ]
    assert none == [] and hidden == []
    assert [(r["sku"], r["state"]) for r in rows] == [(model.sku, "Linked")]
    assert rows[0]["store"] != ""
    assert extras.channels[product.id] == [rows[0]["store"]]
    assert extras.available[product.id] >= 0


def _product_of(session: Session, ctx: RequestContext, variant_id: uuid.UUID) -> uuid.UUID:
    page = catalog.list_products(session, ctx=ctx, limit=200)
    return next(p.id for p in page.items if any(v.id == variant_id for v in p.variants))
