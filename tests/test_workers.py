"""Workers stay light: importing the actors must not import Reflex."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import redis

from tests.conftest import unavailable

REDIS_URL = os.environ.get("STORESYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_actors_import_no_reflex_and_use_the_stub_broker_without_redis() -> None:
    code = (
        "import sys, workers.actors as a; print('reflex' in sys.modules, type(a.broker).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.split() == ["False", "StubBroker"]


@pytest.mark.redis
def test_with_a_redis_url_actors_run_through_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        unavailable("Redis", error)
    code = (
        "import workers.actors as a\n"
        "from dramatiq import Worker\n"
        "worker = Worker(a.broker, worker_timeout=100)\n"
        "worker.start()\n"
        "a.ping.send('hello')\n"
        "a.broker.join('default', timeout=10_000)\n"
        "worker.stop()\n"
        "print(type(a.broker).__name__, 'joined')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STORESYNC_REDIS_URL": REDIS_URL},
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["RedisBroker", "joined"]


def test_flights_run_one_loop_per_key_and_coalesce_what_arrives_meanwhile() -> None:
    from workers.flights import Flights

    flights = Flights()
    assert flights.join("store-1", "a") is True  # this caller runs the loop
    assert flights.join("store-1", "b") is False  # left with it
    assert flights.join("store-1", "b") is False  # a repeat coalesces
    assert flights.join("store-2", "x") is True  # another key, another loop
    assert flights.next("store-1") == "b"
    assert flights.next("store-1") is None  # the loop ends
    assert flights.join("store-1", "c") is True  # so the next message starts a new one
    flights.abandon("store-1")  # a failed loop
    assert flights.join("store-1", "d") is True
