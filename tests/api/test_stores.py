"""Stores and listings through the API: the store service and the listing review queue the UI
uses, a health check against the marketplace sandbox over HTTP, and their errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from storesync import settings as settings_module
from storesync.catalog.models import ProductVariant
from storesync.channels.models import ChannelListing, Store
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.settings import Settings
from storesync.sync.models import SyncJob
from storesync.tenancy.context import RequestContext
from tests.api.conftest import ApiWorld, make_world
from tests.channels.conftest import connect_store
from tests.sandbox.conftest import RunningSandbox, running_sandbox  # noqa: F401
from tests.sync.listings_fixtures import add_product, models, run_import, stored

LISTINGS = table_of(ChannelListing)


def add_store(
    world: ApiWorld, name: str, *, status: str = "connected", ctx: RequestContext | None = None
) -> uuid.UUID:
    """A store row as the OAuth callback leaves it, without credentials: nothing here calls
    the marketplace."""
    owner = ctx or world.ctx
    with session_scope(owner, engine=world.engine) as session:
        store = Store(
            organization_id=owner.organization_id,
            platform="shopee",
            platform_store_id=uuid.uuid4().hex[:16],
            name=name,
            status=status,
        )
        session.add(store)
        session.flush()
        return store.id


def add_listing(
    world: ApiWorld,
    store_id: uuid.UUID,
    sku: str,
    *,
    variant_id: uuid.UUID | None = None,
    ctx: RequestContext | None = None,
) -> uuid.UUID:
    """A channel listing of the store (matched when `variant_id` is given)."""
    owner = ctx or world.ctx
    with session_scope(owner, engine=world.engine) as session:
        listing = ChannelListing(
            organization_id=owner.organization_id,
            store_id=store_id,
            platform_item_id=uuid.uuid4().hex[:12],
            platform_sku=sku,
            title=f"Item {sku}",
            variant_id=variant_id,
            match_status="matched" if variant_id else "unmatched",
            match_method="sku" if variant_id else "",
        )
        session.add(listing)
        session.flush()
        return listing.id


def listing_row(world: ApiWorld, listing_id: uuid.UUID, ctx: RequestContext | None = None) -> Any:
    with session_scope(ctx or world.ctx, engine=world.engine) as session:
        return session.execute(sa.select(LISTINGS).where(LISTINGS.c.id == listing_id)).one()


@pytest.fixture
def marketplace(running_sandbox: RunningSandbox) -> Iterator[Settings]:  # noqa: F811
    """The process's settings pointed at the sandbox: what the API's routes read."""
    base = running_sandbox.base_url
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORESYNC_SHOPEE_BASE_URL", f"{base}/shopee")
        patch.setenv("STORESYNC_TIKTOK_BASE_URL", f"{base}/tiktok")
        patch.setenv("STORESYNC_TIKTOK_AUTH_BASE_URL", f"{base}/tiktok-auth")
        settings_module.get_settings.cache_clear()
        yield settings_module.get_settings()
    settings_module.get_settings.cache_clear()  # the environment is back: so are the settings


# -- stores --------------------------------------------------------------------------------------


def test_list_get_and_metrics_of_stores(world: ApiWorld) -> None:
    first = add_store(world, "Toko Satu")
    second = add_store(world, "Toko Dua", status="disconnected")
    variants = add_product(world.engine, world.ctx, "Kaos", [("K-1", "S")])
    add_listing(world, first, "K-1", variant_id=variants["K-1"])
    add_listing(world, first, "K-2")
    add_listing(world, first, "K-3")
    with session_scope(world.ctx, engine=world.engine) as session:
        for status in ("succeeded", "failed", "failed", "cancelled"):
            session.add(
                SyncJob(
                    organization_id=world.ctx.organization_id,
                    store_id=first,
                    kind="orders",
                    status=status,
                )
            )

    listed = world.api.get("/stores")
    got = world.api.get(f"/stores/{second}")
    metrics = world.api.get(f"/stores/{first}/metrics")
    empty = world.api.get(f"/stores/{second}/metrics")

    assert listed.status_code == 200
    assert [(s["id"], s["name"], s["status"]) for s in listed.json()] == [
        (str(first), "Toko Satu", "connected"),
        (str(second), "Toko Dua", "disconnected"),
    ]
    assert "credentials_encrypted" not in listed.json()[0]
    assert got.status_code == 200
    assert (got.json()["name"], got.json()["platform"]) == ("Toko Dua", "shopee")
    assert metrics.status_code == 200
    body = metrics.json()
    assert (body["store_id"], body["listings"], body["matched_listings"]) == (str(first), 3, 1)
    assert (body["orders_24h"], body["sync_jobs_24h"], body["sync_error_rate"]) == (0, 4, 0.5)
    assert (empty.json()["listings"], empty.json()["sync_error_rate"]) == (0, 0.0)


def test_an_unknown_or_another_organizations_store_is_404(world: ApiWorld) -> None:
    theirs = make_world(world.engine)
    their_store = add_store(theirs, "Their shop")
    mine = add_store(world, "Mine")

    answers = {
        path: world.api.get(path)
        for store in (their_store, uuid.uuid4())
        for path in (f"/stores/{store}", f"/stores/{store}/metrics", f"/stores/{store}/health")
    }
    bad_id = world.api.get("/stores/not-a-uuid")

    assert {path: a.status_code for path, a in answers.items()} == dict.fromkeys(answers, 404)
    assert {a.json()["type"] for a in answers.values()} == {"not_found"}
    assert (bad_id.status_code, bad_id.json()["details"]["field"]) == (422, "store_id")
    assert [s["id"] for s in world.api.get("/stores").json()] == [str(mine)]
    assert [s["id"] for s in theirs.api.get("/stores").json()] == [str(their_store)]


def test_a_key_without_the_scope_is_403(world: ApiWorld) -> None:
    store = add_store(world, "Toko")
    listings_only = world.key("listings:write")
    stores_only = world.key("stores:read")

    refused = [
        world.api.get("/stores", key=listings_only),
        world.api.get(f"/stores/{store}", key=listings_only),
        world.api.get(f"/stores/{store}/health", key=listings_only),
        world.api.get(f"/stores/{store}/metrics", key=listings_only),
    ]
    listings = world.api.get("/listings", key=stores_only)

    assert [r.status_code for r in refused] == [403] * 4
    assert {r.json()["details"]["scope"] for r in refused} == {"stores:read"}
    assert (listings.status_code, listings.json()["details"]["scope"]) == (403, "listings:read")
    assert world.api.get("/stores", key=stores_only).status_code == 200


def test_the_health_of_a_store_on_the_sandbox(
    world: ApiWorld,
    marketplace: Settings,
) -> None:
    store = connect_store(world.engine, world.ctx, "shopee", marketplace)
    without_credentials = add_store(world, "Never authorized")

    health = world.api.get(f"/stores/{store}/health")
    broken = world.api.get(f"/stores/{without_credentials}/health")

    assert health.status_code == 200, health.text
    body = health.json()
    assert body["store_id"] == str(store)
    assert (body["ok"], body["token_valid"], body["reachable"]) == (True, True, True)
    assert body["circuit"] == "closed" and body["latency_ms"] is not None
    assert body["latency_ms"] >= 0 and body["token_expires_at"] is not None
    # a failed check is an answer, not an error
    assert broken.status_code == 200
    assert (broken.json()["ok"], broken.json()["token_valid"]) == (False, False)
    assert broken.json()["reachable"] is False and broken.json()["latency_ms"] is None
    with session_scope(world.ctx, engine=world.engine) as session:
        stores = table_of(Store)
        unhealthy = session.execute(
            sa.select(stores.c.unhealthy_since).where(stores.c.id == store)
        ).scalar_one()
    assert unhealthy is None


# -- listings ------------------------------------------------------------------------------------


def test_the_review_queue_after_an_import_from_the_sandbox(
    world: ApiWorld,
    running_sandbox: RunningSandbox,  # noqa: F811
    marketplace: Settings,
) -> None:
    store = connect_store(world.engine, world.ctx, "shopee", marketplace)
    channel = [m for m in models(running_sandbox, "shopee") if m.sku]
    auto, manual = channel[0], channel[1]
    variants = add_product(world.engine, world.ctx, "Master", [(auto.sku, ""), ("OWN-1", "")])
    run_import(world.engine, world.ctx, store, marketplace)
    rows = stored(world.engine, world.ctx, store)
    by_sku = {row.platform_sku: row.id for row in rows.values()}
    target = by_sku[manual.sku]

    matched = world.api.get("/listings", params={"store_id": str(store), "match_status": "matched"})
    searched = world.api.get("/listings", params={"search": manual.sku.lower()})
    got = world.api.get(f"/listings/{by_sku[auto.sku]}")

    assert matched.status_code == 200
    assert [(i["platform_sku"], i["variant_id"]) for i in matched.json()["items"]] == [
        (auto.sku, str(variants[auto.sku]))
    ]
    assert str(target) in {i["id"] for i in searched.json()["items"]}
    assert (got.json()["match_status"], got.json()["variant_sku"]) == ("matched", auto.sku)

    linked = world.api.post(f"/listings/{target}/link", json={"variant_id": str(variants["OWN-1"])})
    assert linked.status_code == 200, linked.text
    assert (linked.json()["match_status"], linked.json()["match_method"]) == ("matched", "manual")
    assert (linked.json()["variant_id"], linked.json()["variant_sku"]) == (
        str(variants["OWN-1"]),
        "OWN-1",
    )
    row = listing_row(world, target)
    assert (row.match_status, row.variant_id) == ("matched", variants["OWN-1"])

    unlinked = world.api.post(f"/listings/{target}/unlink")
    assert unlinked.status_code == 200
    assert (unlinked.json()["match_status"], unlinked.json()["variant_id"]) == ("unmatched", None)
    row = listing_row(world, target)
    assert (row.match_status, row.variant_id, row.match_method) == ("unmatched", None, "")

    ignored = world.api.post(f"/listings/{target}/ignore")
    assert (ignored.status_code, ignored.json()["match_status"]) == (200, "ignored")
    assert listing_row(world, target).match_status == "ignored"
    queue = world.api.get("/listings", params={"match_status": "ignored"}).json()["items"]
    assert [i["id"] for i in queue] == [str(target)]

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"store_id": str(store), "limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = world.api.get("/listings", params=params).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(row.id) for row in rows.values())
    assert len(seen) == len(set(seen)) == len(rows) > 7


def test_linking_to_an_unknown_variant_or_bad_input_changes_nothing(world: ApiWorld) -> None:
    store = add_store(world, "Toko")
    mine = add_product(world.engine, world.ctx, "Kaos", [("K-1", "")])
    listing = add_listing(world, store, "K-1", variant_id=mine["K-1"])
    theirs = make_world(world.engine)
    their_variant = add_product(theirs.engine, theirs.ctx, "Theirs", [("T-1", "")])["T-1"]

    unknown = world.api.post(f"/listings/{listing}/link", json={"variant_id": str(uuid.uuid4())})
    foreign = world.api.post(f"/listings/{listing}/link", json={"variant_id": str(their_variant)})
    missing = world.api.post(f"/listings/{listing}/link", json={})
    not_an_id = world.api.post(f"/listings/{listing}/link", json={"variant_id": "K-2"})
    extra = world.api.post(
        f"/listings/{listing}/link", json={"variant_id": str(mine["K-1"]), "sku": "K-1"}
    )
    broken = world.api.post(
        f"/listings/{listing}/link",
        content=b'{"variant_id": ',
        headers={"Content-Type": "application/json"},
    )

    assert [unknown.status_code, foreign.status_code] == [404, 404]
    assert unknown.json()["type"] == "not_found" and "variant" in unknown.json()["message"]
    assert (missing.status_code, missing.json()["details"]["field"]) == (422, "variant_id")
    assert (not_an_id.status_code, not_an_id.json()["details"]["field"]) == (422, "variant_id")
    assert (extra.status_code, extra.json()["details"]["field"]) == (422, "sku")
    assert (broken.status_code, broken.json()["code"]) == (400, "malformed_json")
    row = listing_row(world, listing)
    assert (row.match_status, row.variant_id, row.match_method) == ("matched", mine["K-1"], "sku")


def test_bad_filters_name_the_field(world: ApiWorld) -> None:
    answers = {
        "match_status": world.api.get("/listings", params={"match_status": "sold"}),
        "store_id": world.api.get("/listings", params={"store_id": "shop-1"}),
        "cursor": world.api.get("/listings", params={"cursor": "nope"}),
        "limit": world.api.get("/listings", params={"limit": 0}),
        "listing_id": world.api.get("/listings/not-a-uuid"),
    }

    for field, answer in answers.items():
        assert (answer.status_code, answer.json()["details"]["field"]) == (422, field), field


def test_an_unknown_or_another_organizations_listing_is_404_and_stays(world: ApiWorld) -> None:
    theirs = make_world(world.engine)
    their_store = add_store(theirs, "Theirs")
    their_variant = add_product(theirs.engine, theirs.ctx, "Theirs", [("T-1", "")])["T-1"]
    their_listing = add_listing(theirs, their_store, "T-1", variant_id=their_variant)
    my_variant = add_product(world.engine, world.ctx, "Mine", [("M-1", "")])["M-1"]
    add_listing(world, add_store(world, "Mine"), "M-1")

    answers = [
        world.api.get(f"/listings/{listing}") for listing in (their_listing, uuid.uuid4())
    ] + [
        world.api.post(f"/listings/{listing}/{action}", **extra)
        for listing in (their_listing, uuid.uuid4())
        for action, extra in (
            ("link", {"json": {"variant_id": str(my_variant)}}),
            ("unlink", {}),
            ("ignore", {}),
        )
    ]
    filtered = world.api.get("/listings", params={"store_id": str(their_store)})

    assert [a.status_code for a in answers] == [404] * 8
    assert filtered.status_code == 200 and filtered.json()["items"] == []
    assert [i["platform_sku"] for i in world.api.get("/listings").json()["items"]] == ["M-1"]
    row = listing_row(theirs, their_listing, theirs.ctx)
    assert (row.match_status, row.variant_id) == ("matched", their_variant)


def test_a_key_without_listings_write_or_a_viewer_changes_nothing(world: ApiWorld) -> None:
    store = add_store(world, "Toko")
    variant = add_product(world.engine, world.ctx, "Kaos", [("K-1", "")])["K-1"]
    listing = add_listing(world, store, "K-1")
    read_only = world.key("listings:read")
    viewer = world.key("write", role="viewer")

    scoped = [
        world.api.post(f"/listings/{listing}/link", json={"variant_id": str(variant)}, key=key)
        for key in (read_only, viewer)
    ]
    ignored = world.api.post(f"/listings/{listing}/ignore", key=read_only)
    unlinked = world.api.post(f"/listings/{listing}/unlink", key=viewer)

    assert [(r.status_code, r.json()["code"]) for r in scoped] == [
        (403, "scope_missing"),
        (403, "permission_denied"),
    ]
    assert scoped[0].json()["details"] == {"scope": "listings:write"}
    assert (ignored.status_code, ignored.json()["code"]) == (403, "scope_missing")
    assert (unlinked.status_code, unlinked.json()["code"]) == (403, "permission_denied")
    assert world.api.get(f"/listings/{listing}", key=read_only).status_code == 200
    row = listing_row(world, listing)
    assert (row.match_status, row.variant_id) == ("unmatched", None)


# -- prices --------------------------------------------------------------------------------------


def test_a_price_rule_is_previewed_refused_below_its_floor_then_saved_with_its_push(
    world: ApiWorld,
) -> None:
    store = add_store(world, "Toko")
    variant = add_product(world.engine, world.ctx, "Kaos", [("K-1", "")])["K-1"]
    add_listing(world, store, "K-1", variant_id=variant)
    with session_scope(world.ctx, engine=world.engine) as session:
        session.execute(
            sa.update(table_of(ProductVariant))
            .where(table_of(ProductVariant).c.id == variant)
            .values(price=Decimal("1000"), cost=Decimal("1050"))
        )
    viewer, read_only = world.key("write", role="viewer"), world.key("stores:read")

    default = world.api.get(f"/stores/{store}/price-rule")
    preview = world.api.post(f"/stores/{store}/price-rule/preview", json={"markup_percent": "10"})
    refused = world.api.put(
        f"/stores/{store}/price-rule", json={"markup_percent": "0", "floor": "100"}
    )
    after_refusal = world.api.get(f"/stores/{store}/price-rule")
    not_allowed = [
        world.api.put(f"/stores/{store}/price-rule", json={"markup_percent": "10"}, key=key)
        for key in (viewer, read_only)
    ]
    jobs_before = world.count(SyncJob)
    saved = world.api.put(f"/stores/{store}/price-rule", json={"markup_percent": "10", "add": "5"})

    assert default.json()["description"] == "master price"
    assert [(r["sku"], r["new"], r["problem"]) for r in preview.json()] == [("K-1", "1100", "")]
    assert refused.status_code == 422
    assert refused.json()["details"] == {"field": "floor", "sku": "K-1"}
    assert "K-1 would be priced 1000, below cost + floor (1150)" in refused.json()["message"]
    assert after_refusal.json() == default.json()  # nothing saved
    assert [(r.status_code, r.json()["code"]) for r in not_allowed] == [
        (403, "permission_denied"),
        (403, "scope_missing"),
    ]
    assert saved.status_code == 200, saved.json()
    assert saved.json()["description"] == "master price + 10 % + 5"
    assert saved.json()["push_queued"] is True
    assert world.count(SyncJob) == jobs_before + 1
    with session_scope(world.ctx, engine=world.engine) as session:
        kinds = session.execute(sa.select(SyncJob.kind)).scalars().all()  # type: ignore[call-overload]
    assert "prices" in kinds


def test_a_bulk_price_change_queues_the_price_push_of_each_store_selling_it(
    world: ApiWorld,
) -> None:
    sells, other = add_store(world, "Toko"), add_store(world, "Lain")
    variants = add_product(world.engine, world.ctx, "Kaos", [("K-1", ""), ("K-2", "")])
    add_listing(world, sells, "K-1", variant_id=variants["K-1"])
    add_listing(world, other, "K-2", variant_id=variants["K-2"])
    jobs_before = world.count(SyncJob)

    cost_only = world.api.post("/products/bulk", json={"items": [{"sku": "K-1", "cost": "10"}]})
    assert world.count(SyncJob) == jobs_before  # no price changed: nothing to send
    repriced = world.api.post(
        "/products/bulk",
        json={"items": [{"sku": "K-1", "price": "1500"}, {"sku": "NOPE", "price": "1"}]},
    )

    assert cost_only.status_code == 200 and repriced.status_code == 200
    assert "repriced_variant_ids" not in repriced.json()
    assert [(i["ref"], i["ok"]) for i in repriced.json()["items"]] == [
        ("K-1", True),
        ("NOPE", False),
    ]
    with session_scope(world.ctx, engine=world.engine) as session:
        queued = session.execute(
            sa.select(SyncJob.store_id, SyncJob.kind).where(  # type: ignore[call-overload]
                SyncJob.organization_id == world.ctx.organization_id
            )
        ).all()
    assert [(r.store_id, r.kind) for r in queued] == [(sells, "prices")]
