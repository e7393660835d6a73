"""`storesync` command line: run, worker, db."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError

from storesync.catalog.cli import catalog_app
from storesync.core.errors import AppError
from storesync.db import UnsafeDatabaseRole
from storesync.inventory.cli import inventory_app
from storesync.sandbox.cli import sandbox_command
from storesync.settings import PROJECT_ROOT, RunMode, Settings, SettingsError, get_settings
from storesync.stores.cli import keys_app
from storesync.tenancy.cli import apikey_app

app = typer.Typer(
    help="StoreSync: one catalog, one stock count, every marketplace in step.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
app.add_typer(inventory_app, name="inventory")
app.command("sandbox")(sandbox_command)
app.add_typer(keys_app, name="keys")
app.add_typer(apikey_app, name="apikey")


class CliError(Exception):
    """A failure to report as one line on stderr (exit 2)."""


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database up (default: to the newest revision)."""
    from storesync import migrate

    migrate.upgrade(revision)
    typer.echo(f"database at revision {migrate.current_revision()}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Migrate the database down (default: one revision; `base` removes everything)."""
    from storesync import migrate

    migrate.downgrade(revision)
    typer.echo(f"database at revision {migrate.current_revision() or 'base'}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's current revision."""
    from storesync import migrate

    typer.echo(migrate.current_revision() or "base")


@app.command()
def run(
    seed: Annotated[bool, typer.Option(help="Seed the demo organization on first start.")] = True,
) -> None:
    """Start StoreSync. Embedded: migrate, seed the demo, serve UI and API on one port."""
    settings = get_settings()
    if settings.env is RunMode.EMBEDDED:
        check_exposure(settings, seed=seed)
        _prepare_embedded(settings, seed=seed)
    else:
        check_production(settings)
        _share_metrics(settings)
    _serve(settings)


def _share_metrics(settings: Settings) -> None:
    """Production processes (the app's and the workers') write their metrics under var/metrics/
    and `GET /metrics` adds them up (`prometheus_client` multiprocess mode): the child processes
    inherit the setting."""
    from storesync.core.metrics import MULTIPROC_ENV, forget_dead_processes

    folder = Path(os.environ.get(MULTIPROC_ENV) or settings.var_dir / "metrics")
    folder.mkdir(parents=True, exist_ok=True)
    forget_dead_processes(folder)
    os.environ[MULTIPROC_ENV] = str(folder)


def check_exposure(settings: Settings, *, seed: bool = True) -> None:
    """Embedded mode serving a non-loopback address with the published demo password would let
    anyone on the network sign in: refuse, naming the settings that change it."""
    from storesync.settings import DEMO_PASSWORD, is_loopback

    if is_loopback(settings.host) or settings.allow_public_demo:
        return
    if seed and settings.seed_demo and settings.demo_password == DEMO_PASSWORD:
        raise CliError(
            f"STORESYNC_HOST={settings.host} would expose the demo login "
            f"({settings.demo_email} / the published password) to the network: set "
            "STORESYNC_DEMO_PASSWORD to a password of your own, STORESYNC_SEED_DEMO=0, or "
            "STORESYNC_ALLOW_PUBLIC_DEMO=1 to allow it"
        )


def _prepare_embedded(settings: Settings, *, seed: bool) -> None:
    from storesync import migrate
    from storesync.db import session_scope
    from storesync.demo import seed_demo

    migrate.upgrade()
    if seed and settings.seed_demo:
        with session_scope() as session:
            seed_demo(session, email=settings.demo_email, password=settings.demo_password)


def check_production(settings: Settings) -> None:
    """What every production process (app and worker) checks before it serves: marketplace
    hosts that are not a sandbox (unless STORESYNC_SANDBOX_MARKETPLACES says so), a database at
    the newest revision, and an app role that row-level security binds."""
    local = settings.local_marketplaces()
    if local and not settings.sandbox_marketplaces:
        raise CliError(
            f"{', '.join(local)} point at this machine (a sandbox) in production mode: set them "
            "to the marketplaces' hosts (or leave them unset for the platforms' own), or set "
            "STORESYNC_SANDBOX_MARKETPLACES=1 if the sandbox is intended"
        )
    _check_production_database(settings)


def _check_production_database(settings: Settings) -> None:
    import sqlalchemy as sa

    from storesync import migrate
    from storesync.db import assert_rls_enforced, make_engine

    try:
        current = migrate.current_revision(settings.database_url)
    except sa.exc.ProgrammingError as error:
        if "permission denied" not in str(error.orig):
            raise
        raise CliError(
            "STORESYNC_DATABASE_URL connects as a role that may not read the migrations' table "
            f"(permission denied for table alembic_version): `storesync db upgrade` grants "
            f"STORESYNC_DB_APP_ROLE ({settings.db_app_role!r}): connect as that role, or set "
            "STORESYNC_DB_APP_ROLE to the role you connect as and run the upgrade again"
        ) from None
    if current != migrate.head_revision():
        raise CliError("database is not at the newest revision: run `storesync db upgrade` first")
    engine = make_engine(settings.database_url)
    try:
        assert_rls_enforced(engine)
    finally:
        engine.dispose()


def _reflex_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    tools = PROJECT_ROOT / ".tools" / "node_modules" / ".bin"
    if tools.is_dir():
        env["PATH"] = f"{tools}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "0")
    env.setdefault("REFLEX_SKIP_COMPILE", "0")
    return env


def _serve(settings: Settings) -> None:
    reflex = shutil.which("reflex", path=os.path.dirname(sys.executable)) or "reflex"
    command = [
        reflex,
        "run",
        "--env",
        "prod",
        "--backend-host",
        settings.host,
        "--loglevel",
        "warning",
    ]
    child = subprocess.Popen(command, cwd=PROJECT_ROOT, env=_reflex_env(settings))  # noqa: S603

    def _stop(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if _wait_until_up(settings, child):
        url = settings.public_url
        typer.echo(f"StoreSync is running at {url}  (health: {url}/ping)")
        if settings.env is RunMode.EMBEDDED and settings.seed_demo:
            typer.echo(f"Demo login: {settings.demo_email} / {settings.demo_password}")
        if settings.env is RunMode.EMBEDDED and settings.embedded_sandbox:
            from storesync.ui.sandbox_guard import TOKEN_FILE

            typer.echo(
                f"Sandbox control API: {url}/sandbox/sandbox/ with header X-Sandbox-Token: "
                f"$(cat {settings.var_dir / TOKEN_FILE}) (this machine only)"
            )
    sys.exit(child.wait())


def _wait_until_up(
    settings: Settings, child: subprocess.Popen[bytes], timeout: float = 600
) -> bool:
    deadline = time.monotonic() + timeout
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
    url = f"http://{host}:{settings.port}/ping"
    while time.monotonic() < deadline and child.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


@app.command()
def worker(
    processes: Annotated[int, typer.Option(min=1, max=64)] = 2,
    threads: Annotated[int, typer.Option(min=1, max=64)] = 4,
) -> None:
    """Start Dramatiq worker processes on the Redis broker (production mode)."""
    settings = get_settings()
    if not settings.redis_url:
        raise CliError(
            "STORESYNC_REDIS_URL is not set: "
            "in embedded mode the worker runs inside `storesync run`"
        )
    if settings.env is RunMode.PRODUCTION:
        check_production(settings)
        _share_metrics(settings)
    dramatiq = shutil.which("dramatiq", path=os.path.dirname(sys.executable)) or "dramatiq"
    args = [dramatiq, "workers.main", "--processes", str(processes), "--threads", str(threads)]
    # An idle Redis consumer polls with backoff up to this many ms (Dramatiq's default, 1 s, would
    # add up to a second per hop to a sale's propagation: webhook → order → push).
    env = {
        **os.environ,
        "dramatiq_worker_timeout": os.environ.get("dramatiq_worker_timeout", "100"),  # noqa: SIM112
    }
    child = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env)  # noqa: S603

    def _stop(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sys.exit(_sweep_while(child))


def _sweep_while(child: subprocess.Popen[bytes], every: float = 5.0) -> int:
    """Enqueue the outbox sweep every few seconds while the workers run, so rows a crashed
    worker left behind are pushed again; returns the workers' exit code."""
    from workers import actors

    while child.poll() is None:
        try:
            actors.sweep_outbox.send()
        except Exception as error:  # Redis away for a moment: the next round tries again
            typer.echo(f"storesync: could not enqueue the outbox sweep: {error}", err=True)
        try:
            return child.wait(timeout=every)
        except subprocess.TimeoutExpired:
            continue
    return child.returncode


def main() -> None:
    """Entry point: bad settings and unreachable databases end in one clear line (exit 2)."""
    try:
        get_settings()
        from workers import wiring

        wiring.wire()
        app(standalone_mode=True)
    except SettingsError as error:
        typer.echo(f"storesync: invalid setting: {error}", err=True)
        sys.exit(2)
    except (CliError, UnsafeDatabaseRole) as error:
        typer.echo(f"storesync: {error}", err=True)
        sys.exit(2)
    except AppError as error:
        typer.echo(f"storesync: {error.message}", err=True)
        sys.exit(2)
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else "connection failed"
        typer.echo(f"storesync: cannot use the database: {reason}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
