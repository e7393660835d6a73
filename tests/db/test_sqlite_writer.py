"""Embedded mode's one writer (`db._SqliteWriter`): SQLite allows one writing transaction; the
others of this process queue on a lock and go the moment it is free, instead of sleeping in
SQLite's busy handler. WAL with synchronous=NORMAL: a commit does not wait for the disk."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from storesync.db import make_engine

THINGS = sa.table("things", sa.column("name", sa.String))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'writer.db'}", busy_timeout_ms=2000)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE things (name TEXT NOT NULL)")
    yield engine
    engine.dispose()


def _names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(THINGS.c.name).order_by(sa.text("rowid"))).scalars())


def test_wal_without_a_disk_wait_per_commit(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_a_second_writer_waits_for_the_first_and_then_writes(engine: Engine) -> None:
    second_started, second_done = threading.Event(), []

    def second() -> None:
        second_started.set()
        with engine.begin() as conn:
            conn.execute(sa.insert(THINGS).values(name="second"))
        second_done.append(True)

    with engine.begin() as conn:
        conn.execute(sa.insert(THINGS).values(name="first"))
        thread = threading.Thread(target=second)
        thread.start()
        second_started.wait(5)
        thread.join(0.3)
        assert thread.is_alive() and not second_done  # queued behind the open transaction,
        writer = engine.dialect.storesync_writer  # type: ignore[attr-defined]
        assert writer.holder == id(conn.connection.dbapi_connection)  # on this process's lock
        # A reader is never queued: WAL readers do not wait for the writer.
        with engine.connect() as reader:
            assert list(reader.execute(sa.select(THINGS.c.name)).scalars()) == []
    thread.join(5)
    assert second_done == [True]
    assert _names(engine) == ["first", "second"]


def test_a_rolled_back_writer_lets_the_next_one_go(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(sa.insert(THINGS).values(name="undone"))
        raise RuntimeError("changed my mind")
    done: list[bool] = []

    def write() -> None:
        with engine.begin() as conn:
            conn.execute(sa.insert(THINGS).values(name="after"))
        done.append(True)

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(5)
    assert done == [True]
    assert _names(engine) == ["after"]


def test_a_thread_writing_on_two_connections_at_once_fails_instead_of_hanging(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'self.db'}", busy_timeout_ms=200)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE things (name TEXT NOT NULL)")
    with engine.begin() as first:
        first.execute(sa.insert(THINGS).values(name="first"))
        with (
            pytest.raises(OperationalError, match="waited for this process's writer"),
            engine.begin() as other,
        ):
            other.execute(sa.insert(THINGS).values(name="second"))
    assert _names(engine) == ["first"]
    with engine.begin() as conn:  # the failed one gave nothing back it did not hold
        conn.execute(sa.insert(THINGS).values(name="third"))
    assert _names(engine) == ["first", "third"]
    engine.dispose()
