"""The shared resilience pieces with a fake clock (the only thing tests may mock)."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from storesync.channels.resilience import (
    BreakerState,
    CircuitBreaker,
    RateLimiter,
    ResilientClient,
    RetryPolicy,
)
from storesync.core.errors import AppError, ErrorType
from storesync.sandbox.server import serve_in_thread


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_breaker_opens_after_threshold_probes_once_and_closes_on_success() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, reset_after=10, clock=clock)
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN

    with pytest.raises(AppError) as raised:
        breaker.before_call()
    assert raised.value.code == "circuit_open" and raised.value.retryable

    clock.now += 10
    breaker.before_call()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(AppError):
        breaker.before_call()  # only one probe at a time
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.failures == 0


def test_a_failed_probe_reopens_the_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, reset_after=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    breaker.before_call()
    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN and breaker.opened_at == clock.now


def test_retry_delays_grow_exponentially_with_bounded_jitter_and_honour_retry_after() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=8, jitter=0.2)
    rng = random.Random(1)

    delays = [policy.delay(attempt, None, rng) for attempt in range(1, 6)]

    for attempt, delay in enumerate(delays, start=1):
        nominal = min(8, 2 ** (attempt - 1))
        assert nominal * 0.8 <= delay <= nominal * 1.2
    assert policy.delay(1, 7.5, rng) == 7.5


def test_token_bucket_spaces_calls_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(5, burst=2, clock=clock, sleep=clock.sleep)

    async def take(n: int) -> None:
        for _ in range(n):
            await limiter.acquire()

    asyncio.run(take(12))

    assert clock.now - 1000.0 == pytest.approx(2.0)  # 2 from the burst, then 10 at 5/s


def test_client_retries_retryable_answers_and_raises_the_rest() -> None:
    """Against a real HTTP server answering 503 twice, then 200; then a 400."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    answers = [503, 503, 200, 400]

    async def endpoint(_request: object) -> Response:
        return Response(status_code=answers.pop(0), headers={"retry-after": "0"})

    def classify(response: httpx.Response) -> AppError | None:
        if response.status_code >= 500:
            return AppError(ErrorType.PLATFORM_API, "server", "down", retryable=True)
        if response.status_code >= 400:
            return AppError(ErrorType.VALIDATION, "bad", "bad request")
        return None

    clock = FakeClock()
    with serve_in_thread(Starlette(routes=[Route("/x", endpoint)])) as base:

        async def run() -> tuple[int, str]:
            async with httpx.AsyncClient() as http:
                client = ResilientClient(
                    client=http,
                    limiter=RateLimiter(1000),
                    policy=RetryPolicy(base_delay=0.01),
                    sleep=clock.sleep,
                )
                ok = await client.send(lambda: http.build_request("GET", f"{base}/x"), classify)
                with pytest.raises(AppError) as raised:
                    await client.send(lambda: http.build_request("GET", f"{base}/x"), classify)
                return ok.status_code, raised.value.code

        status, code = asyncio.run(run())

    assert (status, code) == (200, "bad")
    assert len(clock.slept) == 2  # two retries before the 200, none for the 400
    assert answers == []


def test_a_create_is_repeated_only_when_the_marketplace_cannot_have_acted_on_it() -> None:
    """A call that creates something (a listing): after a server error it is not sent again
    (the listing may exist), the error says so; a rate-limit answer is retried; a server that
    cannot be reached at all is retried."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    answers = [500, 429, 200]
    received: list[int] = []

    async def endpoint(_request: object) -> Response:
        status = answers.pop(0)
        received.append(status)
        return Response(status_code=status, headers={"retry-after": "0"})

    def classify(response: httpx.Response) -> AppError | None:
        if response.status_code == 429:
            return AppError(ErrorType.RATE_LIMIT, "rate_limited", "slow down", retryable=True)
        if response.status_code >= 500:
            return AppError(ErrorType.PLATFORM_API, "server", "down", retryable=True)
        return None

    clock = FakeClock()
    with serve_in_thread(Starlette(routes=[Route("/x", endpoint, methods=["POST"])])) as base:

        async def run() -> tuple[tuple[str, bool, int, int], str]:
            async with httpx.AsyncClient() as http:
                client = ResilientClient(
                    client=http,
                    limiter=RateLimiter(1000),
                    policy=RetryPolicy(base_delay=0.01),
                    sleep=clock.sleep,
                )

                def build() -> httpx.Request:
                    return http.build_request("POST", f"{base}/x")

                with pytest.raises(AppError) as unknown:
                    await client.send(build, classify, creates=True)
                created = await client.send(build, classify, creates=True)
                closed = ResilientClient(
                    client=http,
                    limiter=RateLimiter(1000),
                    policy=RetryPolicy(base_delay=0.01, max_attempts=2),
                    sleep=clock.sleep,
                )
                with pytest.raises(AppError) as unreachable:
                    await closed.send(
                        lambda: http.build_request("POST", "http://127.0.0.1:9/x"),
                        classify,
                        creates=True,
                    )
                return (
                    unknown.value.code,
                    unknown.value.retryable,
                    created.status_code,
                    closed.calls,
                ), unreachable.value.code

        (code, retryable, status, attempts), last = asyncio.run(run())

    assert (code, retryable) == ("outcome_unknown", False)
    assert received == [500, 429, 200]  # the 500 was not repeated; the 429 was
    assert status == 200
    assert (attempts, last) == (2, "network_error")  # never reached: tried again
