"""The chaos scenario, shared by `tests/chaos/test_chaos.py` (reduced) and `bench/chaos.py` (full).

The production layout (PostgreSQL as the app role, a private Redis, the standalone sandbox over
HTTP, the webhook intake and two `storesync worker` processes, each a process of its own) with a
merchant selling the same SKUs on Shopee and TikTok Shop. Buyers place orders at a steady rate on
both, the sandbox faults a share of StoreSync's calls (server errors, timeouts, truncated bodies,
throttle windows) and duplicates some webhooks, and meanwhile a worker is killed with SIGKILL
(its supervisor starts it again a second later), Redis is killed and started again empty, and
every connection to the database is dropped. Then the faults stop, the run settles, and the
checks (`tests.chaos.checks`) compare StoreSync with the truth.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.chaos import checks, layout
from tests.chaos.traffic import (
    PLATFORMS,
    CallLog,
    Collector,
    OrderStream,
    StallWatch,
    busiest_second,
    fault_settings,
    set_faults,
)
from tests.chaos.world import (
    OUR_SHARE,
    Layout,
    Merchant,
    app_engine,
    channel_stock,
    sandbox_catalog,
    set_up_merchant,
)

FAULT_KINDS = ("fault_error", "timeout", "malformed", "rate_limited")
STILL = 5  # seconds without any change: the run has settled, right or wrong


@dataclass(frozen=True)
class Plan:
    rate: float = 5.0  # orders per second
    seconds: float = 30.0  # of orders
    kills: int = 1  # workers killed with SIGKILL
    redis_restarts: int = 1
    pg_drops: int = 1  # rounds of pg_terminate_backend on every connection
    throttles: int = 2  # one-second windows where a platform answers every call with 429
    faults: float = 0.2  # share of marketplace calls faulted
    webhook_duplicates: float = 0.05
    webhook_drops: float = 0.0  # pushes never sent: only the order poll finds those orders
    rate_limit: float = 10.0  # the platform's calls per second per shop (StoreSync's: 80%)
    push_lease: float = 30.0  # STORESYNC_PUSH_LEASE_SECONDS: how long a dead worker's pushes wait
    products: int = 24  # per shop (84 SKUs listed on both with seed 20)
    seed: int = 20
    settle_seconds: float = 150.0  # after the last order, at most

    def opening(self, skus: int) -> int:
        """Units per variant: three times what the orders will take of an average SKU (orders
        average 1.25 lines of 1.33 units), so no SKU runs out."""
        return max(100, math.ceil(3 * self.rate * self.seconds * 1.25 * 1.34 / max(skus, 1)))

    def events(self) -> list[tuple[float, str]]:
        """(seconds into the orders, what): the outages spread evenly, taking turns; the
        throttle windows between them."""
        left = {"kill": self.kills, "redis": self.redis_restarts, "pg": self.pg_drops}
        order: list[str] = []
        while any(left.values()):
            for kind in ("kill", "redis", "pg"):
                if left[kind]:
                    order.append(kind)
                    left[kind] -= 1
        timed = [(self.seconds * (i + 1) / (len(order) + 1), k) for i, k in enumerate(order)]
        timed += [
            (self.seconds * (i + 0.5) / max(self.throttles, 1), f"throttle {PLATFORMS[i % 2]}")
            for i in range(self.throttles)
        ]
        return sorted(timed)


@dataclass
class Figures:
    placed: Counter[str] = field(default_factory=Counter)  # by platform
    refused_orders: int = 0
    held_orders: int = 0
    lines: int = 0
    calls: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    webhooks: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)  # StoreSync's stored pushes by status
    kills: int = 0
    redis_restarts: int = 0
    pg_drops: int = 0
    backends_dropped: int = 0
    throttles: int = 0
    busiest: dict[str, int] = field(default_factory=dict)
    refused_for_rate: list[str] = field(default_factory=list)  # outside the throttle windows
    stalls: int = 0  # times the sandbox answered a probe over traffic.STALL late
    stall_seconds: int = 0  # seconds over the limit that end a sandbox stall (not StoreSync's)
    settle_seconds: float = 0.0
    wall_seconds: float = 0.0
    checks: list[checks.Check] = field(default_factory=list)
    timeline: list[tuple[float, str]] = field(default_factory=list)  # (wall clock, what)

    @property
    def lost(self) -> int:
        return sum(self.placed.values()) - self.held_orders

    def lines_out(self, limit: float) -> list[str]:
        faulted = sum(self.faults.values())
        return [
            f"orders placed: {sum(self.placed.values())} ({self.placed['shopee']} Shopee, "
            f"{self.placed['tiktok']} TikTok; {self.refused_orders} refused by the sandbox), "
            f"{self.lines} lines",
            f"orders in StoreSync: {self.held_orders}; lost {self.lost}, duplicates "
            f"{self._count('every order exactly once', 'copies')}",
            f"marketplace calls: {self.calls}, faulted {faulted} "
            f"({100 * faulted / max(self.calls, 1):.1f}%, 429s of the throttle windows included: "
            + ", ".join(f"{k} {self.faults[k]}" for k in FAULT_KINDS)
            + ")",
            "webhooks sent by the sandbox: "
            + ", ".join(f"{k} {v}" for k, v in self.webhooks.items()),
            "StoreSync's stored pushes: " + ", ".join(f"{k} {v}" for k, v in self.events.items()),
            f"chaos: {self.kills} workers killed (SIGKILL), {self.redis_restarts} Redis "
            f"restarts, {self.pg_drops} connection drops ({self.backends_dropped} backends "
            f"terminated), {self.throttles} throttle windows",
            "busiest second per store: "
            + ", ".join(f"{k} {v} calls" for k, v in self.busiest.items())
            + f" (the platform's limit {limit:g}/s, StoreSync set to {limit * OUR_SHARE:g}/s); "
            f"refused by the platform's burst limit: {len(self.refused_for_rate)}; the sandbox "
            f"stalled {self.stalls} times, {self.stall_seconds} seconds over the limit right "
            "after a stall (calls stamped together when it resumed)",
            f"settled {self.settle_seconds:.1f} s after the last order; wall time "
            f"{self.wall_seconds:.1f} s",
            "checks: " + "; ".join(f"{c.name}: {c.verdict}" for c in self.checks),
        ]

    def _count(self, name: str, word: str) -> int:
        found = [c for c in self.checks if c.name == name]
        return sum(word in p for p in found[0].problems) if found else 0


class ChaosFailed(AssertionError):
    """A check failed: what differed, and the tails of every process's log."""


def run(plan: Plan, workdir: Path, say: Callable[[str], None] = print) -> Figures:
    """The whole scenario; raises ChaosFailed when a check fails (with the figures in its
    `figures`). Every process it started is ended and its database dropped, either way."""
    started = time.monotonic()
    world = Layout(
        workdir,
        rate_limit=plan.rate_limit,
        seed=plan.seed,
        products=plan.products,
        push_lease=plan.push_lease,
    )
    figures = Figures()
    try:
        world.open()
        world.start_processes()
        _shops, listed = sandbox_catalog(world.base)
        opening = plan.opening(len(set(listed["shopee"]) & set(listed["tiktok"])))
        engine = app_engine(world)
        try:
            merchant = set_up_merchant(world, engine, opening)
        finally:
            engine.dispose()
        say(
            f"chaos: {sum(map(len, listed.values()))} listings, {len(merchant.shared)} SKUs on "
            f"both channels, {opening} units each"
        )
        _wait_opening(world, merchant)
        _run_chaos(plan, world, merchant, figures, say, started)
    finally:
        world.close()
    return figures


def _wait_opening(world: Layout, merchant: Merchant) -> None:
    def shown() -> bool:
        return all(
            m["stock"] == merchant.opening
            for p, shop in merchant.shops.items()
            for m in channel_stock(world.base, p, shop)
        )

    if not layout.wait_for(shown, 90, 0.5):
        raise ChaosFailed(
            f"the opening count never reached both channels\n{layout.tails(world.logs)}"
        )


def _run_chaos(
    plan: Plan,
    world: Layout,
    merchant: Merchant,
    figures: Figures,
    say: Callable[[str], None],
    started: float,
) -> None:
    assert world.database is not None
    checker = sa.create_engine(world.database.admin_url, pool_pre_ping=True, pool_size=2)
    log = CallLog(world.base, since=time.time())
    collector, watch = Collector(log), StallWatch(world.base)
    collector.start()
    watch.start()
    try:
        stream, windows = _orders_under_fire(plan, world, merchant, figures, say)
        truth = checks.Truth(merchant.opening, stream.placed)
        say(f"chaos: {len(stream.placed)} orders placed; settling")
        quiet = time.monotonic()
        left = _settle(checker, world, merchant, truth, plan.settle_seconds, say)
        figures.settle_seconds = time.monotonic() - quiet
        time.sleep(1)  # nothing more may arrive
        collector.stop()
        watch.stop()
        rate, figures.stall_seconds = checks.rate(log, plan.rate_limit, watch.stalls)
        figures.stalls = len(watch.stalls)
        _figures(figures, checker, world, stream, log, windows)
        _keep(world.workdir, stream, log, figures.timeline)
        figures.wall_seconds = time.monotonic() - started
        figures.checks = [
            checks.orders_once(checker, truth),
            checks.order_lines(checker, truth),
            checks.reservations(checker, truth),
            checks.ledger(checker),
            *checks.listings(checker, world.base, merchant, truth),
            checks.outbox(checker),
            rate,
        ]
        if any(not c.passed and not c.known for c in figures.checks):
            error = ChaosFailed(
                f"after settling {figures.settle_seconds:.0f} s ({left}; orders, "
                f"calls and timeline in {world.workdir}):\n"
                + "\n".join(c.report() for c in figures.checks if not c.passed)
                + "\n\n"
                + "\n".join(figures.lines_out(plan.rate_limit))
                + "\n\n"
                + layout.tails(world.logs)
            )
            error.figures = figures  # type: ignore[attr-defined]
            raise error
    finally:
        collector.stopped.set()
        watch.stopped.set()
        checker.dispose()


def _orders_under_fire(
    plan: Plan, world: Layout, merchant: Merchant, figures: Figures, say: Callable[[str], None]
) -> tuple[OrderStream, list[tuple[str, float, float]]]:
    """The orders, with the faults on and the outages at their times; the faults off again.
    Returns the orders and the throttle windows."""
    set_faults(
        world.base,
        **fault_settings(plan.faults, timeout_seconds=4),
        webhook_duplicate_rate=plan.webhook_duplicates,
        webhook_drop_rate=plan.webhook_drops,
    )
    stream = OrderStream(world.base, merchant.shared, plan.rate, plan.seconds, plan.seed)
    stream.start()
    windows = _disrupt(plan, world, figures, say, begun=time.monotonic())
    stream.join()
    set_faults(
        world.base,
        **fault_settings(0, timeout_seconds=4),
        webhook_duplicate_rate=0,
        webhook_drop_rate=0,
    )
    return stream, windows


def _settle(
    checker: sa.engine.Engine,
    world: Layout,
    merchant: Merchant,
    truth: checks.Truth,
    most: float,
    say: Callable[[str], None],
) -> str:
    """Wait until every order is in, no push waits and both channels stay unchanged for
    STILL seconds (or show the truth), at most `most` seconds; where it stands."""
    started = time.monotonic()
    seen: list[checks.Progress] = []
    while time.monotonic() - started < most:
        with contextlib.suppress(sa.exc.OperationalError, httpx.HTTPError):
            now = checks.progress(checker, world.base, merchant, truth)
            if not seen or now.describe() != seen[-1].describe():
                say(f"chaos: settling, {time.monotonic() - started:5.1f} s: {now.describe()}")
            seen = [*seen, now] if seen and seen[-1] == now else [now]
            if not now.missing and not now.waiting and (not now.wrong or len(seen) > STILL):
                return now.describe()
        time.sleep(1)
    return seen[-1].describe() if seen else "never read"


def _disrupt(
    plan: Plan, world: Layout, figures: Figures, say: Callable[[str], None], begun: float
) -> list[tuple[str, float, float]]:
    """Each planned outage at its time; returns the throttle windows (platform, from, to)."""
    windows: list[tuple[str, float, float]] = []
    for at, what in plan.events():
        time.sleep(max(0.0, begun + at - time.monotonic()))
        say(f"chaos: {at:5.1f} s {what}")
        figures.timeline.append((time.time(), what))
        if what == "kill":
            world.kill_worker(figures.kills % world.workers)
            figures.kills += 1
        elif what == "redis":
            world.restart_redis()
            figures.redis_restarts += 1
        elif what == "pg":
            figures.backends_dropped += world.drop_connections()
            figures.pg_drops += 1
        else:
            platform = what.split()[1]
            start = time.time()
            set_faults_on(world.base, platform, rate_limited_seconds=1.0)
            windows.append((platform, start, time.time() + 1.05))
            figures.throttles += 1
    return windows


def _keep(
    workdir: Path, stream: OrderStream, log: CallLog, timeline: list[tuple[float, str]]
) -> None:
    """The run's evidence beside the logs: orders placed, every call, what happened when."""
    (workdir / "orders.json").write_text(json.dumps([asdict(o) for o in stream.placed]))
    (workdir / "calls.json").write_text(json.dumps(list(log.calls.values())))
    (workdir / "timeline.json").write_text(json.dumps(timeline))


def set_faults_on(base: str, platform: str, **changes: float) -> None:
    httpx.post(f"{base}/sandbox/faults", json={"platform": platform, **changes}).raise_for_status()


def _figures(
    figures: Figures,
    checker: sa.engine.Engine,
    world: Layout,
    stream: OrderStream,
    log: CallLog,
    windows: list[tuple[str, float, float]],
) -> None:
    figures.placed = Counter(o.platform for o in stream.placed)
    figures.refused_orders = len(stream.refused)
    figures.lines = sum(len(o.lines) for o in stream.placed)
    held = {(r.platform, r.platform_order_id) for r in checks.order_keys(checker)}
    figures.held_orders = sum((o.platform, o.order_id) in held for o in stream.placed)
    calls = list(log.calls.values())
    figures.calls = len(calls)
    figures.refused_for_rate = checks.refused_for_rate(log, windows)
    figures.faults = Counter(c["outcome"] for c in calls if c["outcome"] in FAULT_KINDS)
    figures.faults["rate_limited"] -= len(figures.refused_for_rate)  # the injected ones only
    stats = httpx.get(f"{world.base}/sandbox/webhooks").json()["stats"]
    kinds = ("delivered", "retried", "failed", "dropped", "duplicated")
    figures.webhooks = {k: stats[k] for k in kinds}
    figures.events = checks.webhook_events(checker)
    figures.busiest = {
        f"{platform} {shop}": busiest_second(store_calls)[0]
        for (platform, shop), store_calls in log.by_store().items()
    }
