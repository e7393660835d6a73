"""Prometheus metrics (`GET /metrics`, text format): what each process counts, gathered over
every process of the production layout.

With `PROMETHEUS_MULTIPROC_DIR` set (production: `storesync run` and `storesync worker` set it to
`var/metrics/` before starting their processes), each process writes its figures there and a
scrape adds them up (`prometheus_client`'s multiprocess mode); embedded mode is one process and
uses the default registry. Gauges say how they combine across processes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SLOW = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)

WEBHOOK_PUSHES = Counter(
    "storesync_webhook_pushes",
    "Pushes received from the marketplaces, by platform and outcome (stored, duplicate, "
    "refused, ignored)",
    ["platform", "outcome"],
)
WEBHOOK_ACK_SECONDS = Histogram(
    "storesync_webhook_ack_seconds",
    "From a push's arrival to its acknowledgement (stored first)",
    ["platform"],
    buckets=_FAST,
)
PLATFORM_CALLS = Counter(
    "storesync_platform_calls",
    "Marketplace API calls by platform, endpoint (the API path) and outcome (ok or the error code)",
    ["platform", "endpoint", "outcome"],
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "storesync_rate_limit_wait_seconds",
    "Seconds calls waited for their store's rate limit",
    ["platform"],
)
CIRCUIT_OPENED = Counter(
    "storesync_circuit_opened",
    "Times a store's circuit opened after repeated marketplace failures",
    ["platform"],
)
JOB_SECONDS = Histogram(
    "storesync_job_duration_seconds",
    "Sync jobs' run time by kind and outcome",
    ["kind", "status"],
    buckets=_SLOW,
)
STOCK_PUSH_SECONDS = Histogram(
    "storesync_stock_push_latency_seconds",
    "From a listing's stock change being queued to the channel confirming it",
    ["platform"],
    buckets=(*_FAST, 5.0, 10.0, 30.0, 60.0),
)
PROPAGATION_SECONDS = Histogram(
    "storesync_propagation_seconds",
    "From an order's push arriving to a channel confirming the stock it changed, per listing "
    "pushed (an order has propagated when its last listing has), by the channel's platform",
    ["platform"],
    buckets=(*_FAST, 5.0, 10.0, 30.0, 60.0),
)
OUTBOX_DEPTH = Gauge(
    "storesync_outbox_depth",
    "Stock pushes waiting, at the last sweep",
    multiprocess_mode="max",
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "storesync_outbox_oldest_seconds",
    "Age of the oldest stock push waiting, at the last sweep",
    multiprocess_mode="max",
)


CIRCUIT_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class ReadAtScrape(Collector):
    """A gauge read when scraped: `read()` gives label value → figure (a source that fails
    gives no samples; the scrape still answers)."""

    def __init__(
        self, name: str, documentation: str, label: str, read: Callable[[], dict[str, float]]
    ) -> None:
        self.name, self.documentation, self.label, self.read = name, documentation, label, read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=[self.label])
        try:
            figures = self.read()
        except Exception:  # the broker or Redis is away
            figures = {}
        for key, figure in sorted(figures.items()):
            family.add_metric([key], figure)
        yield family


def queue_depth(queues: Callable[[], dict[str, int]]) -> ReadAtScrape:
    """The broker's queue lengths (`queues()` gives name → length)."""
    return ReadAtScrape(
        "storesync_queue_depth",
        "Messages waiting in each worker queue",
        "queue",
        lambda: {name: float(length) for name, length in queues().items()},
    )


def circuit_state(states: Callable[[], dict[str, str]]) -> ReadAtScrape:
    """Every store circuit that is not closed (`states()` gives store key → state): 1 half-open
    (its next call is a probe), 2 open (calls paused); a store not listed is closed (0)."""
    return ReadAtScrape(
        "storesync_circuit_state",
        "Store circuits that are not closed: 1 half-open, 2 open (absent: closed)",
        "store",
        lambda: {key: float(CIRCUIT_STATE_VALUES[state]) for key, state in states().items()},
    )


def forget_dead_processes(folder: Path) -> list[Path]:
    """Remove the multiprocess files of processes that are gone (each process writes
    `<kind>_<pid>.db`; without this every restart leaves its files behind and each scrape reads
    them all). Their counters restart from the live processes' figures, which Prometheus reads as
    a counter reset. Returns what was removed."""
    removed = []
    for path in folder.glob("*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def render(extra: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """Every process's figures (multiprocess mode) or this process's, plus `extra` collectors,
    as Prometheus text."""
    if os.environ.get(MULTIPROC_ENV):
        gathered = CollectorRegistry()
        multiprocess.MultiProcessCollector(gathered)
        text = generate_latest(gathered)
    else:
        text = generate_latest(REGISTRY)
    more = CollectorRegistry()
    for collector in extra:
        more.register(collector)
    return text + generate_latest(more), CONTENT_TYPE_LATEST
