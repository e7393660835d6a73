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
