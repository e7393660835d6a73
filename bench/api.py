"""The merchant API over real HTTP (uvicorn in a process of its own, as the app serves it) on
PostgreSQL as the app role under row-level security, with 100,000 orders: requests per second
and latency (p50/p99) of the order list (first page, keyset pages, a status filter) and of a
product update, from one client and from several at once. Target: order list p99 under 50 ms.
Prints figures; asserts nothing.

    .venv/bin/python bench/api.py [--orders 100000] [--requests 400] [--threads 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

os.environ.setdefault("STORESYNC_VAR_DIR", "/tmp/storesync-bench-var")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.orders_inbox import _load, _make_tenant, _vacuum_analyze

TARGET_P99_MS = 50.0


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _run(label: str, requests: int, threads: int, call: Callable[[httpx.Client, int], int]) -> None:
    """`requests` calls spread over `threads` clients (keep-alive); prints rps and latencies."""
    samples: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        with httpx.Client(timeout=10) as client:
            for n in range(offset, requests, threads):
                start = time.perf_counter()
                status = call(client, n)
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    samples.append(elapsed)
                    if status >= 400:
                        errors.append(status)

    began = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = time.perf_counter() - began
    p50, p99 = _percentiles(samples)
    verdict = "meets" if p99 < TARGET_P99_MS else "misses"
    print(
        f"{label:<34} {len(samples) / wall:7.0f} req/s over {threads} client(s)   "
        f"p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   errors {len(errors)}"
        + (f"   ({verdict} the {TARGET_P99_MS:.0f} ms p99 target)" if "orders" in label else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    from bench.pgdb import temporary_database
    from storesync.api.app import PREFIX
    from storesync.catalog import service as catalog
    from storesync.db import make_engine, session_scope
    from storesync.sandbox.server import free_port
    from storesync.tenancy import api_keys

    with temporary_database() as database:
        app_engine = make_engine(database.app_url, pool_size=args.threads + 2)
        owner = make_engine(database.owner_url)
        tenant = _make_tenant(app_engine, 0)
        seconds = _load(owner, tenant, args.orders, 0.42)
        print(f"loaded {args.orders:,} orders in {seconds:.1f} s")
        _vacuum_analyze(database.owner_url)
        ctx = tenant.ctx
        with session_scope(ctx, engine=app_engine) as session:
            key = api_keys.create_api_key(session, ctx=ctx, name="bench", scopes=["write"]).secret
            products = [
                catalog.create_product(session, ctx=ctx, handle=f"bench-{n}", title=f"Bench {n}").id
                for n in range(50)
            ]
        headers = {"Authorization": f"Bearer {key}"}
        port = free_port()
        server = _serve(port, database.app_url)
        try:
            url = f"http://127.0.0.1:{port}{PREFIX}"
            cursors = _cursors(url, headers, pages=20)

            def first_page(client: httpx.Client, _n: int) -> int:
                return client.get(
                    f"{url}/orders", params={"limit": 50}, headers=headers
                ).status_code

            def deeper_page(client: httpx.Client, n: int) -> int:
                params = {"limit": 50, "cursor": cursors[n % len(cursors)]}
                return client.get(f"{url}/orders", params=params, headers=headers).status_code

            def to_ship(client: httpx.Client, _n: int) -> int:
                params = {"limit": 50, "status": "to_ship"}
                return client.get(f"{url}/orders", params=params, headers=headers).status_code

            def update(client: httpx.Client, n: int) -> int:
                product = products[n % len(products)]
                body = {"title": f"Bench {n}"}
                return client.patch(
                    f"{url}/products/{product}", json=body, headers=headers
                ).status_code

            for call in (first_page, deeper_page):  # warm the pool and the plans
                with httpx.Client() as client:
                    call(client, 0)
            _run("orders: first page", args.requests, 1, first_page)
            _run("orders: first page", args.requests, args.threads, first_page)
            _run("orders: keyset pages 2-20", args.requests, args.threads, deeper_page)
            _run("orders: status to_ship", args.requests, args.threads, to_ship)
            _run("product update (PATCH)", args.requests, 1, update)
            _run("product update (PATCH)", args.requests, args.threads, update)
        finally:
            server.terminate()
            server.wait(timeout=20)
        app_engine.dispose()
        owner.dispose()


def _serve(port: int, database_url: str) -> subprocess.Popen[bytes]:
    """The API alone, in its own process (uvicorn), on the bench's database."""
    env = {
        **os.environ,
        "STORESYNC_DATABASE_URL": database_url,
        "STORESYNC_API_RATE_PER_MINUTE": "1000000",
    }
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)], env=env, cwd=Path(__file__).parent.parent
    )
    for _ in range(100):
        try:
            if (
                httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1).status_code
                == 200
            ):
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the API process did not start")


def serve(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from storesync.api.app import PREFIX, build_api

    app = Starlette(routes=[Mount(PREFIX, app=build_api())])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _cursors(url: str, headers: dict[str, str], *, pages: int) -> list[str]:
    found: list[str] = []
    cursor: str | None = None
    with httpx.Client(timeout=10) as client:
        for _ in range(pages):
            params: dict[str, str | int] = {"limit": 50, **({"cursor": cursor} if cursor else {})}
            page = client.get(f"{url}/orders", params=params, headers=headers).json()
            cursor = page["next_cursor"]
            if cursor is None:
                break
            found.append(cursor)
    return found


if __name__ == "__main__":
    from workers import wiring

    wiring.prepare()  # what every process does before its first session
    main()
