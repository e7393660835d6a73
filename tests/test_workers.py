"""Workers stay light: importing the actors must not import Reflex."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import redis

from tests.conftest import unavailable

REDIS_URL = os.environ.get("STORESYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_actors_import_no_reflex_and_use_the_stub_broker_without_redis() -> None:
    code = "import sys, workers.main as a; print('reflex' in sys.modules, type(a.broker).__name__)"
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


def _redis() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable("Redis", error)
    return client


@pytest.mark.redis
def test_redis_flights_run_one_loop_per_key_across_processes() -> None:
    from workers.flights import RedisFlights

    client = _redis()
    prefix = f"test:flights:{os.getpid()}:{time.monotonic_ns()}"
    first, second = RedisFlights(client, prefix), RedisFlights(client, prefix)  # two processes

    assert first.join("org-1", "a") is True  # runs the loop
    assert second.join("org-1", "b") is False  # left with the loop in the other process
    assert second.join("org-1", "b") is False  # a repeat coalesces
    assert second.join("org-2", "x") is True  # another key, another loop
    assert first.next("org-1") == "b"
    assert first.next("org-1") is None  # nothing left: the loop ends and lets go
    assert second.join("org-1", "c") is True  # so the next message starts one, anywhere
    second.abandon("org-1")  # a failed loop lets go too
    assert first.join("org-1", "d") is True
    assert first.next("org-1") is None
    assert client.keys(f"{prefix}:*") == [f"{prefix}:lock:org-2".encode()]  # org-2 still runs


@pytest.mark.redis
def test_a_dead_leaders_flight_expires_and_its_late_next_takes_nothing() -> None:
    from workers.flights import RedisFlights

    client = _redis()
    prefix = f"test:flights:{os.getpid()}:{time.monotonic_ns()}"
    dead, alive = RedisFlights(client, prefix, ttl_ms=200), RedisFlights(client, prefix)

    assert dead.join("org-1", "a") is True
    assert alive.join("org-1", "b") is False  # waits with a leader that never comes back
    time.sleep(0.3)

    assert alive.join("org-1", "c") is True  # the lock expired: a new loop starts
    assert dead.next("org-1") is None  # the old leader's token no longer holds it
    assert alive.next("org-1") == "b"  # what was left with the dead loop is not lost
    assert alive.next("org-1") is None
    assert client.exists(f"{prefix}:lock:org-1") == 0


@pytest.mark.redis
def test_a_loop_ending_in_one_thread_leaves_a_new_loop_in_another_thread_alone() -> None:
    """Thread A's loop ends (the lock is released) and thread B of the same process starts the
    next loop before A's `next` has returned: B's loop still ends by letting go of the lock."""
    from workers.flights import RedisFlights

    client = _redis()
    prefix = f"test:flights:{os.getpid()}:{time.monotonic_ns()}"
    flights = RedisFlights(client, prefix)
    b_joined, b_go = threading.Event(), threading.Event()
    b_saw: list[object] = []

    def thread_b() -> None:
        b_saw.append(flights.join("org-1", "b"))
        b_joined.set()
        b_go.wait(timeout=10)
        b_saw.append(flights.next("org-1"))

    release = flights._next
    worker = threading.Thread(target=thread_b)

    def release_then_b_joins(*args: object, **kwargs: object) -> object:
        result = release(*args, **kwargs)
        if not worker.is_alive() and not b_joined.is_set():
            worker.start()  # B's message arrives right after A's loop let go
            b_joined.wait(timeout=10)
        return result

    assert flights.join("org-1", "a") is True  # thread A leads
    flights._next = release_then_b_joins  # type: ignore[method-assign]
    assert flights.next("org-1") is None  # A's loop ends
    b_go.set()
    worker.join(timeout=10)

    assert b_saw == [True, None]  # B led the next loop and found nothing more
    assert client.exists(f"{prefix}:lock:org-1") == 0  # and let go
    assert flights.join("org-1", "c") is True  # so the next message starts a loop
    assert flights.next("org-1") is None


@pytest.mark.redis
def test_a_dead_intake_leader_holds_its_organization_back_for_the_lease_only() -> None:
    """Production's intake flight (through Redis): a worker killed while leading leaves a lock
    that lapses within `INTAKE_LEASE_MS` (5 s, was 30 s); meanwhile new orders wait."""
    from types import SimpleNamespace

    from workers.actors import INTAKE_LEASE_MS
    from workers.flights import flights_for

    client = _redis()
    prefix = f"test:flights:{os.getpid()}:{time.monotonic_ns()}"
    broker = SimpleNamespace(client=client)
    dead = flights_for(broker, prefix, ttl_ms=INTAKE_LEASE_MS)
    alive = flights_for(broker, prefix, ttl_ms=INTAKE_LEASE_MS)

    assert dead.join("org-1", "a") is True  # then the process dies
    assert alive.join("org-1", "b") is False
    left = client.pttl(f"{prefix}:lock:org-1")
    assert 0 < left <= INTAKE_LEASE_MS <= 5_000
    client.delete(f"{prefix}:lock:org-1", f"{prefix}:items:org-1")


def test_an_intake_loop_skips_the_messages_of_events_its_batches_already_took(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Messages for events a batch of the loop claimed find nothing to claim: the loop drops
    them instead of opening a transaction for each (half the runs at 50 orders/s were such
    empty claims). A message whose event failed in that batch still gets its run (the retry)."""
    import uuid

    from storesync.sync.intake import batch
    from workers import actors

    org = str(uuid.uuid4())
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    runs: list[uuid.UUID] = []

    async def fake_run(*, organization_id: uuid.UUID, event_id: uuid.UUID) -> batch.BatchReport:
        runs.append(event_id)
        if event_id != a:
            return batch.BatchReport(own="processed")
        for other in (b, c, d):  # their messages arrive while the first batch runs
            assert actors._intake.join(org, str(other)) is False
        # The batch took a, b and c (d arrived after its claim); c failed.
        return batch.BatchReport(claimed=3, own="processed", taken={a, b, c}, errors={c: "boom"})

    monkeypatch.setattr(batch, "process_store_events", fake_run)
    actors.process_webhook.fn(str(a), org)

    assert runs[0] == a
    assert sorted(map(str, runs[1:])) == sorted([str(c), str(d)])  # b's message was dropped
    assert actors._intake.join(org, "later") is True  # the loop ended and let go
    actors._intake.abandon(org)


def test_an_intake_loop_pushes_its_batches_stock_itself_when_no_sale_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pushes a batch queues are held by the intake loop (no message): sent as messages
    while other sales wait (other workers push meanwhile), pushed by the loop itself once it
    ends (no wait for an idle consumer's poll); a push that fails there becomes a message."""
    import uuid

    from storesync.sync.intake import batch
    from workers import actors

    org = str(uuid.uuid4())
    a, b = uuid.uuid4(), uuid.uuid4()
    store_1, store_2, store_3 = (str(uuid.uuid4()) for _ in range(3))
    sent: list[str] = []
    pushed_here: list[str] = []

    async def fake_run(*, organization_id: uuid.UUID, event_id: uuid.UUID) -> batch.BatchReport:
        if event_id == a:
            assert actors._intake.join(org, str(b)) is False  # a sale waits behind this batch
            assert actors.held_push(organization_id, uuid.UUID(store_1))  # the commit's hook
        else:
            assert actors.held_push(organization_id, uuid.UUID(store_2))
            assert actors.held_push(organization_id, uuid.UUID(store_3))
        return batch.BatchReport(claimed=1, own="processed", taken={event_id})

    def fake_push(organization_id: str, store_id: str) -> None:
        pushed_here.append(store_id)
        if store_id == store_3:
            raise RuntimeError("platform down")

    monkeypatch.setattr(batch, "process_store_events", fake_run)
    monkeypatch.setattr(actors.push_store_stock, "fn", fake_push)
    monkeypatch.setattr(actors.push_store_stock, "send", lambda _org, store: sent.append(store))
    actors.process_webhook.fn(str(a), org)

    assert sorted(pushed_here) == sorted([store_2, store_3])  # after the last batch, here
    assert sent == [store_1, store_3]  # while b waited; and the one that failed here
    assert actors.held_push(uuid.UUID(org), uuid.UUID(store_1)) is False  # outside a loop
