"""Shared fixtures: isolated settings, SQLite and PostgreSQL databases migrated with Alembic.

Services that tests need (PostgreSQL, Redis, Chromium): when unreachable, a test skips locally
but FAILS under CI=true, so a green CI always means the real component was exercised.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Settings are read once per process: point them at a scratch folder before anything imports them.
_VAR = Path(tempfile.mkdtemp(prefix="storesync-test-var-"))
os.environ["STORESYNC_VAR_DIR"] = str(_VAR)
_KEEP = ("STORESYNC_TEST_", "STORESYNC_VAR_DIR")
for _name in list(os.environ):
    if _name.startswith("STORESYNC_") and not _name.startswith(_KEEP):
        del os.environ[_name]

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from storesync import migrate  # noqa: E402
from storesync.db import make_engine  # noqa: E402
from workers import wiring  # noqa: E402

# What every process does at start-up before its first session (listeners, job kinds). The
# after-commit hooks stay unconnected: a test connects the ones it needs.
wiring.prepare()

IN_CI = os.environ.get("CI", "").lower() == "true"


TESTS = Path(__file__).resolve().parent
# Modules with a test on the machine's Redis (the broker's queues, shared rate-limit keys).
REDIS_MODULES = frozenset(
    path.relative_to(TESTS.parent).as_posix()
    for path in TESTS.rglob("test_*.py")
    if "mark.redis" in path.read_text()
)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """`make test` runs pytest in two processes (`-n 2`, pytest-xdist). Tests that share one
    thing run in one process, one after another: the browser tests share one running app (and
    the frontend it builds in the project folder), the Redis tests the broker's queues. Every
    other test has its own databases, sandbox and folders, and goes wherever a process is free.
    (xdist's own `--dist loadgroup` cannot rename pytest 9's node ids, so the groups are made
    here, from the node ids.)"""
    from xdist.scheduler import LoadScopeScheduling

    class SharedResources(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            if module.startswith("tests/e2e/"):
                return "browser"
            if module in REDIS_MODULES:
                return "redis"
            return nodeid

    return SharedResources(config, log)  # type: ignore[arg-type]


PG_ADMIN_URL = os.environ.get(
    "STORESYNC_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_OWNER_ROLE = "storesync_owner"
PG_APP_ROLE = "storesync_app"


def unavailable(what: str, reason: object) -> None:
    """Skip locally; fail under CI=true (CI must exercise every real component)."""
    message = f"{what} unavailable: {reason}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'storesync.db'}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database migrated to head for the session: each test gets a copy of the file
    (migrating every test's database took half a second each)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "storesync.db"
    migrate.upgrade(url=f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:  # everything in the main file, none in the WAL
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def sqlite_engine(sqlite_url: str, sqlite_template: Path) -> Iterator[Engine]:
    shutil.copyfile(sqlite_template, sa.make_url(sqlite_url).database or "")
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class PgDatabase:
    name: str
    owner_url: str
    app_url: str
    admin_url: str


def _pg_url(role: str, database: str) -> str:
    base = sa.make_url(PG_ADMIN_URL)
    return base.set(username=role, password=None, database=database).render_as_string(
        hide_password=False
    )


def _ensure_roles(admin: Engine) -> None:
    with admin.connect() as conn:
        for role, extra in ((PG_OWNER_ROLE, ""), (PG_APP_ROLE, " NOINHERIT")):
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
            ).first()
            if exists:
                continue
            try:
                conn.execute(
                    sa.text(
                        f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE"
                        f" NOCREATEDB{extra}"
                    )
                )
            except sa.exc.DBAPIError as error:  # another test process created it just now
                if "already exists" not in str(error.orig) and "duplicate key" not in str(
                    error.orig
                ):
                    raise


def create_pg_database(prefix: str = "storesync_test") -> PgDatabase:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as error:
        admin.dispose()
        unavailable("PostgreSQL", error)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        _ensure_roles(admin)
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name} OWNER {PG_OWNER_ROLE}"))
    finally:
        admin.dispose()
    return PgDatabase(
        name=name,
        owner_url=_pg_url(PG_OWNER_ROLE, name),
        app_url=_pg_url(PG_APP_ROLE, name),
        admin_url=_pg_url(sa.make_url(PG_ADMIN_URL).username or "postgres", name),
    )


def drop_pg_database(database: PgDatabase) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE)"))
    finally:
        admin.dispose()


@pytest.fixture
def empty_pg() -> Iterator[PgDatabase]:
    """A fresh, empty PostgreSQL database owned by the owner role."""
    database = create_pg_database()
    yield database
    drop_pg_database(database)


@pytest.fixture(scope="session")
def pg() -> Iterator[PgDatabase]:
    """One migrated PostgreSQL database for the session (owner migrates, app role reads)."""
    database = create_pg_database()
    migrate.upgrade(url=database.owner_url)
    yield database
    drop_pg_database(database)


@pytest.fixture(scope="session")
def app_engine(pg: PgDatabase) -> Iterator[Engine]:
    """Connected as the app role: owns nothing, subject to row-level security."""
    engine = make_engine(pg.app_url)
    yield engine
    engine.dispose()
