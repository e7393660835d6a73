"""Resilient marketplace HTTP, shared by every adapter: a token bucket per store, retries with
exponential backoff and jitter (honouring Retry-After), and a circuit breaker per store whose state
the UI can show. Adapters supply how to build a signed request and how to classify an answer.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TypeVar

import httpx

from storesync.core import metrics
from storesync.core.errors import AppError, ErrorType

T = TypeVar("T")

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


# Ids in API paths (TikTok product and package ids) become "{id}": one series per endpoint.
_ENDPOINT_IDS = re.compile(r"\d{6,}")


class RateLimiter:
    """Token bucket: `rate` calls per second, bursts up to `burst`.

    One store's bucket is shared by every connection to it, in any thread and event loop, so a
    `threading.Lock` (not an `asyncio.Lock`, which belongs to one loop) guards the arithmetic and
    no one sleeps holding it. A caller short of a token reserves the next one (the bucket goes
    into debt) and sleeps until it is due: callers are served in arrival order, as they were
    when they queued on a lock, and each wakes once. A cancelled wait keeps its slot, so the
    bucket errs on the slow side."""

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.capacity = float(burst or max(1, int(rate)))
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.updated = clock()
        self._lock = threading.Lock()

    async def acquire(self) -> None:
        wait = self._reserve()
        if wait > 0:
            await self.sleep(wait)

    def retune(self, rate: float, burst: int | None = None) -> None:
        """Change the rate (and burst) from now on; tokens earned so far count at the old rate,
        a debt is paid off at the new one."""
        with self._lock:
            self._refill()
            self.rate = rate
            self.capacity = float(burst or max(1, int(rate)))
            self.tokens = min(self.tokens, self.capacity)

    def _reserve(self) -> float:
        """Take a token, or the next one to come: seconds until it is due."""
        with self._lock:
            self._refill()
            self.tokens -= 1
            if self.tokens >= -1e-9:  # float dust must not cost a sleep
                return 0.0
            return -self.tokens / self.rate

    def _refill(self) -> None:
        current = self.clock()
        self.tokens = min(self.capacity, self.tokens + (current - self.updated) * self.rate)
        self.updated = current


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `reset_after` seconds lets one probe
    through (half-open); closes on its success, re-opens on its failure."""

    threshold: int = 5
    reset_after: float = 30.0
    clock: Clock = time.monotonic
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False

    def paused(self) -> bool:
        """Open and not yet due for a probe."""
        return self.state is BreakerState.OPEN and self.clock() - self.opened_at < self.reset_after

    def before_call(self) -> None:
        if self.state is BreakerState.OPEN:
            if self.clock() - self.opened_at < self.reset_after:
                raise AppError(
                    ErrorType.PLATFORM_API,
                    "circuit_open",
                    "the marketplace failed repeatedly; calls are paused for a moment",
                    details={
                        "retry_after": round(self.reset_after - (self.clock() - self.opened_at), 1)
                    },
                    retryable=True,
                )
            self.state = BreakerState.HALF_OPEN
            self.probing = False
        if self.state is BreakerState.HALF_OPEN:
            if self.probing:
                raise AppError(
                    ErrorType.PLATFORM_API,
                    "circuit_open",
                    "the marketplace is being probed; try again shortly",
                    retryable=True,
                )
            self.probing = True

    def record_success(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.probing = False

    def record_failure(self) -> bool:
        """Count a failure; True when it opened the circuit."""
        self.failures += 1
        self.probing = False
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.threshold:
            opened = self.state is not BreakerState.OPEN
            self.state = BreakerState.OPEN
            self.opened_at = self.clock()
            return opened
        return False


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 10.0
    jitter: float = 0.2  # +/- share of the delay

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        backoff *= 1 + rng.uniform(-self.jitter, self.jitter)
        return max(backoff, retry_after or 0.0)


RequestFactory = Callable[[], httpx.Request]
Classifier = Callable[[httpx.Response], AppError | None]


@dataclass
class ResilientClient:
    """One per store connection: its own httpx client; the store's shared bucket and breaker."""

    client: httpx.AsyncClient
    limiter: Limiter
    breaker: Breaker = field(default_factory=CircuitBreaker)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    calls: int = 0

    async def send(
        self, build: RequestFactory, classify: Classifier, *, creates: bool = False
    ) -> httpx.Response:
        """Send the request `build()` makes (rebuilt per attempt, so signatures and timestamps
        stay fresh); retry what `classify` says is retryable; raise its AppError otherwise.

        `creates`: the call makes something that a repeat would make twice (a listing). It is
        retried only when the marketplace cannot have acted on it (the connection was never
        made, or it answered with a refusal such as its rate limit); after a timeout or a
        server error it is not repeated, and the error says the thing may exist."""
        for attempt in range(1, self.policy.max_attempts + 1):
            self.breaker.before_call()
            queued = time.monotonic()
            await self.limiter.acquire()
            waited = time.monotonic() - queued
            if waited > 0.001:
                metrics.RATE_LIMIT_WAIT_SECONDS.labels(self.platform).inc(waited)
            error, retry_after = await self._attempt(build, classify)
            if error is None:
                return self._last
            if creates and error.retryable and self._maybe_delivered:
                raise AppError(
                    error.type,
                    "outcome_unknown",
                    f"{error.message}: it may have been created on the marketplace anyway; "
                    "check the channel before trying again",
                    details=error.details,
                    retryable=False,
                )
            if not error.retryable or attempt == self.policy.max_attempts:
                raise error
            delay = self.policy.delay(attempt, retry_after, self.rng)
            log.info("marketplace call failed (%s), retry %d in %.2fs", error.code, attempt, delay)
            await self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self, build: RequestFactory, classify: Classifier
    ) -> tuple[AppError | None, float | None]:
        self.calls += 1
        self._maybe_delivered = True
        request = build()
        error, retry_after = await self._answer(request, classify)
        endpoint = _ENDPOINT_IDS.sub("{id}", request.url.path)
        metrics.PLATFORM_CALLS.labels(
            self.platform, endpoint, "ok" if error is None else error.code
        ).inc()
        return error, retry_after

    def _failed(self) -> None:
        if self.breaker.record_failure():
            metrics.CIRCUIT_OPENED.labels(self.platform).inc()

    async def _answer(
        self, request: httpx.Request, classify: Classifier
    ) -> tuple[AppError | None, float | None]:
        try:
            response = await self.client.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout) as failure:
            self._maybe_delivered = False  # nothing reached the marketplace
            self._failed()
            return AppError(
                ErrorType.NETWORK,
                "network_error",
                f"cannot reach the marketplace: {type(failure).__name__}",
            ), None
        except httpx.TimeoutException:
            self._failed()
            return AppError(
                ErrorType.NETWORK, "timeout", "the marketplace did not answer in time"
            ), None
        except httpx.TransportError as failure:
            self._failed()
            return AppError(
                ErrorType.NETWORK,
                "network_error",
                f"cannot reach the marketplace: {type(failure).__name__}",
            ), None
        self._last = response
        self._maybe_delivered = response.status_code >= 500
        error = classify(response)
        if error is None:
            self.breaker.record_success()
            return None, None
        if error.type in (ErrorType.NETWORK, ErrorType.PLATFORM_API) and error.retryable:
            self._failed()
        else:
            # The marketplace answered sensibly (e.g. a rate limit or a bad request): it is up.
            self.breaker.record_success()
        return error, _retry_after(response)

    platform: str = ""  # the metrics' label
    _last: httpx.Response = field(init=False, repr=False)
    _maybe_delivered: bool = field(default=False, init=False, repr=False)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class Limiter(Protocol):
    """A store's token bucket: this process's (`RateLimiter`) or every process's
    (`shared_limits.SharedRateLimiter`)."""

    rate: float
    capacity: float

    async def acquire(self) -> None: ...

    def retune(self, rate: float, burst: int | None = None) -> None: ...


class Breaker(Protocol):
    """A store's circuit: this process's (`CircuitBreaker`) or every process's
    (`shared_limits.SharedCircuitBreaker`)."""

    threshold: int

    @property
    def state(self) -> BreakerState: ...

    def paused(self) -> bool: ...

    def before_call(self) -> None: ...

    def record_success(self) -> None: ...

    def record_failure(self) -> bool: ...


LimiterFactory = Callable[[str, float, int], Limiter]
BreakerFactory = Callable[[str], Breaker]

_breakers: dict[str, Breaker] = {}
_limiters: dict[str, Limiter] = {}
_limiters_lock = threading.Lock()
_shared: tuple[LimiterFactory, BreakerFactory] | None = None
_shared_states: Callable[[], dict[str, str]] | None = None


def share_state(
    limiters: LimiterFactory | None,
    breakers: BreakerFactory | None = None,
    states: Callable[[], dict[str, str]] | None = None,
) -> None:
    """Every process's buckets and circuits from now on (production: Redis, wired at start-up
    by `workers.wiring`), or this process's again (None). `states` lists every shared circuit
    that is not closed (for the metrics)."""
    global _shared, _shared_states
    with _limiters_lock:
        _shared = (limiters, breakers) if limiters is not None and breakers is not None else None
        _shared_states = states if _shared is not None else None
        _breakers.clear()
        _limiters.clear()


def breaker_for(store_key: str) -> Breaker:
    """The breaker of one store, shared by all its adapter instances in this process and, once
    `share_state` was called, in every process."""
    with _limiters_lock:
        breaker = _breakers.get(store_key)
        if breaker is None:
            made = _shared[1](store_key) if _shared is not None else CircuitBreaker()
            breaker = _breakers[store_key] = made
    return breaker


def limiter_for(store_key: str, rate: float, *, burst: int = 1) -> Limiter:
    """The process-wide token bucket of one store (same key as its breaker), shared by all its
    connections in every thread and event loop: the platform sees the store's rate however many
    adapters are open. Created at `rate`; a call asking another rate or burst retunes it, so the
    newest request wins. Every caller reads the rate from the settings, so a different rate means
    the settings changed (or a test chose one): keeping the first would pin a stale rate for the
    life of the process, and keeping the lowest would never let it rise again."""
    with _limiters_lock:
        limiter = _limiters.get(store_key)
        if limiter is None:
            made = (
                _shared[0](store_key, rate, burst)
                if _shared is not None
                else RateLimiter(rate, burst)
            )
            limiter = _limiters[store_key] = made
    if (limiter.rate, limiter.capacity) != (rate, float(burst)):
        limiter.retune(rate, burst)
    return limiter


def circuit_states() -> dict[str, str]:
    """Store key → circuit state (closed, open, half_open) of every circuit that is not closed:
    every process's when they are shared, else this process's."""
    if _shared_states is not None:
        return _shared_states()
    with _limiters_lock:
        breakers = list(_breakers.items())
    states = {key: breaker.state.value for key, breaker in breakers}
    return {key: state for key, state in states.items() if state != BreakerState.CLOSED.value}


async def bounded(jobs: Sequence[Awaitable[T]], limit: int) -> list[T]:
    """Run `jobs` at most `limit` at a time, results in order; the first failure is raised once
    every job has finished (none is left running)."""
    gate = asyncio.Semaphore(limit)

    async def run(job: Awaitable[T]) -> T:
        async with gate:
            return await job

    results = await asyncio.gather(*(run(job) for job in jobs), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [r for r in results if not isinstance(r, BaseException)]
