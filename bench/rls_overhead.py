"""Cost of PostgreSQL row-level security on a tenant read: app role under RLS vs a superuser
running the same filter without it. Prints figures; asserts nothing.

    .venv/bin/python bench/rls_overhead.py [--products 20000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("STORESYNC_VAR_DIR", "/tmp/storesync-bench-var")

from storesync.db import make_engine, session_scope
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role


def _timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    from bench.pgdb import temporary_database

    with temporary_database() as database:
        _compare(database.app_url, database.admin_url, args.products, args.repeat)


def _compare(app_url: str, super_url: str, products: int, repeat: int) -> None:
    app = make_engine(app_url)
    contexts = []
    for index in range(2):
        with session_scope(engine=app) as session:
            user = tenancy.create_user(session, email=f"b{index}@x.io", password="benchmark")
            org = tenancy.create_organization(session, name=f"B{index}", owner_user_id=user.id)
        contexts.append(RequestContext(user.id, org.id, Role.OWNER))
        with session_scope(contexts[-1], engine=app) as session:
            session.execute(
                sa.text(
                    "INSERT INTO product (id, organization_id, created_at, handle, title,"
                    " description, brand, category, status, attributes, images)"
                    " SELECT gen_random_uuid(), "
                    ":org, now(), 'p' || g, 'p' || g, '', '', '', 'active', '{}', '[]' "
                    "FROM generate_series(1, :n) g"
                ),
                {"org": org.id, "n": products},
            )
    superuser = make_engine(super_url)
    ctx = contexts[0]
    query = "SELECT count(*) FROM product WHERE status = 'active'"

    def with_rls() -> None:
        with session_scope(ctx, engine=app) as session:
            session.execute(sa.text(query)).scalar_one()

    def without_rls() -> None:
        with superuser.connect() as conn:
            conn.execute(sa.text(query + " AND organization_id = :o"), {"o": ctx.organization_id})

    for label, fn in (("app role, RLS", with_rls), ("superuser, explicit WHERE", without_rls)):
        fn()
        samples = _timed(fn, repeat)
        print(
            f"{label:28s} p50 {statistics.median(samples):7.2f} ms  "
            f"p95 {sorted(samples)[int(len(samples) * 0.95)]:7.2f} ms  "
            f"({products} rows per org, 2 orgs, {repeat} runs)"
        )
    app.dispose()
    superuser.dispose()


if __name__ == "__main__":
    from workers import wiring

    wiring.prepare()  # what every process does before its first session
    main()
