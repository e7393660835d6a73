"""Fulfilment through the API against the sandbox over HTTP: shipping options, arranging a
shipment (and the platform's refusals), labels, pick lists, packing slips, cancelling on the
marketplace, and resolving a buyer's return."""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pypdf
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from storesync import db
from storesync import settings as settings_module
from storesync.db import session_scope
from storesync.fulfilment.models import OrderReturn
from storesync.orders.models import Order
from storesync.sync.intake import poll
from storesync.sync.intake.returns import sync_returns
from tests.api.conftest import ApiWorld, make_world
from tests.channels.conftest import connect_store
from tests.sandbox.conftest import RunningSandbox, running_sandbox  # noqa: F401


@pytest.fixture
def shipping_world(engine: Engine, running_sandbox: RunningSandbox) -> Iterator[dict[str, Any]]:  # noqa: F811
    """An organization with the sandbox's Shopee and TikTok shops connected, and the process's
    settings pointed at the sandbox (the API's services read them)."""
    base = running_sandbox.base_url
    env = {
        "STORESYNC_SHOPEE_BASE_URL": f"{base}/shopee",
        "STORESYNC_TIKTOK_BASE_URL": f"{base}/tiktok",
        "STORESYNC_TIKTOK_AUTH_BASE_URL": f"{base}/tiktok-auth",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    settings_module.get_settings.cache_clear()
    db.use_engine(engine)
    try:
        world = make_world(engine)
        cfg = settings_module.get_settings()
        stores = {p: connect_store(engine, world.ctx, p, cfg) for p in ("shopee", "tiktok")}
        yield {"world": world, "stores": stores, "sandbox": running_sandbox}
    finally:
        db.use_engine(None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        settings_module.get_settings.cache_clear()


def _place(w: dict[str, Any], platform: str) -> tuple[str, uuid.UUID]:
    """A sandbox order, polled into StoreSync: (platform order id, StoreSync order id)."""
    base = w["sandbox"].base_url
    placed = httpx.post(f"{base}/sandbox/orders", json={"platform": platform}).json()
    world: ApiWorld = w["world"]

    async def pull() -> None:
        with session_scope(world.ctx, engine=world.engine) as session:
            await poll.sync_orders(session, ctx=world.ctx, store_id=w["stores"][platform])

    asyncio.run(pull())
    with session_scope(world.ctx, engine=world.engine) as session:
        row = session.exec(select(Order).where(Order.platform_order_id == placed["id"])).one()
    return placed["id"], row.id


def _pdf_pages(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages]


def test_arrange_print_and_the_platforms_refusals(shipping_world: dict[str, Any]) -> None:
    w = shipping_world
    api = w["world"].api
    state = w["sandbox"].state
    shopee_id, shopee_order = _place(w, "shopee")
    tiktok_id, tiktok_order = _place(w, "tiktok")

    options = api.get(f"/orders/{shopee_order}/shipping-options")
    assert options.status_code == 200, options.text
    offered = options.json()
    assert set(offered["methods"]) == {"pickup", "dropoff"}
    address = offered["addresses"][0]
    pickup = {
        "method": "pickup",
        "address_id": address["address_id"],
        "slot_id": address["slots"][0]["slot_id"],
    }

    arranged = api.post(f"/orders/{shopee_order}/shipment", json=pickup)

    assert arranged.status_code == 200, arranged.text
    tracking = state.order("shopee", shopee_id).tracking_number
    assert arranged.json()["ok"] is True and arranged.json()["tracking_number"] == tracking != ""
    assert state.order("shopee", shopee_id).status == "PROCESSED"
    again = api.post(f"/orders/{shopee_order}/shipment", json=pickup)
    assert (again.status_code, again.json()["code"]) == (409, "already_arranged")

    not_offered = api.post(
        f"/orders/{tiktok_order}/shipment",
        json={"method": "pickup", "address_id": "shop", "slot_id": "1-2"},
    )
    assert not_offered.status_code == 422, not_offered.text
    assert not_offered.json()["message"]  # the platform's own words
    assert state.order("tiktok", tiktok_id).status == "AWAITING_SHIPMENT"
    with session_scope(w["world"].ctx, engine=w["world"].engine) as session:
        row = session.get(Order, tiktok_order)
        assert row is not None and row.arranged_at is None and row.tracking_number == ""

    label = _pdf_pages(api.get(f"/orders/{shopee_order}/label"))
    assert len(label) == 1 and tracking in label[0]
    missing = api.get(f"/orders/{tiktok_order}/label")
    assert missing.status_code == 404

    printed = api.post("/orders/labels", json={"order_ids": [str(shopee_order), str(tiktok_order)]})
    pages = _pdf_pages(printed)
    assert len(pages) == 1 and tracking in pages[0]
    assert (
        printed.headers["storesync-labels-printed"],
        printed.headers["storesync-labels-failed"],
    ) == ("1", "1")
    nothing = api.post("/orders/labels", json={"order_ids": [str(tiktok_order)]})
    assert (nothing.status_code, nothing.json()["code"]) == (409, "no_labels")

    both = {"order_ids": [str(shopee_order), str(tiktok_order)]}
    pick = "\n".join(_pdf_pages(api.post("/orders/pick-list", json=both)))
    lines = state.order("shopee", shopee_id).lines + state.order("tiktok", tiktok_id).lines
    units = sum(line.quantity for line in lines)
    assert f"2 orders  ·  {len({ln.sku for ln in lines})} lines  ·  {units} units" in pick
    assert pick.endswith(f"Total, all locations\n{units}\n")
    assert all(line.sku in pick for line in lines)
    slips = _pdf_pages(api.post("/orders/packing-slips", json=both))
    assert len(slips) == 2 and shopee_id in slips[0] and tiktok_id in slips[1]
    assert tracking in slips[0]

    cancelled = api.post(f"/orders/{tiktok_order}/cancel", json={"reason": "out_of_stock"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert state.order("tiktok", tiktok_id).status == "CANCELLED"

    refused = api.post(f"/orders/{shopee_order}/cancel", json={"reason": "customer_request"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["message"]
    assert state.order("shopee", shopee_id).status == "PROCESSED"
    with session_scope(w["world"].ctx, engine=w["world"].engine) as session:
        row = session.get(Order, shopee_order)
        assert row is not None and row.status == "to_ship"

    bad = api.post(f"/orders/{shopee_order}/cancel", json={"reason": "bored"})
    assert (bad.status_code, bad.json()["details"]["field"]) == (422, "reason")


def test_returns_are_listed_and_resolved_once(shipping_world: dict[str, Any]) -> None:
    w = shipping_world
    api, world = w["world"].api, w["world"]
    base = w["sandbox"].base_url
    shopee_id, order_id = _place(w, "shopee")
    assert api.post(f"/orders/{order_id}/shipment", json={"method": "dropoff"}).status_code == 200
    httpx.post(f"{base}/sandbox/orders/advance", json={"platform": "shopee", "order_id": shopee_id})
    opened = httpx.post(
        f"{base}/sandbox/returns", json={"platform": "shopee", "order_id": shopee_id}
    ).json()

    asyncio.run(sync_returns(ctx=world.ctx, store_id=w["stores"]["shopee"]))

    requested = api.get("/returns", params={"state": "requested"})
    assert requested.status_code == 200
    assert [r["platform_return_id"] for r in requested.json()["items"]] == [opened["id"]]
    assert api.get("/returns", params={"unresolved": "true"}).json()["items"] == []
    early = api.post(
        f"/returns/{requested.json()['items'][0]['id']}/resolve", json={"resolution": "write_off"}
    )
    assert (early.status_code, early.json()["code"]) == (409, "return_not_completed")

    httpx.post(
        f"{base}/sandbox/returns/stage",
        json={"platform": "shopee", "return_id": opened["id"], "stage": "completed"},
    )
    asyncio.run(sync_returns(ctx=world.ctx, store_id=w["stores"]["shopee"]))
    waiting = api.get("/returns", params={"unresolved": "true"}).json()["items"]
    assert [r["state"] for r in waiting] == ["completed"]

    done = api.post(f"/returns/{waiting[0]['id']}/resolve", json={"resolution": "write_off"})

    assert done.status_code == 200, done.text
    assert done.json()["resolution"] == "write_off"
    twice = api.post(f"/returns/{waiting[0]['id']}/resolve", json={"resolution": "restock"})
    assert (twice.status_code, twice.json()["code"]) == (409, "already_resolved")
    with session_scope(world.ctx, engine=world.engine) as session:
        rows = session.exec(select(OrderReturn)).all()
    assert [(r.resolution, r.resolved_by_user_id is None) for r in rows] == [("write_off", True)]
