"""Helpers for the webhook and order intake tests: a fresh sandbox, a store connected to it through
OAuth, master variants (with stock) matched to some of its listings, and the webhook routes
served over real HTTP, recorded, and registered with the sandbox so it sends real signed pushes.

Test modules import the fixtures they use from here (not a conftest: tests/sync is shared).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing
from storesync.core import events as bus
from storesync.core.clock import utcnow
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.inventory.models import InventoryItem, Reservation
from storesync.orders import service as orders
from storesync.orders.models import Order, OrderItem
from storesync.orders.schemas import OrderDetailDTO
from storesync.sandbox.app import Sandbox
from storesync.sandbox.seed import SeedConfig
from storesync.sandbox.server import serve_in_thread
from storesync.settings import Settings
from storesync.stores import service as stores
from storesync.sync.intake import batch as event_batch
from storesync.sync.intake import poll as order_poll
from storesync.sync.intake import pushes
from storesync.sync.intake import routes as webhooks
from storesync.sync.intake.schemas import WebhookEventDTO
from storesync.sync.models import WebhookEvent
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.channels.conftest import consent, sandbox_settings
from tests.factories import token
from tests.sandbox.conftest import RunningSandbox

ON_HAND = 10
PLATFORMS = ["shopee", "tiktok"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


_USED_SHOPS: set[str] = set()


@pytest.fixture
def fresh_sandbox() -> Iterator[RunningSandbox]:
    """A sandbox whose shop ids no other test of this run used, so each test can connect its
    shops on the session-wide PostgreSQL database (a shop joins one organization only)."""
    while True:
        sandbox = Sandbox(
            seed=SeedConfig(seed=random.randrange(10**9), products_per_shop=8), clock=utcnow
        )
        shops = {shop.id for shop in sandbox.state.shops.values()}
        if not shops & _USED_SHOPS:
            _USED_SHOPS.update(shops)
            break
    with serve_in_thread(sandbox.asgi()) as base_url:
        yield RunningSandbox(base_url, sandbox)


# -- the routes over HTTP ------------------------------------------------------------------------


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0


class Recorder:
    """ASGI wrapper keeping every request's raw body and headers, and the status answered."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.deliveries: list[Delivery] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        delivery = Delivery(scope["path"], headers, b"".join(chunks))
        self.deliveries.append(delivery)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": delivery.body, "more_body": False}
            return await receive()

        async def note(message: Message) -> None:
            if message["type"] == "http.response.start":
                delivery.status = message["status"]
            await send(message)

        await self.app(scope, replay, note)


@dataclass
class Routes:
    base_url: str
    recorder: Recorder
    hook_calls: list[tuple[uuid.UUID, uuid.UUID]]

    def url(self, platform: str) -> str:
        return f"{self.base_url}/webhooks/{platform}"


@contextmanager
def serve_routes(engine: Engine, cfg: Settings) -> Iterator[Routes]:
    """`webhooks.routes` on a free port, using `engine` and `cfg`; the hook records its calls.
    Everything swapped is restored afterwards."""
    saved = (webhooks.engine_provider, webhooks.settings_provider)
    calls: list[tuple[uuid.UUID, uuid.UUID]] = []
    webhooks.engine_provider = lambda: engine
    webhooks.settings_provider = lambda: cfg
    hook = webhooks.event_stored.connect(lambda event_id, org_id: calls.append((event_id, org_id)))
    recorder = Recorder(Starlette(routes=webhooks.routes))
    try:
        with serve_in_thread(recorder) as base_url:
            yield Routes(base_url, recorder, calls)
    finally:
        webhooks.engine_provider, webhooks.settings_provider = saved
        webhooks.event_stored.connect(hook)


# -- a connected store ---------------------------------------------------------------------------


@dataclass
class World:
    engine: Engine
    sandbox: RunningSandbox
    cfg: Settings
    ctx: RequestContext
    platform: str
    store_id: uuid.UUID
    shop_id: str
    routes: Routes
    variants: dict[str, uuid.UUID]  # sku → master variant (matched listing, ON_HAND in stock)
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def skus(self) -> list[str]:
        return list(self.variants)

    @property
    def webhook_url(self) -> str:
        return self.routes.url(self.platform)

    # the sandbox

    def control(self, path: str, body: dict[str, Any]) -> Any:
        answer = httpx.post(f"{self.sandbox.base_url}/sandbox/{path}", json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def register(self, url: str | None = None) -> None:
        self.control("webhooks", {"platform": self.platform, "url": url or self.webhook_url})

    def unregister(self) -> None:
        self.control("webhooks", {"platform": self.platform, "url": ""})

    def faults(self, **changes: object) -> None:
        self.control("faults", {"platform": self.platform, **changes})

    def place(self, *lines: tuple[str, int]) -> str:
        """Place an order on the sandbox; returns its platform order id."""
        order = self.control(
            "orders",
            {
                "platform": self.platform,
                "shop_id": self.shop_id,
                "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
            },
        )
        return str(order["id"])

    def set_status(self, order_id: str, status: str) -> None:
        self.control(
            "orders/status", {"platform": self.platform, "order_id": order_id, "status": status}
        )

    # the database

    def stored(self) -> list[tuple[WebhookEventDTO, dict[str, Any]]]:
        """Every stored event with its payload, oldest first."""
        with session_scope(self.ctx, engine=self.engine) as session:
            rows = session.execute(
                sa.select(WebhookEvent).order_by(WebhookEvent.received_at)  # type: ignore[arg-type]
            ).scalars()
            return [(WebhookEventDTO.model_validate(row), dict(row.payload)) for row in rows]

    def events(self) -> list[WebhookEventDTO]:
        return [event for event, _ in self.stored()]

    def order_events(self, order_id: str) -> list[WebhookEventDTO]:
        """Stored events whose push names `order_id`."""
        return [
            event
            for event, payload in self.stored()
            if pushes.read_push(self.platform, payload).order_id == order_id
        ]

    def order(self, platform_order_id: str) -> OrderDetailDTO | None:
        with session_scope(self.ctx, engine=self.engine) as session:
            order_id = session.execute(
                sa.select(Order.id).where(  # type: ignore[call-overload]
                    Order.store_id == self.store_id, Order.platform_order_id == platform_order_id
                )
            ).scalar_one_or_none()
            if order_id is None:
                return None
            return orders.get_order(session, ctx=self.ctx, order_id=order_id)

    def stock(self, sku: str) -> tuple[int, int]:
        """(on_hand, reserved) of a SKU's variant, over all locations."""
        t = InventoryItem.__table__.c  # type: ignore[attr-defined]
        with session_scope(self.ctx, engine=self.engine) as session:
            on_hand, reserved = session.execute(
                sa.select(sa.func.sum(t.on_hand), sa.func.sum(t.reserved)).where(
                    t.variant_id == self.variants[sku]
                )
            ).one()
        return int(on_hand or 0), int(reserved or 0)

    def reservations(self, platform_order_id: str) -> list[tuple[str, str, int]]:
        """(sku, status, quantity) of every reservation of the order's lines."""
        r, i, o = (m.__table__ for m in (Reservation, OrderItem, Order))  # type: ignore[attr-defined]
        with session_scope(self.ctx, engine=self.engine) as session:
            rows = session.execute(
                sa.select(i.c.sku, r.c.status, r.c.quantity)
                .join(i, i.c.id == r.c.order_item_id)
                .join(o, o.c.id == i.c.order_id)
                .where(o.c.store_id == self.store_id, o.c.platform_order_id == platform_order_id)
                .order_by(i.c.sku)
            ).all()
        return [(str(sku), str(status), int(quantity)) for sku, status, quantity in rows]

    def count(self, model: type) -> int:
        table = model.__table__  # type: ignore[attr-defined]
        with session_scope(self.ctx, engine=self.engine) as session:
            return int(session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    # processing

    def process(self, event_id: uuid.UUID) -> str:
        with session_scope(self.ctx, engine=self.engine) as session:
            return asyncio.run(
                event_batch.process_webhook_event(
                    session, ctx=self.ctx, event_id=event_id, settings=self.cfg
                )
            )

    def process_in_background(self) -> None:
        """Wire the hook like the embedded worker does: each stored event is processed on its
        own thread (calls are still recorded)."""

        def hook(event_id: uuid.UUID, organization_id: uuid.UUID) -> None:
            self.routes.hook_calls.append((event_id, organization_id))
            thread = threading.Thread(target=self.process, args=(event_id,), daemon=True)
            self.threads.append(thread)
            thread.start()

        webhooks.event_stored.connect(hook)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)

    def sync(self, **kwargs: Any) -> Any:
        with session_scope(self.ctx, engine=self.engine) as session:
            return asyncio.run(
                order_poll.sync_orders(
                    session, ctx=self.ctx, store_id=self.store_id, settings=self.cfg, **kwargs
                )
            )


def wait_for(check: Callable[[], Any], *, timeout: float = 15, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def new_org(engine: Engine) -> RequestContext:
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(
            session, email=f"intake-{token()}@example.com", password="correct horse"
        )
        org = tenancy.create_organization(session, name="Toko Intake", owner_user_id=user.id)
    return RequestContext(user.id, org.id, Role.OWNER)


def connect(engine: Engine, ctx: RequestContext, platform: str, cfg: Settings) -> uuid.UUID:
    """Connect a store through the sandbox's OAuth consent page."""
    url = stores.connect_url(
        ctx, platform=platform, callback_url="http://storesync.test/cb", settings=cfg
    )
    back = consent(url)
    with session_scope(ctx, engine=engine) as session:
        store = asyncio.run(
            stores.complete_connect(
                session,
                ctx=ctx,
                platform=platform,
                code=back["code"],
                shop_id=back.get("shop_id"),
                settings=cfg,
            )
        )
    return store.id


def stock_listings(
    engine: Engine, ctx: RequestContext, store_id: uuid.UUID, listings: list[dict[str, Any]]
) -> dict[str, uuid.UUID]:
    """A master variant per listing (same SKU), the listing matched to it, ON_HAND in stock."""
    org = ctx.organization_id
    variants: dict[str, uuid.UUID] = {}
    with session_scope(ctx, engine=engine) as session:
        product = Product(organization_id=org, handle=f"intake-{token()}", title="Intake")
        session.add(product)
        session.flush()
        for listing in listings:
            variant = ProductVariant(
                organization_id=org,
                product_id=product.id,
                variant_sku=listing["sku"],
                price=Decimal(listing["price"]),
            )
            session.add(variant)
            session.flush()
            session.add(
                ChannelListing(
                    organization_id=org,
                    store_id=store_id,
                    platform_item_id=str(listing["item_id"]),
                    platform_model_id=""
                    if str(listing["model_id"]) in ("", "0")
                    else str(listing["model_id"]),
                    platform_sku=listing["sku"],
                    title=listing["title"],
                    variant_id=variant.id,
                    match_status="matched",
                )
            )
            variants[listing["sku"]] = variant.id
        session.flush()
        location = inventory.default_location(session, ctx=ctx)
        for variant_id in variants.values():
            inventory.set_on_hand(
                session,
                ctx=ctx,
                variant_id=variant_id,
                location_id=location.id,
                quantity=ON_HAND,
                reason="opening count",
            )
    return variants


def build_world(
    engine: Engine, sandbox: RunningSandbox, routes: Routes, platform: str, cfg: Settings
) -> World:
    ctx = new_org(engine)
    store_id = connect(engine, ctx, platform, cfg)
    with session_scope(ctx, engine=engine) as session:
        shop_id = stores.get_store(session, ctx=ctx, store_id=store_id).platform_store_id
    listed = httpx.get(
        f"{sandbox.base_url}/sandbox/listings", params={"platform": platform, "shop_id": shop_id}
    ).json()
    usable = [row for row in listed if row["sku"] and row["stock"] >= 5]
    assert len(usable) >= 3, "the sandbox shop needs three listings with stock"
    variants = stock_listings(engine, ctx, store_id, usable[:3])
    return World(engine, sandbox, cfg, ctx, platform, store_id, shop_id, routes, variants)


@pytest.fixture
def world_factory(
    engine: Engine, fresh_sandbox: RunningSandbox
) -> Iterator[Callable[[str], World]]:
    """`make(platform)`: a store of that platform connected to a fresh sandbox, and the webhook
    routes (using `engine`) served and ready to be registered."""
    cfg = sandbox_settings(fresh_sandbox.base_url)
    made: list[World] = []
    with serve_routes(engine, cfg) as routes:

        def make(platform: str) -> World:
            world = build_world(engine, fresh_sandbox, routes, platform, cfg)
            made.append(world)
            return world

        yield make
        for world in made:
            httpx.post(f"{fresh_sandbox.base_url}/sandbox/webhooks", json={"url": ""}, timeout=5)
            world.join()


class RecordingBus(bus.InProcessBus):
    """Keeps every published event instead of delivering it."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[bus.Event] = []

    def publish(self, event: bus.Event) -> None:
        self.published.append(event)


@pytest.fixture
def recording_bus() -> Iterator[RecordingBus]:
    recording = RecordingBus()
    bus.set_bus(recording)
    yield recording
    bus.set_bus(None)
