"""The per-key rate limiter: a fixed one-minute window, in this process or shared through Redis
(every app process counts against the same window)."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from storesync.api.limits import Limiter, LocalLimiter, RedisLimiter
from tests.conftest import unavailable

REDIS_URL = os.environ.get("STORESYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _walk(first: Limiter, second: Limiter, now: list[float]) -> list[int | None]:
    """Three allowed a minute: 3 hits spread over the two, a 4th, one late in the window, one
    for another key, then one in the next window."""
    key, other = uuid.uuid4().hex, uuid.uuid4().hex
    now[0] = 600.0  # a window starts
    seen = [first.hit(key), second.hit(key), first.hit(key), second.hit(key)]
    now[0] = 645.5
    seen += [first.hit(key), first.hit(other)]
    now[0] = 660.0
    seen.append(second.hit(key))
    return seen


def test_the_local_limiter_counts_per_key_and_window() -> None:
    now = [0.0]
    limiter = LocalLimiter(3, clock=lambda: now[0])

    assert _walk(limiter, limiter, now) == [None, None, None, 60, 15, None, None]


@pytest.mark.redis
def test_the_redis_limiter_shares_the_count_between_processes() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        unavailable("Redis", error)
    now = [0.0]
    one, two = (RedisLimiter(REDIS_URL, 3, clock=lambda: now[0]) for _ in range(2))

    assert _walk(one, two, now) == [None, None, None, 60, 15, None, None]
