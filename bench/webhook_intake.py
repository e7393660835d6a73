"""Webhook intake under load, production layout: signed pushes from a load generator in its own
process against the intake in its own process(es). Prints accepted pushes per second, the
acknowledgement latency and CPU per push by part, then checks that every acknowledged push was
stored before its answer and once, and every order ingested exactly once. Target (issue 21):
>= 1,000 pushes/s accepted, acknowledgement p99 < 50 ms, each stored before its acknowledgement.

    .venv/bin/python bench/webhook_intake.py [--rate 1200] [--seconds 10] [--pushes 12000]
        [--server granian|uvicorn] [--intake-processes 1] [--ingest during|after]

The layout: PostgreSQL (a temporary database, the app role under RLS), the Redis broker, the
webhook routes (`storesync.sync.intake.routes`) served alone by granian (what `storesync run`
serves the app with: Reflex's production backend) or uvicorn, with --intake-processes
processes, and `storesync worker` (--worker-processes x --worker-threads) ingesting while the
pushes arrive, or, with `--ingest after`, stopped meanwhile and draining afterwards (on 2 cores
the workers' ingest at 300+ orders/s competes with the intake). The sandbox stays in this
process; the workers fetch the orders from it.

Orders are placed on the sandbox first (Shopee and TikTok Shop, half each; no push URL is
registered, so it sends nothing itself) after each store's first orders poll; their pushes are
built by the sandbox's own simulators (the platforms' bodies and signatures), three copies each
(redeliveries: the same bytes), shuffled within blocks of 8 orders so copies arrive together.
The generator (a child process) paces them at --rate over keep-alive connections, at most
--concurrency in flight, with a bare HTTP/1.1 client (its own CPU is printed), stops at
--seconds or --pushes, and looks every --check-every'th acknowledged push up in the database
before its next request (as the superuser, past RLS): stored before acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pgdb import profile, wait_up  # noqa: E402
from bench.procstat import cpu_seconds  # noqa: E402

os.environ.setdefault("STORESYNC_VAR_DIR", tempfile.mkdtemp(prefix="storesync-bench-"))
REDIS = os.environ.get("STORESYNC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
PLATFORMS: tuple[Literal["shopee", "tiktok"], ...] = ("shopee", "tiktok")
BLOCK = 8  # orders whose copies are shuffled together


# -- the processes --------------------------------------------------------------------------------


def _spawn_intake(args: argparse.Namespace, port: int, log: Path) -> subprocess.Popen[bytes]:
    target, workers = "bench.pgdb:intake_app", str(args.intake_processes)
    if args.server == "granian":
        cmd = [str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--factory"]
        cmd += ["--workers", workers, "--log-level", "warning", "--no-access-log"]
    else:
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "--workers", workers]
        cmd += ["--log-level", "warning", "--no-access-log"]
    return _spawn([*cmd, "--host", "127.0.0.1", "--port", str(port), target], log)


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    """A child whose output goes to `log` (the workers log every platform call)."""
    with log.open("ab") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
    try:
        child.wait(timeout=20)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=5)


class Workers:
    """`storesync worker`; stopped and started again with --ingest after. `cpu()` counts the
    stopped processes too."""

    def __init__(self, args: argparse.Namespace, log: Path) -> None:
        self.cmd = [str(Path(sys.executable).parent / "storesync"), "worker"]
        self.cmd += ["--processes", str(args.worker_processes)]
        self.cmd += ["--threads", str(args.worker_threads)]
        self.log = log
        self.child: subprocess.Popen[bytes] | None = None
        self.spent = 0.0

    def start(self) -> None:
        self.child = _spawn(self.cmd, self.log)

    def stop(self) -> None:
        if self.child is not None:
            self.spent = self.cpu()
            _stop(self.child)
            self.child = None

    def cpu(self) -> float:
        return self.spent + (cpu_seconds(self.child.pid) if self.child is not None else 0.0)


# -- the load generator (a child process) -------------------------------------------------------


def generate(spec_file: str, out_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    started = time.process_time()
    result = asyncio.run(_generate(spec))
    result["cpu_seconds"] = time.process_time() - started
    Path(out_file).write_text(json.dumps(result))


async def _generate(spec: dict[str, Any]) -> dict[str, Any]:
    """Per push sent: [status (0: no answer), latency s, answered at s, sent late by s]."""
    host, port, pushes = spec["host"], spec["port"], spec["pushes"]
    head = f"POST {{}} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    requests = [
        (
            head.format(path) + f"Authorization: {auth}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        + body.encode()
        for path, body, auth, _ in pushes
    ]
    results: list[list[float] | None] = [None] * len(requests)
    checked = [0, 0]  # looked up, missing
    lookup = await _lookup(spec["dsn"]) if spec["check_every"] else None
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    deadline = start + spec["seconds"]
    cursor = iter(range(len(requests)))

    async def lane() -> None:
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for index in cursor:
            due = start + index / spec["rate"]
            if due >= deadline or loop.time() >= deadline:  # bounded by the clock too
                break
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            late = max(0.0, loop.time() - due)
            sent = time.perf_counter()
            try:
                connection = connection or await asyncio.open_connection(host, port)
                connection[1].write(requests[index])
                status = await asyncio.wait_for(_answer(connection[0]), 10)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                status, connection = 0, None
            results[index] = [status, time.perf_counter() - sent, loop.time() - start, late]
            if lookup and status == 200 and index % spec["check_every"] == 0:
                checked[0] += 1
                checked[1] += not await lookup(*pushes[index][3])
        if connection is not None:
            connection[1].close()

    await asyncio.gather(*(lane() for _ in range(spec["concurrency"])))
    return {"results": results, "checked": checked[0], "missing_at_ack": checked[1]}


async def _answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"transfer-encoding":
            raise ValueError("a chunked answer")
    if length:
        await reader.readexactly(length)
    return int(head[9:12])


async def _lookup(dsn: str) -> Callable[[str, str], Any]:
    """Is the event of (store id, dedupe key) in the database now? One shared connection."""
    import psycopg

    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    lock = asyncio.Lock()
    sql = "SELECT 1 FROM webhook_event WHERE store_id = %s AND dedupe_key = %s"

    async def found(store_id: str, key: str) -> bool:
        async with lock:
            cursor = await conn.execute(sql, (store_id, key))
            return await cursor.fetchone() is not None

    return found


# -- the run --------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> bool:
    import redis
    import sqlalchemy as sa

    from bench.pgdb import temporary_database
    from storesync import db
    from storesync import settings as settings_module
    from storesync.core.clock import utcnow
    from storesync.sandbox.app import Sandbox
    from storesync.sandbox.seed import SeedConfig
    from storesync.sandbox.server import free_port, serve_in_thread
    from workers import wiring

    sandbox = Sandbox(seed=SeedConfig(seed=11, products_per_shop=20), clock=utcnow)
    for shop in sandbox.state.shops.values():
        for item in shop.items.values():
            for model in item.models:
                model.stock = 10**9  # no order is refused for stock
    folder = Path(tempfile.mkdtemp(prefix="storesync-intake-bench-"))
    with temporary_database() as database, serve_in_thread(sandbox.asgi()) as base:
        _environment(base, database.app_url)
        redis.Redis.from_url(REDIS).flushdb()
        settings_module.get_settings.cache_clear()
        wiring.wire()  # this process connects the stores: their first jobs go to the workers
        engine = db.make_engine(database.app_url, pool_size=4)
        db.use_engine(engine)
        admin = sa.create_engine(database.admin_url)
        port = free_port()
        workers = Workers(args, folder / "worker.log")
        intake = _spawn_intake(args, port, folder / "intake.log")
        try:
            workers.start()
            wait_up(f"http://127.0.0.1:{port}", intake)
            stores = _connect_stores(engine, settings_module.get_settings())
            _wait_first_polls(admin, len(stores))
            plan = _plan(sandbox, stores, port, args)
            return _measure(
                args, folder, database.admin_url, admin, plan, port, intake.pid, workers
            )
        finally:
            workers.stop()
            _stop(intake)
            print(f"children's output, generator's files: {folder}", flush=True)
            db.use_engine(None)
            engine.dispose()
            admin.dispose()


def _environment(base: str, url: str) -> None:
    """What every child reads: the sandbox as both marketplaces (with its apps' keys, as a
    production deployment has its own), the bench database, the bench Redis."""

    from bench.pgdb import production_env

    os.environ.update(production_env(base, url, REDIS))


def _connect_stores(engine: Any, cfg: Any) -> dict[str, str]:
    from tests.channels.conftest import connect_store, make_org

    ctx = make_org(engine)
    return {p: str(connect_store(engine, ctx, p, cfg)) for p in PLATFORMS}


def _wait_first_polls(admin: Any, stores: int, timeout: float = 120) -> None:
    """Until each store's first scheduled orders poll (days back) is done: orders placed after
    it reach StoreSync by push only (the next poll is minutes away)."""
    import sqlalchemy as sa

    polled = sa.text(
        "SELECT count(DISTINCT store_id) FROM sync_job WHERE kind = 'orders' "
        "AND status = 'succeeded'"
    )
    busy = sa.text("SELECT count(*) FROM sync_job WHERE status IN ('queued', 'running')")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with admin.connect() as conn:
            done = conn.execute(polled).scalar_one() >= stores
            if done and not conn.execute(busy).scalar_one():
                return
        time.sleep(0.2)
    print("the stores' first orders polls did not finish in time", flush=True)


def _plan(sandbox: Any, stores: dict[str, str], port: int, args: argparse.Namespace) -> dict:
    """Orders placed on the sandbox and their order pushes as the platforms build and sign
    them, each `--copies` times: per push [path, body, Authorization, [store id, dedupe key]],
    and its order (store id, order id)."""
    from storesync.sandbox.state import SandboxEvent
    from storesync.sync.intake.pushes import read_push

    rng = random.Random(5)
    state = sandbox.state
    state.webhooks.clear()
    shops = {s.platform: s for s in state.shops.values()}
    units = {p: [(i.id, m.id) for i in shops[p].items.values() for m in i.models] for p in shops}
    built: list[tuple[list[Any], tuple[str, str]]] = []
    for number in range(-(-args.pushes // args.copies)):
        platform = PLATFORMS[number % 2]
        shop = shops[platform].id
        item, model = rng.choice(units[platform])
        order = state.place_order(platform, shop, [(item, model, 1)])
        data = {"order_id": order.id, "status": order.status}
        event = SandboxEvent(platform, shop, "order.created", data, timestamp=state.now())
        url = f"http://127.0.0.1:{port}/webhooks/{platform}"
        body, headers = sandbox.sims[platform].webhook(state.apps[platform], url, event)
        key = read_push(platform, json.loads(body)).dedupe_key
        push = [f"/webhooks/{platform}", body.decode(), headers["Authorization"]]
        built.append(([*push, [stores[platform], key]], (stores[platform], order.id)))
    shuffled = []
    for start in range(0, len(built), BLOCK):
        block = [p for p in built[start : start + BLOCK] for _ in range(args.copies)]
        rng.shuffle(block)
        shuffled.extend(block)
    shuffled = shuffled[: args.pushes]
    return {"pushes": [p for p, _ in shuffled], "orders": [o for _, o in shuffled]}


def _measure(
    args: argparse.Namespace,
    folder: Path,
    admin_url: str,
    admin: Any,
    plan: dict,
    port: int,
    intake_pid: int,
    workers: Workers,
) -> bool:
    """Runs the load and the checks; whether every check passed."""
    import sqlalchemy as sa

    dsn = sa.make_url(admin_url).set(drivername="postgresql").render_as_string(False)
    spec = {"host": "127.0.0.1", "port": port, "pushes": plan["pushes"], "dsn": dsn}
    spec.update(rate=args.rate, seconds=args.seconds, concurrency=args.concurrency)
    spec.update(check_every=args.check_every)
    (folder / "spec.json").write_text(json.dumps(spec))
    parts = {"intake": lambda: cpu_seconds(intake_pid), "worker": workers.cpu}
    label = f"{args.server} x{args.intake_processes}, ingest {args.ingest}"
    if args.ingest == "after":
        workers.stop()
    speed = _speed_ms()
    print(f"{label}: machine speed check {speed:.0f} ms", flush=True)
    before = _cpu(parts, admin)
    command = [sys.executable, __file__, "--generate", str(folder / "spec.json")]
    generator = subprocess.Popen([*command, str(folder / "out.json")], cwd=ROOT)
    profiler = profile(intake_pid, args.profile, args.seconds + 1) if args.profile else None
    try:
        generator.wait(timeout=args.seconds + 60)
    finally:
        if generator.poll() is None:
            _stop(generator)
        if profiler is not None:
            profiler.wait(timeout=args.seconds + 30)
    loaded = _cpu(parts, admin)
    if args.ingest == "after":
        workers.start()
    out = json.loads((folder / "out.json").read_text())
    acked = [i for i, r in enumerate(out["results"]) if r and r[0] == 200]
    orders = {plan["orders"][i] for i in acked}
    drained = _drain(admin, orders, args.drain_seconds)
    after = _cpu(parts, admin)
    summary = _report(label, out, plan, acked, [before, loaded, after], drained)
    verdicts = _checks(admin, out, plan, acked, orders)
    for name, ok, detail in verdicts:
        print(f"{label}: {'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
    passed = sum(ok for _, ok, _ in verdicts)
    print(
        f"webhook intake, {label}, {date.today()}, speed check {speed:.0f} ms: {summary}; "
        f"checks {passed}/{len(verdicts)} PASS",
        flush=True,
    )
    return passed == len(verdicts)


def _cpu(parts: dict[str, Callable[[], float]], admin: Any) -> dict[str, float]:
    """CPU seconds so far: each child (with its processes), PostgreSQL's backends on the bench
    database, and this process (the sandbox the workers fetch from)."""
    import sqlalchemy as sa

    spent = {name: seconds() for name, seconds in parts.items()}
    with admin.connect() as conn:
        pids = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        spent["postgres"] = sum(cpu_seconds(p) for p in pids)
    spent["sandbox+bench"] = cpu_seconds(os.getpid(), descendants=False)
    return spent


def _drain(admin: Any, orders: set[tuple[str, str]], timeout: float) -> float | None:
    """Seconds until every acknowledged order is ingested and no event waits; None on timeout."""
    import sqlalchemy as sa

    waiting = sa.text(
        "SELECT count(*) FROM webhook_event WHERE status IN ('received', 'processing')"
    )
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with admin.connect() as conn:
            if not conn.execute(waiting).scalar_one() and orders <= set(_rows(conn, ORDERS)):
                return time.monotonic() - started
        time.sleep(0.5)
    return None


ORDERS = "SELECT store_id::text, platform_order_id FROM sales_order"
EVENTS = "SELECT store_id::text, dedupe_key FROM webhook_event"
STATUSES = "SELECT status || ' x' || attempts FROM webhook_event"


def _rows(conn: Any, sql: str) -> Counter[Any]:
    import sqlalchemy as sa

    return Counter(tuple(row) if len(row) > 1 else row[0] for row in conn.execute(sa.text(sql)))


def _report(
    label: str,
    out: dict[str, Any],
    plan: dict,
    acked: list[int],
    cpu: list[dict[str, float]],
    drained: float | None,
) -> str:
    """Prints the figures; returns them in one line."""
    results = [r for r in out["results"] if r]
    span = max((r[2] for r in results), default=0.0) or 1.0
    latencies = sorted(r[1] * 1000 for r in results if r[0] == 200) or [0.0]
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99)]
    refused = Counter(int(r[0]) for r in results if r[0] != 200)
    late = sum(r[3] > 0.01 for r in results)
    print(
        f"{label}: {len(results)} of {len(plan['pushes'])} pushes sent in {span:.1f} s "
        f"({len(results) / span:.0f}/s, {late} over 10 ms behind schedule); "
        f"{len(acked)} accepted ({len(acked) / span:.0f}/s); refused: "
        + (", ".join(f"{s or 'no answer'} x{n}" for s, n in sorted(refused.items())) or "none"),
        flush=True,
    )
    figures = f"ack p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms"
    print(f"{label}: {figures}", flush=True)
    before, loaded, after = cpu
    spent = {k: (loaded[k] - before[k]) * 1000 / max(len(results), 1) for k in loaded}
    spent["generator"] = out["cpu_seconds"] * 1000 / max(len(results), 1)
    per_push = ", ".join(f"{k} {v:.2f}" for k, v in spent.items())
    print(f"{label}: CPU ms per push while they arrived: {per_push}", flush=True)
    orders = len({plan["orders"][i] for i in acked})
    worker = (after["worker"] - before["worker"]) * 1000 / max(orders, 1)
    took = f"in {drained:.1f} s" if drained is not None else "NOT within --drain-seconds"
    print(
        f"{label}: {orders} orders ingested, done {took} after the last push; "
        f"worker CPU {worker:.1f} ms per order",
        flush=True,
    )
    return f"{len(acked) / span:.0f} pushes/s accepted, {figures}; CPU ms/push {per_push}"


def _checks(
    admin: Any, out: dict[str, Any], plan: dict, acked: list[int], orders: set[tuple[str, str]]
) -> list[tuple[str, bool, str]]:
    keys = {tuple(plan["pushes"][i][3]) for i in acked}
    sent = {tuple(plan["pushes"][i][3]) for i, r in enumerate(out["results"]) if r}
    with admin.connect() as conn:
        stored, ingested, statuses = (_rows(conn, q) for q in (EVENTS, ORDERS, STATUSES))
    missing = len(keys - set(stored))
    doubled = sum(n > 1 for n in stored.values())
    absent, twice = len(orders - set(ingested)), sum(n > 1 for n in ingested.values())
    checked, late = out["checked"], out["missing_at_ack"]
    return [
        (
            "every acknowledged push stored",
            not missing,
            f"{len(keys) - missing} of {len(keys)} pushes ({len(acked)} answers 200)",
        ),
        (
            "stored before its acknowledgement (looked up at once)",
            checked > 0 and not late,
            f"{checked - late} of {checked} found",
        ),
        (
            "each push stored once, nothing else",
            not doubled and set(stored) <= sent,
            f"{sum(stored.values())} events for {len(keys)} pushes",
        ),
        (
            "each order ingested exactly once",
            not absent and not twice,
            f"{len(orders) - absent} of {len(orders)} orders, {sum(ingested.values())} rows",
        ),
        (
            "each event processed once",
            set(statuses) <= {"processed x1"},
            ", ".join(f"{k}: {n}" for k, n in sorted(statuses.items())),
        ),
    ]


def _speed_ms() -> float:
    """A fixed pure-Python loop, timed (as bench/propagation.py prints it): this VM's speed
    drifts, and the figures with it."""
    start = time.perf_counter()
    total = 0
    for number in range(3_000_000):
        total += number
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=1200, help="pushes offered per second")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--pushes", type=int, default=12_000)
    parser.add_argument("--copies", type=int, default=3, help="deliveries of each push")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    parser.add_argument("--intake-processes", type=int, default=1)
    parser.add_argument("--ingest", choices=["during", "after"], default="during")
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--worker-threads", type=int, default=4)
    parser.add_argument("--drain-seconds", type=float, default=120)
    parser.add_argument("--check-every", type=int, default=10)
    parser.add_argument("--profile", metavar="FILE", help="py-spy the intake: collapsed stacks")
    parser.add_argument("--generate", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(*args.generate)
        return
    if not run(args):
        sys.exit(1)


if __name__ == "__main__":
    main()
