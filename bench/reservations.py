"""Reservations per second on PostgreSQL with N concurrent workers (threads, one connection
each, one transaction per reservation), on one hot SKU and spread over many SKUs.
Prints figures; asserts nothing.

    .venv/bin/python bench/reservations.py [--workers 8] [--per-worker 1000] [--skus 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

os.environ.setdefault("STORESYNC_VAR_DIR", "/tmp/storesync-bench-var")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import Store
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.db import make_engine, session_scope
from storesync.inventory import service as inventory
from storesync.inventory.errors import InsufficientStock
from storesync.orders.models import Order, OrderItem
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role


def _setup(
    engine: sa.Engine, skus: int, lines: int
) -> tuple[RequestContext, list, uuid.UUID, list]:
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(session, email="bench@x.io", password="benchmark")
        org = tenancy.create_organization(session, name="Bench", owner_user_id=user.id)
    ctx = RequestContext(user.id, org.id, Role.OWNER)
    with session_scope(ctx, engine=engine) as session:
        product = Product(organization_id=org.id, handle="bench", title="Bench")
        store = Store(organization_id=org.id, platform="shopee", platform_store_id="b", name="B")
        session.add_all([product, store])
        session.flush()
        variants = [
            ProductVariant(organization_id=org.id, product_id=product.id, variant_sku=f"B-{i}")
            for i in range(skus)
        ]
        session.add_all(variants)
        order = Order(
            organization_id=org.id,
            store_id=store.id,
            platform="shopee",
            platform_order_id="bench",
            ordered_at=datetime.now(UTC),
        )
        session.add(order)
        session.flush()
        location = inventory.default_location(session, ctx=ctx)
        inventory.set_on_hand_bulk(
            session,
            ctx=ctx,
            reason="bench",
            lines=[(v.id, location.id, 10_000_000) for v in variants],
        )
        item_ids = [new_id() for _ in range(lines)]
        rows = [
            {
                "id": i,
                "organization_id": org.id,
                "created_at": datetime.now(UTC),
                "order_id": order.id,
                "quantity": 1,
                "platform_item_id": "",
                "platform_model_id": "",
                "sku": "",
                "title": "",
                "unit_price": 0,
                "currency": "IDR",
                "is_mapped": True,
            }
            for i in item_ids
        ]
        for start in range(0, lines, 5000):
            session.execute(sa.insert(table_of(OrderItem)), rows[start : start + 5000])
    return ctx, [v.id for v in variants], location.id, item_ids


def _run(
    url: str,
    ctx: RequestContext,
    variants: list,
    location: uuid.UUID,
    lines: list,
    workers: int,
    per_worker: int,
) -> tuple[float, int]:
    engine = make_engine(url, pool_size=workers)
    barrier = threading.Barrier(workers + 1)
    failures = [0]

    def work(index: int) -> None:
        mine = lines[index * per_worker : (index + 1) * per_worker]
        barrier.wait()
        for n, line in enumerate(mine):
            try:
                with session_scope(ctx, engine=engine) as session:
                    inventory.reserve_stock(
                        session,
                        ctx=ctx,
                        order_item_id=line,
                        variant_id=variants[(index + n) % len(variants)],
                        location_id=location,
                        quantity=1,
                    )
            except InsufficientStock:
                failures[0] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed, failures[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--per-worker", type=int, default=1000)
    parser.add_argument("--skus", type=int, default=200)
    args = parser.parse_args()
    from bench.pgdb import temporary_database

    for label, skus in (("one hot SKU", 1), (f"{args.skus} SKUs", args.skus)):
        with temporary_database() as database:
            engine = make_engine(database.app_url)
            total = args.workers * args.per_worker
            ctx, variants, location, lines = _setup(engine, skus, total)
            engine.dispose()
            elapsed, failed = _run(
                database.app_url,
                ctx,
                variants,
                location,
                lines,
                args.workers,
                args.per_worker,
            )
        print(
            f"{label:10s} {args.workers} workers: {total} reservations in "
            f"{elapsed:6.2f} s = {total / elapsed:7.0f}/s ({failed} refused)"
        )


if __name__ == "__main__":
    from workers import wiring

    wiring.prepare()  # what every process does before its first session
    main()
