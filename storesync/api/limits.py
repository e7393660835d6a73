"""Requests per minute per API key: a fixed one-minute window, counted in Redis in production
(every app process shares the count) and in this process when embedded."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis

from storesync.settings import Settings

WINDOW_SECONDS = 60


class Limiter(Protocol):
    def hit(self, key: str) -> int | None:
        """Count one request; None when allowed, else the seconds until the window ends."""


class LocalLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> int | None:
        now = self.clock()
        window = int(now // WINDOW_SECONDS)
        with self._lock:
            if len(self._counts) > 10_000:  # old windows, dropped now and then
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
        if count <= self.per_minute:
            return None
        return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))


class RedisLimiter:
    def __init__(self, url: str, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.client = redis.Redis.from_url(url, socket_timeout=2)

    def hit(self, key: str) -> int | None:
        now = self.clock()
        window = int(now // WINDOW_SECONDS)
        name = f"storesync:api:rate:{key}:{window}"
        pipe = self.client.pipeline()
        pipe.incr(name)
        pipe.expire(name, WINDOW_SECONDS + 5)
        count, _ = pipe.execute()
        if int(count) <= self.per_minute:
            return None
        return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))


def limiter_for(settings: Settings) -> Limiter:
    if settings.redis_url:
        return RedisLimiter(settings.redis_url, settings.api_rate_per_minute)
    return LocalLimiter(settings.api_rate_per_minute)
