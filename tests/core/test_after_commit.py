"""Work queued for after a commit (bus events, outbox pushes) goes out on the real commit only,
and a savepoint rolled back drops only what was queued inside it. SQLAlchemy fires
after_commit / after_rollback for savepoints too, so this is easy to get wrong."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.core import events as bus
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.sync.push import outbox
from tests.sandbox.conftest import RunningSandbox
from tests.sync.intake_fixtures import RecordingBus
from tests.sync.test_outbox import build


@pytest.fixture
def recording() -> Iterator[RecordingBus]:
    recorder = RecordingBus()
    bus.set_bus(recorder)
    yield recorder
    bus.set_bus(None)


def test_events_go_out_on_the_real_commit_and_a_rolled_back_savepoint_drops_only_its_own(
    sqlite_engine: Engine, recording: RecordingBus
) -> None:
    org = uuid.uuid4()
    with session_scope(engine=sqlite_engine) as session:
        session.execute(sa.text("SELECT 1"))
        bus.publish_after_commit(session, org, "kept.before")
        with session.begin_nested():
            bus.publish_after_commit(session, org, "kept.committed_savepoint")
        assert recording.published == []  # a savepoint's release publishes nothing
        try:
            with session.begin_nested():
                bus.publish_after_commit(session, org, "dropped")
                with session.begin_nested():
                    bus.publish_after_commit(session, org, "dropped.inner")
                raise RuntimeError("this step fails")
        except RuntimeError:
            pass
        bus.publish_after_commit(session, org, "kept.after")
        assert recording.published == []

    assert [e.type for e in recording.published] == [
        "kept.before",
        "kept.committed_savepoint",
        "kept.after",
    ]

    recording.published.clear()
    with pytest.raises(RuntimeError), session_scope(engine=sqlite_engine) as session:
        bus.publish_after_commit(session, org, "never")
        raise RuntimeError("the whole transaction fails")
    assert recording.published == []


def test_stock_touched_before_a_failed_savepoint_is_still_queued_and_announced_after_commit(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(sqlite_engine, running_sandbox)
    announced: list[tuple[uuid.UUID, uuid.UUID]] = []
    rows_when_announced: list[int] = []

    def announce(org: uuid.UUID, store: uuid.UUID) -> None:
        announced.append((org, store))
        with session_scope(w.ctx, engine=w.engine) as reader:  # committed already
            count = reader.execute(sa.select(sa.func.count()).select_from(outbox.OUTBOX))
            rows_when_announced.append(count.scalar_one())

    with outbox.outbox_ready.connected_to(announce):
        with session_scope(w.ctx, engine=w.engine) as session:
            inventory.set_on_hand(
                session,
                ctx=w.ctx,
                variant_id=w.variant_id,
                location_id=w.location_id,
                quantity=7,
                reason="count",
            )
            try:
                with session.begin_nested():  # a later step of the same transaction fails
                    session.execute(sa.text("SELECT 1"))
                    raise RuntimeError("another order of the batch fails")
            except RuntimeError:
                pass
            assert announced == []  # nothing before the real commit

    with session_scope(w.ctx, engine=w.engine) as session:
        rows = session.execute(sa.select(outbox.OUTBOX.c.status, outbox.OUTBOX.c.quantity)).all()
    assert sorted(tuple(r) for r in rows) == [("pending", 7), ("pending", 7)]
    assert sorted(announced) == sorted((w.ctx.organization_id, s) for s in w.stores.values())
    assert rows_when_announced == [2, 2]
