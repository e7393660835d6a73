"""The order CSV export (`storesync.orders.export.export_rows`, what `/exports/orders.csv` and
`GET /api/v1/orders/export` stream) on PostgreSQL as the app role under row-level security:
seconds and peak Python memory to export every order of an organization, with one line each.
Prints figures; asserts nothing.

    .venv/bin/python bench/export.py [--orders 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

import sqlalchemy as sa

os.environ.setdefault("STORESYNC_VAR_DIR", "/tmp/storesync-bench-var")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.orders_inbox import _load, _make_tenant, _vacuum_analyze
from storesync.db import make_engine, session_scope
from storesync.orders.export import export_rows

ADD_LINES = """
INSERT INTO order_item (id, organization_id, created_at, order_id, platform_item_id,
    platform_model_id, sku, title, quantity, unit_price, currency, is_mapped)
SELECT gen_random_uuid(), o.organization_id, o.created_at, o.id, '1', '2',
    'SKU-' || (abs(hashtext(o.id::text)) % 500), 'Kaos Polos', 1 + abs(hashtext(o.id::text)) % 3,
    o.total, o.currency, false
FROM sales_order o WHERE o.organization_id = :org
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()

    from bench.pgdb import temporary_database

    with temporary_database() as database:
        app = make_engine(database.app_url)
        owner = make_engine(database.owner_url)
        tenant = _make_tenant(app, 0)
        print(f"load {args.orders:,} orders: {_load(owner, tenant, args.orders, 0.42):.1f} s")
        with session_scope(tenant.ctx, engine=owner) as session:
            session.execute(sa.text(ADD_LINES), {"org": tenant.ctx.organization_id})
        _vacuum_analyze(database.owner_url)

        tracemalloc.start()
        started = time.perf_counter()
        rows = size = 0
        with session_scope(tenant.ctx, engine=app) as session:
            for chunk in export_rows(session, ctx=tenant.ctx):
                rows += chunk.count("\n")
                size += len(chunk.encode())
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"export: {rows - 1:,} orders, {size / 1e6:.1f} MB of CSV in {elapsed:.1f} s "
            f"({(rows - 1) / elapsed:,.0f} orders/s), peak Python memory {peak / 1e6:.1f} MB"
        )
        app.dispose()
        owner.dispose()


if __name__ == "__main__":
    from workers import wiring

    wiring.prepare()  # what every process does before its first session
    main()
