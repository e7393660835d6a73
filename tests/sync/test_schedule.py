"""The per-store schedule on PostgreSQL (app role, RLS), with the clock mocked: a tick creates
exactly the jobs that are due, once, even when ticks overlap; a store that stopped syncing gets
a back-fill instead of a poll."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.channels.models import Store
from storesync.core.clock import set_clock
from storesync.core.errors import PermissionDenied, ValidationFailed
from storesync.db import session_scope
from storesync.sync.health import schedule
from storesync.sync.jobs import service as jobs
from storesync.sync.models import SyncJob
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.channels.conftest import make_org

pytestmark = pytest.mark.postgres
T0 = datetime(2031, 5, 4, 9, 0, tzinfo=UTC)
JOBS = SyncJob.__table__  # type: ignore[attr-defined]
STORES = Store.__table__  # type: ignore[attr-defined]


@pytest.fixture
def clock() -> Iterator[Callable[[datetime], None]]:
    def move(to: datetime) -> None:
        set_clock(lambda: to)

    move(T0)
    yield move
    set_clock(None)


def add_stores(
    engine: Engine, ctx: RequestContext, specs: dict[str, dict[str, Any]]
) -> dict[str, uuid.UUID]:
    """Stores by name; each spec may set `settings`, `status`, `last_synced_at`."""
    ids = {}
    with session_scope(ctx, engine=engine) as session:
        for name, spec in specs.items():
            store = Store(
                organization_id=ctx.organization_id,
                platform="shopee" if len(ids) % 2 == 0 else "tiktok",
                platform_store_id=uuid.uuid4().hex[:16],
                name=name,
                settings=spec.get("settings", {}),
                status=spec.get("status", "connected"),
                last_synced_at=spec.get("last_synced_at"),
                unhealthy_since=spec.get("unhealthy_since"),
            )
            session.add(store)
            session.flush()
            ids[name] = store.id
    return ids


def job_rows(engine: Engine, ctx: RequestContext) -> list[Any]:
    with session_scope(ctx, engine=engine) as session:
        return list(session.execute(sa.select(JOBS).order_by(JOBS.c.created_at)).all())


def tick(engine: Engine, *contexts: RequestContext) -> list[uuid.UUID]:
    return schedule.tick(engine, organization_ids=[c.organization_id for c in contexts])


def named(
    engine: Engine, ctx: RequestContext, stores: dict[str, uuid.UUID], ids: list[uuid.UUID]
) -> list[tuple[str, str]]:
    """The (store name, kind) of these jobs, sorted."""
    by_id = {row.id: row for row in job_rows(engine, ctx)}
    names = {v: k for k, v in stores.items()}
    return sorted((names[by_id[i].store_id], by_id[i].kind) for i in ids)


def finish_all(engine: Engine, ctx: RequestContext) -> None:
    """Every queued job ends (cancelled), as if a worker had run it."""
    with session_scope(ctx, engine=engine) as session:
        for row in session.execute(sa.select(JOBS.c.id).where(JOBS.c.status == "queued")):
            jobs.cancel_job(session, ctx=ctx, job_id=row.id)


def test_a_tick_creates_exactly_the_due_jobs_once_per_interval(
    app_engine: Engine, clock: Callable[[datetime], None]
) -> None:
    ctx = make_org(app_engine)
    stores = add_stores(
        app_engine,
        ctx,
        {
            "default": {},
            "fast": {"settings": {"schedule": {"orders_minutes": 1, "reconcile_hours": 0}}},
            "reconcile-only": {
                "settings": {"schedule": {"orders_minutes": None, "reconcile_hours": 2}}
            },
            "needs-login": {"status": "reauth_required"},
        },
    )
    reconcile = [("reconcile-only", "reconcile")]

    first = tick(app_engine, ctx)

    assert named(app_engine, ctx, stores, first) == [("default", "orders"), ("fast", "orders")]
    assert tick(app_engine, ctx) == []  # the same moment again: nothing new
    assert all(
        row.status == "queued" and row.requested_by is None for row in job_rows(app_engine, ctx)
    )
    clock(T0 + timedelta(minutes=1))
    assert tick(app_engine, ctx) == []  # still queued: never a second one
    finish_all(app_engine, ctx)
    clock(T0 + timedelta(seconds=59))
    assert tick(app_engine, ctx) == []
    clock(T0 + timedelta(minutes=1))
    assert named(app_engine, ctx, stores, tick(app_engine, ctx)) == [("fast", "orders")]
    finish_all(app_engine, ctx)
    clock(T0 + timedelta(hours=2))
    due = named(app_engine, ctx, stores, tick(app_engine, ctx))
    assert due == sorted([("default", "orders"), ("fast", "orders"), *reconcile])
    finish_all(app_engine, ctx)
    clock(T0 + timedelta(hours=24))
    due = named(app_engine, ctx, stores, tick(app_engine, ctx))
    expected = [("default", "orders"), ("fast", "orders"), *reconcile]
    assert due == sorted([*expected, ("default", "reconcile")])
    kinds = {(row.store_id, row.kind) for row in job_rows(app_engine, ctx)}
    assert stores["needs-login"] not in {store for store, _ in kinds}
    with session_scope(ctx, engine=app_engine) as session:
        plan = schedule.get_schedule(session, ctx=ctx, store_id=stores["default"])
    assert (plan.orders_minutes, plan.reconcile_hours) == (5, 24)
    assert plan.next_orders_at == T0 + timedelta(hours=24, minutes=5)


def test_overlapping_ticks_across_all_organizations_never_create_a_job_twice(
    app_engine: Engine, clock: Callable[[datetime], None]
) -> None:
    contexts = [make_org(app_engine) for _ in range(2)]
    stores = [add_stores(app_engine, ctx, {"a": {}, "b": {}, "c": {}}) for ctx in contexts]
    barrier = threading.Barrier(4)
    results: list[list[uuid.UUID]] = []

    def run() -> None:
        barrier.wait()
        results.append(schedule.tick(app_engine))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    created = [job_id for result in results for job_id in result]
    assert len(results) == 4 and len(created) == len(set(created))
    for ctx, mine in zip(contexts, stores, strict=True):
        rows = job_rows(app_engine, ctx)
        assert sorted((row.store_id, row.kind) for row in rows) == sorted(
            (store_id, "orders") for store_id in mine.values()
        )
        assert {row.id for row in rows} <= set(created)
    assert tick(app_engine, *contexts) == []


def test_a_store_that_stopped_syncing_gets_a_backfill_instead_of_a_poll(
    app_engine: Engine, clock: Callable[[datetime], None]
) -> None:
    ctx = make_org(app_engine)
    last = T0 - timedelta(minutes=16)  # more than three 5-minute intervals ago: workers were down
    stores = add_stores(
        app_engine,
        ctx,
        {
            "stale": {"last_synced_at": last},
            "recent": {"last_synced_at": T0 - timedelta(minutes=14)},
            "gone": {"status": "reauth_required", "unhealthy_since": T0 - timedelta(hours=1)},
        },
    )

    created = tick(app_engine, ctx)

    assert named(app_engine, ctx, stores, created) == [("recent", "orders"), ("stale", "backfill")]
    backfill = next(r for r in job_rows(app_engine, ctx) if r.kind == "backfill")
    assert backfill.params == {"since": (last - timedelta(minutes=10)).isoformat()}
    with session_scope(ctx, engine=app_engine) as session:
        marks = dict(session.execute(sa.select(STORES.c.name, STORES.c.unhealthy_since)).all())
    assert marks == {"stale": last, "recent": None, "gone": T0 - timedelta(hours=1)}
    assert tick(app_engine, ctx) == []
    finish_all(app_engine, ctx)  # the back-fill did not heal it (it ended without success)
    clock(T0 + timedelta(minutes=4))
    assert [
        n for n in named(app_engine, ctx, stores, tick(app_engine, ctx)) if n[0] == "stale"
    ] == []
    clock(T0 + timedelta(minutes=5))
    again = named(app_engine, ctx, stores, tick(app_engine, ctx))
    assert [n for n in again if n[0] == "stale"] == [("stale", "backfill")]  # tried once more
    assert ("stale", "orders") not in named(
        app_engine, ctx, stores, [r.id for r in job_rows(app_engine, ctx)]
    )


def test_a_store_schedule_is_validated_and_needs_store_management(
    app_engine: Engine, clock: Callable[[datetime], None]
) -> None:
    ctx = make_org(app_engine)
    stores = add_stores(app_engine, ctx, {"a": {"settings": {"keep": True}}})
    with session_scope(ctx, engine=app_engine) as session:
        plan = schedule.set_schedule(
            session, ctx=ctx, store_id=stores["a"], orders_minutes=15, reconcile_hours=None
        )
        settings = session.execute(sa.select(STORES.c.settings)).scalar_one()
    assert (plan.orders_minutes, plan.reconcile_hours, plan.next_reconcile_at) == (15, None, None)
    assert plan.next_orders_at == T0  # never polled: due now
    assert settings == {"keep": True, "schedule": {"orders_minutes": 15, "reconcile_hours": None}}
    for bad in ({"orders_minutes": 0}, {"reconcile_hours": 500}, {"orders_minutes": True}):
        values: dict[str, Any] = {"orders_minutes": 5, "reconcile_hours": 24, **bad}
        with session_scope(ctx, engine=app_engine) as session, pytest.raises(ValidationFailed):
            schedule.set_schedule(session, ctx=ctx, store_id=stores["a"], **values)
    staff = RequestContext(ctx.user_id, ctx.organization_id, Role.STAFF)
    with session_scope(staff, engine=app_engine) as session, pytest.raises(PermissionDenied):
        schedule.set_schedule(
            session, ctx=staff, store_id=stores["a"], orders_minutes=1, reconcile_hours=1
        )
    assert schedule.store_schedule({"schedule": {"orders_minutes": "often"}}).orders_every == (
        timedelta(minutes=5)
    )


def test_on_sqlite_a_commit_between_the_ticks_read_and_its_write_waits_for_the_tick(
    sqlite_engine: Engine, clock: Callable[[datetime], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Embedded mode: a worker commits after the tick read the stores and before it locks one.
    The tick holds SQLite's write lock from its start, so that commit waits for the tick
    instead of failing it ("database is locked", no job created)."""
    ctx = make_org(sqlite_engine)
    stores = add_stores(sqlite_engine, ctx, {"only": {}})
    real_lock = jobs.lock_store
    other: list[object] = []
    started: list[threading.Thread] = []

    def somebody_commits() -> None:
        try:
            with session_scope(ctx, engine=sqlite_engine) as session:
                session.execute(
                    sa.update(STORES).where(STORES.c.id == stores["only"]).values(name="renamed")
                )
            other.append("committed")
        except Exception as error:
            other.append(error)

    def lock_after_a_commit(*args: Any, **kwargs: Any) -> Any:
        if not started:  # the tick's first lock (starting the job locks the store again)
            writer = threading.Thread(target=somebody_commits)
            started.append(writer)
            writer.start()
            writer.join(timeout=0.5)  # finished at once if nobody held the write lock
        return real_lock(*args, **kwargs)

    monkeypatch.setattr(jobs, "lock_store", lock_after_a_commit)
    created = tick(sqlite_engine, ctx)

    assert named(sqlite_engine, ctx, stores, created) == [("only", "orders")]
    started[0].join(timeout=10)
    assert other == ["committed"]  # it waited for the tick, then went in
    with session_scope(ctx, engine=sqlite_engine) as session:
        name = session.execute(sa.select(STORES.c.name).where(STORES.c.id == stores["only"]))
        assert name.scalar_one() == "renamed"
