"""session_scope: commit on success, roll back everything on error, savepoints included."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.db import session_scope
from storesync.tenancy.models import User


def _users(engine: Engine) -> int:
    with session_scope(engine=engine) as session:
        return int(session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one())


def test_a_savepoint_taken_first_is_rolled_back_with_its_transaction(sqlite_engine: Engine) -> None:
    """Regression: with pysqlite's default handling, a SAVEPOINT before any write began its own
    transaction, and releasing it committed, so the outer rollback lost nothing."""
    with pytest.raises(RuntimeError), session_scope(engine=sqlite_engine) as session:
        with session.begin_nested():
            session.add(User(email="x@example.com", password_hash="h"))
        raise RuntimeError("caller fails after the savepoint")

    assert _users(sqlite_engine) == 0


def test_commit_on_success(sqlite_engine: Engine) -> None:
    with session_scope(engine=sqlite_engine) as session:
        with session.begin_nested():
            session.add(User(email="y@example.com", password_hash="h"))

    assert _users(sqlite_engine) == 1
