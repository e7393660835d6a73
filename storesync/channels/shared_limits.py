"""A store's rate limit and circuit state shared by every process through Redis (production:
N app and N worker processes call one store; each platform counts the calls of all of them).

Same interfaces as `resilience.RateLimiter` and `resilience.CircuitBreaker`; every change is one
Lua script (atomic), timed by Redis's own clock so processes on other hosts agree. Embedded mode
is one process and keeps the in-process versions (`resilience.share_through` chooses).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import redis

from storesync.channels.resilience import BreakerState, Sleep, share_state
from storesync.core.errors import AppError, ErrorType

log = logging.getLogger(__name__)
PREFIX = "storesync:store"
IDLE_TTL_MS = 24 * 3600 * 1000  # a store nobody calls for a day forgets its bucket and circuit

# The bucket: refill at `rate` up to `capacity`, take a token (a short one goes into debt, so
# callers are served in arrival order), answer the wait in milliseconds.
_RESERVE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or capacity
local at = tonumber(held[2]) or now_ms
tokens = math.min(capacity, tokens + (now_ms - at) * rate / 1000) - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now_ms)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if tokens >= -1e-9 then return 0 end
return math.ceil(-tokens * 1000 / rate)
"""

# before_call: 0 go; {1, ms left} open; {2, 0} a probe is already out (half-open).
_BEFORE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local held = redis.call('HMGET', KEYS[1], 'state', 'opened_at', 'probing')
local state = held[1] or 'closed'
if state == 'open' then
  local left = tonumber(ARGV[1]) - (now_ms - tonumber(held[2]))
  if left > 0 then return {1, left} end
  state = 'half_open'
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probing', '0')
  held[3] = '0'
end
if state == 'half_open' then
  if held[3] == '1' then return {2, 0} end
  redis.call('HSET', KEYS[1], 'probing', '1')
end
return {0, 0}
"""

_FAILURE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
redis.call('HSET', KEYS[1], 'probing', '0')
local opened = 0
if state == 'half_open' or failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', now_ms)
  if state ~= 'open' then opened = 1 end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return opened
"""

_SUCCESS = """
local held = redis.call('HMGET', KEYS[1], 'state', 'failures')
if (held[1] == false or held[1] == 'closed') and (held[2] == false or held[2] == '0') then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', '0', 'probing', '0')
return 1
"""


class SharedRateLimiter:
    """One store's token bucket in Redis (`resilience.RateLimiter`'s interface)."""

    def __init__(
        self,
        client: redis.Redis,
        store_key: str,
        rate: float,
        burst: int | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.key = f"{PREFIX}:{store_key}:bucket"
        self.rate = rate
        self.capacity = float(burst or max(1, int(rate)))
        self.sleep = sleep
        self._script = client.register_script(_RESERVE)

    async def acquire(self) -> None:
        try:
            wait_ms = int(
                self._script(keys=[self.key], args=[self.rate, self.capacity, IDLE_TTL_MS])
            )
        except redis.RedisError as error:
            raise _away(error) from None
        if wait_ms > 0:
            await self.sleep(wait_ms / 1000)

    def retune(self, rate: float, burst: int | None = None) -> None:
        self.rate = rate
        self.capacity = float(burst or max(1, int(rate)))


class SharedCircuitBreaker:
    """One store's circuit in Redis (`resilience.CircuitBreaker`'s interface): a failure streak
    seen by any process opens it for all; after `reset_after` one probe, from any process."""

    def __init__(
        self, client: redis.Redis, store_key: str, *, threshold: int = 5, reset_after: float = 30.0
    ) -> None:
        self.client = client
        self.key = f"{PREFIX}:{store_key}:circuit"
        self.threshold = threshold
        self.reset_after = reset_after
        self._before = client.register_script(_BEFORE)
        self._failure = client.register_script(_FAILURE)
        self._success = client.register_script(_SUCCESS)

    @property
    def state(self) -> BreakerState:
        value = self.client.hget(self.key, "state")
        return BreakerState(_text(value) or BreakerState.CLOSED.value)

    @property
    def failures(self) -> int:
        return int(_text(self.client.hget(self.key, "failures")) or 0)

    def paused(self) -> bool:
        state, opened_at = cast(list[Any], self.client.hmget(self.key, ["state", "opened_at"]))
        if _text(state) != BreakerState.OPEN.value:
            return False
        seconds, micros = cast(tuple[int, int], self.client.time())
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        return now_ms - int(_text(opened_at) or 0) < self.reset_after * 1000

    def before_call(self) -> None:
        try:
            verdict, left_ms = self._before(keys=[self.key], args=[int(self.reset_after * 1000)])
        except redis.RedisError as error:
            raise _away(error) from None
        if int(verdict) == 1:
            raise AppError(
                ErrorType.PLATFORM_API,
                "circuit_open",
                "the marketplace failed repeatedly; calls are paused for a moment",
                details={"retry_after": round(int(left_ms) / 1000, 1)},
                retryable=True,
            )
        if int(verdict) == 2:
            raise AppError(
                ErrorType.PLATFORM_API,
                "circuit_open",
                "the marketplace is being probed; try again shortly",
                retryable=True,
            )

    def record_success(self) -> None:
        try:
            self._success(keys=[self.key])
        except redis.RedisError:  # the call's answer stands; the circuit keeps its count
            log.warning("circuit %s: Redis unreachable, success not recorded", self.key)

    def record_failure(self) -> bool:
        """Count a failure; True when it opened the circuit (for every process)."""
        try:
            return int(self._failure(keys=[self.key], args=[self.threshold, IDLE_TTL_MS])) == 1
        except redis.RedisError:
            log.warning("circuit %s: Redis unreachable, failure not recorded", self.key)
            return False


def _away(error: redis.RedisError) -> AppError:
    """Redis (which holds every process's rate limits and circuits) is unreachable: the call is
    not made, and the work is retried like any marketplace call that could not be made."""
    return AppError(
        ErrorType.NETWORK,
        "limits_unavailable",
        f"the shared rate limits are unreachable ({type(error).__name__}); trying again shortly",
        retryable=True,
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def circuit_states(client: redis.Redis, *, reset_after: float = 30.0) -> dict[str, str]:
    """Store key → state of every circuit in Redis that is not closed (an open one past its
    `reset_after` is half-open: its next call is the probe)."""
    keys = [_text(k) for k in client.scan_iter(match=f"{PREFIX}:*:circuit", count=1000)]
    if not keys:
        return {}
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hmget(key, ["state", "opened_at"])
    pipe.time()
    *held, (seconds, micros) = pipe.execute()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    states: dict[str, str] = {}
    for key, (state, opened_at) in zip(keys, held, strict=True):
        value = _text(state) or BreakerState.CLOSED.value
        if value == BreakerState.OPEN.value and now_ms - int(_text(opened_at) or 0) >= (
            reset_after * 1000
        ):
            value = BreakerState.HALF_OPEN.value
        if value != BreakerState.CLOSED.value:
            states[key.removeprefix(f"{PREFIX}:").removesuffix(":circuit")] = value
    return states


def use_redis(url: str) -> None:
    """From now on every store's bucket and circuit live in Redis at `url` (start-up, when the
    process is one of several: production)."""
    client = redis.Redis.from_url(url)
    share_state(
        lambda key, rate, burst: SharedRateLimiter(client, key, rate, burst),
        lambda key: SharedCircuitBreaker(client, key),
        lambda: circuit_states(client),
    )
