"""`GET /metrics`: Prometheus text with the families an operator watches, gathered across the
production layout's processes (multiprocess mode), and closed to the network without a token."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from storesync import settings as settings_module
from storesync.core import metrics
from storesync.sync.jobs.schemas import JobKind
from storesync.sync.push.dispatch import sweep
from storesync.ui.metrics_route import routes
from tests.sandbox.conftest import RunningSandbox, running_sandbox  # noqa: F401
from tests.sync.test_jobs import make_world

FAMILIES = (
    "storesync_platform_calls_total",
    "storesync_rate_limit_wait_seconds_total",
    "storesync_job_duration_seconds_bucket",
    "storesync_outbox_depth",
    "storesync_outbox_oldest_seconds",
    "storesync_queue_depth",
)


def _client(monkeypatch: pytest.MonkeyPatch, **env: str) -> TestClient:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings_module.get_settings.cache_clear()
    return TestClient(Starlette(routes=routes))


def test_the_page_wants_its_token_from_the_network_and_is_off_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        closed = _client(monkeypatch).get("/metrics")  # TestClient is not this machine
        client = _client(monkeypatch, STORESYNC_METRICS_TOKEN="scrape-me")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    finally:
        monkeypatch.delenv("STORESYNC_METRICS_TOKEN", raising=False)
        settings_module.get_settings.cache_clear()

    assert (closed.status_code, closed.text) == (
        404,
        "metrics are off: set STORESYNC_METRICS_TOKEN",
    )
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert right.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE storesync_queue_depth gauge" in right.text


def test_what_a_job_and_its_calls_did_shows_in_the_families(
    sqlite_engine: Engine,
    running_sandbox: RunningSandbox,  # noqa: F811
) -> None:
    world = make_world(sqlite_engine, running_sandbox, ["shopee"])
    job = world.run(world.start("shopee", JobKind.PRODUCTS.value).id)
    assert job is not None and job.status == "succeeded"
    sweep(engine=sqlite_engine)

    text = metrics.render([metrics.queue_depth(lambda: {"default": 3})])[0].decode()

    for family in FAMILIES:
        assert family in text, family
    calls = [
        line
        for line in text.splitlines()
        if line.startswith("storesync_platform_calls_total{")
        and 'platform="shopee"' in line
        and "get_item_list" in line
        and 'outcome="ok"' in line
    ]
    assert calls and float(calls[0].rsplit(" ", 1)[1]) >= 1
    assert 'storesync_job_duration_seconds_count{kind="products",status="succeeded"}' in text
    assert 'storesync_queue_depth{queue="default"} 3.0' in text


WRITER = """
import sys
from storesync.core import metrics
metrics.WEBHOOK_PUSHES.labels("shopee", "acknowledged").inc(int(sys.argv[1]))
"""
READER = """
from storesync.core import metrics
print(metrics.render()[0].decode())
"""


def test_the_figures_of_several_processes_are_added_up(tmp_path: Path) -> None:
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    for count in ("2", "5"):  # two worker processes, each counting its pushes
        subprocess.run([sys.executable, "-c", textwrap.dedent(WRITER), count], env=env, check=True)
    scraped = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(READER)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    assert 'storesync_webhook_pushes_total{outcome="acknowledged",platform="shopee"} 7.0' in scraped


def test_a_restart_forgets_the_files_of_processes_that_are_gone(tmp_path: Path) -> None:
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    for count in ("2", "5"):
        subprocess.run([sys.executable, "-c", textwrap.dedent(WRITER), count], env=env, check=True)
    written = sorted(tmp_path.glob("*.db"))
    mine = tmp_path / f"counter_{os.getpid()}.db"  # a process still running keeps its file
    mine.write_bytes(b"")

    removed = metrics.forget_dead_processes(tmp_path)

    assert len({path.stem.rsplit("_", 1)[1] for path in written}) == 2  # two processes
    assert sorted(removed) == written
    assert sorted(tmp_path.glob("*.db")) == [mine]


def test_a_circuit_that_is_not_closed_is_a_gauge_and_closed_ones_are_absent() -> None:
    from storesync.channels import resilience

    opened, probed = (
        resilience.breaker_for("store:metrics-open"),
        resilience.breaker_for("store:metrics-probe"),
    )
    resilience.breaker_for("store:metrics-closed")
    for _ in range(opened.threshold):
        opened.record_failure()
    probed.state = resilience.BreakerState.HALF_OPEN

    text = metrics.render([metrics.circuit_state(resilience.circuit_states)])[0].decode()

    assert 'storesync_circuit_state{store="store:metrics-open"} 2.0' in text
    assert 'storesync_circuit_state{store="store:metrics-probe"} 1.0' in text
    assert "metrics-closed" not in text


@pytest.mark.redis
def test_the_queue_depth_is_read_from_redis_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production's broker keeps each queue as a Redis list: the scrape reads its length."""
    import redis
    from dramatiq.brokers.redis import RedisBroker

    from storesync.ui import metrics_route
    from tests.conftest import unavailable
    from workers import broker as broker_module

    url = os.environ.get("STORESYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError as error:
        unavailable("Redis", error)
    namespace = f"storesync-metrics-{os.getpid()}"
    production = RedisBroker(url=url, namespace=namespace)
    production.declare_queue("default")
    production.client.rpush(f"{namespace}:default", "a", "b", "c")
    monkeypatch.setattr(broker_module, "broker", production)
    try:
        lengths = metrics_route._queue_lengths()
    finally:
        production.client.delete(f"{namespace}:default")

    assert lengths == {"default": 3}
