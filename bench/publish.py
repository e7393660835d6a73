"""Publishing throughput: 200 master products (two variants and one image each) published to
the sandbox Shopee store and to the sandbox TikTok store as publish jobs, with the sandbox
rate-limiting the app, compared with the rate-limit bound (the fewest seconds the calls can
take at that rate). Prints figures; asserts nothing.

    .venv/bin/python bench/publish.py [--products 200] [--rate 20] [--postgres]

The sandbox runs as its own `storesync sandbox` process, as a marketplace would.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("STORESYNC_VAR_DIR", tempfile.mkdtemp(prefix="storesync-bench-"))

from bench.catalog_sync import _sandbox  # noqa: E402

FORMS = {
    "shopee": {"logistics_ids": ["8003"]},
    "tiktok": {},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20, help="calls/s the sandbox allows")
    parser.add_argument("--postgres", action="store_true", help="a temporary PostgreSQL database")
    args = parser.parse_args()

    from bench.pgdb import bench_database

    with bench_database(args.postgres) as url:
        run(args, url)


def _catalog(engine, ctx, count: int) -> list:
    from PIL import Image

    from storesync.catalog import service as catalog
    from storesync.catalog.content import images
    from storesync.catalog.schemas import VariantInput
    from storesync.db import session_scope

    out = io.BytesIO()
    Image.new("RGB", (800, 800), "teal").save(out, "PNG")
    picture = out.getvalue()
    ids = []
    with session_scope(ctx, engine=engine) as session:
        for n in range(count):
            product = catalog.create_product(
                session,
                ctx=ctx,
                title=f"Kaos Polos Cotton Combed 30s Seri {n:04d}",
                description="Kaos polos bahan cotton combed 30s, adem dan nyaman dipakai.",
                variants=[
                    VariantInput(
                        sku=f"BENCH{n:04d}-{colour}",
                        options={"Color": colour},
                        price=Decimal("45000"),
                        weight_grams=200,
                        length_mm=300,
                        width_mm=250,
                        height_mm=20,
                    )
                    for colour in ("Black", "White")
                ],
            )
            images.add_image(session, ctx=ctx, product_id=product.id, data=picture)
            ids.append(product.id)
    return ids


def run(args: argparse.Namespace, url: str) -> None:
    from storesync.channels.schemas import AttributeValue, DraftAttribute
    from storesync.db import make_engine
    from storesync.sync.publish.categories import category_detail
    from storesync.sync.publish.service import PublishForm, publish_products
    from tests.channels.conftest import connect_store, make_org, sandbox_settings

    engine = make_engine(url)
    started = time.monotonic()
    ctx = make_org(engine)
    products = _catalog(engine, ctx, args.products)
    print(f"{len(products)} master products made in {time.monotonic() - started:5.1f} s")
    attributes = [
        DraftAttribute(
            attribute_id="100010", values=[AttributeValue(value_id="0", name="No Brand")]
        ),
        DraftAttribute(
            attribute_id="100020", values=[AttributeValue(value_id="2001", name="Cotton")]
        ),
    ]
    with _sandbox(1, in_process=False) as base:
        cfg = sandbox_settings(base, shopee_rate_limit=args.rate, tiktok_rate_limit=args.rate)
        for platform in ("shopee", "tiktok"):
            store_id = connect_store(engine, ctx, platform, cfg)
            # The category's attributes are cached before the clock starts (as the form does).
            asyncio.run(category_detail(ctx, store_id, "100101", settings=cfg, engine=engine))
            httpx.post(
                f"{base}/sandbox/faults",
                json={
                    "platform": platform,
                    "rate_limit_per_second": args.rate,
                    "rate_limit_burst": 2,
                },
            ).raise_for_status()
            form = PublishForm(category_id="100101", attributes=attributes, **FORMS[platform])
            since = time.time()
            started = time.monotonic()
            result = asyncio.run(
                publish_products(
                    ctx,
                    store_id=store_id,
                    product_ids=products,
                    form=form,
                    settings=cfg,
                    engine=engine,
                )
            )
            elapsed = time.monotonic() - started
            calls = httpx.get(
                f"{base}/sandbox/calls", params={"platform": platform, "since": since}
            ).json()
            ok = sum(v for k, v in calls["counts"].items() if k.endswith(" ok"))
            limited = sum(v for k, v in calls["counts"].items() if k.endswith("rate_limited"))
            bound = ok / args.rate
            print(
                f"{platform}: published {result['published']} products ({result['failed']} failed, "
                f"{result['listings']} SKUs linked) in {elapsed:6.1f} s = "
                f"{result['published'] / elapsed:5.2f} products/s"
            )
            print(
                f"{platform}: {ok} successful calls at {args.rate:g}/s: bound {bound:5.1f} s, so "
                f"{100 * bound / elapsed:5.1f} % of the rate-limit bound ({limited} calls answered "
                "the rate-limit error)"
            )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"bench process CPU: {usage.ru_utime + usage.ru_stime:5.1f} s; "
        f"peak RSS {usage.ru_maxrss / 1024:5.0f} MiB"
    )
    engine.dispose()


if __name__ == "__main__":
    from workers import wiring

    wiring.prepare()
    main()
