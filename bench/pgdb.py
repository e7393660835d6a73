"""A temporary PostgreSQL database for a bench: the roles and database the tests use,
migrated, dropped on exit. Creates the roles on a machine that has never run the tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tests.conftest import PgDatabase, create_pg_database, drop_pg_database


@contextlib.contextmanager
def temporary_database() -> Iterator[PgDatabase]:
    from storesync import migrate

    database = create_pg_database("storesync_bench")
    try:
        migrate.upgrade(url=database.owner_url)
        yield database
    finally:
        drop_pg_database(database)


@contextlib.contextmanager
def bench_database(postgres: bool) -> Iterator[str]:
    """The app's URL of a migrated database for a bench: a temporary PostgreSQL one (as the
    app role) or a fresh SQLite file; prints which."""
    import tempfile

    from storesync import migrate

    if postgres:
        with temporary_database() as database:
            print("database: PostgreSQL")
            yield database.app_url
        return
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    migrate.upgrade(url=url)
    print("database: SQLite")
    yield url
