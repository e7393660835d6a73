"""Webhook intake over real HTTP: the sandbox sends real signed pushes to `webhooks.routes`.

Forged, tampered and malformed pushes are refused and leave nothing behind; a push delivered
three times is stored once and handed over once."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from storesync.channels.apps import app_credentials
from storesync.channels.models import Store
from storesync.channels.shopee import signing as shopee_signing
from storesync.channels.tiktok import signing as tiktok_signing
from storesync.db import session_scope
from storesync.inventory.models import Reservation
from storesync.orders.models import Order
from storesync.sync.intake import pushes
from storesync.sync.intake import routes as webhooks
from storesync.sync.intake.schemas import PushKind
from storesync.sync.models import SyncJob, WebhookEvent
from tests.channels.conftest import app_credentials as sandbox_app
from tests.sync import intake_fixtures as fx
from tests.sync.intake_fixtures import PLATFORMS, World, wait_for

# The fixtures these tests use (tests/sync has no conftest of ours).
engine = fx.engine
fresh_sandbox = fx.fresh_sandbox
world_factory = fx.world_factory

MakeWorld = Callable[[str], World]


def sign(world: World, body: bytes, url: str | None = None) -> str:
    """A valid `Authorization` header for `body`, made with the sandbox app's own secret."""
    app = app_credentials(world.platform, world.cfg)
    if world.platform == "shopee":
        return shopee_signing.sign(
            app.secret, shopee_signing.push_base(url or world.webhook_url, body)
        )
    return tiktok_signing.push_signature(app.key, app.secret, body)


def order_push(world: World, order_id: str, status: str, *, shop_id: str | None = None) -> bytes:
    shop = shop_id or world.shop_id
    if world.platform == "shopee":
        payload: dict[str, object] = {
            "shop_id": int(shop),
            "code": 3,
            "timestamp": 1_760_000_000,
            "data": {"ordersn": order_id, "status": status, "update_time": 1_760_000_000},
        }
    else:
        payload = {
            "type": 1,
            "tts_notification_id": "7380066284010030890",
            "shop_id": shop,
            "timestamp": 1_760_000_000,
            "data": {"order_id": order_id, "order_status": status, "update_time": 1_760_000_000},
        }
    return json.dumps(payload, separators=(",", ":")).encode()


def post(world: World, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        world.webhook_url,
        content=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout=10,
    )


def assert_nothing_stored(world: World) -> None:
    assert world.count(WebhookEvent) == 0
    assert world.routes.hook_calls == []
    assert world.count(Order) == 0


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_real_push_is_stored_once_and_handed_over(
    world_factory: MakeWorld, platform: str
) -> None:
    world = world_factory(platform)
    world.register()

    order_id = world.place((world.skus[0], 1))

    events = wait_for(lambda: world.order_events(order_id), what="the order push")
    assert len(events) == 1
    event = events[0]
    assert (event.platform, event.store_id, event.status, event.attempts) == (
        platform,
        world.store_id,
        "received",
        0,
    )
    if platform == "shopee":
        assert event.event_type == "order_status"
        assert event.dedupe_key.startswith(f"3:{order_id}:READY_TO_SHIP:")
    else:
        assert event.event_type == "ORDER_STATUS_CHANGE"
        assert event.dedupe_key.startswith("tts:")
    assert (event.id, world.ctx.organization_id) in world.routes.hook_calls
    answered = [d for d in world.routes.recorder.deliveries if d.path.endswith(platform)]
    # A later push (the stock change) may still be in flight: wait for its answer too.
    wait_for(lambda: all(d.status for d in answered), what="every answer")
    assert answered and all(d.status == 200 for d in answered)
    assert world.count(Order) == 0  # intake stores; it does not process
    # Stock pushes are kept, stored as ignored, and never queued for processing.
    others = [e for e in world.events() if e.id != event.id]
    if platform == "shopee":  # Shopee announces the stock change; TikTok only at low stock
        assert others
    assert all(e.status == "ignored" and e.processed_at is not None for e in others)
    assert world.routes.hook_calls == [(event.id, world.ctx.organization_id)]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_forged_and_tampered_pushes_get_401_and_leave_nothing(
    world_factory: MakeWorld, platform: str, caplog: pytest.LogCaptureFixture
) -> None:
    world = world_factory(platform)
    genuine = order_push(world, "ORDER1", "READY_TO_SHIP")
    valid = sign(world, genuine)
    other_shop = "14799999" if platform == "shopee" else "7495999999999999999"
    tampered = genuine.replace(world.shop_id.encode(), other_shop.encode())
    assert tampered != genuine
    caplog.set_level(logging.INFO, logger="storesync.sync.intake.routes")

    answers = [
        post(world, genuine),  # no signature
        post(world, genuine, {"Authorization": ""}),
        post(world, genuine, {"Authorization": "0" * 64}),
        post(world, genuine, {"Authorization": valid[:-1] + ("0" if valid[-1] != "0" else "1")}),
        post(world, tampered, {"Authorization": valid}),  # another shop, the old signature
        post(world, genuine + b" ", {"Authorization": valid}),  # one byte more
    ]
    if platform == "shopee":  # signed for another callback URL (a replay from elsewhere)
        elsewhere = sign(world, genuine, url="https://other.example/webhooks/shopee")
        answers.append(post(world, genuine, {"Authorization": elsewhere}))

    assert [a.status_code for a in answers] == [401] * len(answers)
    assert_nothing_stored(world)
    assert "rejected" in caplog.text and valid not in caplog.text


@pytest.mark.parametrize("platform", PLATFORMS)
def test_malformed_bodies_get_400_and_leave_nothing(
    world_factory: MakeWorld, platform: str
) -> None:
    world = world_factory(platform)
    bodies = [b"{not json", b"[1, 2]", b'"text"', b'{"shop_id": 1}', b"\xff\xfe"]

    signed = [post(world, body, {"Authorization": sign(world, body)}) for body in bodies]
    unsigned = post(world, b"{not json")

    assert [a.status_code for a in signed] == [400] * len(bodies)
    assert unsigned.status_code == 401
    assert_nothing_stored(world)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_signed_push_for_an_unknown_shop_is_acknowledged_and_not_stored(
    world_factory: MakeWorld, platform: str
) -> None:
    world = world_factory(platform)
    unknown = "14711111" if platform == "shopee" else "7495111111111111111"
    body = order_push(world, "ORDER1", "READY_TO_SHIP", shop_id=unknown)

    answer = post(world, body, {"Authorization": sign(world, body)})

    assert answer.status_code == 200 and answer.content == b""
    assert_nothing_stored(world)


def test_shopee_reachability_check_is_answered_and_stores_nothing(world_factory: MakeWorld) -> None:
    world = world_factory("shopee")

    answer = post(world, b"")

    assert answer.status_code == 200 and answer.content == b""
    assert_nothing_stored(world)


def test_an_oversized_body_is_refused(world_factory: MakeWorld) -> None:
    world = world_factory("tiktok")
    body = b'{"pad": "' + b"x" * webhooks.MAX_BODY_BYTES + b'"}'

    answer = post(world, body, {"Authorization": sign(world, body)})

    assert answer.status_code == 413
    assert_nothing_stored(world)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_same_push_delivered_three_times_yields_one_event_one_order_one_reservation(
    world_factory: MakeWorld, platform: str
) -> None:
    world = world_factory(platform)
    world.faults(webhook_duplicate_rate=1.0)  # the sandbox sends every push twice
    world.register()
    sku = world.skus[0]

    order_id = world.place((sku, 2))
    copies = wait_for(
        lambda: (
            [
                d
                for d in world.routes.recorder.deliveries
                if order_id.encode() in d.body and d.status == 200
            ]
            if sum(order_id.encode() in d.body for d in world.routes.recorder.deliveries) >= 2
            else None
        ),
        what="both copies of the order push",
    )
    third = post(world, copies[0].body, {"Authorization": copies[0].headers["authorization"]})

    assert third.status_code == 200
    events = world.order_events(order_id)
    assert len(events) == 1
    assert [call for call in world.routes.hook_calls if call[0] == events[0].id] == [
        (events[0].id, world.ctx.organization_id)
    ]
    assert world.process(events[0].id) == "processed"
    assert world.process(events[0].id) == "skipped"
    order = world.order(order_id)
    assert order is not None and order.status == "to_ship"
    assert world.count(Order) == 1
    assert world.reservations(order_id) == [(sku, "active", 2)]
    assert world.stock(sku) == (10, 2)
    assert world.count(Reservation) == 1


def test_push_kinds() -> None:
    """Shopee code 8 and TikTok types 5/27 are stock pushes; unknown numbers are 'other'."""
    shop = {"shop_id": 1, "data": {"item_id": 1, "model_id": 0, "stock": 3, "update_time": 9}}
    stock = pushes.read_push("shopee", {**shop, "code": 8})
    other = pushes.read_push("shopee", {**shop, "code": 99})
    tiktok = pushes.read_push("tiktok", {"type": 27, "shop_id": "7", "tts_notification_id": "5"})

    assert (stock.kind, stock.dedupe_key) == (PushKind.STOCK, "8:1:0:3:9")
    assert other.kind is PushKind.OTHER and other.event_type == "code_99"
    assert (tiktok.kind, tiktok.dedupe_key, tiktok.shop_id) == (PushKind.STOCK, "tts:5", "7")
    assert pushes.read_push("tiktok", {"type": 5, "shop_id": "7"}).kind is PushKind.STOCK


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_production_store_registers_its_push_url_and_its_orders_arrive_by_push(
    world_factory: MakeWorld, platform: str
) -> None:
    """After a connect, production registers `STORESYNC_PUBLIC_URL` + the webhook route with
    the platform (never the sandbox's control API): the sandbox then pushes the store's order
    there, nothing polls, and the store's metrics show the push arrived."""
    from storesync.settings import RunMode
    from storesync.stores import service as stores

    world = world_factory(platform)
    world.unregister()
    app = sandbox_app(world.sandbox.base_url, platform)
    production = world.cfg.model_copy(
        update={
            "env": RunMode.PRODUCTION,
            "public_url": world.routes.base_url,
            "shopee_partner_id": app.key,  # production has its app's keys in its settings
            "shopee_partner_key": app.secret,
            "tiktok_app_key": app.key,
            "tiktok_app_secret": app.secret,
            "tiktok_service_id": app.service_id,
        }
    )
    embedded = asyncio.run(
        stores.register_pushes(
            ctx=world.ctx, store_id=world.store_id, settings=world.cfg, engine=world.engine
        )
    )
    registered = asyncio.run(
        stores.register_pushes(
            ctx=world.ctx, store_id=world.store_id, settings=production, engine=world.engine
        )
    )
    hooks = httpx.get(f"{world.sandbox.base_url}/sandbox/webhooks", timeout=5).json()

    assert (embedded, registered) == (False, True)  # embedded registers through the sandbox
    assert json.dumps(hooks).count(world.webhook_url) >= 1
    order_id = world.place((world.skus[0], 1))
    events = wait_for(lambda: world.order_events(order_id), what="the order push")
    assert len(events) == 1 and events[0].store_id == world.store_id
    with session_scope(world.ctx, engine=world.engine) as session:
        metrics = stores.store_metrics(session, ctx=world.ctx, store_id=world.store_id)
        jobs = session.execute(sa.select(sa.func.count()).select_from(SyncJob)).scalar_one()
    assert metrics.last_push_at is not None
    assert jobs == 0  # no poll ran: the order came by push

    # A store that cannot be opened any more (disconnected since) is not a failed connect: the
    # registration says no and logs it, it does not raise.
    with session_scope(world.ctx, engine=world.engine) as session:
        session.execute(
            sa.update(Store).where(Store.id == world.store_id).values(status="disconnected")
        )
    again = asyncio.run(
        stores.register_pushes(
            ctx=world.ctx, store_id=world.store_id, settings=production, engine=world.engine
        )
    )
    assert again is False
