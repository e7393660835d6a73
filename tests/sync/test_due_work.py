"""The sweeps' due work (`storesync.sync.due`) on PostgreSQL as the app role, the clock mocked:
with nothing due, a sweep is the same statements for 2 organizations as for 200; work due in one
of 200 opens a transaction there only, and gets done; the outbox gauges come out right from the
one query; the app role still sees only its own rows, and gets ids and kinds from the function.
(Where each kind of work is due: test_due_exact.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dramatiq
import pytest
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker
from sqlalchemy.engine import Engine

from storesync import db as db_module
from storesync import migrate
from storesync.core import metrics
from storesync.core.ids import new_id
from storesync.db import make_engine, session_scope
from storesync.sync.due import Work, find_due
from storesync.sync.push import dispatch
from tests.conftest import (
    PG_APP_ROLE,
    PG_OWNER_ROLE,
    PgDatabase,
    create_pg_database,
    drop_pg_database,
)
from tests.sync.due_fixtures import SLUG, M, Org, S, T, clock, insert, org_with

__all__ = ["clock"]
pytestmark = pytest.mark.postgres
ACTORS = ("push_store_stock", "process_webhook", "deliver_webhook", "tick_schedule", "run_sync_job")
READ_TABLES = (
    "channel_allocation",
    "channel_listing",
    "inventory_item",
    "notification",
    "stock_outbox",
    "store",
    "sync_job",
    "webhook_delivery",
    "webhook_event",
    "webhook_subscription",
)


@dataclass(frozen=True)
class Db:
    database: PgDatabase
    app: Engine  # the app role: row-level security applies
    admin: Engine  # a superuser: seeds many organizations in one statement per table


@pytest.fixture(scope="module")
def own_db() -> Iterator[Db]:
    """A migrated database of this module's own: the sweeps look at every organization."""
    database = create_pg_database()
    try:
        migrate.upgrade(url=database.owner_url)
        found = Db(database, make_engine(database.app_url), make_engine(database.admin_url))
        yield found
        found.app.dispose()
        found.admin.dispose()
    finally:
        drop_pg_database(database)


@pytest.fixture
def pg(own_db: Db) -> Db:
    """The module's database, emptied (a test's organizations are all there is)."""
    with own_db.admin.begin() as conn:
        conn.execute(sa.text("TRUNCATE organization CASCADE"))
    return own_db


@pytest.fixture
def stub_broker(own_db: Db) -> Iterator[StubBroker]:
    """The actors on a broker of this test's own, the app role's engine as the default."""
    from workers import actors

    broker = StubBroker()
    saved = {}
    for name in ACTORS:
        actor = getattr(actors, name)
        saved[name] = actor.broker
        actor.broker = broker
        broker.declare_actor(actor)
    db_module.use_engine(own_db.app)
    try:
        yield broker
    finally:
        db_module.use_engine(None)
        for name, original in saved.items():
            getattr(actors, name).broker = original


def sent(broker: StubBroker) -> list[tuple[str, tuple[Any, ...]]]:
    found = []
    for queue in broker.queues.values():
        while not queue.empty():
            message = dramatiq.Message.decode(queue.get_nowait())
            found.append((message.actor_name, tuple(message.args)))
    return sorted(found)


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine sends meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def entered(seen: list[tuple[str, Any]]) -> set[uuid.UUID]:
    """The organizations a transaction was opened for (`storesync.db` sets its context)."""
    return {
        uuid.UUID(parameters["org"])
        for statement, parameters in seen
        if "set_config" in statement and parameters.get("org")
    }


def add_idle(engine: Engine, count: int) -> list[Org]:
    """Organizations with a connected store and nothing due: polled a minute ago, its push
    done, its webhook events processed or out of retries, its jobs ended."""
    orgs = [Org(new_id(), new_id(), new_id()) for _ in range(count)]
    insert(
        engine,
        "organization",
        [{"id": o.id, "name": "Toko", "slug": SLUG + o.id.hex} for o in orgs],
    )
    insert(
        engine,
        "store",
        [
            {
                "id": o.store,
                "organization_id": o.id,
                "platform": "shopee",
                "platform_store_id": o.store.hex,
                "name": "Shop",
                "created_at": T - 60 * M,
                "last_synced_at": T - M,
            }
            for o in orgs
        ],
    )
    insert(
        engine,
        "sync_job",
        [
            {
                "organization_id": o.id,
                "store_id": o.store,
                "kind": kind,
                "status": "succeeded",
                "created_at": T - M,
                "updated_at": T - M,
            }
            for o in orgs
            for kind in ("orders", "inventory")
        ],
    )
    insert(
        engine,
        "channel_listing",
        [
            {"id": o.listing, "organization_id": o.id, "store_id": o.store, "platform_item_id": "1"}
            for o in orgs
        ],
    )
    old = T - 60 * M
    insert(
        engine,
        "stock_outbox",
        [
            {
                "organization_id": o.id,
                "store_id": o.store,
                "listing_id": o.listing,
                "quantity": 3,
                "status": "done",
                "available_at": old,
                "updated_at": old,
            }
            for o in orgs
        ],
    )
    insert(
        engine,
        "webhook_event",
        [
            {
                "organization_id": o.id,
                "store_id": o.store,
                "platform": "shopee",
                "event_type": "3",
                "dedupe_key": status,
                "status": status,
                "attempts": attempts,
                "received_at": old,
                "processed_at": old,
            }
            for o in orgs
            for status, attempts in (("processed", 1), ("failed", 6))
        ],
    )
    return orgs


# -- the cost of a sweep ----------------------------------------------------------------------


def test_with_nothing_due_a_sweep_is_the_same_statements_for_2_organizations_as_for_200(
    pg: Db, clock: None, stub_broker: StubBroker
) -> None:
    from workers import actors

    add_idle(pg.admin, 2)
    with statements(pg.app) as two:
        actors.sweep_outbox.fn()
    with statements(pg.app) as two_ticks:
        actors.tick_schedule.fn()
    add_idle(pg.admin, 198)
    with statements(pg.app) as many:
        actors.sweep_outbox.fn()
    with statements(pg.app) as many_ticks:
        actors.tick_schedule.fn()

    assert len(many) == len(two), [s for s, _ in many]
    assert len(many_ticks) == len(two_ticks), [s for s, _ in many_ticks]
    assert (len(two), len(two_ticks)) == (1, 1)  # the due query, nothing else
    assert entered(two + many + two_ticks + many_ticks) == set()
    assert sent(stub_broker) == []


def test_work_due_in_one_of_200_organizations_opens_a_transaction_there_only_and_gets_done(
    pg: Db, clock: None, stub_broker: StubBroker
) -> None:
    from workers import actors

    orgs = add_idle(pg.admin, 200)
    busy = orgs[137]
    event_id = new_id()
    with pg.admin.begin() as conn:  # a push whose worker died, an event never handed over
        conn.execute(
            sa.text(
                "UPDATE stock_outbox SET status = 'in_progress', locked_until = :lapsed, "
                "updated_at = :lapsed WHERE organization_id = :org"
            ),
            {"lapsed": T - 10 * S, "org": busy.id},
        )
        conn.execute(  # and its poll is due
            sa.text(
                "UPDATE sync_job SET created_at = :then WHERE organization_id = :org "
                "AND kind = 'orders'"
            ),
            {"then": T - 6 * M, "org": busy.id},
        )
    insert(
        pg.admin,
        "webhook_event",
        [
            {
                "id": event_id,
                "organization_id": busy.id,
                "store_id": busy.store,
                "platform": "shopee",
                "event_type": "3",
                "dedupe_key": "lost",
                "received_at": T - M,
            }
        ],
    )

    with statements(pg.app) as swept:
        actors.sweep_outbox.fn()
    messages = sent(stub_broker)
    with statements(pg.app) as ticked:
        actors.tick_schedule.fn()

    assert entered(swept) == {busy.id}
    assert messages == [
        ("process_webhook", (str(event_id), str(busy.id))),
        ("push_store_stock", (str(busy.id), str(busy.store))),
        ("tick_schedule", ()),
    ]
    with pg.admin.connect() as conn:
        row = conn.execute(
            sa.text("SELECT status, available_at FROM stock_outbox WHERE organization_id = :o"),
            {"o": busy.id},
        ).one()
        polls = conn.execute(
            sa.text("SELECT id, status FROM sync_job WHERE kind = 'orders' AND created_at = :t"),
            {"t": T},
        ).all()
    assert (row.status, row.available_at) == ("pending", T)  # handed back, due now
    assert entered(ticked) == {busy.id}
    assert [p.status for p in polls] == ["queued"]
    assert sent(stub_broker) == [("run_sync_job", (str(polls[0].id), str(busy.id)))]


def test_the_outbox_gauges_come_from_the_due_query_and_match_the_rows(pg: Db, clock: None) -> None:
    (org,) = add_idle(pg.admin, 1)
    listings = [new_id() for _ in range(4)]
    insert(
        pg.admin,
        "channel_listing",
        [
            {"id": i, "organization_id": org.id, "store_id": org.store, "platform_item_id": str(n)}
            for n, i in enumerate(listings, start=2)
        ],
    )
    rows = [  # (status, available_at, locked_until)
        ("pending", T + M, None),
        ("pending", T - 30 * S, None),
        ("in_progress", T - 5 * M, T + 30 * S),
        ("in_progress", T - 9 * M, T - S),  # lapsed: due now
    ]
    insert(
        pg.admin,
        "stock_outbox",
        [
            {
                "organization_id": org.id,
                "store_id": org.store,
                "listing_id": listing,
                "quantity": 1,
                "status": status,
                "available_at": available,
                "locked_until": locked,
            }
            for listing, (status, available, locked) in zip(listings, rows, strict=True)
        ],
    )

    due = find_due(engine=pg.app, kinds=(Work.PUSH,))
    dispatch.sweep(engine=pg.app, due=due)

    assert (due.outbox_waiting, due.outbox_oldest) == (4, T - 5 * M)
    with pg.admin.connect() as conn:  # what the sweep computed per organization before
        waiting, oldest = conn.execute(
            sa.text(
                "SELECT count(*), min(available_at) FROM stock_outbox "
                "WHERE status IN ('pending', 'in_progress')"
            )
        ).one()
    assert gauge(metrics.OUTBOX_DEPTH) == waiting == 4
    assert gauge(metrics.OUTBOX_OLDEST_SECONDS) == (T - oldest).total_seconds() == 300


def gauge(metric: Any) -> float:
    return float(metric.collect()[0].samples[0].value)


# -- row-level security ---------------------------------------------------------------------------


def test_the_app_role_sees_only_its_own_rows_and_gets_ids_and_kinds_from_the_function(
    pg: Db, clock: None
) -> None:
    builds = [org_with(stock_outbox=[{"status": "pending", "available_at": T - S}]) for _ in "ab"]
    a, b = (build(pg.admin) for build in builds)

    with session_scope(organization_id=a.id, engine=pg.app) as session:
        seen = {
            table: set(session.execute(sa.text(f"SELECT organization_id FROM {table}")).scalars())
            for table in READ_TABLES
        }
        other = session.execute(
            sa.text("SELECT count(*) FROM stock_outbox WHERE organization_id = :b"), {"b": b.id}
        ).scalar_one()
    with session_scope(engine=pg.app) as session:  # no organization: no rows
        unscoped = {
            table: session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in READ_TABLES
        }
    due = find_due(engine=pg.app, kinds=(Work.PUSH,))
    with pg.admin.connect() as conn:
        function = conn.execute(
            sa.text(
                "SELECT p.prosecdef, pg_get_userbyid(p.proowner), "
                "pg_get_function_result(p.oid), "
                "ARRAY(SELECT coalesce(r.rolname, 'PUBLIC') FROM aclexplode(p.proacl) x "
                "LEFT JOIN pg_roles r ON r.oid = x.grantee "
                "WHERE x.privilege_type = 'EXECUTE' ORDER BY 1) "
                "FROM pg_proc p WHERE p.proname = 'storesync_due_organizations'"
            )
        ).one()
        policies = conn.execute(
            sa.text(
                "SELECT tablename, roles::text, cmd, qual FROM pg_policies "
                "WHERE policyname = 'sweep_read' ORDER BY tablename"
            )
        ).all()

    assert seen["stock_outbox"] == seen["store"] == {a.id}
    assert all(found <= {a.id} for found in seen.values())
    assert other == 0
    assert set(unscoped.values()) == {0}
    assert due.of(Work.PUSH) == sorted([a.id, b.id])
    assert tuple(function) == (
        True,
        PG_OWNER_ROLE,
        "TABLE(organization_id uuid, kind text, waiting bigint, oldest timestamp with time zone)",
        sorted([PG_APP_ROLE, PG_OWNER_ROLE]),
    )
    assert [tuple(p) for p in policies] == [
        (table, "{" + PG_OWNER_ROLE + "}", "SELECT", "true") for table in READ_TABLES
    ]
