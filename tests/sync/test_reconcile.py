"""Reconciliation on PostgreSQL (app role, RLS) against the sandbox over HTTP: drift is found,
recorded exactly, repaired on the channel, and nothing else is touched."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.core.errors import AppError, NotFound, PermissionDenied
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.sandbox.state import Model
from storesync.settings import Settings
from storesync.sync.health import reconcile
from storesync.sync.health.schemas import ReconcileReport
from storesync.sync.jobs.progress import JobCancelled
from storesync.sync.listings import service as listings
from storesync.sync.models import SyncJob
from storesync.sync.push import dispatch, outbox
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.channels.conftest import connect_store, make_org, sandbox_settings
from tests.sandbox.conftest import RunningSandbox, serve_sandbox

pytestmark = pytest.mark.postgres
LISTINGS = outbox.LISTINGS
DRIFT = reconcile.DRIFT
ITEMS = outbox.ITEMS
ALLOCATIONS = outbox.ALLOCATIONS
Key = tuple[str, str]
UPDATE_PATHS = ("update_stock", "inventory/update")


@dataclass
class World:
    """One organization with one store connected to the sandbox, every listing matched to a
    product made from it, its stock pushed: the channel is in step."""

    engine: Engine
    ctx: RequestContext
    store_id: uuid.UUID
    platform: str
    cfg: Settings
    sandbox: RunningSandbox

    def units(self) -> dict[Key, Model]:
        """The sandbox's live models by listing key (a Shopee item without models is "")."""
        (shop,) = [s for (p, _), s in self.sandbox.state.shops.items() if p == self.platform]
        return {
            (item.id, model.id if item.has_models else ""): model
            for item in shop.items.values()
            for model in item.models
        }

    def rows(self) -> dict[uuid.UUID, Any]:
        with session_scope(self.ctx, engine=self.engine) as session:
            found = session.execute(
                sa.select(LISTINGS).where(LISTINGS.c.store_id == self.store_id)
            ).all()
        return {row.id: row for row in found}

    def on_hand(self) -> dict[uuid.UUID, int]:
        """Each listing's variant's on-hand (one location, nothing reserved; none counted: 0)."""
        with session_scope(self.ctx, engine=self.engine) as session:
            found = session.execute(
                sa.select(LISTINGS.c.id, ITEMS.c.on_hand)
                .outerjoin(ITEMS, ITEMS.c.variant_id == LISTINGS.c.variant_id)
                .where(LISTINGS.c.store_id == self.store_id)
            ).all()
        return {listing_id: on_hand or 0 for listing_id, on_hand in found}

    def expected(self) -> dict[uuid.UUID, int]:
        """What every listing should show: half the stock minus a buffer of 1 (the allocation)."""
        return {lid: max(0, on_hand * 50 // 100 - 1) for lid, on_hand in self.on_hand().items()}

    def shown(self) -> dict[uuid.UUID, int]:
        units = self.units()
        return {
            lid: units[(row.platform_item_id, row.platform_model_id)].stock
            for lid, row in self.rows().items()
            if (row.platform_item_id, row.platform_model_id) in units
        }

    def drift(self) -> list[Any]:
        with session_scope(self.ctx, engine=self.engine) as session:
            return list(session.execute(sa.select(DRIFT).order_by(DRIFT.c.listing_id)).all())

    def reconcile(self, ctx: RequestContext | None = None, **options: Any) -> ReconcileReport:
        return asyncio.run(
            reconcile.reconcile_store(
                ctx=ctx or self.ctx,
                store_id=self.store_id,
                settings=self.cfg,
                engine=self.engine,
                **options,
            )
        )

    def push(self) -> dispatch.PushReport:
        return asyncio.run(
            dispatch.push_store(
                organization_id=self.ctx.organization_id,
                store_id=self.store_id,
                settings=self.cfg,
                engine=self.engine,
            )
        )

    def set_stock(self, listing_id: uuid.UUID, quantity: int) -> None:
        """Count the listing's variant at `quantity` (the outbox queues its pushes)."""
        with session_scope(self.ctx, engine=self.engine) as session:
            item = session.execute(
                sa.select(ITEMS.c.variant_id, ITEMS.c.location_id)
                .join(LISTINGS, LISTINGS.c.variant_id == ITEMS.c.variant_id)
                .where(LISTINGS.c.id == listing_id)
            ).one()
            inventory.set_on_hand(
                session,
                ctx=self.ctx,
                variant_id=item.variant_id,
                location_id=item.location_id,
                quantity=quantity,
                reason="count",
            )

    def update_calls(self, since: float) -> int:
        """Stock updates the sandbox received since `since` (time.time())."""
        calls = httpx.get(f"{self.sandbox.base_url}/sandbox/calls", params={"since": since})
        return sum(1 for c in calls.json()["calls"] if c["path"].endswith(UPDATE_PATHS))


def build(engine: Engine, sandbox: RunningSandbox, platform: str, **cfg: Any) -> World:
    settings = sandbox_settings(sandbox.base_url, **cfg)
    ctx = make_org(engine)
    store_id = connect_store(engine, ctx, platform, settings)
    with session_scope(ctx, engine=engine) as session:  # connecting made a 100 % allocation
        session.execute(
            sa.update(ALLOCATIONS)
            .where(ALLOCATIONS.c.store_id == store_id)
            .values(share_percent=Decimal(50), buffer=1)
        )
    with session_scope(ctx, engine=engine) as session:
        asyncio.run(
            listings.import_listings(
                session, ctx=ctx, store_id=store_id, settings=settings, create_products=True
            )
        )
    world = World(engine, ctx, store_id, platform, settings, sandbox)
    world.push()
    assert world.shown() == world.expected(), "the channel starts in step"
    assert all(row.match_status == "matched" for row in world.rows().values())
    return world


def a_job(w: World) -> uuid.UUID:
    with session_scope(w.ctx, engine=w.engine) as session:
        job = SyncJob(
            organization_id=w.ctx.organization_id,
            store_id=w.store_id,
            kind="reconcile",
            status="running",
        )
        session.add(job)
    return job.id


class Recorder:
    """A progress sink that records every call and can cancel at one of them."""

    def __init__(self, cancel_at: int | None = None, phase: str | None = None) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.cancel_at = cancel_at
        self.phase = phase

    def __call__(self, *, phase: str, done: int, total: int, failed: int = 0) -> None:
        self.calls.append((phase, done, total))
        of_phase = [c for c in self.calls if self.phase in (None, c[0])]
        if self.phase in (None, phase) and len(of_phase) == self.cancel_at:
            raise JobCancelled()


@pytest.mark.parametrize(
    ("platform", "database"),
    [("shopee", "app_engine"), ("tiktok", "app_engine"), ("tiktok", "sqlite_engine")],
)
def test_drift_is_recorded_repaired_and_a_second_run_finds_none(
    request: pytest.FixtureRequest, running_sandbox: RunningSandbox, platform: str, database: str
) -> None:
    w = build(request.getfixturevalue(database), running_sandbox, platform)
    expected = w.expected()
    rows = w.rows()
    units = w.units()
    drifted = sorted(lid for lid, q in expected.items() if q > 0)[:3]
    found = {
        drifted[0]: 0,
        drifted[1]: expected[drifted[1]] + 5,
        drifted[2]: expected[drifted[2]] + 40,
    }
    for lid, quantity in found.items():
        units[(rows[lid].platform_item_id, rows[lid].platform_model_id)].stock = quantity
    (shop,) = [s for (p, _), s in w.sandbox.state.shops.items() if p == platform]
    gone_item = next(
        i for i in shop.items if all(rows[lid].platform_item_id != i for lid in drifted)
    )
    gone = {lid for lid, row in rows.items() if row.platform_item_id == gone_item}
    shop.items.pop(gone_item)
    job_id = a_job(w)
    sink = Recorder()

    report = w.reconcile(job_id=job_id, progress=sink)

    assert report == ReconcileReport(
        store_id=w.store_id,
        job_id=job_id,
        checked=len(rows) - len(gone),
        drifted=3,
        repaired=3,
        missing=len(gone),
        in_flight=0,
        calls=report.calls,
    )
    assert report.calls > 0
    drift = w.drift()
    assert {(d.listing_id, d.expected, d.found, d.job_id, d.repaired) for d in drift} == {
        (lid, expected[lid], found[lid], job_id, True) for lid in drifted
    }
    assert all(d.repaired_at is not None and d.repaired_at >= d.created_at for d in drift)
    assert w.shown() == {lid: q for lid, q in expected.items() if lid not in gone}
    after = w.rows()
    for lid, row in after.items():
        before = rows[lid]
        if lid in drifted:
            assert (row.channel_quantity, row.last_pushed_quantity) == (expected[lid],) * 2
            assert row.last_pushed_at > before.last_pushed_at
        else:  # not pushed again, not changed (the vanished item's rows included)
            assert row.last_pushed_at == before.last_pushed_at
            assert row.channel_quantity == before.channel_quantity == expected[lid]
    assert [c for c in sink.calls if c[0] == "repairing"] == [
        ("repairing", 0, 3),
        ("repairing", 3, 3),
    ]
    assert sink.calls[0][0] == "reading" and sink.calls[-3][:2] == (
        "reading",
        len(rows) - len(gone),
    )

    since = time.time()
    again = w.reconcile(progress=(quiet := Recorder()))

    assert (again.drifted, again.repaired, again.missing, again.checked) == (
        0,
        0,
        len(gone),
        len(rows) - len(gone),
    )
    assert len(w.drift()) == 3
    assert w.rows() == after
    assert w.update_calls(since) == 0
    assert {c[0] for c in quiet.calls} == {"reading"}


def test_a_listing_whose_push_is_on_its_way_is_not_drift(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(app_engine, running_sandbox, "tiktok")
    rows = w.rows()
    waiting, drifting = sorted(rows)[:2]
    on_hand = w.on_hand()
    w.set_stock(waiting, on_hand[waiting] + 20)  # queued, not pushed yet
    units = w.units()
    for lid in (waiting, drifting):
        units[(rows[lid].platform_item_id, rows[lid].platform_model_id)].stock = 333
    expected = w.expected()

    report = w.reconcile()

    assert (report.checked, report.in_flight, report.drifted, report.repaired) == (
        len(rows) - 1,
        1,
        1,
        1,
    )
    assert [(d.listing_id, d.expected, d.found) for d in w.drift()] == [
        (drifting, expected[drifting], 333)
    ]
    after = w.rows()
    # its own push went out with the repair, as the dispatcher would have sent it anyway
    assert after[waiting].last_pushed_at > rows[waiting].last_pushed_at
    assert after[waiting].channel_quantity == w.shown()[waiting] == expected[waiting]


def test_cancelled_while_reading_writes_nothing(
    app_engine: Engine, paged_sandbox: RunningSandbox
) -> None:
    w = build(app_engine, paged_sandbox, "tiktok", tiktok_rate_limit=1000)
    rows = w.rows()
    units = w.units()
    for lid in sorted(rows)[:: len(rows) // 4]:
        units[(rows[lid].platform_item_id, rows[lid].platform_model_id)].stock = 99
    with session_scope(w.ctx, engine=w.engine) as session:
        queued = session.execute(sa.select(outbox.OUTBOX)).all()
    since = time.time()
    sink = Recorder(cancel_at=1)

    with pytest.raises(JobCancelled):
        w.reconcile(progress=sink)

    ((phase, done, total),) = sink.calls  # after the first page of 100 products
    assert (phase, total) == ("reading", len(rows)) and 100 <= done < len(rows)
    assert w.drift() == []
    assert w.rows() == rows
    with session_scope(w.ctx, engine=w.engine) as session:
        assert session.execute(sa.select(outbox.OUTBOX)).all() == queued
    assert w.update_calls(since) == 0


def test_cancelled_before_repairing_keeps_what_was_compared_and_the_next_run_closes_it(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(app_engine, running_sandbox, "tiktok")
    rows = w.rows()
    units = w.units()
    lid = sorted(rows)[0]
    units[(rows[lid].platform_item_id, rows[lid].platform_model_id)].stock = 500
    expected = w.expected()
    since = time.time()

    with pytest.raises(JobCancelled):
        w.reconcile(progress=Recorder(cancel_at=1, phase="repairing"))

    assert [(d.listing_id, d.expected, d.found, d.repaired) for d in w.drift()] == [
        (lid, expected[lid], 500, False)
    ]
    assert w.update_calls(since) == 0 and w.shown()[lid] == 500
    with session_scope(w.ctx, engine=w.engine) as session:
        row = session.execute(
            sa.select(outbox.OUTBOX.c.status, outbox.OUTBOX.c.quantity).where(
                outbox.OUTBOX.c.listing_id == lid
            )
        ).one()
    assert tuple(row) == ("pending", expected[lid])  # queued for the sweeper's push

    assert w.push().pushed == 1  # what the sweeper's worker does
    report = w.reconcile()

    assert (report.drifted, report.repaired) == (0, 0)
    (drift,) = w.drift()
    assert drift.repaired and drift.repaired_at is not None
    assert w.shown()[lid] == expected[lid]


def test_a_viewer_another_organization_or_a_disconnected_store_change_nothing(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(app_engine, running_sandbox, "tiktok")
    rows = w.rows()
    lid = sorted(rows)[0]
    w.units()[(rows[lid].platform_item_id, rows[lid].platform_model_id)].stock = 61
    viewer = RequestContext(w.ctx.user_id, w.ctx.organization_id, Role.VIEWER)
    stranger = make_org(app_engine)
    since = time.time()

    with pytest.raises(PermissionDenied):
        w.reconcile(viewer)
    with pytest.raises(NotFound):
        w.reconcile(stranger)
    with session_scope(w.ctx, engine=w.engine) as session:
        session.execute(
            sa.update(outbox.STORES)
            .where(outbox.STORES.c.id == w.store_id)
            .values(status="reauth_required")
        )
    with pytest.raises(AppError) as refused:
        w.reconcile()

    assert refused.value.code == "store_not_connected"
    assert w.drift() == []
    assert w.rows() == rows
    calls = httpx.get(f"{w.sandbox.base_url}/sandbox/calls", params={"since": since}).json()
    assert calls["total"] == 0


def test_drift_pages_newest_first_and_stays_in_its_organization(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(app_engine, running_sandbox, "tiktok")
    rows = w.rows()
    units = w.units()
    chosen = sorted(rows)[:3]
    for number, lid in enumerate(chosen):
        units[(rows[lid].platform_item_id, rows[lid].platform_model_id)].stock = 700 + number
    job_id = a_job(w)
    w.reconcile(job_id=job_id)
    units[(rows[chosen[0]].platform_item_id, rows[chosen[0]].platform_model_id)].stock = 800
    w.reconcile()  # a later run: its drift comes first
    viewer = RequestContext(w.ctx.user_id, w.ctx.organization_id, Role.VIEWER)

    pages, cursor = [], None
    while True:
        with session_scope(viewer, engine=w.engine) as session:
            page = reconcile.list_drift(
                session, ctx=viewer, store_id=w.store_id, limit=2, cursor=cursor
            )
        pages.append([(d.listing_id, d.found) for d in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break

    assert pages[0][0] == (chosen[0], 800)
    assert sorted(p for page in pages for p in page) == sorted(
        [(chosen[0], 800), *((lid, 700 + n) for n, lid in enumerate(chosen))]
    )
    assert [len(page) for page in pages] == [2, 2]
    with session_scope(w.ctx, engine=w.engine) as session:
        of_job = reconcile.list_drift(session, ctx=w.ctx, job_id=job_id)
        first = of_job.items[0]
    assert sorted(d.listing_id for d in of_job.items) == sorted(chosen)
    assert (first.platform_item_id, first.title) == (
        rows[first.listing_id].platform_item_id,
        rows[first.listing_id].title,
    )
    stranger = make_org(app_engine)
    with session_scope(stranger, engine=w.engine) as session:
        assert reconcile.list_drift(session, ctx=stranger).items == []
        assert reconcile.list_drift(session, ctx=stranger, store_id=w.store_id).items == []
        assert session.execute(sa.select(sa.func.count()).select_from(DRIFT)).scalar_one() == 0


@pytest.fixture
def paged_sandbox() -> Iterator[RunningSandbox]:
    """A sandbox whose shops list 150 products: more than one page of 100."""
    with serve_sandbox(seed=13, products_per_shop=150) as running:
        yield running
