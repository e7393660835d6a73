"""A temporary PostgreSQL database for a bench: the roles and database the tests use,
migrated, dropped on exit. Creates the roles on a machine that has never run the tests. And
what the benches of the production layout share: the children's environment, the webhook
intake's app, waiting for it, and py-spy on a child."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when used: importing tests.conftest clears STORESYNC_* (the
    # intake's process, which imports `intake_app` from here, must keep its settings)
    from tests.conftest import PgDatabase

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def temporary_database() -> Iterator[PgDatabase]:
    from storesync import migrate
    from tests.conftest import create_pg_database, drop_pg_database

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


def intake_app() -> Any:
    """The webhook intake alone (the app's routes for pushes, and /metrics), as the app process
    serves it (granian's or uvicorn's app factory: `bench.pgdb:intake_app`)."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    import storesync.models  # noqa: F401  (every table, for the foreign keys)
    from storesync.sync.intake import routes as webhooks
    from storesync.ui import metrics_route
    from workers import wiring

    wiring.wire()
    ping = Route("/ping", lambda _r: PlainTextResponse("pong"))
    return Starlette(routes=[*webhooks.routes, *metrics_route.routes, ping])


def wait_up(url: str, child: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    """Until GET `url`/ping answers; RuntimeError when `child` exits or `timeout` passes."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (child is None or child.poll() is None):
        try:
            httpx.get(f"{url}/ping", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"the intake at {url} did not start")


def profile(pid: int, out: str | Path, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy on `pid` and its children for `seconds` (threads holding the GIL only: CPU, not
    waiting), collapsed stacks to `out`."""
    spy = str(Path(sys.executable).parent / "py-spy")
    cmd = [spy, "record", "--pid", str(pid), "--subprocesses", "--gil", "--nonblocking"]
    cmd += ["--rate", "200", "--format", "raw", "--duration", str(int(seconds)), "--output"]
    return subprocess.Popen([*cmd, str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
