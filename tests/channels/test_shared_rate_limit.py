"""Every connection to one store draws on the store's one token bucket, whatever thread or event
loop it runs in; connections to other stores have their own. Against the sandbox over real HTTP
on 127.0.0.1, with the sandbox limiting each shop to the rate StoreSync is configured for."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from storesync.channels.registry import build_adapter, open_connection
from storesync.channels.resilience import BreakerState, limiter_for
from storesync.channels.schemas import Credentials
from storesync.core import metrics
from storesync.core.errors import AppError
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


# -- across processes (production: N app and N worker processes), through Redis ---------------

REDIS_URL = os.environ.get("STORESYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKER = """
import asyncio, json, sys, tempfile, time
from pathlib import Path
from storesync.channels import resilience, shared_limits
from storesync.channels.registry import build_adapter, open_connection
from storesync.channels.schemas import AppCredentials, Credentials
from storesync.settings import build_settings

job = json.loads(sys.argv[1])
shared_limits.use_redis(job["redis"])
if job["task"] == "open_circuit":
    breaker = resilience.breaker_for(job["store"])
    for _ in range(breaker.threshold):
        breaker.record_failure()
    print(json.dumps(breaker.state.value))
    sys.exit(0)
base = job["sandbox"]
cfg = build_settings(
    var_dir=Path(tempfile.mkdtemp()),
    shopee_base_url=base + "/shopee",
    tiktok_base_url=base + "/tiktok",
    tiktok_auth_base_url=base + "/tiktok-auth",
)

async def main():
    await asyncio.sleep(max(0.0, job["start_at"] - time.time()))  # both processes at once
    connection = open_connection(
        "shopee",
        app=AppCredentials(**job["app"]),
        credentials=Credentials.model_validate(job["credentials"]),
        settings=cfg,
        store_key=job["store"],
        rate=job["rate"],
    )
    adapter = build_adapter("shopee", connection)
    try:
        return [(await adapter.health()).ok for _ in range(job["calls"])]
    finally:
        await connection.http.client.aclose()

print(json.dumps(asyncio.run(main())))
"""


def _redis_or_unavailable() -> None:
    import redis

    from tests.conftest import unavailable

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        unavailable("Redis", error)


def _worker(**job: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps({"redis": REDIS_URL, **job})],
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.redis
def test_two_worker_processes_share_a_stores_rate_and_its_circuit(
    running_sandbox: RunningSandbox,
) -> None:
    """Two processes call one store: together they stay at its rate (the sandbox refuses
    nothing, and the calls are spread as one bucket spreads them); a circuit one process opens
    is open for the other and for the Stores page."""
    from storesync.channels import resilience, shared_limits
    from storesync.stores import service as stores

    _redis_or_unavailable()
    credentials = authorize(running_sandbox, "shopee")
    limit_the_sandbox(running_sandbox, "shopee")
    app = app_credentials(running_sandbox.base_url, "shopee")
    store_id = uuid.uuid4()
    store = f"store:{store_id}"
    job = {
        "task": "calls",
        "sandbox": running_sandbox.base_url,
        "app": {"platform": app.platform, "key": app.key, "secret": app.secret},
        "credentials": credentials.model_dump(mode="json"),
        "store": store,
        "rate": RATE,
        "calls": CALLS,
    }
    since = time.time()
    job["start_at"] = since + 4  # after both processes have started up

    workers = [_worker(**job) for _ in range(2)]
    results = [json.loads(w.communicate(timeout=60)[0]) for w in workers]

    assert results == [[True] * CALLS, [True] * CALLS]
    calls = seen(running_sandbox, "shopee", since)
    assert [call["outcome"] for call in calls] == ["ok"] * (2 * CALLS)  # none refused
    # One bucket for both processes (started together): after the first token, one call every
    # 1/RATE seconds (less a first connection's set-up), never more than RATE + 1 in a second.
    assert calls[-1]["at"] - calls[0]["at"] >= (2 * CALLS - 1) / RATE - 0.15
    for first in calls:
        window = [c for c in calls if first["at"] <= c["at"] < first["at"] + 1]
        assert len(window) <= RATE + 1

    opener = _worker(task="open_circuit", store=store)
    assert json.loads(opener.communicate(timeout=30)[0]) == "open"
    try:
        shared_limits.use_redis(REDIS_URL)
        seen_here = resilience.breaker_for(store)
        shown = stores.circuit_state(SimpleNamespace(id=store_id))  # type: ignore[arg-type]
        scraped = metrics.render([metrics.circuit_state(resilience.circuit_states)])[0].decode()
        with pytest.raises(AppError) as paused:
            seen_here.before_call()
    finally:
        resilience.share_state(None)  # back to this process's own buckets and circuits

    assert (seen_here.state, seen_here.paused(), shown) == (BreakerState.OPEN, True, "open")
    assert f'storesync_circuit_state{{store="{store}"}} 2.0' in scraped  # /metrics shows it
    assert paused.value.code == "circuit_open"
    assert resilience.breaker_for(store).state is BreakerState.CLOSED  # this process's own


def test_redis_unreachable_makes_calls_wait_and_retry_not_crash() -> None:
    """The shared limits' Redis gone: a call is not made (a retryable error, as when the
    marketplace cannot be reached), and a call's outcome is not lost to an exception."""
    import redis

    from storesync.channels import shared_limits

    away = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    limiter = shared_limits.SharedRateLimiter(away, "store:away", 10.0)
    breaker = shared_limits.SharedCircuitBreaker(away, "store:away")

    with pytest.raises(AppError) as waited:
        asyncio.run(limiter.acquire())
    with pytest.raises(AppError) as paused:
        breaker.before_call()

    assert (waited.value.code, waited.value.retryable) == ("limits_unavailable", True)
    assert (paused.value.code, paused.value.retryable) == ("limits_unavailable", True)
    assert breaker.record_failure() is False
    breaker.record_success()
