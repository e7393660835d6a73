"""What the sandbox does to StoreSync during a chaos run, and what it saw: buyers placing orders at
a steady rate through its control API, its fault settings, and its call log, collected while the
run lasts (the control API answers at most the last 500 calls of a query)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

PLATFORMS = ("shopee", "tiktok")
# The call log's `at` is when a call arrived; it is written when the call is answered (a timeout
# fault answers seconds later), so each poll reaches back this far and drops what it has.
LOG_OVERLAP = 10.0
LOG_PAGE = 500  # the most calls /sandbox/calls lists
STALL = 0.15  # seconds: a probe answered this late means the sandbox served nothing meanwhile


@dataclass(frozen=True)
class Placed:
    platform: str
    order_id: str
    lines: tuple[tuple[str, int], ...]  # (SKU, quantity)


def fault_settings(share: float, *, timeout_seconds: float) -> dict[str, float]:
    """Error, timeout and malformed-body rates that together fault `share` of the calls: the
    sandbox draws timeouts first, then server errors, then truncates a share of the rest."""
    timeout, error = share * 0.2, share * 0.5
    malformed = 1 - (1 - share) / ((1 - timeout) * (1 - error)) if share else 0.0
    return {
        "timeout_rate": timeout,
        "error_rate": error,
        "malformed_rate": malformed,
        "timeout_seconds": timeout_seconds,
    }


def set_faults(base: str, **changes: float) -> None:
    """The same fault settings on both platforms."""
    httpx.post(f"{base}/sandbox/faults", json={"platform": "all", **changes}).raise_for_status()


class OrderStream(threading.Thread):
    """Buyers: `rate` orders a second for `seconds`, each on a random platform, of one or two
    random SKUs (one or two units each) from `skus`; what the sandbox accepted is `placed`."""

    def __init__(self, base: str, skus: list[str], rate: float, seconds: float, seed: int) -> None:
        super().__init__(name="chaos-orders", daemon=True)
        self.base, self.skus, self.rate, self.seconds = base, skus, rate, seconds
        self.rng = random.Random(seed)
        self.placed: list[Placed] = []
        self.refused: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            next_at = time.monotonic()
            end = next_at + self.seconds
            while next_at < end:
                self._place(client)
                next_at += 1 / self.rate
                time.sleep(max(0.0, next_at - time.monotonic()))

    def _place(self, client: httpx.Client) -> None:
        platform = self.rng.choice(PLATFORMS)
        skus = self.rng.sample(self.skus, k=self.rng.choice((1, 1, 1, 2)))
        lines = tuple((sku, self.rng.choice((1, 1, 2))) for sku in skus)
        body = {"platform": platform, "lines": [{"sku": s, "quantity": q} for s, q in lines]}
        try:
            answer = client.post("/sandbox/orders", json=body)
        except httpx.HTTPError as error:
            self.refused.append(f"{platform} {lines}: {error!r}")
            return
        if answer.status_code != 200:
            self.refused.append(f"{platform} {lines}: HTTP {answer.status_code} {answer.text}")
            return
        self.placed.append(Placed(platform, str(answer.json()["id"]), lines))


@dataclass
class CallLog:
    """Every call the sandbox's marketplaces received since `since` (wall-clock seconds)."""

    base: str
    since: float
    calls: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    overflowed: list[str] = field(default_factory=list)
    _last: float = 0.0

    def collect(self) -> None:
        """Add the calls logged since the last collection (reaching back LOG_OVERLAP)."""
        now = time.time()
        since = max(self.since, (self._last or self.since) - LOG_OVERLAP)
        for platform in PLATFORMS:
            answer = httpx.get(
                f"{self.base}/sandbox/calls",
                params={"platform": platform, "since": since},
                timeout=10,
            ).json()
            if answer["total"] > LOG_PAGE:
                self.overflowed.append(
                    f"{platform}: {answer['total']} calls since {since:.1f}, only the last "
                    f"{LOG_PAGE} listed (collect more often)"
                )
            for call in answer["calls"]:
                key = tuple(call[k] for k in ("platform", "method", "path", "shop", "at", "status"))
                self.calls[key] = call
        self._last = now

    def by_store(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """(platform, shop) → its calls by arrival time."""
        stores: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for call in self.calls.values():
            stores.setdefault((call["platform"], call["shop"]), []).append(call)
        return {key: sorted(calls, key=lambda c: c["at"]) for key, calls in stores.items()}


def seconds_over(calls: list[dict[str, Any]], limit: float) -> list[tuple[float, int]]:
    """(start, calls) of each one-second window holding more than `limit` calls (`calls` by
    arrival time)."""
    over, last = [], 0
    for first, call in enumerate(calls):
        last = max(last, first)
        while last + 1 < len(calls) and calls[last + 1]["at"] - call["at"] < 1.0:
            last += 1
        if last - first + 1 > limit:
            over.append((call["at"], last - first + 1))
    return over


def busiest_second(calls: list[dict[str, Any]]) -> tuple[int, float]:
    """The most calls that arrived within one second of each other, and when that second
    began (`calls` by arrival time)."""
    best, start, first = 0, 0.0, 0
    for last, call in enumerate(calls):
        while call["at"] - calls[first]["at"] >= 1.0:
            first += 1
        if last - first + 1 > best:
            best, start = last - first + 1, calls[first]["at"]
    return best, start


class Collector(threading.Thread):
    """Collects `log` every `every` seconds until stopped."""

    def __init__(self, log: CallLog, every: float = 1.0) -> None:
        super().__init__(name="chaos-call-log", daemon=True)
        self.log, self.every = log, every
        self.stopped = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.log.collect()
            except (httpx.HTTPError, ValueError) as error:  # tried again next round
                self.errors.append(repr(error))

    def stop(self) -> None:
        self.stopped.set()
        self.join(10)
        self.log.collect()


class StallWatch(threading.Thread):
    """Probes the sandbox every `every` seconds through its control API (which the call log
    leaves out). A probe answered over STALL late means the sandbox, or the whole machine,
    served nothing meanwhile: the calls that reached it in that time are stamped together when
    it resumes, and look like a burst StoreSync never sent."""

    def __init__(self, base: str, every: float = 0.1) -> None:
        super().__init__(name="chaos-stall-watch", daemon=True)
        self.base, self.every = base, every
        self.stalls: list[tuple[float, float]] = []  # (probe sent, answered), wall clock
        self.stopped = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            while not self.stopped.wait(self.every):
                sent = time.time()
                try:
                    client.get("/sandbox/faults")
                except httpx.HTTPError:
                    continue
                if time.time() - sent > STALL:
                    self.stalls.append((sent, time.time()))

    def stop(self) -> None:
        self.stopped.set()
        self.join(10)
