"""Pushes in a burst, as `bench/webhook_intake.py` sends them but small (no timing asserted): every
push delivered three times at once over real HTTP is acknowledged each time, stored once and
handed over once (the intake writes the pushes that arrive together in one batch); a push the
database refuses fails alone, not its batch."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from storesync.channels.apps import app_credentials
from storesync.channels.shopee import signing as shopee_signing
from storesync.channels.tiktok import signing as tiktok_signing
from storesync.sync.intake import pushes
from storesync.sync.intake import routes as webhooks
from tests.sync import intake_fixtures as fx
from tests.sync.intake_fixtures import World

# The fixtures these tests use (tests/sync has no conftest of ours).
engine = fx.engine
fresh_sandbox = fx.fresh_sandbox
world_factory = fx.world_factory

MakeWorld = Callable[[str], World]
PUSHES = 30


def order_push(world: World, order_id: str) -> tuple[bytes, str]:
    """A signed order push for `order_id` of the world's shop: (body, Authorization)."""
    app = app_credentials(world.platform, world.cfg)
    data = {"update_time": 1_760_000_000}
    payload: dict[str, Any]
    if world.platform == "shopee":
        data.update(ordersn=order_id, status="READY_TO_SHIP")
        payload = {"shop_id": int(world.shop_id), "code": 3, "timestamp": 1, "data": data}
        body = json.dumps(payload, separators=(",", ":")).encode()
        base = shopee_signing.push_base(world.webhook_url, body)
        return body, shopee_signing.sign(app.secret, base)
    data.update(order_id=order_id, order_status="UNPAID")
    notification = str(7_380_000_000_000_000_000 + int(order_id.removeprefix("B")))
    payload = {"type": 1, "tts_notification_id": notification, "shop_id": world.shop_id}
    body = json.dumps({**payload, "timestamp": 1, "data": data}, separators=(",", ":")).encode()
    return body, tiktok_signing.push_signature(app.key, app.secret, body)


async def send_all(url: str, signed: list[tuple[bytes, str]]) -> list[int]:
    limits = httpx.Limits(max_connections=24)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        answers = await asyncio.gather(
            *(
                client.post(url, content=body, headers={"Authorization": signature})
                for body, signature in signed
            )
        )
    return [answer.status_code for answer in answers]


def test_a_burst_of_pushes_each_sent_three_times_at_once_is_stored_and_handed_over_once(
    world_factory: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = world_factory("tiktok")
    signed = [order_push(world, f"B{n}") for n in range(PUSHES)]
    copies = [push for push in signed for _ in range(3)]
    random.Random(7).shuffle(copies)

    statuses = asyncio.run(send_all(world.webhook_url, copies))

    assert statuses == [200] * len(copies)
    events = world.events()
    keys = {pushes.read_push("tiktok", json.loads(body)).dedupe_key for body, _ in signed}
    assert len(events) == PUSHES and {e.dedupe_key for e in events} == keys
    assert {(e.status, e.attempts, e.store_id) for e in events} == {("received", 0, world.store_id)}
    handed = sorted(world.routes.hook_calls)
    assert handed == sorted((e.id, world.ctx.organization_id) for e in events)

    # A push the database refuses fails alone: the rest of its batch is stored and handed over.
    batch = []
    for order_id in ("B101", "B102", "B103"):
        payload = json.loads(order_push(world, order_id)[0])
        batch.append((pushes.read_push("tiktok", payload), payload))
    refused = batch[1][0].dedupe_key
    store = pushes.store_pushes

    def refusing(engine: Any, some: list[tuple[pushes.Push, dict[str, Any]]]) -> Any:
        if any(push.dedupe_key == refused for push, _ in some):
            raise RuntimeError("the database refused it")
        return store(engine, some)

    monkeypatch.setattr(webhooks, "store_pushes", refusing)

    results = webhooks._store_batch(world.engine, batch)

    assert [type(r).__name__ for r in results] == ["Stored", "RuntimeError", "Stored"]
    stored = {event.dedupe_key for event in world.events()} - keys
    assert stored == {batch[0][0].dedupe_key, batch[2][0].dedupe_key}
    assert len(world.routes.hook_calls) == PUSHES + 2
