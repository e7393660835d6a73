"""The sandbox's control API, webhook delivery, order generator and persistence, over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from storesync.core.clock import set_clock
from storesync.sandbox import persist
from storesync.sandbox.app import Sandbox
from storesync.sandbox.seed import SeedConfig
from storesync.sandbox.state import SandboxError
from tests.sandbox.conftest import Receiver, RunningSandbox


def _wait(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_apps_shops_and_listings(running_sandbox: RunningSandbox) -> None:
    with httpx.Client(base_url=f"{running_sandbox.base_url}/sandbox") as client:
        apps = client.get("/apps").json()
        shops = client.get("/shops").json()
        shopee = next(s for s in shops if s["platform"] == "shopee")
        listings = client.get(
            "/listings", params={"platform": "shopee", "shop_id": shopee["shop_id"]}
        ).json()
        missing = client.get("/listings", params={"platform": "shopee", "shop_id": "404"})

    assert set(apps) == {"shopee", "tiktok"}
    assert (
        isinstance(apps["shopee"]["partner_id"], int) and len(apps["shopee"]["partner_key"]) == 64
    )
    assert set(apps["tiktok"]) == {"app_key", "app_secret", "service_id"}
    assert sorted(s["platform"] for s in shops) == ["shopee", "tiktok"]
    assert shopee["items"] == 24 and len(listings) == shopee["models"]
    assert {"item_id", "model_id", "sku", "stock", "price"} <= set(listings[0])
    assert missing.status_code == 404


def test_a_deleted_item_is_gone_from_the_listings_and_a_second_delete_is_refused(
    running_sandbox: RunningSandbox,
) -> None:
    with httpx.Client(base_url=f"{running_sandbox.base_url}/sandbox") as client:
        shop = next(s for s in client.get("/shops").json() if s["platform"] == "tiktok")
        where = {"platform": "tiktok", "shop_id": shop["shop_id"]}
        before = client.get("/listings", params=where).json()
        item_id = before[0]["item_id"]
        deleted = client.post("/items/delete", json={**where, "item_id": item_id})
        after = client.get("/listings", params=where).json()
        again = client.post("/items/delete", json={**where, "item_id": item_id})

    assert deleted.json() == {"deleted": item_id}
    assert {row["item_id"] for row in after} == {row["item_id"] for row in before} - {item_id}
    assert len(after) == len(before) - sum(1 for row in before if row["item_id"] == item_id)
    assert again.status_code == 404 and "not found" in again.json()["error"]


def test_shared_skus_exist_across_platforms(running_sandbox: RunningSandbox) -> None:
    state = running_sandbox.state
    skus = {
        p: {m.sku for s in state.shops_of(p) for i in s.items.values() for m in i.models}
        for p in ("shopee", "tiktok")
    }
    shared = skus["shopee"] & skus["tiktok"]
    assert shared and skus["shopee"] - shared and skus["tiktok"] - shared


def test_placing_an_order_decrements_stock_and_refuses_overselling(
    running_sandbox: RunningSandbox,
) -> None:
    state = running_sandbox.state
    shop = state.shops_of("tiktok")[0]
    item, model = next((i, m) for i in shop.items.values() for m in i.models if m.stock >= 2)
    before = model.stock
    with httpx.Client(base_url=f"{running_sandbox.base_url}/sandbox") as client:
        placed = client.post(
            "/orders", json={"platform": "tiktok", "lines": [{"sku": model.sku, "quantity": 2}]}
        )
        too_many = client.post(
            "/orders",
            json={
                "platform": "tiktok",
                "lines": [{"item_id": item.id, "model_id": model.id, "quantity": before + 1}],
            },
        )
        cancelled = client.post(
            "/orders/status",
            json={
                "platform": "tiktok",
                "order_id": placed.json()["id"],
                "status": "CANCELLED",
                "restock": True,
            },
        )

    assert placed.status_code == 200 and placed.json()["status"] == "AWAITING_SHIPMENT"
    assert too_many.status_code == 409
    assert cancelled.json()["status"] == "CANCELLED"
    assert model.stock == before  # -2 by the order, +2 by the restocking cancel, 0 by the refusal


def test_webhooks_are_signed_delivered_and_retried(
    running_sandbox: RunningSandbox, receiver: Receiver
) -> None:
    receiver.fail_first[0] = 2  # the first two deliveries fail and must be retried
    with httpx.Client(base_url=f"{running_sandbox.base_url}/sandbox") as client:
        client.post("/webhooks", json={"url": receiver.url})
        apps = client.get("/apps").json()
        order = client.post("/orders", json={"platform": "shopee"}).json()
        assert _wait(lambda: client.get("/webhooks").json()["stats"]["delivered"] >= 2)
        stats = client.get("/webhooks").json()["stats"]

    key = apps["shopee"]["partner_key"].encode()
    bodies = [json.loads(body) for _, body in receiver.received]
    for headers, body in receiver.received:
        expected = hmac.new(key, receiver.url.encode() + b"|" + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["authorization"], expected)
    assert any(b["code"] == 3 and b["data"]["ordersn"] == order["id"] for b in bodies)
    assert stats["retried"] >= 2 and stats["failed"] == 0


def test_fault_injection_and_rate_limits_are_switchable(running_sandbox: RunningSandbox) -> None:
    with httpx.Client(base_url=running_sandbox.base_url) as client:
        client.post("/sandbox/faults", json={"platform": "shopee", "burst_5xx": 3})
        statuses = [client.get("/shopee/api/v2/shop/get_shop_info").status_code for _ in range(4)]
        bad = client.post("/sandbox/faults", json={"platform": "shopee", "nonsense": 1})
        calls = client.get("/sandbox/calls", params={"platform": "shopee"}).json()

    assert statuses[:3] == [503, 503, 503] and statuses[3] != 503
    assert bad.status_code == 400
    assert calls["total"] == 4
    assert sum(v for k, v in calls["counts"].items() if k.endswith("fault_5xx")) == 3


def test_generator_places_orders_at_the_configured_rate(running_sandbox: RunningSandbox) -> None:
    with httpx.Client(base_url=f"{running_sandbox.base_url}/sandbox") as client:
        client.post("/generator", json={"orders_per_minute": 1200})
        time.sleep(1.0)
        client.post("/generator", json={"orders_per_minute": 0})
        status = client.get("/generator").json()

    assert 15 <= status["placed"] + status["skipped"] <= 25
    assert len(running_sandbox.state.orders) == status["placed"]


def test_the_world_survives_a_restart_with_a_state_file(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.sqlite"
    first = Sandbox(seed=SeedConfig(seed=3, products_per_shop=5), state_file=path)
    order = first.generator.place_one_on("shopee", None) and next(iter(first.state.orders.values()))
    first.state.webhooks["shopee"] = "http://127.0.0.1:9/hook"
    persist.save(first.state, path)

    second = Sandbox(seed=SeedConfig(seed=99, products_per_shop=5), state_file=path)

    assert order and (order.platform, order.id) in second.state.orders
    assert second.state.apps["shopee"] == first.state.apps["shopee"]
    assert second.state.webhooks == {"shopee": "http://127.0.0.1:9/hook"}
    stock = {
        (s.id, m.id): m.stock
        for s in second.state.shops.values()
        for i in s.items.values()
        for m in i.models
    }
    assert stock == {
        (s.id, m.id): m.stock
        for s in first.state.shops.values()
        for i in s.items.values()
        for m in i.models
    }


@pytest.mark.parametrize("body", [{"platform": "amazon"}, {}])
def test_authorize_validates_the_platform(running_sandbox: RunningSandbox, body: dict) -> None:
    response = httpx.post(f"{running_sandbox.base_url}/sandbox/authorize", json=body)
    assert response.status_code == 400 and "platform must be one of" in response.json()["error"]


def test_every_generated_order_reaches_the_receiver_signed(
    running_sandbox: RunningSandbox, receiver: Receiver
) -> None:
    """The generator at 600 orders a minute for 3 s: every queued push is delivered once."""
    with httpx.Client(base_url=f"{running_sandbox.base_url}/sandbox") as client:
        apps = client.get("/apps").json()
        client.post("/webhooks", json={"url": receiver.url})
        client.post("/generator", json={"orders_per_minute": 600})
        time.sleep(3.0)
        client.post("/generator", json={"orders_per_minute": 0})
        assert _wait(
            lambda: (s := client.get("/webhooks").json()["stats"])["delivered"] == s["queued"]
        )
        stats = client.get("/webhooks").json()["stats"]
    order_pushes = {
        json.loads(body).get("data", {}).get("ordersn") or json.loads(body)["data"].get("order_id")
        for _, body in receiver.received
        if json.loads(body).get("code") == 3 or json.loads(body).get("type") == 1
    }

    assert len(receiver.received) == stats["delivered"] == stats["queued"] and stats["failed"] == 0
    assert order_pushes == {o.id for o in running_sandbox.state.orders.values()}
    assert 25 <= len(order_pushes) <= 35
    for headers, body in receiver.received:
        payload = json.loads(body)
        if "tts_notification_id" in payload:
            message = apps["tiktok"]["app_key"].encode() + body
            key = apps["tiktok"]["app_secret"].encode()
        else:
            message, key = (
                receiver.url.encode() + b"|" + body,
                apps["shopee"]["partner_key"].encode(),
            )
        assert headers["authorization"] == hmac.new(key, message, hashlib.sha256).hexdigest()


def test_malformed_bodies_arrive_as_truncated_json(running_sandbox: RunningSandbox) -> None:
    with httpx.Client(base_url=running_sandbox.base_url) as client:
        client.post("/sandbox/faults", json={"platform": "shopee", "malformed_rate": 1.0})
        response = client.get("/shopee/api/v2/shop/get_shop_info")
        client.post("/sandbox/faults", json={"platform": "shopee", "malformed_rate": 0})

    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert response.content.startswith(b"{")


def test_the_sandbox_reads_the_clock_it_is_given(tmp_path: Path) -> None:
    moment = [datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)]
    path = tmp_path / "sandbox.sqlite"
    sandbox = Sandbox(
        seed=SeedConfig(seed=3, products_per_shop=5), state_file=path, clock=lambda: moment[0]
    )
    state, start = sandbox.state, int(moment[0].timestamp())
    shop = state.shops_of("shopee")[0]
    item = next(iter(shop.items.values()))

    assert state.now() == start
    assert all(i.create_time <= start - 86400 for i in shop.items.values())
    code = state.issue_code("shopee", shop.id)
    assert code.expires_at == start + sandbox.lifetimes.code
    token = state.exchange_code("shopee", code.code, shop.id)
    assert token.access_expires_at == start + sandbox.lifetimes.shopee_access
    order = state.place_order("shopee", shop.id, [(item.id, item.models[0].id, 1)])
    assert order.create_time == start and state.events[-1].timestamp == start

    moment[0] += timedelta(seconds=sandbox.lifetimes.shopee_access)
    with pytest.raises(SandboxError, match="expired"):
        state.check_token("shopee", token.access_token, shop.id)

    sandbox.reset()  # the same state object, the same clock
    assert sandbox.state.now() == int(moment[0].timestamp())
    persist.save(sandbox.state, path)
    restarted = Sandbox(state_file=path, clock=lambda: moment[0] + timedelta(days=1))
    assert restarted.state.now() == int(moment[0].timestamp()) + 86400
    restarted.reset()
    assert restarted.state.now() == int(moment[0].timestamp()) + 86400


def test_without_a_clock_the_sandbox_keeps_real_time() -> None:
    """StoreSync's clock moves only a sandbox built with it (`clock=utcnow`)."""
    set_clock(lambda: datetime(2040, 1, 1, tzinfo=UTC))
    try:
        sandbox = Sandbox(seed=SeedConfig(seed=3, products_per_shop=1))
        assert abs(sandbox.state.now() - time.time()) < 60
    finally:
        set_clock(None)
