"""The reduced chaos run (`bench/chaos.py` runs the same scenario bigger and longer).

Five orders a second for 30 s on Shopee and TikTok Shop for SKUs both list, 20% of StoreSync's
marketplace calls faulted, and meanwhile one worker killed with SIGKILL, Redis killed and started
again empty, and every database connection dropped. Afterwards every order is in StoreSync
exactly once, each line reserved once, the ledger balances, both channels show the truth, and no
store was called faster than its platform allows.

Until two claims of one listing's push can no longer be in flight at once
(tests/chaos/test_stale_push.py), a listing left wrong with nothing to push cannot be told apart
from that bug: the test then reports it as an expected failure, every other check still strict.
Once it is fixed, drop `known=` from `checks.listings` so such a listing fails the test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.chaos import scenario
from tests.conftest import unavailable

# A dead worker's pushes wait out its lease: 10 s instead of the default 30 s keeps the test short.
REDUCED = scenario.Plan(
    rate=5, seconds=30, kills=1, redis_restarts=1, pg_drops=1, throttles=2, push_lease=10
)


@pytest.mark.postgres
@pytest.mark.redis
def test_no_order_or_stock_change_is_lost_or_doubled_through_kills_restarts_and_faults(
    tmp_path: Path,
) -> None:
    if shutil.which("redis-server") is None:
        unavailable("Redis", "redis-server is not installed (the test runs a private one)")

    figures = scenario.run(REDUCED, tmp_path, say=lambda line: print(line, flush=True))

    print("\n".join(figures.lines_out(REDUCED.rate_limit)))
    assert figures.lost == 0
    assert (figures.kills, figures.redis_restarts, figures.pg_drops) == (1, 1, 1)
    assert figures.backends_dropped > 0
    assert sum(figures.faults.values()) > 0
    assert all(check.passed or check.known for check in figures.checks)
    known = [check for check in figures.checks if not check.passed]
    if known:  # every other check passed: show the known bug without failing the suite
        pytest.xfail("; ".join(f"{c.known}:\n{c.report()}" for c in known))
