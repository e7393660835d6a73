"""Listing import and the review queue against the sandbox over HTTP: every channel model once,
idempotent re-import, SKU auto-linking, suggestions, link / unlink / ignore, products created
from listings, permissions, and the variants queued for a stock push."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.catalog.models import Product, ProductVariant
from storesync.core.errors import NotFound, PermissionDenied, ValidationFailed
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.sandbox.shopee.product import location_id as shopee_location
from storesync.settings import Settings
from storesync.sync.listings import service as listings
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.channels.conftest import sandbox_settings
from tests.sandbox.conftest import RunningSandbox
from tests.sync.listings_fixtures import (
    LISTINGS,
    add_product,
    as_role,
    connect,
    count_rows,
    models,
    org,
    run_import,
    shop,
    stored,
)

PRODUCTS = table_of(Product)
VARIANTS = table_of(ProductVariant)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine


def _setup(
    engine: Engine, sandbox: RunningSandbox, platform: str = "shopee"
) -> tuple[RequestContext, uuid.UUID, Settings]:
    cfg = sandbox_settings(sandbox.base_url)
    ctx = org(engine)
    return ctx, connect(engine, ctx, platform, cfg), cfg


def _listing_id(engine: Engine, ctx: RequestContext, store_id: uuid.UUID, sku: str) -> uuid.UUID:
    (row,) = [r for r in stored(engine, ctx, store_id).values() if r.platform_sku == sku]
    listing_id: uuid.UUID = row.id
    return listing_id


@pytest.mark.parametrize("platform", ["shopee", "tiktok"])
def test_import_lists_every_channel_model_once_and_a_reimport_changes_nothing(
    engine: Engine, running_sandbox: RunningSandbox, platform: str
) -> None:
    ctx, store_id, cfg = _setup(engine, running_sandbox, platform)
    channel = models(running_sandbox, platform)
    first, second = channel[0], channel[1]
    linked = add_product(engine, ctx, "Master", [(first.sku, ""), (second.sku, "")])
    calls: list[tuple[int, int | None]] = []

    report, touched = run_import(
        engine, ctx, store_id, cfg, progress=lambda done, total: calls.append((done, total))
    )

    rows = stored(engine, ctx, store_id)
    assert sorted(rows) == sorted((m.item_id, m.model_id) for m in channel)
    assert (report.fetched, report.created, report.updated) == (len(channel), len(channel), 0)
    assert report.matched == 2 and touched == set(linked.values())
    assert report.unmatched + report.suggested == len(channel) - 2
    assert calls[-1] == (len(channel), len(channel))
    for model in channel:
        row = rows[(model.item_id, model.model_id)]
        assert (row.platform_sku, row.title, row.channel_quantity) == (
            model.sku,
            model.title,
            model.stock,
        )
        expected_location = (
            shopee_location(shop(running_sandbox, "shopee"))
            if platform == "shopee"
            else model.warehouse_id
        )
        assert row.raw == {"location_id": expected_location}
    assert rows[(first.item_id, first.model_id)].variant_id == linked[first.sku]

    again, touched_again = run_import(engine, ctx, store_id, cfg)

    assert (again.fetched, again.created, again.updated, again.matched) == (len(channel), 0, 0, 0)
    assert again.unchanged == len(channel) and touched_again == set()
    assert (again.suggested, again.unmatched) == (report.suggested, report.unmatched)
    assert stored(engine, ctx, store_id) == rows


def test_a_unique_exact_sku_links_and_only_linked_variants_are_touched(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, store_id, cfg = _setup(sqlite_engine, running_sandbox)
    model = models(running_sandbox, "shopee")[3]
    ids = add_product(sqlite_engine, ctx, "Gudang", [(model.sku, ""), ("NOT-ON-CHANNEL", "")])

    report, touched = run_import(sqlite_engine, ctx, store_id, cfg)

    row = stored(sqlite_engine, ctx, store_id)[(model.item_id, model.model_id)]
    assert (row.match_status, row.match_method, row.match_confidence) == (
        "matched",
        "sku",
        Decimal("1.000"),
    )
    assert row.variant_id == ids[model.sku] and row.suggested_variant_id is None
    assert report.matched == 1 and touched == {ids[model.sku]}


def test_a_differently_spelled_sku_is_suggested_not_linked(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, store_id, cfg = _setup(sqlite_engine, running_sandbox)
    model = next(m for m in models(running_sandbox, "shopee") if "-" in m.sku)
    ids = add_product(sqlite_engine, ctx, "Gudang", [(model.sku, "")])
    item = shop(running_sandbox, "shopee").items[model.item_id]
    channel_model = next(m for m in item.models if m.sku == model.sku)
    channel_model.sku = model.sku.lower().replace("-", " ")

    report, touched = run_import(sqlite_engine, ctx, store_id, cfg)

    row = stored(sqlite_engine, ctx, store_id)[(model.item_id, model.model_id)]
    assert (row.match_status, row.variant_id) == ("suggested", None)
    assert row.suggested_variant_id == ids[model.sku]
    assert (row.match_confidence, row.match_method) == (Decimal("0.900"), "normalized_sku")
    assert report.matched == 0 and report.suggested >= 1 and touched == set()


def test_master_skus_that_only_differ_in_spelling_give_a_suggestion(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, store_id, cfg = _setup(sqlite_engine, running_sandbox)
    model = models(running_sandbox, "shopee")[0]
    first = add_product(sqlite_engine, ctx, "Satu", [("DUP-1", "")])
    second = add_product(sqlite_engine, ctx, "Dua", [("DUP_1", "")])
    item = shop(running_sandbox, "shopee").items[model.item_id]
    next(m for m in item.models if m.sku == model.sku).sku = "dup 1"

    _, touched = run_import(sqlite_engine, ctx, store_id, cfg)

    row = stored(sqlite_engine, ctx, store_id)[(model.item_id, model.model_id)]
    assert (row.match_status, row.variant_id, row.match_method) == (
        "suggested",
        None,
        "normalized_sku",
    )
    assert row.suggested_variant_id in {*first.values(), *second.values()}
    assert row.match_confidence == Decimal("0.450") and touched == set()


def test_a_title_and_attributes_match_is_suggested(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, store_id, cfg = _setup(sqlite_engine, running_sandbox)
    model = next(m for m in models(running_sandbox, "shopee") if m.name)
    ids = add_product(sqlite_engine, ctx, model.title, [("OTHER-CODE", model.name)])
    item = shop(running_sandbox, "shopee").items[model.item_id]
    next(m for m in item.models if m.sku == model.sku).sku = ""

    _, touched = run_import(sqlite_engine, ctx, store_id, cfg)

    rows = stored(sqlite_engine, ctx, store_id)
    row = rows[(model.item_id, model.model_id)]
    assert (row.match_status, row.variant_id, row.match_method) == ("suggested", None, "title")
    assert row.suggested_variant_id == ids["OTHER-CODE"]
    assert row.match_confidence == Decimal("0.800") and touched == set()
    siblings = [r for k, r in rows.items() if k[0] == model.item_id and r.id != row.id]
    assert all(r.suggested_variant_id is None for r in siblings)


def test_link_unlink_and_ignore_survive_a_reimport(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, store_id, cfg = _setup(sqlite_engine, running_sandbox)
    run_import(sqlite_engine, ctx, store_id, cfg)
    ids = add_product(sqlite_engine, ctx, "Manual", [("MAN-1", "")])
    channel = models(running_sandbox, "shopee")
    keep = _listing_id(sqlite_engine, ctx, store_id, channel[0].sku)
    drop = _listing_id(sqlite_engine, ctx, store_id, channel[1].sku)

    with session_scope(ctx, engine=sqlite_engine) as session:
        linked = listings.link_listing(session, ctx=ctx, listing_id=keep, variant_id=ids["MAN-1"])
        listings.link_listing(session, ctx=ctx, listing_id=drop, variant_id=ids["MAN-1"])
        touched = set(session.info["stock_touched"])
        unlinked = listings.unlink_listing(session, ctx=ctx, listing_id=drop)
        ignored = listings.ignore_listing(session, ctx=ctx, listing_id=drop)

    assert (linked.match_status, linked.match_method, linked.variant_sku) == (
        "matched",
        "manual",
        "MAN-1",
    )
    assert linked.suggested_variant_id is None and linked.match_confidence is None
    assert touched == {ids["MAN-1"]}
    assert (unlinked.match_status, unlinked.variant_id) == ("unmatched", None)
    assert (ignored.match_status, ignored.variant_id) == ("ignored", None)

    run_import(sqlite_engine, ctx, store_id, cfg)

    rows = {r.id: r for r in stored(sqlite_engine, ctx, store_id).values()}
    assert (rows[keep].match_status, rows[keep].variant_id) == ("matched", ids["MAN-1"])
    assert rows[drop].match_status == "ignored"


def test_a_reimport_updates_changed_listings_and_upgrades_suggestions(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, store_id, cfg = _setup(sqlite_engine, running_sandbox)
    first = run_import(sqlite_engine, ctx, store_id, cfg)[0]
    model = models(running_sandbox, "shopee")[2]
    item = shop(running_sandbox, "shopee").items[model.item_id]
    item.title = "Judul Baru"
    changed = sum(1 for _ in item.models)
    next(m for m in item.models if m.sku == model.sku).stock = 999
    ids = add_product(sqlite_engine, ctx, "Late", [(model.sku, "")])

    report, touched = run_import(sqlite_engine, ctx, store_id, cfg)

    row = stored(sqlite_engine, ctx, store_id)[(model.item_id, model.model_id)]
    assert (row.title, row.channel_quantity, row.variant_id) == ("Judul Baru", 999, ids[model.sku])
    assert row.updated_at is not None
    assert (report.created, report.updated, report.matched) == (0, changed, 1)
    assert report.unchanged == first.fetched - changed and touched == {ids[model.sku]}


def test_list_listings_pages_filters_and_searches(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, store_id, cfg = _setup(sqlite_engine, running_sandbox)
    model = models(running_sandbox, "shopee")[0]
    add_product(sqlite_engine, ctx, "Gudang", [(model.sku, "")])
    report, _ = run_import(sqlite_engine, ctx, store_id, cfg)
    viewer = as_role(ctx, Role.VIEWER)

    seen, cursor = [], None
    with session_scope(viewer, engine=sqlite_engine) as session:
        while True:
            page = listings.list_listings(
                session, ctx=viewer, store_id=store_id, limit=7, cursor=cursor
            )
            seen.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        matched = listings.list_listings(session, ctx=viewer, match_status="matched")
        found = listings.list_listings(session, ctx=viewer, search=model.sku.lower())
        for bad in ({"match_status": "lost"}, {"cursor": "garbage"}):
            with pytest.raises(ValidationFailed):
                listings.list_listings(session, ctx=viewer, **bad)  # type: ignore[arg-type]

    assert len(seen) == report.fetched == len({item.id for item in seen})
    assert [(i.title, str(i.id)) for i in seen] == sorted((i.title, str(i.id)) for i in seen)
    assert [(i.platform_sku, i.variant_sku) for i in matched.items] == [(model.sku, model.sku)]
    assert model.sku in {i.platform_sku for i in found.items}
    assert all(i.location_id for i in seen)


def test_create_products_from_unmatched_listings(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, store_id, cfg = _setup(sqlite_engine, running_sandbox)
    channel = models(running_sandbox, "shopee")
    blank = channel[-1]
    item = shop(running_sandbox, "shopee").items[blank.item_id]
    next(m for m in item.models if m.sku == blank.sku).sku = ""
    channel = models(running_sandbox, "shopee")
    run_import(sqlite_engine, ctx, store_id, cfg)
    existing = add_product(sqlite_engine, ctx, "Sudah Ada", [(channel[0].sku, "")])

    with session_scope(ctx, engine=sqlite_engine) as session:
        made = listings.create_products_from_listings(session, ctx=ctx, store_id=store_id)
        touched = set(session.info["stock_touched"])

    rows = stored(sqlite_engine, ctx, store_id)
    assert made == len({m.item_id for m in channel})
    assert all(r.match_status == "matched" for r in rows.values())
    assert rows[(channel[0].item_id, channel[0].model_id)].variant_id == existing[channel[0].sku]
    assert touched == {r.variant_id for r in rows.values()}
    with session_scope(ctx, engine=sqlite_engine) as session:
        variants = {
            row.id: row
            for row in session.execute(
                sa.select(VARIANTS.c.id, VARIANTS.c.variant_sku, PRODUCTS.c.title)
                .join(PRODUCTS, PRODUCTS.c.id == VARIANTS.c.product_id)
                .where(VARIANTS.c.organization_id == ctx.organization_id)
            )
        }
        levels = {
            level.variant_id: level.on_hand
            for level in inventory.stock_levels(session, ctx=ctx, variant_ids=list(variants))
        }
    for model in channel[1:]:
        row = rows[(model.item_id, model.model_id)]
        expected_sku = model.sku or f"{model.item_id}-{model.model_id}".rstrip("-")
        assert variants[row.variant_id].variant_sku == expected_sku
        assert variants[row.variant_id].title == model.title
        assert levels.get(row.variant_id, 0) == model.stock
    with session_scope(ctx, engine=sqlite_engine) as session:
        assert listings.create_products_from_listings(session, ctx=ctx, store_id=store_id) == 0


def test_create_products_from_chosen_listings_only(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, store_id, cfg = _setup(sqlite_engine, running_sandbox)
    run_import(sqlite_engine, ctx, store_id, cfg)
    item_id = models(running_sandbox, "shopee")[0].item_id
    chosen = [r.id for k, r in stored(sqlite_engine, ctx, store_id).items() if k[0] == item_id]

    with pytest.raises(NotFound), session_scope(ctx, engine=sqlite_engine) as session:
        listings.create_products_from_listings(
            session, ctx=ctx, store_id=store_id, listing_ids=[*chosen, uuid.uuid4()]
        )
    assert count_rows(sqlite_engine, ctx, PRODUCTS) == 0
    with session_scope(ctx, engine=sqlite_engine) as session:
        made = listings.create_products_from_listings(
            session, ctx=ctx, store_id=store_id, listing_ids=chosen
        )

    rows = stored(sqlite_engine, ctx, store_id)
    assert made == 1 and count_rows(sqlite_engine, ctx, VARIANTS) == len(chosen)
    assert {r.id for r in rows.values() if r.match_status == "matched"} == set(chosen)


def test_import_can_create_products_for_what_it_cannot_match(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, store_id, cfg = _setup(sqlite_engine, running_sandbox, "tiktok")
    channel = models(running_sandbox, "tiktok")

    report, touched = run_import(sqlite_engine, ctx, store_id, cfg, create_products=True)

    assert report.created_products == len({m.item_id for m in channel})
    assert (report.matched, report.suggested, report.unmatched) == (0, 0, 0)
    assert count_rows(sqlite_engine, ctx, VARIANTS) == len(channel) == len(touched)


def test_a_viewer_is_denied_every_write_and_nothing_is_written(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    ctx, store_id, cfg = _setup(sqlite_engine, running_sandbox)
    viewer, staff = as_role(ctx, Role.VIEWER), as_role(ctx, Role.STAFF)
    ids = add_product(sqlite_engine, ctx, "Gudang", [("V-1", "")])

    for who, options in ((viewer, {}), (staff, {"create_products": True})):
        with pytest.raises(PermissionDenied):
            run_import(sqlite_engine, who, store_id, cfg, **options)
    assert count_rows(sqlite_engine, ctx, LISTINGS) == 0

    run_import(sqlite_engine, ctx, store_id, cfg)
    before = stored(sqlite_engine, ctx, store_id)
    listing_id = next(iter(before.values())).id
    writes = [
        lambda s: listings.link_listing(
            s, ctx=viewer, listing_id=listing_id, variant_id=ids["V-1"]
        ),
        lambda s: listings.unlink_listing(s, ctx=viewer, listing_id=listing_id),
        lambda s: listings.ignore_listing(s, ctx=viewer, listing_id=listing_id),
        lambda s: listings.create_products_from_listings(s, ctx=viewer, store_id=store_id),
    ]
    for write in writes:
        with pytest.raises(PermissionDenied), session_scope(viewer, engine=sqlite_engine) as s:
            write(s)

    assert stored(sqlite_engine, ctx, store_id) == before
    assert count_rows(sqlite_engine, ctx, PRODUCTS) == 1


def test_a_store_of_another_organization_is_not_found(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    _, store_id, cfg = _setup(sqlite_engine, running_sandbox)
    stranger = org(sqlite_engine)

    with pytest.raises(Exception) as raised:
        run_import(sqlite_engine, stranger, store_id, cfg)
    with session_scope(stranger, engine=sqlite_engine) as session:
        page = listings.list_listings(session, ctx=stranger)

    assert getattr(raised.value, "code", "") == "store_not_found"
    assert page.items == [] and asyncio.iscoroutinefunction(listings.import_listings)


def test_a_fetch_stopped_after_chunks_were_written_leaves_nothing(engine: Engine) -> None:
    """Chunks are written while later pages are fetched; a stop mid-fetch (here a cancel from
    the progress sink after 1,500 variants, so 1,000 are already written) must wait for the
    writer and leave nothing once the caller rolls back, and a later import is complete."""
    from storesync.sync.jobs.progress import JobCancelled
    from tests.sandbox.conftest import serve_sandbox

    with serve_sandbox(seed=23, products_per_shop=400) as big:
        ctx, store_id, cfg = _setup(engine, big, "tiktok")
        channel = models(big, "tiktok")
        assert len(channel) > 1_500
        fetched: list[int] = []

        def sink(*, phase: str, done: int, total: int, failed: int = 0) -> None:
            fetched.append(done)
            if phase == "fetch" and done >= 1_500:
                raise JobCancelled()

        with pytest.raises(JobCancelled):
            run_import(engine, ctx, store_id, cfg, sink=sink)

        assert 1_500 <= fetched[-1] < len(channel)
        assert stored(engine, ctx, store_id) == {}

        report, _ = run_import(engine, ctx, store_id, cfg)

        assert report.created == len(channel)
        assert sorted(stored(engine, ctx, store_id)) == sorted(
            (m.item_id, m.model_id) for m in channel
        )
