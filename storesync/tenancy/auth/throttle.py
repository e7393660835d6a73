"""Sign-in throttling: failed passwords per account and per client address, and the requests
that send an email (sign-up, invitation, password reset) per target email and per address.

Each limit is a sliding window: at most `attempts` counted events in the last `window_seconds`.
Counts live in Redis when a Redis URL is set (every app process shares them) and in this process
otherwise (`throttle_for`). `SignInGuard` is what the sign-in and email-sending services call; it
answers the same for an account that exists and one that does not, so the refusal reveals
nothing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis

from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType
from storesync.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `attempts` counted events per `window_seconds` for each subject of `scope`."""

    scope: str
    attempts: int
    window_seconds: float


SIGNIN_ACCOUNT = Limit("signin:account", attempts=10, window_seconds=60)
SIGNIN_ADDRESS = Limit("signin:address", attempts=30, window_seconds=60)
MAIL_EMAIL = Limit("mail:email", attempts=5, window_seconds=15 * 60)
MAIL_ADDRESS = Limit("mail:address", attempts=20, window_seconds=15 * 60)

MAX_MEMORY_KEYS = 50_000
REDIS_PREFIX = "storesync:throttle:"


@dataclass(frozen=True, slots=True)
class Key:
    """One counter: a limit applied to one subject (an email digest, an address)."""

    limit: Limit
    subject: str

    @property
    def name(self) -> str:
        return f"{self.limit.scope}:{self.subject}"


class Throttle(Protocol):
    def retry_after(self, keys: Sequence[Key]) -> float | None:
        """Seconds until every key is below its limit; None when allowed now. Counts nothing."""

    def hit(self, keys: Sequence[Key]) -> float | None:
        """Atomically: when every key is below its limit, count one event on each and return
        None; otherwise count nothing and return the seconds to wait."""

    def failed(self, keys: Sequence[Key]) -> None:
        """Count one event on each key, unconditionally."""

    def reset(self, key: Key) -> None:
        """Forget the key's events."""


def _now() -> float:
    return utcnow().timestamp()


class MemoryThrottle:
    """Counts in this process (embedded mode), thread-safe. Each key keeps at most its limit's
    number of timestamps; past `max_keys` keys, lapsed ones go first, then the least recently
    counted, so memory stays bounded whatever is thrown at it."""

    def __init__(
        self, *, max_keys: int = MAX_MEMORY_KEYS, clock: Callable[[], float] = _now
    ) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self._events: OrderedDict[str, tuple[float, deque[float]]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._events)

    def retry_after(self, keys: Sequence[Key]) -> float | None:
        now = self.clock()
        with self._lock:
            return self._wait(keys, now)

    def hit(self, keys: Sequence[Key]) -> float | None:
        now = self.clock()
        with self._lock:
            wait = self._wait(keys, now)
            if wait is None:
                self._count(keys, now)
            return wait

    def failed(self, keys: Sequence[Key]) -> None:
        now = self.clock()
        with self._lock:
            self._count(keys, now)

    def reset(self, key: Key) -> None:
        with self._lock:
            self._events.pop(key.name, None)

    def _wait(self, keys: Sequence[Key], now: float) -> float | None:
        waits = [self._wait_one(key, now) for key in keys]
        return max((w for w in waits if w is not None), default=None)

    def _wait_one(self, key: Key, now: float) -> float | None:
        entry = self._events.get(key.name)
        if entry is None:
            return None
        window, stamps = entry
        while stamps and stamps[0] <= now - window:
            stamps.popleft()
        if not stamps:
            del self._events[key.name]
            return None
        if len(stamps) < key.limit.attempts:
            return None
        # The deque holds at most `attempts` stamps: the window reopens when the oldest lapses.
        return stamps[0] + window - now

    def _count(self, keys: Sequence[Key], now: float) -> None:
        for key in keys:
            entry = self._events.get(key.name)
            if entry is None:
                entry = (key.limit.window_seconds, deque(maxlen=key.limit.attempts))
                self._events[key.name] = entry
            else:
                self._events.move_to_end(key.name)
            entry[1].append(now)
        if len(self._events) > self.max_keys:
            self._shrink(now)

    def _shrink(self, now: float) -> None:
        """Drop lapsed keys, then the least recently counted, down to 90% of the cap (so the
        next sweep is a tenth of the cap's insertions away)."""
        target = self.max_keys * 9 // 10
        lapsed = [name for name, (window, s) in self._events.items() if s[-1] <= now - window]
        for name in lapsed:
            del self._events[name]
        while len(self._events) > target:
            self._events.popitem(last=False)


# KEYS: the counters. ARGV: now (ms), mode (peek | hit | record), a member unique to this call,
# then attempts and window (ms) for each key. Returns the milliseconds to wait (0: allowed).
_SCRIPT = """
local now = tonumber(ARGV[1])
local mode = ARGV[2]
local wait = 0
for i, key in ipairs(KEYS) do
  local attempts = tonumber(ARGV[2 + 2 * i])
  local window = tonumber(ARGV[3 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if mode ~= 'record' then
    local count = redis.call('ZCARD', key)
    if count >= attempts then
      local first = redis.call('ZRANGE', key, count - attempts, count - attempts, 'WITHSCORES')
      local left = tonumber(first[2]) + window - now
      if left > wait then wait = left end
    end
  end
end
if mode == 'peek' or wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local attempts = tonumber(ARGV[2 + 2 * i])
  local window = tonumber(ARGV[3 + 2 * i])
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('ZREMRANGEBYRANK', key, 0, -(attempts + 1))
  redis.call('PEXPIRE', key, window)
end
return 0
"""


class RedisThrottle:
    """Counts in Redis, shared by every process: one sorted set of timestamps per key, read and
    written by one Lua script (atomic), trimmed to the limit and expiring with its window.

    Fails open: when Redis cannot be reached, the attempt is allowed and a warning logged, so an
    outage does not lock everybody out (passwords are still checked)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = REDIS_PREFIX,
        clock: Callable[[], float] = _now,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self._script = client.register_script(_SCRIPT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = REDIS_PREFIX) -> RedisThrottle:
        return cls(redis.Redis.from_url(url, socket_timeout=2), prefix=prefix)

    def retry_after(self, keys: Sequence[Key]) -> float | None:
        return self._run("peek", keys)

    def hit(self, keys: Sequence[Key]) -> float | None:
        return self._run("hit", keys)

    def failed(self, keys: Sequence[Key]) -> None:
        self._run("record", keys)

    def reset(self, key: Key) -> None:
        try:
            self.client.delete(self.prefix + key.name)
        except redis.RedisError as error:
            log.warning("throttle: could not reset %s: %s", key.limit.scope, error)

    def _run(self, mode: str, keys: Sequence[Key]) -> float | None:
        if not keys:
            return None
        args: list[str | int] = [int(self.clock() * 1000), mode, uuid.uuid4().hex]
        for key in keys:
            args += [key.limit.attempts, math.ceil(key.limit.window_seconds * 1000)]
        try:
            wait_ms = int(self._script(keys=[self.prefix + k.name for k in keys], args=args))
        except redis.RedisError as error:
            log.warning("throttle: Redis unreachable, allowing the attempt: %s", error)
            return None
        return wait_ms / 1000 if wait_ms > 0 else None


_throttles: dict[str | None, Throttle] = {}
_throttles_lock = threading.Lock()


def throttle_for(settings: Settings) -> Throttle:
    """This process's throttle: Redis when `STORESYNC_REDIS_URL` is set (production, where
    several processes serve sign-ins), in memory otherwise (embedded: one process)."""
    with _throttles_lock:
        throttle = _throttles.get(settings.redis_url)
        if throttle is None:
            url = settings.redis_url
            throttle = RedisThrottle.from_url(url) if url else MemoryThrottle()
            _throttles[url] = throttle
        return throttle


class TooManyAttempts(AppError):
    """Refused before any password check or email; `retry_after` in whole seconds (for a
    `Retry-After` header). The message is the same whether or not the account exists."""

    def __init__(self, retry_after: float, *, code: str = "too_many_attempts") -> None:
        seconds = max(1, math.ceil(retry_after))
        what = "attempts" if code == "too_many_attempts" else "requests"
        super().__init__(
            ErrorType.RATE_LIMIT,
            code,
            f"too many {what}; try again in {_duration(seconds)}",
            details={"retry_after": seconds},
        )
        self.retry_after = seconds


def _duration(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"


def email_subject(email: str) -> str:
    """A digest of the normalised email: keys stay short and Redis holds no addresses of
    people. Normalised like `tenancy.service.normalise_email`, without refusing bad input (the
    throttle runs before validation)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def address_subject(address: str) -> str:
    """The client address as counted: IPv4 as is, IPv6 by its /64 (one host is given a whole
    /64, so counting single addresses would not limit it)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return (
            "unknown" if not address.strip() else hashlib.sha256(address.encode()).hexdigest()[:32]
        )
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class SignInGuard:
    """What sign-in and the email-sending services call. Call `check` before verifying the
    password, then `failure` or `success`; count failures for unknown emails too, so the limits
    behave alike whether or not the account exists.

    `check` counts nothing: attempts already in flight when the tenth failure lands still get
    their password checked, so concurrent requests can exceed the limit by the number in flight.
    """

    def __init__(self, throttle: Throttle) -> None:
        self.throttle = throttle

    def check(self, email: str, address: str) -> None:
        """Raise `TooManyAttempts` when the account or the address has used up its failures."""
        wait = self.throttle.retry_after(_signin_keys(email, address))
        if wait is not None:
            raise TooManyAttempts(wait)

    def failure(self, email: str, address: str) -> None:
        """Count a wrong password (or an unknown email) against the account and the address."""
        self.throttle.failed(_signin_keys(email, address))

    def success(self, email: str) -> None:
        """Clear the account's failures; the address keeps its count."""
        self.throttle.reset(Key(SIGNIN_ACCOUNT, email_subject(email)))

    def check_mail_request(self, email: str, address: str) -> None:
        """Count a request that sends an email (sign-up, invitation, password reset) to `email`
        from `address`; raise `TooManyAttempts` (code `too_many_requests`) past either limit,
        counting nothing then."""
        keys = [Key(MAIL_EMAIL, email_subject(email)), Key(MAIL_ADDRESS, address_subject(address))]
        wait = self.throttle.hit(keys)
        if wait is not None:
            raise TooManyAttempts(wait, code="too_many_requests")


def _signin_keys(email: str, address: str) -> list[Key]:
    return [
        Key(SIGNIN_ACCOUNT, email_subject(email)),
        Key(SIGNIN_ADDRESS, address_subject(address)),
    ]


def guard_for(settings: Settings) -> SignInGuard:
    return SignInGuard(throttle_for(settings))
