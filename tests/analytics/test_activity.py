"""The activity feed, kept: events published after a commit are written as activity rows in the
same transaction (none for a rolled-back change, none for a running job's progress), each naming
its order, SKU or store and channel with a link; an organization keeps its newest 100, and another
organization's entries are never shown."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.analytics import activity
from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import Store
from storesync.core.events import publish_after_commit
from storesync.db import session_scope
from storesync.notifications.service import notify
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.factories import token


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def _org(engine: Engine) -> RequestContext:
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(session, email=f"a-{token()}@example.com", password="pw-123456")
        org = tenancy.create_organization(session, name="Toko", owner_user_id=user.id)
    return RequestContext(user.id, org.id, Role.OWNER)


def _store(engine: Engine, ctx: RequestContext, platform: str = "tiktok") -> uuid.UUID:
    with session_scope(ctx, engine=engine) as session:
        store = Store(
            organization_id=ctx.organization_id,
            platform=platform,
            platform_store_id=f"S{token()}",
            name="Toko Tiktok",
        )
        session.add(store)
        session.flush()
        return store.id


def _feed(engine: Engine, ctx: RequestContext) -> list[activity.ActivityDTO]:
    with session_scope(ctx, engine=engine) as session:
        return activity.list_activity(session, ctx=ctx)


def _publish(engine: Engine, ctx: RequestContext, *events: tuple[str, dict]) -> None:
    with session_scope(ctx, engine=engine) as session:
        for type_, data in events:
            publish_after_commit(session, ctx.organization_id, type_, data)


def test_events_of_a_commit_become_activity_naming_order_store_and_channel(
    engine: Engine,
) -> None:
    ctx = _org(engine)
    store_id = _store(engine, ctx)

    _publish(
        engine,
        ctx,
        ("order.created", {"platform": "shopee", "platform_order_id": "SO123", "status": "paid"}),
        ("stock.pushed", {"store_id": str(store_id), "pushed": 3, "failed": 1}),
        ("sync_job.progress", {"store_id": str(store_id), "kind": "orders", "status": "running"}),
        ("sync_job.progress", {"store_id": str(store_id), "kind": "orders", "status": "succeeded"}),
    )

    feed = _feed(engine, ctx)
    by_kind = {e.kind: e for e in feed}
    assert set(by_kind) == {"order.created", "stock.pushed", "sync_job"}  # not the running one
    order = by_kind["order.created"]
    assert (order.subject_type, order.subject, order.channel, order.link) == (
        "order",
        "SO123",
        "shopee",
        "/orders?q=SO123",
    )
    assert order.text == "New order SO123 on Shopee (paid)"
    pushed = by_kind["stock.pushed"]
    assert (pushed.subject, pushed.channel, pushed.link) == ("Toko Tiktok", "tiktok", "/stores")
    assert pushed.text == "Stock sent to Toko Tiktok on TikTok Shop: 3 listings, 1 refused"
    assert by_kind["sync_job"].text == "Orders sync succeeded for Toko Tiktok on TikTok Shop"


def test_a_push_names_its_skus_and_a_push_of_one_is_about_that_sku(engine: Engine) -> None:
    ctx = _org(engine)
    store_id = _store(engine, ctx)
    many = [{"sku": f"KAOS-{n}", "quantity": n} for n in (1, 2, 3)]

    _publish(
        engine,
        ctx,
        ("stock.pushed", {"store_id": str(store_id), "pushed": 5, "failed": 0, "items": many}),
    )
    _publish(
        engine,
        ctx,
        (
            "stock.pushed",
            {"store_id": str(store_id), "pushed": 1, "failed": 0, "items": [many[0]]},
        ),
    )

    one, several = _feed(engine, ctx)[:2]  # newest first
    assert several.text == (
        "Stock sent to Toko Tiktok on TikTok Shop: KAOS-1 → 1, KAOS-2 → 2, KAOS-3 → 3 and 2 more"
    )
    assert (several.subject_type, several.link) == ("store", "/stores")
    assert one.text == "Stock sent to Toko Tiktok on TikTok Shop: KAOS-1 → 1"
    assert (one.subject_type, one.subject, one.channel, one.link) == (
        "sku",
        "KAOS-1",
        "tiktok",
        "/inventory?q=KAOS-1",
    )


def test_an_oversold_notification_names_its_sku_and_links_to_inventory(engine: Engine) -> None:
    ctx = _org(engine)
    with session_scope(ctx, engine=engine) as session:
        product = Product(organization_id=ctx.organization_id, handle=f"h{token()}", title="Kaos")
        session.add(product)
        session.flush()
        variant = ProductVariant(
            organization_id=ctx.organization_id, product_id=product.id, variant_sku="KAOS-M"
        )
        session.add(variant)
        session.flush()
        notify(
            session,
            organization_id=ctx.organization_id,
            kind="order.oversold",
            severity="error",
            title="Oversold: order SO9",
            data={"variant_id": str(variant.id)},
        )

    [entry] = _feed(engine, ctx)
    assert (entry.subject_type, entry.subject, entry.link) == (
        "sku",
        "KAOS-M",
        "/inventory?q=KAOS-M",
    )
    assert entry.text == "Oversold: order SO9"


def test_a_rolled_back_change_leaves_no_activity(engine: Engine) -> None:
    ctx = _org(engine)

    with pytest.raises(RuntimeError), session_scope(ctx, engine=engine) as session:
        publish_after_commit(
            session, ctx.organization_id, "order.created", {"platform_order_id": "X1"}
        )
        raise RuntimeError("the change failed")

    assert _feed(engine, ctx) == []


def test_the_feed_keeps_the_newest_100_per_organization(engine: Engine) -> None:
    ctx, other = _org(engine), _org(engine)
    _publish(engine, other, ("order.created", {"platform_order_id": "OTHER"}))
    for batch in range(3):
        _publish(
            engine,
            ctx,
            *[("order.created", {"platform_order_id": f"N{batch:02d}-{n:03d}"}) for n in range(45)],
        )

    feed = _feed(engine, ctx)
    with session_scope(ctx, engine=engine) as session:
        stored = session.execute(
            sa.select(sa.func.count()).where(
                activity.ACTIVITY.c.organization_id == ctx.organization_id
            )
        ).scalar_one()

    assert stored == len(feed) == activity.KEEP
    subjects = {e.subject for e in feed}
    assert "N02-044" in subjects and "N00-000" not in subjects  # the oldest went
    assert "OTHER" not in subjects
    assert [e.subject for e in _feed(engine, other)] == ["OTHER"]  # its own feed is untouched


def test_each_entry_links_to_what_it_names_and_other_events_write_nothing() -> None:
    entries = [activity.describe("order.created", {"platform_order_id": str(n)}) for n in range(3)]
    assert [e["link"] for e in entries if e] == ["/orders?q=0", "/orders?q=1", "/orders?q=2"]
    assert activity.describe("stock.changed", {}) is None


@pytest.mark.postgres
def test_a_prune_never_waits_for_another_transactions_prune(app_engine: Engine) -> None:
    """Two changes committing at once both prune: the second skips the rows the first is
    deleting instead of waiting for its commit (a wait would queue every order behind it)."""
    ctx = _org(app_engine)
    _publish(
        app_engine,
        ctx,
        *[("order.created", {"platform_order_id": f"A{n:03d}"}) for n in range(activity.KEEP)],
    )
    with session_scope(ctx, engine=app_engine) as first:
        first.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        activity.record_activity(
            first,
            organization_id=ctx.organization_id,
            events=[("order.created", {"platform_order_id": f"B{n}"}) for n in range(5)],
        )  # inserts 5 and deletes (locks) the 5 oldest, not committed yet
        with session_scope(ctx, engine=app_engine) as second:
            second.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
            # Without SKIP LOCKED this would wait for `first` and fail on the lock timeout.
            activity.record_activity(
                second,
                organization_id=ctx.organization_id,
                events=[("order.created", {"platform_order_id": "C0"})],
            )

    with session_scope(ctx, engine=app_engine) as session:
        stored = session.execute(
            sa.select(sa.func.count()).where(
                activity.ACTIVITY.c.organization_id == ctx.organization_id
            )
        ).scalar_one()
    # Both committed; at most the one row the second could not take is left over, for the next.
    assert activity.KEEP <= stored <= activity.KEEP + 1
    subjects = {e.subject for e in _feed(app_engine, ctx)}
    assert {"B0", "B4", "C0"} <= subjects
