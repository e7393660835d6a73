"""Every connection to one store draws on the store's one token bucket, whatever thread or event
loop it runs in; connections to other stores have their own. Against the sandbox over real HTTP
on 127.0.0.1, with the sandbox limiting each shop to the rate StoreSync is configured for."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from storesync.channels.registry import build_adapter, open_connection
from storesync.channels.resilience import limiter_for
from storesync.channels.schemas import Credentials
from tests.channels.conftest import app_credentials, sandbox_settings
from tests.sandbox.conftest import RunningSandbox

RATE = 4.0  # calls per second, burst 1
CALLS = 4  # per connection
HEALTH_PATH = {"shopee": "/api/v2/shop/get_shop_info", "tiktok": "/authorization/202309/shops"}


def authorize(sandbox: RunningSandbox, platform: str) -> Credentials:
    """Tokens for the sandbox's shop of `platform`, from a control-API code."""
    base = sandbox.base_url

    async def exchange() -> Credentials:
        connection = open_connection(
            platform,
            app=app_credentials(base, platform),
            settings=sandbox_settings(base),
            store_key=f"authorize-{uuid.uuid4().hex}",
            rate=1000,
        )
        code = httpx.post(f"{base}/sandbox/authorize", json={"platform": platform}).json()
        try:
            adapter = build_adapter(platform, connection)
            shop = await adapter.exchange_code(code=code["code"], shop_id=code["shop_id"])
        finally:
            await connection.http.client.aclose()
        return shop.credentials

    return asyncio.run(exchange())


def limit_the_sandbox(sandbox: RunningSandbox, platform: str) -> None:
    """The platform refuses a shop's calls beyond RATE a second (a bucket of 2 absorbs the
    jitter between leaving StoreSync and arriving)."""
    httpx.post(
        f"{sandbox.base_url}/sandbox/faults",
        json={"platform": platform, "rate_limit_per_second": RATE, "rate_limit_burst": 2},
    ).raise_for_status()


def health_checks(
    sandbox: RunningSandbox, platform: str, credentials: Credentials, store_key: str
) -> Callable[[], Coroutine[Any, Any, list[bool]]]:
    """CALLS health checks through a connection of its own to `store_key`, at RATE."""

    async def run() -> list[bool]:
        connection = open_connection(
            platform,
            app=app_credentials(sandbox.base_url, platform),
            credentials=credentials,
            settings=sandbox_settings(sandbox.base_url),
            store_key=store_key,
            rate=RATE,
        )
        adapter = build_adapter(platform, connection)
        try:
            return [(await adapter.health()).ok for _ in range(CALLS)]
        finally:
            await connection.http.client.aclose()

    return run


def in_threads(*jobs: Callable[[], Coroutine[Any, Any, list[bool]]]) -> list[Any]:
    """Each job in a thread of its own with its own event loop (as the worker runs them);
    their results (or exceptions) in order."""
    results: list[Any] = [None] * len(jobs)

    def run(index: int) -> None:
        try:
            results[index] = asyncio.run(jobs[index]())
        except BaseException as error:  # reported to the test, not lost in the thread
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert not any(thread.is_alive() for thread in threads), "a connection never finished"
    return results


def seen(sandbox: RunningSandbox, platform: str, since: float) -> list[dict[str, Any]]:
    """The health calls of `platform` that reached the sandbox since `since`, oldest first."""
    answer = httpx.get(
        f"{sandbox.base_url}/sandbox/calls",
        params={"platform": platform, "path": HEALTH_PATH[platform], "since": since},
    ).json()
    return sorted(answer["calls"], key=lambda call: call["at"])


def test_connections_to_one_store_in_two_threads_share_its_rate(
    running_sandbox: RunningSandbox,
) -> None:
    credentials = authorize(running_sandbox, "shopee")
    limit_the_sandbox(running_sandbox, "shopee")
    store = f"store:{uuid.uuid4()}"
    since = time.time()

    started = time.monotonic()
    results = in_threads(
        health_checks(running_sandbox, "shopee", credentials, store),
        health_checks(running_sandbox, "shopee", credentials, store),
    )
    elapsed = time.monotonic() - started

    assert results == [[True] * CALLS, [True] * CALLS]
    calls = seen(running_sandbox, "shopee", since)
    assert [call["outcome"] for call in calls] == ["ok"] * (2 * CALLS)  # none refused
    # One burst token, then one call every 1/RATE seconds for both connections together.
    assert elapsed >= (2 * CALLS - 1) / RATE - 0.02
    assert calls[-1]["at"] - calls[0]["at"] >= (2 * CALLS - 1) / RATE - 0.05


def test_connections_in_one_event_loop_share_the_rate_too(
    running_sandbox: RunningSandbox,
) -> None:
    credentials = authorize(running_sandbox, "shopee")
    limit_the_sandbox(running_sandbox, "shopee")
    store = f"store:{uuid.uuid4()}"
    since = time.time()

    async def both() -> list[list[bool]]:
        jobs = [health_checks(running_sandbox, "shopee", credentials, store)() for _ in range(2)]
        return list(await asyncio.gather(*jobs))

    started = time.monotonic()
    results = asyncio.run(both())
    elapsed = time.monotonic() - started

    assert results == [[True] * CALLS, [True] * CALLS]
    calls = seen(running_sandbox, "shopee", since)
    assert [call["outcome"] for call in calls] == ["ok"] * (2 * CALLS)
    assert elapsed >= (2 * CALLS - 1) / RATE - 0.02


def test_connections_to_different_stores_do_not_slow_each_other(
    running_sandbox: RunningSandbox,
) -> None:
    shopee, tiktok = authorize(running_sandbox, "shopee"), authorize(running_sandbox, "tiktok")
    for platform in ("shopee", "tiktok"):
        limit_the_sandbox(running_sandbox, platform)
    since = time.time()

    started = time.monotonic()
    results = in_threads(
        health_checks(running_sandbox, "shopee", shopee, f"store:{uuid.uuid4()}"),
        health_checks(running_sandbox, "tiktok", tiktok, f"store:{uuid.uuid4()}"),
    )
    elapsed = time.monotonic() - started

    assert results == [[True] * CALLS, [True] * CALLS]
    for platform in ("shopee", "tiktok"):
        assert [c["outcome"] for c in seen(running_sandbox, platform, since)] == ["ok"] * CALLS
    # Each alone needs (CALLS - 1) / RATE = 0.75 s; sharing one bucket would need 1.75 s.
    assert elapsed < (2 * CALLS - 1) / RATE


def test_the_newest_rate_asked_for_a_store_wins() -> None:
    store = f"store:{uuid.uuid4()}"
    first = limiter_for(store, 5.0)

    again = limiter_for(store, 5.0)
    retuned = limiter_for(store, 20.0)

    assert again is first and retuned is first
    assert (first.rate, first.capacity) == (20.0, 1.0)
    assert limiter_for(f"store:{uuid.uuid4()}", 20.0) is not first
