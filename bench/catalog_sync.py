"""Catalog sync throughput: import a TikTok Shop store of about 100,000 listings from the sandbox,
with the sandbox rate-limiting the app, and compare the time with the rate-limit bound (the
fewest seconds the calls can take at that rate). Prints figures; asserts nothing.

    .venv/bin/python bench/catalog_sync.py [--products 22000] [--rate 20] [--sandbox-in-process]

The sandbox runs as its own `storesync sandbox` process by default, as a marketplace would: in
the bench's process its page rendering would compete with the importer for one GIL, and the
figure would measure the sandbox as much as StoreSync.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procstat import cpu_seconds  # noqa: E402

os.environ.setdefault("STORESYNC_VAR_DIR", tempfile.mkdtemp(prefix="storesync-bench-"))


@contextlib.contextmanager
def _sandbox(products: int, *, in_process: bool) -> Iterator[str]:
    """The seeded sandbox's base URL: a thread of this process, or a `storesync sandbox`
    process of its own (default)."""
    from storesync.core.clock import utcnow
    from storesync.sandbox.app import Sandbox
    from storesync.sandbox.seed import SeedConfig
    from storesync.sandbox.server import free_port, serve_in_thread

    if in_process:
        with serve_in_thread(
            Sandbox(seed=SeedConfig(seed=9, products_per_shop=products), clock=utcnow).asgi()
        ) as base:
            yield base
        return
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/storesync"),
            "sandbox",
            "--port",
            str(port),
            "--seed",
            "9",
            "--products",
            str(products),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/sandbox/apps", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the sandbox process did not start")
            time.sleep(0.2)
        yield base
        cpu = cpu_seconds(proc.pid)
        print(f"sandbox process CPU (seeding included): {cpu:5.1f} s")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=22_000)
    parser.add_argument("--rate", type=float, default=20, help="calls/s the sandbox allows")
    parser.add_argument(
        "--postgres", action="store_true", help="a temporary PostgreSQL database (default SQLite)"
    )
    parser.add_argument(
        "--sandbox-in-process",
        action="store_true",
        help="serve the sandbox from a thread of this process (shares its GIL)",
    )
    args = parser.parse_args()

    from bench.pgdb import bench_database

    with bench_database(args.postgres) as url:
        run(args, url)


def run(args: argparse.Namespace, url: str) -> None:
    from storesync.db import make_engine, session_scope
    from storesync.sync.listings.service import import_listings
    from tests.channels.conftest import connect_store, make_org, sandbox_settings

    engine = make_engine(url)
    started = time.monotonic()
    with _sandbox(args.products, in_process=args.sandbox_in_process) as base:
        print(f"sandbox seeded in {time.monotonic() - started:5.1f} s")
        cfg = sandbox_settings(base, tiktok_rate_limit=args.rate)
        ctx = make_org(engine)
        store_id = connect_store(engine, ctx, "tiktok", cfg)
        httpx.post(
            f"{base}/sandbox/faults",
            json={"platform": "tiktok", "rate_limit_per_second": args.rate, "rate_limit_burst": 2},
        )
        since = time.time()
        started = time.monotonic()
        fetched_at: list[float] = []

        def progress(_done: int, total: int | None) -> None:
            if total is None:
                fetched_at.append(time.monotonic())

        with session_scope(ctx, engine=engine) as session:
            report = asyncio.run(
                import_listings(
                    session, ctx=ctx, store_id=store_id, settings=cfg, progress=progress
                )
            )
        elapsed = time.monotonic() - started
        calls = httpx.get(
            f"{base}/sandbox/calls", params={"platform": "tiktok", "since": since}
        ).json()
    ok = sum(v for k, v in calls["counts"].items() if k.endswith(" ok"))
    limited = sum(v for k, v in calls["counts"].items() if k.endswith("rate_limited"))
    bound = ok / args.rate
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = usage.ru_maxrss / 1024
    print(f"bench process CPU (start-up included): {usage.ru_utime + usage.ru_stime:5.1f} s")
    print(
        f"imported {report.fetched} listings ({report.created} new) in {elapsed:6.1f} s "
        f"= {report.fetched / elapsed:7.0f} listings/s"
    )
    fetch = (fetched_at[-1] - started) if fetched_at else elapsed
    print(
        f"fetch phase {fetch:5.1f} s = {100 * bound / fetch:5.1f} % of the rate-limit bound; "
        f"writing and matching {elapsed - fetch:5.1f} s"
    )
    print(
        f"{ok} successful calls at {args.rate:g}/s: bound {bound:5.1f} s, so "
        f"{100 * bound / elapsed:5.1f} % of the rate-limit bound ({limited} calls answered 429); "
        f"peak RSS {rss:5.0f} MiB"
    )
    engine.dispose()


if __name__ == "__main__":
    from workers import wiring

    wiring.prepare()  # what every process does before its first session
    main()
