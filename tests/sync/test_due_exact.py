"""The due query (`storesync.sync.due`) names exactly the organizations where each sweep acts:
scenarios of every kind of work, one organization each, judged by running the sweep in each
organization on its own. On PostgreSQL as the app role (the shared database; this test's
organizations are dropped after it), and the kinds SQLite answers exactly, on SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.core.ids import new_id
from storesync.db import make_engine, session_scope
from storesync.notifications import webhooks
from storesync.sync.due import Work, find_due
from storesync.sync.health import schedule, staleness
from storesync.sync.intake import batch
from storesync.sync.jobs import runner
from storesync.sync.push import dispatch
from tests.conftest import PgDatabase
from tests.sync.due_fixtures import (
    SLUG,
    TABLES,
    Build,
    M,
    Org,
    S,
    T,
    add_org,
    clock,
    insert,
    only,
    org_with,
)

__all__ = ["clock"]


@dataclass(frozen=True)
class Backend:
    seed: Engine  # writes any organization's rows
    app: Engine  # what the sweeps run as


@pytest.fixture
def shared_pg(pg: PgDatabase, app_engine: Engine) -> Iterator[Backend]:
    """The session's database: seeded as a superuser, swept as the app role; this test's
    organizations (and so all their rows) are dropped afterwards."""
    admin = make_engine(pg.admin_url)
    try:
        yield Backend(admin, app_engine)
    finally:
        with admin.begin() as conn:
            conn.execute(
                sa.text("DELETE FROM organization WHERE slug LIKE :mine"), {"mine": SLUG + "%"}
            )
        admin.dispose()


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "sqlite":
        engine = request.getfixturevalue("sqlite_engine")
        return Backend(engine, engine)
    return request.getfixturevalue("shared_pg")


def judge(
    backend: Backend,
    kind: Work,
    scenarios: dict[str, tuple[bool, Build]],
    acts: Callable[[Org], object],
) -> None:
    """The organizations the due query names are those where the sweep, run there, acts; and
    both are the scenarios expected to be due."""
    orgs = {name: build(backend.seed) for name, (_, build) in scenarios.items()}
    due = set(find_due(engine=backend.app, kinds=(kind,)).of(kind))
    named = {name for name, org in orgs.items() if org.id in due}
    acted = {name for name, org in orgs.items() if acts(org)}

    expected = {name for name, (want, _) in scenarios.items() if want}
    assert (named, acted) == (expected, expected)


def test_pushes_events_jobs_and_deliveries_are_due_exactly_where_their_sweeps_act(
    backend: Backend, clock: None
) -> None:
    app = backend.app

    def outbox(status: str, available: datetime, **more: Any) -> Build:
        return org_with(stock_outbox=[{"status": status, "available_at": available, **more}])

    judge(
        backend,
        Work.PUSH,
        {
            "due": (True, outbox("pending", T - S)),
            "later": (False, outbox("pending", T + M)),
            "lease lapsed": (True, outbox("in_progress", T - M, locked_until=T - S)),
            "in flight": (False, outbox("in_progress", T - M, locked_until=T + 30 * S)),
            "done": (False, outbox("done", T - M)),
            "failed": (False, outbox("failed", T - M)),
        },
        lambda o: dispatch.sweep(engine=app, due=only(Work.PUSH, o.id)),
    )

    def event(status: str, **more: Any) -> Build:
        return org_with(webhook_event=[{"status": status, **more}])

    judge(
        backend,
        Work.WEBHOOKS,
        {
            "never handed over": (True, event("received", received_at=T - 31 * S)),
            "just received": (False, event("received", received_at=T - 10 * S)),
            "worker died": (True, event("processing", received_at=T - 6 * M)),
            "processing": (False, event("processing", received_at=T - M)),
            "to retry": (True, event("failed", attempts=2, processed_at=T - 2 * M)),
            "given up": (False, event("failed", attempts=6, processed_at=T - 2 * M)),
            "just failed": (False, event("failed", attempts=2, processed_at=T - 30 * S)),
            "processed": (False, event("processed", processed_at=T - M)),
        },
        lambda o: batch.sweep_webhooks(engine=app, due=only(Work.WEBHOOKS, o.id)),
    )

    def job(status: str, **more: Any) -> Build:
        return org_with(sync_job=[{"status": status, **more}])

    def jobs_act(org: Org) -> bool:
        before = statuses(app, org)
        handed = runner.sweep_jobs(engine=app, due=only(Work.JOBS, org.id))
        return bool(handed) or statuses(app, org) != before

    judge(
        backend,
        Work.JOBS,
        {
            "worker lost": (True, job("running", updated_at=T - 11 * M)),
            "lost before any progress": (True, job("running", started_at=T - 11 * M)),
            "running": (False, job("running", updated_at=T - M)),
            "nobody took it": (True, job("queued", created_at=T - 3 * M)),
            "just queued": (False, job("queued", created_at=T - M)),
            "ended": (False, job("failed", updated_at=T - 30 * M)),
        },
        jobs_act,
    )

    def delivery(subscription: str, status: str, at: datetime) -> Build:
        def build(engine: Engine) -> Org:
            org = add_org(engine)
            subscription_id = new_id()
            insert(
                engine,
                "webhook_subscription",
                [
                    {
                        "id": subscription_id,
                        "organization_id": org.id,
                        "url": "https://example.com/hook",
                        "secret_sealed": "sealed",
                        "status": subscription,
                    }
                ],
            )
            insert(
                engine,
                "webhook_delivery",
                [
                    {
                        "organization_id": org.id,
                        "subscription_id": subscription_id,
                        "event_type": "order.created",
                        "status": status,
                        "next_attempt_at": at,
                    }
                ],
            )
            return org

        return build

    judge(
        backend,
        Work.DELIVERIES,
        {
            "due": (True, delivery("active", "pending", T - S)),
            "paused": (False, delivery("paused", "pending", T - S)),
            "later": (False, delivery("active", "pending", T + M)),
            "delivered": (False, delivery("active", "delivered", T - M)),
        },
        lambda o: webhooks.due_deliveries(engine=app, organization_ids=[o.id]),
    )


def statuses(engine: Engine, org: Org) -> list[str]:
    with session_scope(organization_id=org.id, engine=engine) as session:
        jobs = TABLES["sync_job"]
        return list(
            session.execute(
                sa.select(jobs.c.status).where(jobs.c.organization_id == org.id)
            ).scalars()
        )


@pytest.mark.postgres
def test_a_store_is_due_for_the_schedule_exactly_when_the_tick_acts_there(
    shared_pg: Backend, clock: None
) -> None:
    told = T - 10 * M + timedelta(microseconds=123456)
    whole = T - 10 * M

    def store(settings: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
        return {"settings": settings or {}, **more}

    def minutes(value: Any) -> dict[str, Any]:
        return store({"schedule": {"orders_minutes": value}})

    def polled(ago: timedelta, **more: Any) -> dict[str, Any]:
        return {"kind": "orders", "status": "succeeded", "created_at": T - ago, **more}

    def sick(since: datetime, notified: bool) -> dict[str, Any]:
        health = {"notified_for": since.isoformat()} if notified else {}
        return store({"health": health}, unhealthy_since=since)

    def backfill(status: str, ago: timedelta) -> dict[str, Any]:
        return {"kind": "backfill", "status": status, "created_at": T - ago}

    reconcile_2h = {"schedule": {"orders_minutes": None, "reconcile_hours": 2}}
    scenarios = {
        "first poll": (True, org_with()),
        "polled": (False, org_with(sync_job=[polled(M)])),
        "poll due": (True, org_with(sync_job=[polled(6 * M)])),
        "poll still queued": (False, org_with(sync_job=[polled(10 * M, status="queued")])),
        "reconcile due": (True, org_with(store(reconcile_2h, created_at=T - 3 * 60 * M))),
        "reconcile waits": (False, org_with(store(reconcile_2h))),
        "reconciled": (
            False,
            org_with(
                store(reconcile_2h, created_at=T - 3 * 60 * M),
                sync_job=[{"kind": "reconcile", "status": "succeeded", "created_at": T - 60 * M}],
            ),
        ),
        "nothing scheduled": (
            False,
            org_with(store({"schedule": {"orders_minutes": None, "reconcile_hours": None}})),
        ),
        "polls off": (False, org_with(minutes(0))),
        "minutes a string": (False, org_with(minutes("5"), sync_job=[polled(M)])),
        "minutes a boolean": (True, org_with(minutes(True), sync_job=[polled(6 * M)])),
        "minutes a float": (False, org_with(minutes(5.0), sync_job=[polled(M)])),
        "schedule null": (False, org_with(store({"schedule": None}), sync_job=[polled(M)])),
        "fast polls": (True, org_with(minutes(1), sync_job=[polled(90 * S)])),
        "missed polls": (True, org_with(store(last_synced_at=T - 16 * M), sync_job=[polled(M)])),
        "trouble told, back-fill running": (
            False,
            org_with(sick(told, True), sync_job=[backfill("running", 2 * M)]),
        ),
        "trouble told at a whole second": (
            False,
            org_with(sick(whole, True), sync_job=[backfill("failed", 2 * M)]),
        ),
        "trouble not told": (True, org_with(sick(whole, False), sync_job=[backfill("running", M)])),
        "trouble too fresh to tell": (
            False,
            org_with(sick(T - M, False), sync_job=[backfill("running", M)]),
        ),
        "back-fill due again": (
            True,
            org_with(sick(told, True), sync_job=[backfill("failed", 6 * M)]),
        ),
        "no back-fill yet": (True, org_with(sick(told, True))),
        "needs login": (False, org_with(store(status="reauth_required"))),
        "disconnected": (False, org_with(store(status="disconnected"))),
    }

    def ticks(org: Org) -> bool:
        before = footprint(shared_pg.seed, org)
        schedule.run_tick(shared_pg.app, due=only(Work.SCHEDULE, org.id))
        return footprint(shared_pg.seed, org) != before

    judge(shared_pg, Work.SCHEDULE, scenarios, ticks)


@pytest.mark.postgres
def test_a_schedule_the_query_cannot_read_leaves_the_store_to_the_tick_and_fails_nothing(
    shared_pg: Backend, clock: None
) -> None:
    odd = {
        "huge": {"schedule": {"orders_minutes": 10**12, "reconcile_hours": 10**9}},
        "a list": {"schedule": ["orders_minutes"]},
        "settings a string": "weekly",
    }
    orgs = {
        name: org_with({"settings": settings})(shared_pg.seed) for name, settings in odd.items()
    }

    due = find_due(engine=shared_pg.app, kinds=(Work.SCHEDULE, Work.PUSH))

    assert {org.id for org in orgs.values()} <= set(due.of(Work.SCHEDULE))


def footprint(engine: Engine, org: Org) -> tuple[Any, ...]:
    """What a tick can change: jobs, notifications, the store's health mark and settings."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM sync_job WHERE organization_id = :o), "
                    "(SELECT count(*) FROM notification WHERE organization_id = :o), "
                    "(SELECT unhealthy_since FROM store WHERE id = :s), "
                    "(SELECT settings FROM store WHERE id = :s)::text"
                ),
                {"o": org.id, "s": org.store},
            ).one()
        )


def stocked(
    *,
    pushed: int = 10,
    row: dict[str, Any] | None = None,
    store: dict[str, Any] | None = None,
    allocation: dict[str, Any] | None = None,
    alert_read: datetime | bool | None = False,
) -> Build:
    """An organization with ten in stock of a variant, listed (matched) on its store with
    `pushed` last pushed two minutes ago; optionally an outbox row for it, an allocation (at
    the stock's location), and a `sync.stale` alert ten minutes old (read or not)."""

    def build(engine: Engine) -> Org:
        org = add_org(engine, **(store or {}))
        product, variant, location, listing = new_id(), new_id(), new_id(), new_id()
        ids = {"organization_id": org.id}
        insert(engine, "product", [ids | {"id": product, "handle": product.hex, "title": "Kaos"}])
        insert(
            engine,
            "product_variant",
            [ids | {"id": variant, "product_id": product, "variant_sku": variant.hex}],
        )
        insert(engine, "location", [ids | {"id": location, "code": "WH", "name": "Gudang"}])
        insert(
            engine,
            "inventory_item",
            [ids | {"variant_id": variant, "location_id": location, "on_hand": 10}],
        )
        insert(
            engine,
            "channel_listing",
            [
                ids
                | {
                    "id": listing,
                    "store_id": org.store,
                    "platform_item_id": "2",
                    "variant_id": variant,
                    "match_status": "matched",
                    "last_pushed_quantity": pushed,
                    "last_pushed_at": T - 2 * M,
                }
            ],
        )
        if row is not None:
            insert(
                engine,
                "stock_outbox",
                [ids | {"store_id": org.store, "listing_id": listing, "quantity": 10} | row],
            )
        if allocation is not None:
            insert(
                engine,
                "channel_allocation",
                [ids | {"store_id": org.store, "location_id": location} | allocation],
            )
        if alert_read is not False:
            insert(
                engine,
                "notification",
                [
                    ids
                    | {
                        "kind": "sync.stale",
                        "title": "Stock on Shop is behind",
                        "data": {"store_id": str(org.store)},
                        "created_at": T - 10 * M,
                        "read_at": alert_read,
                    }
                ],
            )
        return org

    return build


@pytest.mark.postgres
def test_a_store_is_due_for_stale_alerts_exactly_when_the_alert_sweep_raises_one(
    shared_pg: Backend, clock: None
) -> None:
    def waiting(ago: timedelta, **more: Any) -> dict[str, Any]:
        at = T - ago
        return {"status": "pending", "available_at": at, "updated_at": at, **more}

    def failed(ago: timedelta) -> dict[str, Any]:
        return {"status": "failed", "available_at": T - ago, "updated_at": T - ago}

    half = {"share_percent": 50, "buffer": 1}  # ten in stock: the channel shows 4
    stopped = {"status": "reauth_required"}
    scenarios = {
        "push waiting long": (True, stocked(row=waiting(2 * M))),
        "push waiting briefly": (False, stocked(row=waiting(30 * S))),
        # retried: its clock starts at its last attempt minus the backoff that earned it
        "retried, waiting long": (
            True,
            stocked(row=waiting(50 * S, attempts=2, available_at=T - 30 * S)),
        ),
        "retried, waiting briefly": (
            False,
            stocked(row=waiting(50 * S, attempts=2, available_at=T - 45 * S)),
        ),
        "in flight long": (True, stocked(row=waiting(2 * M, status="in_progress"))),
        "failed, out of step": (True, stocked(pushed=5, row=failed(2 * M))),
        "failed, in step": (False, stocked(pushed=10, row=failed(2 * M))),
        "failed lately": (False, stocked(pushed=5, row=failed(30 * S))),
        "not syncing, out of step": (True, stocked(pushed=5, store=stopped)),
        "not syncing, in step": (False, stocked(pushed=10, store=stopped)),
        "alert unread": (False, stocked(row=waiting(2 * M), alert_read=None)),
        "alert read": (True, stocked(row=waiting(2 * M), alert_read=T - 5 * M)),
        "allocated, in step": (False, stocked(pushed=4, row=failed(2 * M), allocation=half)),
        "allocated, out of step": (True, stocked(pushed=5, row=failed(2 * M), allocation=half)),
        "disconnected": (False, stocked(row=waiting(2 * M), store={"status": "disconnected"})),
    }

    judge(
        shared_pg,
        Work.STALE,
        scenarios,
        lambda o: staleness.alert_stale(engine=shared_pg.app, due=only(Work.STALE, o.id)),
    )
