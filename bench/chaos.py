"""The chaos scenario in full: `tests/chaos/scenario.py`, which `make test` runs reduced
(tests/chaos/test_chaos.py), bigger and longer.

The production layout, each part its own process: PostgreSQL (a temporary database, the app
role), a private `redis-server`, the standalone sandbox over HTTP, the webhook intake and two
`storesync worker` processes. Orders arrive at a steady rate on Shopee and TikTok Shop for SKUs
both list, the sandbox faults a share of StoreSync's calls (server errors, timeouts, truncated
bodies, throttle windows), duplicates and drops some webhooks, and meanwhile workers are killed
with SIGKILL (started again a second later), Redis is killed and started again empty, and every
connection to the database is dropped. Then the faults stop, the run settles, and it checks:
every order exactly once, each line reserved once, the ledger balancing to on-hand, every
listing on both channels equal to the truth, and no shop called over the platform's limit in
any second. Prints the figures; exits 1 when a check failed (a known bug's check is reported,
not failed).

    .venv/bin/python bench/chaos.py [--rate 20] [--seconds 120] [--kills 3] [--redis-restarts 2]
        [--pg-drops 3] [--throttles 6] [--faults 0.2] [--rate-limit 20] [--webhook-drops 0.02]
        [--push-lease 30] [--settle 300] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20, help="orders per second")
    parser.add_argument("--seconds", type=float, default=120, help="of orders")
    parser.add_argument("--kills", type=int, default=3, help="workers killed with SIGKILL")
    parser.add_argument("--redis-restarts", type=int, default=2)
    parser.add_argument("--pg-drops", type=int, default=3, help="rounds of pg_terminate_backend")
    parser.add_argument("--throttles", type=int, default=6, help="1 s windows of 429s")
    parser.add_argument("--faults", type=float, default=0.2, help="share of calls faulted")
    parser.add_argument("--webhook-drops", type=float, default=0.02, help="pushes never sent")
    parser.add_argument(
        "--rate-limit", type=float, default=20, help="the platform's calls/s per shop"
    )
    parser.add_argument("--push-lease", type=float, default=30, help="STORESYNC_PUSH_LEASE_SECONDS")
    parser.add_argument("--settle", type=float, default=300, help="seconds at most")
    parser.add_argument("--keep", type=Path, help="folder for the logs (default: a temporary one)")
    args = parser.parse_args()

    from tests.chaos.scenario import ChaosFailed, Plan, run
    from workers import wiring

    wiring.prepare()  # what every process does before its first session
    plan = Plan(
        rate=args.rate,
        seconds=args.seconds,
        kills=args.kills,
        redis_restarts=args.redis_restarts,
        pg_drops=args.pg_drops,
        throttles=args.throttles,
        faults=args.faults,
        webhook_drops=args.webhook_drops,
        rate_limit=args.rate_limit,
        push_lease=args.push_lease,
        settle_seconds=args.settle,
    )
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="storesync-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"chaos: {plan}\nchaos: logs in {workdir}", flush=True)
    try:
        figures = run(plan, workdir, say=lambda line: print(line, flush=True))
    except ChaosFailed as error:
        print(error, flush=True)
        return 1
    print("\n".join(figures.lines_out(plan.rate_limit)))
    for check in figures.checks:
        if not check.passed:
            print(f"known bug: {check.known}\n{check.report()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
