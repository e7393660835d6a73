"""Outbound webhooks: recorded with the change that makes them, signed, retried until they land,
paused when a receiver keeps failing, and never recorded for a change that was rolled back."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storesync.core.clock import set_clock, utcnow
from storesync.core.errors import ValidationFailed
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.notifications import webhooks
from storesync.notifications.models import Notification, WebhookDelivery, WebhookSubscription
from storesync.notifications.service import notify
from storesync.sandbox.server import serve_in_thread
from tests.sync import intake_fixtures as fx
from tests.sync.intake_fixtures import World, wait_for

engine = fx.engine
fresh_sandbox = fx.fresh_sandbox
world_factory = fx.world_factory

DELIVERIES = table_of(WebhookDelivery)


@dataclass
class Receiver:
    """A merchant's endpoint on loopback: records what it got; `down` answers 503."""

    url: str = ""
    down: bool = False
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    async def hook(request: Request) -> Response:
        if state.down:
            return Response(status_code=503)
        state.got.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    with serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:
        state.url = f"{base}/hook"
        yield state


@pytest.fixture
def clock() -> Iterator[Callable[[timedelta], None]]:
    offset = [timedelta(0)]
    set_clock(lambda: datetime.now(UTC) + offset[0])

    def move(by: timedelta) -> None:
        offset[0] += by

    yield move
    set_clock(None)


def subscribe(world: World, url: str, events: list[str]) -> webhooks.NewSubscriptionDTO:
    with session_scope(world.ctx, engine=world.engine) as session:
        return webhooks.create_subscription(session, ctx=world.ctx, url=url, events=events)


def deliveries(world: World) -> list[Any]:
    with session_scope(world.ctx, engine=world.engine) as session:
        return session.execute(sa.select(DELIVERIES).order_by(DELIVERIES.c.created_at)).all()


def deliver_all(world: World) -> list[str]:
    with session_scope(world.ctx, engine=world.engine) as session:
        ids = session.execute(
            sa.select(DELIVERIES.c.id).where(DELIVERIES.c.status == "pending")
        ).scalars()
        pending = list(ids)
    return [webhooks.deliver(i, world.ctx.organization_id, engine=world.engine) for i in pending]


@pytest.mark.parametrize("platform", ["shopee"])
def test_a_sandbox_order_reaches_the_subscriber_signed_and_lands_after_the_receiver_was_down(
    world_factory: Callable[[str], World],
    platform: str,
    receiver: Receiver,
    clock: Callable[[timedelta], None],
) -> None:
    world = world_factory(platform)
    made = subscribe(world, receiver.url, ["order.created"])
    world.process_in_background()
    world.register()
    receiver.down = True

    order_id = world.place((world.skus[0], 1))
    wait_for(lambda: world.order(order_id) is not None, what="the order to arrive")
    world.join()
    recorded = deliveries(world)
    assert [(d.event_type, d.status) for d in recorded] == [("order.created", "pending")]

    assert deliver_all(world) == ["retrying"]  # the receiver is down: kept, retried later
    assert receiver.got == []
    assert deliver_all(world) == ["skipped"]  # not due before its backoff
    clock(timedelta(seconds=11))
    receiver.down = False
    assert deliver_all(world) == ["delivered"]

    ((headers, body),) = receiver.got
    now = int(utcnow().timestamp())
    assert webhooks.verify_signature(made.secret, headers["storesync-signature"], body, now=now)
    assert not webhooks.verify_signature(
        "whsec_other", headers["storesync-signature"], body, now=now
    )
    assert not webhooks.verify_signature(
        made.secret, headers["storesync-signature"], body, now=now + 600
    )  # a replay long after is refused
    event = json.loads(body)
    assert (event["type"], event["data"]["platform_order_id"]) == ("order.created", order_id)
    assert headers["storesync-event"] == "order.created"
    assert headers["storesync-delivery"] == event["id"] == str(recorded[0].id)
    final = deliveries(world)[0]
    assert (final.status, final.attempts, final.last_status_code) == ("delivered", 2, 204)


def test_a_stock_change_records_its_figures_and_a_rolled_back_one_records_nothing(
    world_factory: Callable[[str], World], receiver: Receiver
) -> None:
    world = world_factory("shopee")
    subscribe(world, receiver.url, ["stock.changed"])
    variant = world.variants[world.skus[0]]
    with session_scope(world.ctx, engine=world.engine) as session:
        location = inventory.default_location(session, ctx=world.ctx).id

    with pytest.raises(RuntimeError), session_scope(world.ctx, engine=world.engine) as session:
        inventory.set_on_hand(
            session, ctx=world.ctx, variant_id=variant, location_id=location, quantity=3, reason="x"
        )
        raise RuntimeError("the rest of the change fails")
    assert deliveries(world) == []

    with session_scope(world.ctx, engine=world.engine) as session:
        inventory.set_on_hand(
            session,
            ctx=world.ctx,
            variant_id=variant,
            location_id=location,
            quantity=7,
            reason="count",
        )

    (row,) = deliveries(world)
    assert row.event_type == "stock.changed"
    assert row.payload == {
        "variants": [{"variant_id": str(variant), "on_hand": 7, "reserved": 0, "available": 7}]
    }


def test_a_subscription_failing_again_and_again_is_paused_and_the_owner_told(
    world_factory: Callable[[str], World], receiver: Receiver, clock: Callable[[timedelta], None]
) -> None:
    world = world_factory("shopee")
    made = subscribe(world, receiver.url, ["notification.created"])
    receiver.down = True
    with session_scope(world.ctx, engine=world.engine) as session:
        for n in range(webhooks.PAUSE_AFTER):
            notify(session, organization_id=world.ctx.organization_id, kind="test", title=f"n{n}")

    outcomes = deliver_all(world)

    assert outcomes == ["retrying"] * webhooks.PAUSE_AFTER
    with session_scope(world.ctx, engine=world.engine) as session:
        (sub,) = webhooks.list_subscriptions(session, ctx=world.ctx)
        paused_note = (
            session.execute(
                sa.select(table_of(Notification).c.kind).where(
                    table_of(Notification).c.kind == "webhook.paused"
                )
            )
            .scalars()
            .all()
        )
    assert (sub.status, sub.consecutive_failures) == ("paused", webhooks.PAUSE_AFTER)
    assert paused_note == ["webhook.paused"]
    clock(timedelta(minutes=5))
    assert set(deliver_all(world)) == {"skipped"}  # paused: nothing is sent

    receiver.down = False
    with session_scope(world.ctx, engine=world.engine) as session:
        webhooks.resume_subscription(session, ctx=world.ctx, subscription_id=made.subscription.id)
    delivered = deliver_all(world)
    # what waited, and the notice of the pause itself (a notification.created too)
    assert delivered == ["delivered"] * (webhooks.PAUSE_AFTER + 1)
    assert len(receiver.got) == webhooks.PAUSE_AFTER + 1


def test_a_delivery_sent_twice_at_once_is_sent_once(
    world_factory: Callable[[str], World], receiver: Receiver
) -> None:
    world = world_factory("shopee")
    subscribe(world, receiver.url, ["notification.created"])
    with session_scope(world.ctx, engine=world.engine) as session:
        notify(session, organization_id=world.ctx.organization_id, kind="t", title="t")
    (row,) = deliveries(world)
    outcomes: list[str] = []

    def send() -> None:
        outcomes.append(webhooks.deliver(row.id, world.ctx.organization_id, engine=world.engine))

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["delivered", "skipped", "skipped"]
    assert len(receiver.got) == 1


def test_bad_subscriptions_name_the_field_and_create_nothing(
    world_factory: Callable[[str], World],
) -> None:
    world = world_factory("shopee")
    cases = [
        ("ftp://example.com/hook", ["order.created"], "url"),
        ("https://example.com/hook", [], "events"),
        ("https://example.com/hook", ["order.deleted"], "events"),
    ]
    for url, events, field_name in cases:
        with pytest.raises(ValidationFailed) as refused:
            subscribe(world, url, events)
        assert refused.value.details["field"] == field_name
    with session_scope(world.ctx, engine=world.engine) as session:
        count = session.execute(
            sa.select(sa.func.count()).select_from(table_of(WebhookSubscription))
        ).scalar_one()
    assert count == 0


def test_in_production_a_private_address_is_refused() -> None:
    from storesync.settings import RunMode, get_settings

    cfg = get_settings().model_copy(update={"env": RunMode.PRODUCTION})
    for url in ("http://127.0.0.1:9000/h", "http://10.0.0.5/h", "http://localhost/h"):
        with pytest.raises(ValidationFailed):
            webhooks.check_url(url, cfg)
    assert webhooks.check_url("https://erp.example.com/h", cfg) == "https://erp.example.com/h"


def test_the_sweep_finds_due_deliveries_only(
    world_factory: Callable[[str], World], receiver: Receiver, clock: Callable[[timedelta], None]
) -> None:
    world = world_factory("shopee")
    subscribe(world, receiver.url, ["notification.created"])
    with session_scope(world.ctx, engine=world.engine) as session:
        notify(session, organization_id=world.ctx.organization_id, kind="t", title="t")
    (row,) = deliveries(world)
    orgs = [world.ctx.organization_id]

    assert webhooks.due_deliveries(engine=world.engine, organization_ids=orgs) == [
        (row.id, world.ctx.organization_id)
    ]
    receiver.down = True
    webhooks.deliver(row.id, world.ctx.organization_id, engine=world.engine)
    assert webhooks.due_deliveries(engine=world.engine, organization_ids=orgs) == []
    clock(timedelta(seconds=11))
    assert [d for d, _ in webhooks.due_deliveries(engine=world.engine, organization_ids=orgs)] == [
        row.id
    ]


def test_a_delivery_reaches_the_receiver_through_the_wired_actor(
    engine: Engine, receiver: Receiver
) -> None:
    """The embedded path: commit → `deliveries_ready` (connected by the composition root) →
    the `deliver_webhook` actor on a Dramatiq worker → the receiver."""
    import dramatiq

    from storesync import db
    from tests.catalog.conftest import new_org
    from workers import actors, wiring

    ctx = new_org(engine)
    with session_scope(ctx, engine=engine) as session:
        made = webhooks.create_subscription(
            session, ctx=ctx, url=receiver.url, events=["notification.created"]
        )
    for queue in ("default", "default.DQ"):
        actors.broker.flush(queue)  # messages other tests left on the stub broker
    worker = dramatiq.Worker(actors.broker, worker_threads=1, queues={"default"})
    db.use_engine(engine)
    try:
        wiring.connect_actors()
        worker.start()
        with session_scope(ctx, engine=engine) as session:
            notify(session, organization_id=ctx.organization_id, kind="t", title="hello")
        deadline = time.monotonic() + 15
        while not receiver.got:
            assert time.monotonic() < deadline, "nothing delivered"
            time.sleep(0.05)
    finally:
        worker.stop()
        wiring.disconnect_actors()
        db.use_engine(None)

    ((headers, body),) = receiver.got
    now = int(utcnow().timestamp())
    assert webhooks.verify_signature(made.secret, headers["storesync-signature"], body, now=now)
    assert json.loads(body)["data"]["title"] == "hello"
    with session_scope(ctx, engine=engine) as session:
        (row,) = session.execute(sa.select(DELIVERIES)).all()
    assert (row.status, row.attempts) == ("delivered", 1)
