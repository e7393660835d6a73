"""A chaos run's world: the production layout's processes (`Layout`) and the merchant in it (an
organization with a Shopee and a TikTok store on the standalone sandbox, every listing imported
and matched by SKU, one opening count per variant pushed to both channels)."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine

from storesync import migrate
from storesync.catalog.models import ProductVariant
from storesync.channels.models import ChannelListing
from storesync.core.models import table_of
from storesync.db import make_engine, session_scope
from storesync.inventory import service as inventory
from storesync.sandbox.server import free_port
from storesync.settings import Settings, build_settings
from storesync.stores import service as stores
from storesync.sync.health import schedule
from storesync.sync.listings import service as listings
from storesync.sync.listings.products import create_products_from_listings
from storesync.tenancy.context import RequestContext
from tests.channels.conftest import connect_store, make_org
from tests.chaos import layout
from tests.chaos.traffic import PLATFORMS
from tests.conftest import PG_ADMIN_URL, PgDatabase, create_pg_database, drop_pg_database

VARIANTS = table_of(ProductVariant)
LISTINGS = table_of(ChannelListing)
OUR_SHARE = 0.8  # of the platform's rate limit, StoreSync's setting
PLATFORM_BURST = 5
# The marketplaces run on machines of their own: here StoreSync's processes yield the CPU to the
# sandbox (and PostgreSQL and Redis), whose stalls would bunch calls sent apart into one instant
# of its call log, and refuse some of them for the rate.
NICE = 5


@dataclass
class Layout:
    """Redis, PostgreSQL (a database of its own), the sandbox, the intake and the workers, each
    its own process; `close()` ends every one of them (by process group) and drops the database."""

    workdir: Path
    rate_limit: float  # the platform's, per shop
    seed: int
    products: int
    push_lease: float = 30.0
    workers: int = 2
    database: PgDatabase | None = None
    redis: layout.RedisServer | None = None
    sandbox: subprocess.Popen[bytes] | None = None
    intake: subprocess.Popen[bytes] | None = None
    running: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    base: str = ""
    intake_url: str = ""
    started: dict[str, int] = field(default_factory=dict)

    def open(self) -> None:
        """Everything but the intake and the workers (`start_processes`)."""
        self.redis = layout.RedisServer(self._log("redis"))
        self.redis.start()
        self.database = create_pg_database("storesync_chaos")
        migrate.upgrade(url=self.database.owner_url)
        self.sandbox, self.base = layout.sandbox_process(
            seed=self.seed,
            products=self.products,
            var_dir=self._dir("sandbox-var"),
            log=self._log("sandbox"),
        )
        # The platform's limit per shop, with a short burst: on this loaded machine the
        # sandbox's own event loop stalls now and then, and calls StoreSync sent apart arrive
        # together (two or three within a few milliseconds).
        for platform in PLATFORMS:
            httpx.post(
                f"{self.base}/sandbox/faults",
                json={
                    "platform": platform,
                    "rate_limit_per_second": self.rate_limit,
                    "rate_limit_burst": PLATFORM_BURST,
                },
            ).raise_for_status()
        self.intake_url = f"http://127.0.0.1:{free_port()}"
        self.env = self._production_env()

    def _production_env(self) -> dict[str, str]:
        assert self.database is not None and self.redis is not None
        apps = httpx.get(f"{self.base}/sandbox/apps").json()
        return layout.clean_env(
            STORESYNC_ENV="production",
            STORESYNC_DATABASE_URL=self.database.app_url,
            STORESYNC_REDIS_URL=self.redis.url,
            STORESYNC_FERNET_KEYS=Fernet.generate_key().decode(),
            STORESYNC_VAR_DIR=str(self._dir("var")),
            STORESYNC_PUBLIC_URL=self.intake_url,
            STORESYNC_SANDBOX_MARKETPLACES="1",
            STORESYNC_SHOPEE_BASE_URL=f"{self.base}/shopee",
            STORESYNC_TIKTOK_BASE_URL=f"{self.base}/tiktok",
            STORESYNC_TIKTOK_AUTH_BASE_URL=f"{self.base}/tiktok-auth",
            STORESYNC_SHOPEE_PARTNER_ID=str(apps["shopee"]["partner_id"]),
            STORESYNC_SHOPEE_PARTNER_KEY=apps["shopee"]["partner_key"],
            STORESYNC_TIKTOK_APP_KEY=apps["tiktok"]["app_key"],
            STORESYNC_TIKTOK_APP_SECRET=apps["tiktok"]["app_secret"],
            STORESYNC_TIKTOK_SERVICE_ID=apps["tiktok"]["service_id"],
            # A fifth under the platform's limit, as an operator sets it: StoreSync's bucket
            # spaces the calls it sends, and on a loaded machine the time a call takes to
            # arrive varies by tens of milliseconds (now and then two arrive together).
            STORESYNC_SHOPEE_RATE_LIMIT=str(self.rate_limit * OUR_SHARE),
            STORESYNC_TIKTOK_RATE_LIMIT=str(self.rate_limit * OUR_SHARE),
            STORESYNC_PUSH_LEASE_SECONDS=str(self.push_lease),
            # Shorter than the sandbox's timeout faults: StoreSync gives up first, as it would
            # on a marketplace that hangs.
            STORESYNC_HTTP_TIMEOUT_SECONDS="2",
        )

    def settings(self) -> Settings:
        """The same production settings for this process (setting up the merchant)."""
        prefix = "STORESYNC_"
        return build_settings(
            **{k[len(prefix) :].lower(): v for k, v in self.env.items() if k.startswith(prefix)}
        )

    def start_processes(self) -> None:
        """The intake and the workers (not waited for: `wait_up`)."""
        port = int(self.intake_url.rsplit(":", 1)[1])
        self.intake = layout.start_intake(self.env, self._log("intake"), port, nice=NICE)
        self.running = [None] * self.workers
        for number in range(self.workers):
            self.start_worker(number)

    def wait_up(self, timeout: float = 60) -> None:
        assert self.intake is not None
        intake = self.intake
        if not layout.wait_for(
            lambda: intake.poll() is None and layout.answers(f"{self.intake_url}/ping"),
            timeout,
            0.1,
        ):
            raise RuntimeError(f"the intake did not start:\n{layout.tails(self.logs)}")

    def start_worker(self, number: int) -> None:
        self.started[f"worker-{number + 1}"] = self.started.get(f"worker-{number + 1}", 0) + 1
        log = self._log(f"worker-{number + 1}.{self.started[f'worker-{number + 1}']}")
        self.running[number] = layout.start_worker(self.env, log, processes=1, threads=4, nice=NICE)

    def kill_worker(self, number: int, down_for: float = 1.0) -> None:
        """SIGKILL the worker's whole group (`storesync worker`, the Dramatiq master and its
        process); a supervisor starts it again `down_for` seconds later."""
        proc = self.running[number]
        assert proc is not None
        layout.kill_group(proc)
        time.sleep(down_for)
        self.start_worker(number)

    def restart_redis(self) -> None:
        assert self.redis is not None
        self.redis.restart()

    def drop_connections(self, rounds: int = 3, every: float = 0.3) -> int:
        """Every connection to the database dropped, `rounds` times; how many in all."""
        assert self.database is not None
        dropped = 0
        for _ in range(rounds):
            dropped += layout.terminate_backends(PG_ADMIN_URL, self.database.name)
            time.sleep(every)
        return dropped

    def close(self) -> None:
        layout.stop_groups([p for p in [*self.running, self.intake] if p is not None])
        if self.sandbox is not None:
            layout.kill_group(self.sandbox)
        if self.redis is not None:
            self.redis.kill()
        if self.database is not None:
            drop_pg_database(self.database)

    def _dir(self, name: str) -> Path:
        folder = self.workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _log(self, name: str) -> Path:
        log = self.workdir / f"{name}.log"
        self.logs.append(log)
        return log


@dataclass(frozen=True)
class Merchant:
    ctx: RequestContext
    stores: dict[str, uuid.UUID]  # platform → store
    shops: dict[str, str]  # platform → the sandbox's shop id
    listed: dict[str, list[str]]  # platform → the SKUs it lists
    shared: list[str]  # SKUs listed on both
    opening: int  # units of every variant before the first order


def set_up_merchant(world: Layout, engine: Engine, opening: int) -> Merchant:
    """An organization with both stores connected (orders polled every minute, the safety net
    under webhooks), every listing imported and matched (products made from the listings, a SKU
    on both platforms one variant), `opening` units of every variant, and both stores' push
    URLs registered with the sandbox (the intake must be up)."""
    cfg = world.settings()
    ctx = make_org(engine)
    stores_by_platform = {p: connect_store(engine, ctx, p, cfg) for p in PLATFORMS}
    for store_id in stores_by_platform.values():
        with session_scope(ctx, engine=engine) as session:
            schedule.set_schedule(
                session, ctx=ctx, store_id=store_id, orders_minutes=1, reconcile_hours=None
            )
            asyncio.run(
                listings.import_listings(
                    session, ctx=ctx, store_id=store_id, settings=cfg, create_products=True
                )
            )
            # A listing on one platform only whose title resembles another product's is left
            # as a suggestion for the merchant: it is a product of its own.
            suggested = session.execute(
                sa.select(LISTINGS.c.id).where(
                    LISTINGS.c.store_id == store_id, LISTINGS.c.match_status == "suggested"
                )
            ).scalars()
            create_products_from_listings(
                session, ctx=ctx, store_id=store_id, listing_ids=list(suggested)
            )
    with session_scope(ctx, engine=engine) as session:
        unmatched = session.execute(
            sa.select(LISTINGS.c.platform_sku, LISTINGS.c.match_status).where(
                LISTINGS.c.match_status != "matched"
            )
        ).all()
        assert not unmatched, f"listings the import left unmatched: {unmatched}"
        location = inventory.default_location(session, ctx=ctx).id
        variants = session.execute(sa.select(VARIANTS.c.id)).scalars().all()
        inventory.set_on_hand_bulk(
            session,
            ctx=ctx,
            lines=[(v, location, opening) for v in variants],
            reason="chaos opening count",
        )
    world.wait_up()
    for store_id in stores_by_platform.values():
        registered = asyncio.run(
            stores.register_pushes(ctx=ctx, store_id=store_id, settings=cfg, engine=engine)
        )
        assert registered, f"store {store_id}: push URL not registered"
    shops, listed = sandbox_catalog(world.base)
    return Merchant(
        ctx=ctx,
        stores=stores_by_platform,
        shops=shops,
        listed=listed,
        shared=sorted(set(listed["shopee"]) & set(listed["tiktok"])),
        opening=opening,
    )


def sandbox_catalog(base: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The sandbox's shop per platform, and the SKUs each lists."""
    shops = {s["platform"]: s["shop_id"] for s in httpx.get(f"{base}/sandbox/shops").json()}
    return shops, {p: sorted(r["sku"] for r in channel_stock(base, p, shops[p])) for p in shops}


def channel_stock(base: str, platform: str, shop_id: str) -> list[dict[str, Any]]:
    """Every model the sandbox's shop lists: item_id, model_id, sku, stock, ..."""
    answer = httpx.get(
        f"{base}/sandbox/listings", params={"platform": platform, "shop_id": shop_id}, timeout=10
    )
    answer.raise_for_status()
    return list(answer.json())


def app_engine(world: Layout) -> Engine:
    assert world.database is not None
    return make_engine(world.database.app_url, pool_size=2)
