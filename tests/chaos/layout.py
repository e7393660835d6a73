"""The production layout, one process per part, for the crash and chaos tests and the chaos bench.

Every process is started in a process group of its own and ended through that group only (never
by name): `storesync worker` (its Dramatiq master and worker processes with it), the standalone
sandbox (`storesync sandbox`), the webhook intake (the app's push routes served alone:
`python -m tests.chaos.layout intake PORT`) and a private `redis-server` on a free port, without
persistence, so a restart loses every queued message. PostgreSQL stays the machine's (other tests
use it at the same time): a "restart" drops every connection to the test's own database with
`pg_terminate_backend`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

from storesync.sandbox.server import free_port
from storesync.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any STORESYNC_ setting, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORESYNC_")}
    env.update(settings)
    return env


def start_group(
    command: list[str], env: dict[str, str], log: Path, *, nice: int = 0
) -> subprocess.Popen[bytes]:
    """`command` in a process group of its own (so it and its children end together), its
    output appended to `log`; `nice` lowers its priority (the command runs in place of `nice`,
    so the process and its group keep the id returned)."""
    if nice:
        command = [shutil.which("nice") or "nice", "-n", str(nice), *command]
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Send `sig` to the process's whole group (default SIGKILL) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def stop_groups(procs: list[subprocess.Popen[bytes]], grace: float = 5.0) -> None:
    """SIGTERM to every group at once; SIGKILL to those still there after `grace` seconds
    (and to what a stopped leader left behind in its group)."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        kill_group(proc)


def start_worker(
    env: dict[str, str], log: Path, *, processes: int = 1, threads: int = 4, nice: int = 0
) -> subprocess.Popen[bytes]:
    """`storesync worker` (Dramatiq on Redis, the outbox sweep every 5 s) in its own group."""
    command = [str(BIN / "storesync"), "worker"]
    return start_group(
        [*command, "--processes", str(processes), "--threads", str(threads)], env, log, nice=nice
    )


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def tails(logs: list[Path], chars: int = 3000) -> str:
    """The end of each log, headed by its name."""
    return "\n".join(
        f"--- {log.name} (last {chars} characters) ---\n{log.read_text(errors='replace')[-chars:]}"
        for log in logs
        if log.exists()
    )


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class RedisServer:
    """A private `redis-server` on a free port: no snapshot, no append-only file."""

    def __init__(self, log: Path) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary is not None, "redis-server is not installed"
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.proc = start_group(command, clean_env(), self.log)
        if not wait_for(self.ping, 10, 0.02):
            raise RuntimeError(f"redis-server did not start:\n{tails([self.log])}")

    def ping(self) -> bool:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: everything it held (queues, locks, buckets) is gone."""
        if self.proc is not None:
            kill_group(self.proc)
            self.proc = None

    def restart(self, down_for: float = 1.0) -> None:
        self.kill()
        time.sleep(down_for)
        self.start()


def sandbox_process(
    *, seed: int, products: int, var_dir: Path, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """The standalone sandbox (`storesync sandbox`), up and answering; its base URL."""
    port = free_port()
    command = [str(BIN / "storesync"), "sandbox", "--port", str(port)]
    command += ["--seed", str(seed), "--products", str(products)]
    proc = start_group(command, clean_env(STORESYNC_VAR_DIR=str(var_dir)), log)
    base = f"http://127.0.0.1:{port}"
    if not wait_for(lambda: proc.poll() is None and answers(f"{base}/sandbox/apps"), 30, 0.1):
        kill_group(proc)
        raise RuntimeError(f"the sandbox did not start:\n{tails([log])}")
    return proc, base


def start_intake(
    env: dict[str, str], log: Path, port: int, *, nice: int = 0
) -> subprocess.Popen[bytes]:
    """The webhook intake on 127.0.0.1:`port`, a process of its own (not waited for)."""
    command = [sys.executable, "-m", "tests.chaos.layout", "intake", str(port)]
    return start_group(command, {**env, "PYTHONPATH": str(PROJECT_ROOT)}, log, nice=nice)


def terminate_backends(admin_url: str, database: str) -> int:
    """`pg_terminate_backend` on every connection to `database` (from an administrator's
    connection to another database); how many were dropped."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                        "FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"
                    ),
                    {"d": database},
                ).scalar_one()
            )
    finally:
        admin.dispose()


def serve_intake(port: int) -> None:
    """The app's webhook routes alone (and /ping), after the checks every production process
    makes, on 127.0.0.1:`port`."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    import storesync.models  # noqa: F401  (every table, for the foreign keys)
    from storesync.cli import check_production
    from storesync.settings import get_settings
    from storesync.sync.intake import routes as webhooks
    from workers import wiring

    check_production(get_settings())
    wiring.wire()
    routes = [*webhooks.routes, Route("/ping", lambda _r: PlainTextResponse("pong"))]
    uvicorn.run(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    if sys.argv[1:2] == ["intake"]:
        serve_intake(int(sys.argv[2]))
