"""Catalog sync throughput: import a TikTok Shop store of about 100,000 listings from the sandbox,
with the sandbox rate-limiting the app, and compare the time with the rate-limit bound (the
fewest seconds the calls can take at that rate). Prints figures; asserts nothing.

    .venv/bin/python bench/catalog_sync.py [--products 22000] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STORESYNC_VAR_DIR", tempfile.mkdtemp(prefix="storesync-bench-"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=22_000)
    parser.add_argument("--rate", type=float, default=20, help="calls/s the sandbox allows")
    args = parser.parse_args()

    import httpx

    from storesync import migrate
    from storesync.db import make_engine, session_scope
    from storesync.sandbox.app import Sandbox
    from storesync.sandbox.seed import SeedConfig
    from storesync.sandbox.server import serve_in_thread
    from storesync.sync.listings import import_listings
    from tests.channels.conftest import connect_store, make_org, sandbox_settings

    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    migrate.upgrade(url=url)
    engine = make_engine(url)
    started = time.monotonic()
    sandbox = Sandbox(seed=SeedConfig(seed=9, products_per_shop=args.products))
    shop = sandbox.state.shops_of("tiktok")[0]
    models = sum(len(i.models) for i in shop.items.values())
    print(
        f"sandbox seeded in {time.monotonic() - started:5.1f} s: {len(shop.items)} products, "
        f"{models} SKUs on TikTok"
    )
    with serve_in_thread(sandbox.asgi()) as base:
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
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
    main()
