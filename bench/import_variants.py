"""Catalog import speed and memory: generate a CSV of N variants (default 100,000: 25,000
products x 4 sizes, with stock at MAIN), import it into a fresh organization, then import it
again (idempotent: nothing changes) and export it. Prints wall time, rows/s and peak RSS;
asserts nothing.

    .venv/bin/python bench/import_variants.py [--variants 100000] [--postgres]

SQLite (default) uses a temporary database file; `--postgres` creates a temporary database on
STORESYNC_TEST_PG_ADMIN_URL (owned by storesync_owner, used as the RLS-restricted app role).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("STORESYNC_VAR_DIR", "/tmp/storesync-bench-var")

from storesync import migrate
from storesync.catalog.exporter import export_catalog
from storesync.catalog.importer import import_catalog
from storesync.db import make_engine, session_scope
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role

SIZES = ("S", "M", "L", "XL")


def write_csv(path: Path, variants: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "handle",
                "title",
                "brand",
                "category",
                "attributes",
                "images",
                "sku",
                "option1_name",
                "option1_value",
                "price",
                "cost",
                "weight_grams",
                "stock:MAIN",
            ]
        )
        for index in range(variants):
            product, size = divmod(index, len(SIZES))
            writer.writerow(
                [
                    f"kaos-{product:06d}",
                    f"Kaos Polos {product}",
                    "Maju",
                    "Apparel",
                    '{"material": "cotton"}',
                    f"https://img.example.com/{product}.jpg",
                    f"KAOS-{product:06d}-{SIZES[size]}",
                    "Size",
                    SIZES[size],
                    f"{59000 + product % 1000}.50",
                    "31000",
                    200 + size * 10,
                    index % 50,
                ]
            )


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(label: str, rows: int, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    print(
        f"{label:22s} {elapsed:7.2f} s  {rows / elapsed:9,.0f} rows/s  "
        f"peak RSS {_peak_rss_mib():6.0f} MiB"
    )
    return result


def run(url: str, csv_path: Path, variants: int) -> None:
    engine = make_engine(url)
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(
            session, email=f"bench-{uuid.uuid4().hex[:8]}@example.com", password="benchmark"
        )
        org = tenancy.create_organization(session, name="Bench", owner_user_id=user.id)
    ctx = RequestContext(user.id, org.id, Role.OWNER)

    def do_import() -> Any:
        with session_scope(ctx, engine=engine) as session, csv_path.open(newline="") as source:
            return import_catalog(session, ctx=ctx, source=source, reference_id="bench")

    def do_export() -> int:
        with session_scope(ctx, engine=engine) as session:
            return export_catalog(session, ctx=ctx, out=io.StringIO())

    first = _timed("import (fresh org)", variants, do_import)
    print(f"  {first.variants_created} variants, {first.products_created} products created")
    again = _timed("re-import (no change)", variants, do_import)
    print(f"  {again.created} created, {again.updated} updated, {again.stock_changed} stock")
    _timed("export", variants, do_export)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="storesync-bench-") as folder:
        csv_path = Path(folder) / "variants.csv"
        write_csv(csv_path, args.variants)
        size_mib = csv_path.stat().st_size / 2**20
        backend = "PostgreSQL" if args.postgres else "SQLite"
        print(f"{args.variants:,} variants, {size_mib:.1f} MiB CSV, {backend}")
        if not args.postgres:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            migrate.upgrade(url=url)
            run(url, csv_path, args.variants)
            return
        from bench.pgdb import temporary_database

        with temporary_database() as database:
            run(database.app_url, csv_path, args.variants)


if __name__ == "__main__":
    from workers import wiring

    wiring.prepare()  # what every process does before its first session
    main()
