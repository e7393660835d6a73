"""Pooled PostgreSQL connections: one idle for a while is pinged before use and replaced when
dead; one used moments ago is handed out without a ping (a round trip saved per transaction)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync import db
from tests.conftest import PgDatabase

pytestmark = pytest.mark.postgres


def _backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _kill(database: PgDatabase, pid: int) -> None:
    admin = sa.create_engine(database.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            deadline = time.monotonic() + 10
            while connection.execute(
                sa.text("SELECT 1 FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
            ).first():
                assert time.monotonic() < deadline, f"backend {pid} did not exit"
                time.sleep(0.05)
    finally:
        admin.dispose()


@pytest.fixture
def killed(pg: PgDatabase) -> Iterator[tuple[Engine, int]]:
    """A one-connection pool whose connection was used, then its server backend killed: (the
    engine, the dead backend's pid)."""
    engine = db.make_engine(pg.app_url, pool_size=1)
    first = _backend(engine)
    _kill(pg, first)
    yield engine, first
    engine.dispose()


def test_a_connection_idle_past_the_limit_is_pinged_and_replaced_when_dead(
    killed: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, first = killed
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 0.0)  # every pooled connection counts as idle

    second = _backend(engine)  # no error: the ping found it dead, the pool reconnected

    assert second != first


def test_a_connection_used_moments_ago_is_not_pinged(
    killed: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, first = killed
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 3600.0)

    with pytest.raises(sa.exc.OperationalError):
        _backend(engine)  # handed out unpinged: the dead socket shows on first use

    assert _backend(engine) != first  # that failure invalidated it; the next one is new
