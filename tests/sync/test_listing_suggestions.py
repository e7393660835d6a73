"""Suggestions a merchant can judge: each shows the suggested master product's title (and its
first image's thumbnail when it has one) and why it was suggested; only one at the threshold
(80%) or above can be accepted, through the service too; a lower one is refused and nothing
changes."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.catalog.models import Product, ProductVariant
from storesync.core.errors import AppError, PermissionDenied
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.sync.listings import service as listings
from storesync.tenancy.permissions import Role
from tests.channels.conftest import sandbox_settings
from tests.sandbox.conftest import RunningSandbox
from tests.sync.listings_fixtures import (
    add_product,
    as_role,
    connect,
    models,
    org,
    run_import,
    shop,
    stored,
)

PRODUCTS = table_of(Product)
VARIANTS = table_of(ProductVariant)


def _respelled(engine: Engine, sandbox: RunningSandbox, masters: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    """A Shopee listing whose SKU is spelled differently from the masters' (`(title, sku)`;
    "{sku}" is the listing's own SKU); returns the context, store and listing row."""
    cfg = sandbox_settings(sandbox.base_url)
    ctx = org(engine)
    store_id = connect(engine, ctx, "shopee", cfg)
    model = next(m for m in models(sandbox, "shopee") if "-" in m.sku)
    ids = {}
    for title, sku in masters:
        ids.update(add_product(engine, ctx, title, [(sku.format(sku=model.sku), "")]))
    item = shop(sandbox, "shopee").items[model.item_id]
    next(m for m in item.models if m.sku == model.sku).sku = model.sku.lower().replace("-", " ")
    run_import(engine, ctx, store_id, cfg)
    row = stored(engine, ctx, store_id)[(model.item_id, model.model_id)]
    return ctx, store_id, row, ids, model


def test_a_sure_suggestion_shows_its_product_and_reason_and_can_be_accepted(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, _store, row, ids, model = _respelled(
        sqlite_engine, running_sandbox, [("Kemeja Flanel Merah", "{sku}")]
    )
    with session_scope(ctx, engine=sqlite_engine) as session:
        seen = listings.get_listing(session, ctx=ctx, listing_id=row.id)

    assert (seen.suggested_title, seen.suggested_thumbnail) == ("Kemeja Flanel Merah", "")
    assert (seen.match_method, seen.match_confidence) == ("normalized_sku", Decimal("0.900"))

    with session_scope(ctx, engine=sqlite_engine) as session:
        accepted = listings.accept_suggestion(session, ctx=ctx, listing_id=row.id)

    assert (accepted.match_status, accepted.variant_id) == ("matched", ids[model.sku])
    assert accepted.suggested_variant_id is None and accepted.match_method == "accepted"


def test_a_doubtful_suggestion_cannot_be_accepted_through_the_service(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    # Two masters spelled alike: the suggestion is shared between them, 45% sure.
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = org(sqlite_engine)
    store_id = connect(sqlite_engine, ctx, "shopee", cfg)
    model = models(running_sandbox, "shopee")[0]
    add_product(sqlite_engine, ctx, "Satu", [("DUP-1", "")])
    add_product(sqlite_engine, ctx, "Dua", [("DUP_1", "")])
    item = shop(running_sandbox, "shopee").items[model.item_id]
    next(m for m in item.models if m.sku == model.sku).sku = "dup 1"
    run_import(sqlite_engine, ctx, store_id, cfg)
    row = stored(sqlite_engine, ctx, store_id)[(model.item_id, model.model_id)]
    assert row.match_confidence == Decimal("0.450")

    with pytest.raises(AppError) as refused, session_scope(ctx, engine=sqlite_engine) as session:
        listings.accept_suggestion(session, ctx=ctx, listing_id=row.id)

    assert refused.value.code == "suggestion_needs_review"
    after = stored(sqlite_engine, ctx, store_id)[(model.item_id, model.model_id)]
    assert (after.match_status, after.variant_id) == ("suggested", None)
    assert after.suggested_variant_id == row.suggested_variant_id  # still there to review


def test_a_low_confidence_suggestion_is_refused_and_nothing_changes(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, _store, row, _ids, _model = _respelled(
        sqlite_engine, running_sandbox, [("Kemeja", "{sku}")]
    )
    with session_scope(ctx, engine=sqlite_engine) as session:
        session.execute(
            sa.update(listings.LISTINGS)
            .where(listings.LISTINGS.c.id == row.id)
            .values(match_confidence=Decimal("0.790"))
        )

    with pytest.raises(AppError) as refused, session_scope(ctx, engine=sqlite_engine) as session:
        listings.accept_suggestion(session, ctx=ctx, listing_id=row.id)

    assert refused.value.code == "suggestion_needs_review"
    assert "79%" in refused.value.message and "80%" in refused.value.message
    with session_scope(ctx, engine=sqlite_engine) as session:
        after = listings.get_listing(session, ctx=ctx, listing_id=row.id)
    assert (after.match_status, after.variant_id) == ("suggested", None)


def test_the_first_image_thumbnail_of_the_suggested_product_is_shown(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, _store, row, ids, model = _respelled(sqlite_engine, running_sandbox, [("Kaos", "{sku}")])
    with session_scope(ctx, engine=sqlite_engine) as session:
        product_id = session.execute(
            sa.select(VARIANTS.c.product_id).where(VARIANTS.c.id == ids[model.sku])
        ).scalar_one()
        session.execute(
            sa.update(PRODUCTS)
            .where(PRODUCTS.c.id == product_id)
            .values(images=[{"key": "p/a.jpg", "thumb_key": "p/a-thumb.webp"}, {"key": "p/b"}])
        )
    with session_scope(ctx, engine=sqlite_engine) as session:
        seen = listings.get_listing(session, ctx=ctx, listing_id=row.id)

    assert seen.suggested_thumbnail == "/media/p/a-thumb.webp"
    assert listings.thumbnail([{"key": "x"}]) == "" and listings.thumbnail([]) == ""


def test_a_viewer_cannot_accept(sqlite_engine: Engine, running_sandbox: RunningSandbox) -> None:
    ctx, _store, row, _ids, _model = _respelled(sqlite_engine, running_sandbox, [("K", "{sku}")])
    viewer = as_role(ctx, Role.VIEWER)

    with pytest.raises(PermissionDenied), session_scope(viewer, engine=sqlite_engine) as session:
        listings.accept_suggestion(session, ctx=viewer, listing_id=row.id)

    after = stored(sqlite_engine, ctx, row.store_id)[(row.platform_item_id, row.platform_model_id)]
    assert after.variant_id is None
