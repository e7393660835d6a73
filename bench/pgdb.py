"""A temporary PostgreSQL database for a bench: the roles and database the tests use,
migrated, dropped on exit. Creates the roles on a machine that has never run the tests."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import PgDatabase, create_pg_database, drop_pg_database

ROOT = Path(__file__).resolve().parent.parent


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


def production_env(sandbox: str, database_url: str, redis_url: str) -> dict[str, str]:
    """What a bench's production-layout children need: the sandbox as both marketplaces with its
    apps' keys, the database and Redis, the project on the path, and one metrics folder the
    intake's GET /metrics adds up."""
    import httpx

    apps = httpx.get(f"{sandbox}/sandbox/apps").json()
    return {
        "STORESYNC_SHOPEE_BASE_URL": f"{sandbox}/shopee",
        "STORESYNC_TIKTOK_BASE_URL": f"{sandbox}/tiktok",
        "STORESYNC_TIKTOK_AUTH_BASE_URL": f"{sandbox}/tiktok-auth",
        "STORESYNC_DATABASE_URL": database_url,
        "STORESYNC_REDIS_URL": redis_url,
        "STORESYNC_SHOPEE_PARTNER_ID": str(apps["shopee"]["partner_id"]),
        "STORESYNC_SHOPEE_PARTNER_KEY": apps["shopee"]["partner_key"],
        "STORESYNC_TIKTOK_APP_KEY": apps["tiktok"]["app_key"],
        "STORESYNC_TIKTOK_APP_SECRET": apps["tiktok"]["app_secret"],
        "STORESYNC_TIKTOK_SERVICE_ID": apps["tiktok"]["service_id"],
        # The project first (its modules import as `bench.…`), anything the caller set after.
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="storesync-metrics-"),
    }
