"""Staleness per listing and per store, and its alerts, on PostgreSQL as the app role with the
clock mocked: pushes waiting, failed or retried for longer than a minute are stale, fresh ones
are not; one alert per store, not repeated while an unread one from the last hour exists."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync import migrate
from storesync.channels.models import ChannelListing, Store
from storesync.channels.resilience import breaker_for
from storesync.core.clock import set_clock
from storesync.db import make_engine, session_scope
from storesync.inventory import service as inventory
from storesync.inventory.models import ChannelAllocation
from storesync.sync.health import staleness
from storesync.sync.health.schemas import StaleListingDTO, StoreStalenessDTO
from storesync.sync.push import outbox
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.channels.conftest import make_org
from tests.conftest import create_pg_database, drop_pg_database
from tests.factories import make_tenant, token
from tests.sandbox.conftest import RunningSandbox
from tests.sync import intake_fixtures
from tests.sync.test_reconcile import World, build

pytestmark = pytest.mark.postgres
OUTBOX = outbox.OUTBOX
NOTIFICATIONS = staleness.NOTIFICATIONS


class Clock:
    """The mocked clock: `at(s)` moves it to `s` seconds after the test began."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC).replace(microsecond=0)
        self.now = self.start

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> datetime:
        self.now = self.start + timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Iterator[Clock]:
    mocked = Clock()
    set_clock(mocked)
    yield mocked
    set_clock(None)


recording_bus = intake_fixtures.recording_bus
RecordingBus = intake_fixtures.RecordingBus


@pytest.fixture
def own_database() -> Iterator[Engine]:
    """A migrated database of this test's own, as the app role: `alert_stale` sweeps every
    organization, so counts are exact only without other tests' organizations."""
    database = create_pg_database()
    try:
        migrate.upgrade(url=database.owner_url)
        engine = make_engine(database.app_url)
        yield engine
        engine.dispose()
    finally:
        drop_pg_database(database)


def stale(w: World, ctx: RequestContext | None = None, **options: Any) -> list[StaleListingDTO]:
    """Every page of `stale_listings`, one listing a page (so paging is exercised too)."""
    ctx = ctx or w.ctx
    found: list[StaleListingDTO] = []
    cursor = None
    while True:
        with session_scope(ctx, engine=w.engine) as session:
            page = staleness.stale_listings(session, ctx=ctx, limit=1, cursor=cursor, **options)
        found += page.items
        cursor = page.next_cursor
        if cursor is None:
            return found


def summary(engine: Engine, ctx: RequestContext) -> list[StoreStalenessDTO]:
    with session_scope(ctx, engine=engine) as session:
        return staleness.staleness_summary(session, ctx=ctx)


def outbox_row(w: World, listing_id: uuid.UUID) -> Any:
    with session_scope(w.ctx, engine=w.engine) as session:
        return session.execute(sa.select(OUTBOX).where(OUTBOX.c.listing_id == listing_id)).one()


def test_waiting_and_failed_pushes_go_stale_after_a_minute_fresh_ones_do_not(
    app_engine: Engine, running_sandbox: RunningSandbox, clock: Clock
) -> None:
    w = build(app_engine, running_sandbox, "tiktok")  # everything pushed at t0
    t0 = clock.start
    rows = w.rows()
    on_hand = w.on_hand()
    failing = sorted(rows)[0]
    waiting, fresh = sorted(
        lid for lid, row in rows.items() if row.platform_item_id != rows[failing].platform_item_id
    )[:2]
    (shop,) = [s for (p, _), s in w.sandbox.state.shops.items() if p == "tiktok"]
    clock.at(10)
    shop.items.pop(rows[failing].platform_item_id)  # the channel refuses its updates
    w.set_stock(failing, on_hand[failing] + 10)
    assert w.push().failed == 1
    w.set_stock(waiting, on_hand[waiting] + 10)  # queued; no worker pushes it
    clock.at(50)
    w.set_stock(fresh, on_hand[fresh] + 10)
    expected = w.expected()
    stranger = make_org(app_engine)

    clock.at(71)
    found = stale(w)
    everything = stale(w, older_than=timedelta(seconds=15))
    dashboard = summary(app_engine, w.ctx)

    assert [(s.listing_id, s.push_status, s.attempts) for s in found] == sorted(
        [(failing, "failed", 1), (waiting, "pending", 0)]
    )
    for s in found:
        row = rows[s.listing_id]
        assert s == StaleListingDTO(
            listing_id=s.listing_id,
            store_id=w.store_id,
            store_name=s.store_name,
            platform="tiktok",
            platform_item_id=row.platform_item_id,
            platform_model_id=row.platform_model_id,
            sku=s.sku,
            title=row.title,
            model_name=row.model_name,
            desired_quantity=expected[s.listing_id],
            last_pushed_quantity=row.last_pushed_quantity,
            last_pushed_at=t0,
            push_status=s.push_status,
            last_error=s.last_error,
            attempts=s.attempts,
            stale_since=t0 + timedelta(seconds=10),
            age_seconds=61.0,
        )
        assert s.desired_quantity != s.last_pushed_quantity and s.sku
    assert found[0 if found[0].listing_id == failing else 1].last_error
    assert [s.listing_id for s in everything] == [*(s.listing_id for s in found), fresh]
    assert dashboard == [
        StoreStalenessDTO(
            store_id=w.store_id,
            store_name=dashboard[0].store_name,
            platform="tiktok",
            status="connected",
            stale_listings=2,
            oldest_stale_since=t0 + timedelta(seconds=10),
            oldest_age_seconds=61.0,
            last_pushed_at=t0,
        )
    ]
    assert stale(w, stranger) == [] and summary(app_engine, stranger) == []
    clock.at(69)
    assert stale(w) == []


def test_a_push_retried_through_an_outage_keeps_its_age(
    app_engine: Engine, running_sandbox: RunningSandbox, clock: Clock
) -> None:
    w = build(app_engine, running_sandbox, "tiktok")
    t0 = clock.start
    listing = sorted(w.rows())[0]
    w.set_stock(listing, w.on_hand()[listing] + 10)  # queued at t0
    breaker = breaker_for(f"store:{w.store_id}")
    for _ in range(breaker.threshold):
        breaker.record_failure()  # the marketplace is down: every attempt is deferred
    try:
        at = 1.0
        for _attempt in range(6):
            clock.at(at)
            assert w.push().deferred == 1
            row = outbox_row(w, listing)
            at = (row.available_at - t0).total_seconds()
    finally:
        breaker.record_success()
    latest = (row.updated_at - t0).total_seconds()
    backoff = (row.available_at - row.updated_at).total_seconds()
    assert row.attempts == 6 and backoff > 60 > 80 - latest

    clock.at(80)
    (found,) = stale(w)

    assert (found.listing_id, found.push_status, found.attempts) == (listing, "pending", 6)
    assert found.stale_since == row.updated_at - timedelta(seconds=backoff)
    assert found.stale_since < t0 + timedelta(seconds=5)
    assert found.age_seconds == 80 - latest + backoff
    assert found.last_error.startswith("circuit_open")


def test_a_store_that_stopped_syncing_goes_stale_from_when_it_stopped(
    app_engine: Engine, running_sandbox: RunningSandbox, clock: Clock
) -> None:
    w = build(app_engine, running_sandbox, "tiktok")
    t0 = clock.start
    listing = sorted(w.rows())[0]
    clock.at(20)
    with session_scope(w.ctx, engine=w.engine) as session:
        session.execute(
            sa.update(outbox.STORES)
            .where(outbox.STORES.c.id == w.store_id)
            .values(status="reauth_required", unhealthy_since=clock.now)
        )
    clock.at(30)
    w.set_stock(listing, w.on_hand()[listing] + 10)  # nothing is queued for this store now
    assert outbox_row(w, listing).status == "done"

    clock.at(79)
    assert stale(w) == []
    clock.at(81)
    (found,) = stale(w)

    assert (found.listing_id, found.push_status, found.attempts, found.last_error) == (
        listing,
        "",
        0,
        "",
    )
    assert (found.stale_since, found.age_seconds) == (t0 + timedelta(seconds=20), 61.0)
    assert found.desired_quantity == w.expected()[listing] != found.last_pushed_quantity
    assert summary(app_engine, w.ctx)[0].status == "reauth_required"


def _second_store(engine: Engine, ctx: RequestContext, listing_id: uuid.UUID) -> uuid.UUID:
    """Another store of the organization listing the same variant."""
    with session_scope(ctx, engine=engine) as session:
        variant_id = session.get(ChannelListing, listing_id).variant_id  # type: ignore[union-attr]
        store = Store(
            organization_id=ctx.organization_id,
            platform="tiktok",
            platform_store_id=token(),
            name="Second",
        )
        session.add(store)
        session.flush()
        session.add(
            ChannelListing(
                organization_id=ctx.organization_id,
                store_id=store.id,
                platform_item_id=token(),
                variant_id=variant_id,
                match_status="matched",
            )
        )
    return store.id


def _count(engine: Engine, ctx: RequestContext, tenant: Any, quantity: int) -> None:
    with session_scope(ctx, engine=engine) as session:
        listing = session.get(ChannelListing, tenant.listing_id)
        assert listing is not None and listing.variant_id is not None
        inventory.set_on_hand(
            session,
            ctx=ctx,
            variant_id=listing.variant_id,
            location_id=inventory.default_location(session, ctx=ctx).id,
            quantity=quantity,
            reason="count",
        )


def _alerts(engine: Engine, ctx: RequestContext) -> list[Any]:
    with session_scope(ctx, engine=engine) as session:
        return list(
            session.execute(
                sa.select(NOTIFICATIONS).order_by(NOTIFICATIONS.c.created_at, NOTIFICATIONS.c.id)
            ).all()
        )


def test_one_alert_per_stale_store_not_repeated_while_unread_within_the_hour(
    own_database: Engine, clock: Clock, recording_bus: RecordingBus
) -> None:
    engine = own_database
    a, b, c = (make_tenant(engine) for _ in range(3))
    a_second = _second_store(engine, a.ctx, a.listing_id)
    _count(engine, a.ctx, a, 7)  # both of a's stores wait for a push
    _count(engine, b.ctx, b, 3)
    clock.at(50)
    _count(engine, c.ctx, c, 5)  # too recent to alert at 70 s

    clock.at(70)
    first = staleness.alert_stale(engine=engine)
    clock.at(75)
    again = staleness.alert_stale(engine=engine)

    assert (first, again) == (3, 0)
    alerts = {t: _alerts(engine, t.ctx) for t in (a, b, c)}
    assert {n.data["store_id"] for n in alerts[a]} == {str(a.store_id), str(a_second)}
    assert [n.data["store_id"] for n in alerts[b]] == [str(b.store_id)]
    assert alerts[c] == []
    for n in alerts[a] + alerts[b]:
        assert (n.kind, n.severity, n.user_id, n.read_at) == ("sync.stale", "warning", None, None)
        assert n.data["stale_listings"] == 1 and n.data["oldest_age_seconds"] == 70
        assert n.created_at == clock.start + timedelta(seconds=70)
    events = recording_bus.published
    assert sorted((e.organization_id, e.type, e.data["store_id"]) for e in events) == sorted(
        (str(t.ctx.organization_id), "notification", n.data["store_id"])
        for t in (a, b)
        for n in alerts[t]
    )
    assert {e.data["id"] for e in events} == {str(n.id) for n in alerts[a] + alerts[b]}

    with session_scope(a.ctx, engine=engine) as session:  # the merchant reads one
        session.execute(
            sa.update(NOTIFICATIONS)
            .where(NOTIFICATIONS.c.id == alerts[a][0].id)
            .values(read_at=clock.now)
        )
    clock.at(80)
    assert staleness.alert_stale(engine=engine) == 1
    assert {n.data["store_id"] for n in _alerts(engine, a.ctx)[2:]} == {
        alerts[a][0].data["store_id"]
    }

    clock.at(70 + 3601)  # an hour on, unread alerts no longer cover their stores
    assert staleness.alert_stale(engine=engine) == 3
    assert [n.data["store_id"] for n in _alerts(engine, c.ctx)] == [str(c.store_id)]
    assert len(_alerts(engine, b.ctx)) == 2
    viewer = RequestContext(b.ctx.user_id, b.ctx.organization_id, Role.VIEWER)
    with session_scope(viewer, engine=engine) as session:
        visible = staleness.stale_listings(session, ctx=viewer).items
        notes = session.execute(sa.select(sa.func.count()).select_from(NOTIFICATIONS)).scalar()
    assert [s.listing_id for s in visible] == [b.listing_id]  # not a's, nor c's
    assert notes == 2


@pytest.mark.parametrize("database", ["own_database", "sqlite_engine"])
def test_what_a_listing_should_show_follows_the_outbox_share_buffer_and_location(
    request: pytest.FixtureRequest, clock: Clock, database: str
) -> None:
    engine: Engine = request.getfixturevalue(database)
    t = make_tenant(engine)
    with session_scope(t.ctx, engine=engine) as session:
        variant_id = session.get(ChannelListing, t.listing_id).variant_id  # type: ignore[union-attr]
        default = inventory.default_location(session, ctx=t.ctx).id
        second = inventory.create_location(session, ctx=t.ctx, code="B", name="Back room").id
        for location, quantity in ((default, 30), (second, 11)):
            inventory.set_on_hand(
                session,
                ctx=t.ctx,
                variant_id=variant_id,
                location_id=location,
                quantity=quantity,
                reason="count",
            )
        session.add(
            ChannelAllocation(
                organization_id=t.ctx.organization_id,
                store_id=t.store_id,
                share_percent=Decimal("33.33"),
                buffer=2,
            )
        )

    def desired() -> tuple[int, int]:
        with session_scope(t.ctx, engine=engine) as session:
            (found,) = staleness.stale_listings(session, ctx=t.ctx).items
            (ours,) = outbox.desired_quantities(session, [variant_id])
        return found.desired_quantity, ours["quantity"]

    def channel_got(quantity: int) -> None:  # as the dispatcher records a push that then failed
        with session_scope(t.ctx, engine=engine) as session:
            session.execute(
                sa.update(outbox.LISTINGS)
                .where(outbox.LISTINGS.c.id == t.listing_id)
                .values(last_pushed_quantity=quantity, last_pushed_at=clock.now)
            )
            session.execute(
                sa.update(OUTBOX).where(OUTBOX.c.listing_id == t.listing_id).values(status="failed")
            )

    clock.at(61)
    assert desired() == (41 * 3333 // 10000 - 2,) * 2 == (11, 11)
    with session_scope(t.ctx, engine=engine) as session:
        session.execute(
            sa.update(outbox.ALLOCATIONS)
            .where(outbox.ALLOCATIONS.c.store_id == t.store_id)
            .values(location_id=second)
        )
    assert desired() == (1, 1)  # 33.33 % of the back room's 11, minus 2

    channel_got(1)  # in step: a failed row whose figure the channel has anyway is not stale
    clock.at(200)
    with session_scope(t.ctx, engine=engine) as session:
        assert staleness.stale_listings(session, ctx=t.ctx).items == []
    assert staleness.alert_stale(engine=engine) == 0
    channel_got(2)
    clock.at(300)
    with session_scope(t.ctx, engine=engine) as session:
        (found,) = staleness.stale_listings(session, ctx=t.ctx).items
    assert (found.push_status, found.desired_quantity, found.last_pushed_quantity) == (
        "failed",
        1,
        2,
    )
    assert staleness.alert_stale(engine=engine) == 1
