"""The Shopee simulator over real HTTP on 127.0.0.1, driven by a client written here.

The client signs with its own HMAC helper (not the simulator's) so the tests pin the wire
format: a client that is wrong against Shopee must fail here too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from storesync.core.clock import set_clock, utcnow
from storesync.sandbox.app import Sandbox
from storesync.sandbox.shopee.sim import ShopeeSim, push_signature, sign
from storesync.sandbox.state import Item, Model, SandboxEvent, SandboxState, Shop
from tests.sandbox.conftest import Receiver, RunningSandbox

AUTH_ERRORS = ("error_auth", "invalid_access_token", "invalid_acceess_token")


def hmac_hex(key: str, message: bytes) -> str:
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


@dataclass
class Client:
    """A minimal Shopee v2 client: common params in the query, JSON bodies, §1.2 signing."""

    http: httpx.Client
    partner_id: int
    partner_key: str
    shop_id: int = 0
    access_token: str = ""
    refresh_token: str = ""

    def common(self, path: str, *, shop: bool, timestamp: int | None = None) -> dict[str, Any]:
        ts = timestamp if timestamp is not None else int(utcnow().timestamp())
        base = f"{self.partner_id}{path}{ts}"
        params: dict[str, Any] = {"partner_id": self.partner_id, "timestamp": ts}
        if shop:
            base += f"{self.access_token}{self.shop_id}"
            params |= {"access_token": self.access_token, "shop_id": self.shop_id}
        params["sign"] = hmac_hex(self.partner_key, base.encode())
        return params

    def public(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, params=self.common(path, shop=False), json=body)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params={**params, **self.common(path, shop=True)})

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, params=self.common(path, shop=True), json=body)

    def exchange(self, code: str) -> httpx.Response:
        body = {"code": code, "partner_id": self.partner_id, "shop_id": self.shop_id}
        response = self.public("/api/v2/auth/token/get", body)
        if response.json()["error"] == "":
            self.access_token = response.json()["access_token"]
            self.refresh_token = response.json()["refresh_token"]
        return response

    def refresh(self) -> httpx.Response:
        body = {
            "refresh_token": self.refresh_token,
            "partner_id": self.partner_id,
            "shop_id": self.shop_id,
        }
        response = self.public("/api/v2/auth/access_token/get", body)
        if response.json()["error"] == "":
            self.access_token = response.json()["access_token"]
            self.refresh_token = response.json()["refresh_token"]
        return response

    def get_with_refresh(self, path: str, **params: Any) -> httpx.Response:
        """What SDKs do: on an auth error refresh once and retry once."""
        response = self.get(path, **params)
        if response.json()["error"] in AUTH_ERRORS:
            assert self.refresh().json()["error"] == ""
            response = self.get(path, **params)
        return response


@dataclass
class World:
    base_url: str
    sandbox: Sandbox
    shop: Shop
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def state(self) -> SandboxState:
        return self.sandbox.state

    def client(self, *, authorized: bool = True) -> Client:
        app = self.state.apps["shopee"]
        http = httpx.Client(base_url=f"{self.base_url}/shopee", timeout=5)
        self.clients.append(http)
        client = Client(http, int(app.key), app.secret, shop_id=int(self.shop.id))
        if authorized:
            assert client.exchange(self.state.issue_code("shopee", self.shop.id).code).is_success
        return client


@pytest.fixture
def world(running_sandbox: RunningSandbox) -> Iterator[World]:
    """The shared sandbox (both simulators, fault middleware, webhook delivery) on loopback."""
    sandbox = running_sandbox.sandbox
    world = World(running_sandbox.base_url, sandbox, sandbox.state.shops_of("shopee")[0])
    yield world
    for http in world.clients:
        http.close()


def ok(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and body["error"] == "", body
    return body


def fails(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert (response.status_code, body["error"]) == (status, error), body
    assert body["request_id"] and body["message"]
    return body


def models_of(shop: Shop, *, with_models: bool) -> tuple[Item, list[Model]]:
    item = next(i for i in shop.items.values() if i.has_models == with_models)
    return item, item.models


# -- signatures --------------------------------------------------------------------------------

VECTORS = [
    ("abc", "1/api/v2/shop/auth_partner1610000000", "c182b8cd3c3ea1d52ccb1a213ff5dbc9388520f455fc2a13523bd0e829798bf0"),  # noqa: E501
    ("test_partner_key", "2001887/api/v2/shop/auth_partner1655714431", "7aaf77cf2fb63bdf25623b6c3c2ad87ad51ccf4fe66e370b93b89f28bcafe45c"),  # noqa: E501
    ("test_partner_key", "2001887/api/v2/product/get_item_list165571443159777174636562737266615546704c6d14701711", "9d1c7b774dc15a752c1b0a15e34b97d3d0b3a0c4077490aaf6276242ab965b1c"),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(("key", "base", "expected"), VECTORS)
def test_sign_matches_the_documented_vectors(key: str, base: str, expected: str) -> None:
    assert sign(key, base) == expected
    assert hmac_hex(key, base.encode()) == expected


def test_push_signature_matches_the_documented_vector() -> None:
    body = (
        b'{"data":{"ordersn":"220101ABCDEF","status":"READY_TO_SHIP","update_time":1655714431},'
        b'"shop_id":14701711,"code":3,"timestamp":1655714431}'
    )
    expected = "a3b07a917c9c45c90da540b3c1397b933eda7a1ae81d050ffdf5a9b9ce19b581"
    url = "https://example.com/webhooks/shopee"
    assert push_signature("test_partner_key", url, body) == expected
    assert hmac_hex("test_partner_key", url.encode() + b"|" + body) == expected


def test_signed_calls_are_accepted_and_bad_ones_rejected(world: World) -> None:
    client = world.client()
    path = "/api/v2/shop/get_shop_info"
    assert ok(client.get(path))["shop_name"] == world.shop.name  # profile at the top level

    params = client.common(path, shop=True)
    fails(client.http.get(path, params={**params, "sign": "0" * 64}), 403, "error_sign")
    upper = {**params, "sign": params["sign"].upper()}
    fails(client.http.get(path, params=upper), 403, "error_sign")
    # The platform's path or the whole path sent (mount prefix included, as a client given the
    # sandbox's base URL signs it) are both accepted; any other path is not.
    prefixed = client.common("/shopee" + path, shop=True)
    assert client.http.get(path, params=prefixed).json()["error"] == ""
    elsewhere = client.common("/elsewhere" + path, shop=True)
    fails(client.http.get(path, params=elsewhere), 403, "error_sign")

    stale = client.common(path, shop=True, timestamp=int(utcnow().timestamp()) - 301)
    body = fails(client.http.get(path, params=stale), 400, "error_param")
    assert body["message"] == "Timestamp is expired"
    future = client.common(path, shop=True, timestamp=int(utcnow().timestamp()) + 301)
    fails(client.http.get(path, params=future), 400, "error_param")

    for name in ("partner_id", "timestamp", "sign", "access_token", "shop_id"):
        missing = {k: v for k, v in params.items() if k != name}
        body = fails(client.http.get(path, params=missing), 400, "error_param")
        assert name in body["message"] or name == "timestamp", body

    stranger = Client(client.http, client.partner_id + 1, client.partner_key)
    body = fails(stranger.public("/api/v2/push/set_app_push_config", {}), 400, "error_param")
    assert body["message"] == "Invalid partner_id."
    wrong_key = Client(client.http, client.partner_id, "not-the-key")
    fails(wrong_key.public("/api/v2/push/set_app_push_config", {}), 403, "error_sign")


def test_shop_calls_need_the_shop_level_signature(world: World) -> None:
    client = world.client()
    path = "/api/v2/shop/get_shop_info"
    public_only = {
        **client.common(path, shop=False),
        "access_token": client.access_token,
        "shop_id": client.shop_id,
    }
    fails(client.http.get(path, params=public_only), 403, "error_sign")


# -- OAuth -------------------------------------------------------------------------------------


def test_oauth_round_trip_from_consent_page_to_a_shop_call(world: World) -> None:
    client = world.client(authorized=False)
    path = "/api/v2/shop/auth_partner"
    redirect = "https://erp.example.com/shopee/callback?state=xyz"
    page = client.http.get(path, params={**client.common(path, shop=False), "redirect": redirect})
    assert page.status_code == 200 and 'id="authorize"' in page.text
    form = dict(re.findall(r'name="(nonce|shop_id)" value="([^"]+)"', page.text))
    assert form["shop_id"] == world.shop.id

    answer = client.http.post(page.url, data=form, follow_redirects=False)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect.split("?")[0]
    assert query["state"] == ["xyz"] and query["shop_id"] == [world.shop.id]

    tokens = ok(client.exchange(query["code"][0]))
    assert {"access_token", "refresh_token", "expire_in", "request_id", "message"} <= set(tokens)
    assert "response" not in tokens and 14_000 < tokens["expire_in"] <= 4 * 3600
    assert ok(client.get("/api/v2/shop/get_shop_info"))["region"] == "ID"
    fails(client.exchange(query["code"][0]), 403, "error_auth")  # the code works once
    fails_html(client.http.post(page.url, data=form, follow_redirects=False))  # nonce spent


def fails_html(response: httpx.Response) -> None:
    assert response.status_code == 400 and "<h1>" in response.text


def test_consent_page_needs_a_signed_link_and_a_redirect(world: World) -> None:
    client = world.client(authorized=False)
    path = "/api/v2/shop/auth_partner"
    params = {**client.common(path, shop=False), "sign": "f" * 64, "redirect": "https://x.test/"}
    fails(client.http.get(path, params=params), 403, "error_sign")
    fails(client.http.get(path, params=client.common(path, shop=False)), 400, "error_param")
    fails_html(client.http.post(path, data={"nonce": "forged", "shop_id": world.shop.id}))


def test_consent_page_lets_the_seller_pick_one_of_several_shops(world: World) -> None:
    second = Shop("shopee", "14799999", "Toko Kedua", "ID", "IDR")
    world.state.shops[("shopee", second.id)] = second
    client = world.client(authorized=False)
    path = "/api/v2/shop/auth_partner"
    params = {**client.common(path, shop=False), "redirect": "https://erp.example.com/cb"}
    page = client.http.get(path, params=params)
    assert '<select id="shop_id" name="shop_id">' in page.text
    assert f'value="{second.id}"' in page.text and f'value="{world.shop.id}"' in page.text
    nonce = re.findall(r'name="nonce" value="([^"]+)"', page.text)[0]
    answer = client.http.post(page.url, data={"nonce": nonce, "shop_id": second.id})
    assert parse_qs(urlsplit(answer.headers["location"]).query)["shop_id"] == [second.id]


def test_expired_access_token_is_refreshed_and_the_old_refresh_token_is_spent(
    world: World,
) -> None:
    client = world.client()
    first_access, first_refresh = client.access_token, client.refresh_token
    later = utcnow() + timedelta(hours=4, seconds=30)
    set_clock(lambda: later)
    try:
        expired = client.get("/api/v2/shop/get_shop_info")
        assert fails(expired, 403, "invalid_acceess_token")["message"] == "Invalid access_token."
        assert ok(client.get_with_refresh("/api/v2/shop/get_shop_info"))["shop_name"]
        assert client.refresh_token != first_refresh and client.access_token != first_access

        replay = Client(client.http, client.partner_id, client.partner_key, client.shop_id)
        replay.refresh_token = first_refresh
        assert fails(replay.refresh(), 403, "error_auth")["message"] == "Invalid refresh_token."
        replay.access_token = first_access
        fails(replay.get("/api/v2/shop/get_shop_info"), 403, "invalid_acceess_token")
    finally:
        set_clock(None)


def test_refresh_answers_the_rotated_tokens_at_the_top_level(world: World) -> None:
    client = world.client()
    body = ok(client.refresh())
    assert body["shop_id"] == client.shop_id and body["partner_id"] == client.partner_id
    assert body["expire_in"] > 0 and "response" not in body


# -- products ----------------------------------------------------------------------------------


def add_items(shop: Shop, count: int) -> None:
    for number in range(count):
        item_id = str(90_000_000_000 + number * 7)
        model = Model("0", f"BULK-{number}", "", Decimal(10_000), 5)
        shop.items[item_id] = Item(item_id, f"Bulk {number}", "NORMAL", False, [model], [], 1, 1)


def test_item_list_pages_walk_every_item_exactly_once(world: World) -> None:
    add_items(world.shop, 250)
    client = world.client()
    seen: list[int] = []
    offset, pages = 0, 0
    while True:
        params = {"offset": offset, "page_size": 100, "item_status": ["NORMAL", "BANNED"]}
        page = ok(client.get("/api/v2/product/get_item_list", **params))["response"]
        seen += [entry["item_id"] for entry in page["item"]]
        pages += 1
        assert page["total_count"] == len(world.shop.items)
        if not page["has_next_page"]:
            break
        offset = page["next_offset"]
    assert pages == 3 and len(seen) == len(set(seen)) == len(world.shop.items)
    assert set(seen) == {int(i) for i in world.shop.items}


def test_item_list_validates_its_parameters(world: World) -> None:
    client = world.client()
    path = "/api/v2/product/get_item_list"
    fails(client.get(path, offset=0, page_size=10), 400, "error_param")  # item_status required
    fails(client.get(path, offset=0, page_size=101, item_status="NORMAL"), 400, "error_param")
    fails(client.get(path, offset=0, page_size=0, item_status="NORMAL"), 400, "error_param")
    bad = client.get(path, offset=0, page_size=10, item_status="NORMAL,BANNED")
    fails(bad, 400, "error_param_item_status")  # a repeated parameter, not a comma list


def test_item_base_info_takes_at_most_50_ids(world: World) -> None:
    add_items(world.shop, 60)
    client = world.client()
    ids = sorted(int(i) for i in world.shop.items)
    path = "/api/v2/product/get_item_base_info"
    fails(client.get(path, item_id_list=",".join(map(str, ids[:51]))), 400, "error_param")
    items = ok(client.get(path, item_id_list=",".join(map(str, ids[:50]))))["response"]
    assert len(items["item_list"]) == 50
    for entry in items["item_list"]:
        assert ("price_info" in entry) is (not entry["has_model"])
        assert entry["stock_info_v2"]["summary_info"]["total_available_stock"] >= 0


def test_model_list_answers_tiers_and_seller_stock(world: World) -> None:
    client = world.client()
    item, models = models_of(world.shop, with_models=True)
    body = ok(client.get("/api/v2/product/get_model_list", item_id=item.id))["response"]
    options = body["tier_variation"][0]["option_list"]
    for entry in body["model"]:
        model = next(m for m in models if m.id == str(entry["model_id"]))
        assert options[entry["tier_index"][0]]["option"] == model.name
        assert entry["stock_info_v2"]["seller_stock"][0]["stock"] == model.stock
        assert entry["model_sku"] == model.sku
    single, _ = models_of(world.shop, with_models=False)
    empty = ok(client.get("/api/v2/product/get_model_list", item_id=single.id))["response"]
    assert empty == {"tier_variation": [], "model": []}


def stock_entry(model_id: int, stock: int) -> dict[str, Any]:
    return {"model_id": model_id, "seller_stock": [{"stock": stock}]}


def test_update_stock_sets_absolute_stock_and_refuses_negative(world: World) -> None:
    client = world.client()
    item, models = models_of(world.shop, with_models=True)
    first, second = int(models[0].id), int(models[1].id)
    body = {"item_id": int(item.id), "stock_list": [stock_entry(first, 7), stock_entry(second, -1)]}
    answer = ok(client.post("/api/v2/product/update_stock", body))["response"]
    assert answer["success_list"] == [{"model_id": first, "location_id": "IDZ", "stock": 7}]
    assert [f["model_id"] for f in answer["failure_list"]] == [second]
    assert models[0].stock == 7 and models[1].stock >= 0

    only_negative = {"item_id": int(item.id), "stock_list": [stock_entry(second, -5)]}
    refused = fails(
        client.post("/api/v2/product/update_stock", only_negative),
        400,
        "error_busi_update_stock_failed",
    )
    assert refused["response"]["failure_list"][0]["model_id"] == second

    single, (model,) = models_of(world.shop, with_models=False)
    no_models = {"item_id": int(single.id), "stock_list": [stock_entry(0, 12)]}
    ok(client.post("/api/v2/product/update_stock", no_models))
    assert model.stock == 12


def test_update_stock_takes_1_to_50_entries_of_one_item(world: World) -> None:
    client = world.client()
    item, models = models_of(world.shop, with_models=True)
    before = [m.stock for m in models]
    too_many = {"item_id": int(item.id), "stock_list": [stock_entry(i, 1) for i in range(51)]}
    fails(client.post("/api/v2/product/update_stock", too_many), 400, "error_param")
    empty = {"item_id": int(item.id), "stock_list": []}
    fails(client.post("/api/v2/product/update_stock", empty), 400, "error_param")
    as_text = {"item_id": item.id, "stock_list": [stock_entry(int(models[0].id), 1)]}
    fails(client.post("/api/v2/product/update_stock", as_text), 400, "error_param")
    as_form = client.http.post(
        "/api/v2/product/update_stock",
        params=client.common("/api/v2/product/update_stock", shop=True),
        data={"item_id": item.id},
    )
    fails(as_form, 400, "error_param")
    assert [m.stock for m in models] == before


def test_update_price_needs_whole_rupiah(world: World) -> None:
    client = world.client()
    item, (model,) = models_of(world.shop, with_models=False)
    path = "/api/v2/product/update_price"
    body = {"item_id": int(item.id), "price_list": [{"model_id": 0, "original_price": 1500.5}]}
    fails(client.post(path, body), 400, "error_busi_update_price_failed")
    body["price_list"] = [{"model_id": 0, "original_price": 49_000}]
    assert ok(client.post(path, body))["response"]["success_list"] == [
        {"model_id": 0, "original_price": 49_000}
    ]
    assert model.price == Decimal(49_000)


# -- orders and logistics ----------------------------------------------------------------------


def test_order_list_window_is_at_most_15_days(world: World) -> None:
    client = world.client()
    path = "/api/v2/order/get_order_list"
    end = world.state.now()
    common = {"time_range_field": "create_time", "time_to": end, "page_size": 20}
    body = fails(
        client.get(path, time_from=end - 16 * 86400, **common), 400, "order.order_list_invalid_time"
    )
    assert "15days" in body["message"]
    ok(client.get(path, time_from=end - 15 * 86400, **common))
    fails(client.get(path, time_from=end + 1, **common), 400, "order.order_list_invalid_time")


def test_placed_order_is_listed_and_detailed_with_the_real_field_names(world: World) -> None:
    client = world.client()
    item, (model, *_) = models_of(world.shop, with_models=True)
    world.state.set_stock("shopee", world.shop.id, item.id, model.id, 5)
    order = world.state.place_order("shopee", world.shop.id, [(item.id, model.id, 2)], buyer="ani")

    listed = ok(
        client.get(
            "/api/v2/order/get_order_list",
            time_range_field="create_time",
            time_from=world.state.now() - 3600,
            time_to=world.state.now() + 60,
            page_size=100,
            response_optional_fields="order_status",
        )
    )["response"]
    assert listed["order_list"] == [{"order_sn": order.id, "order_status": "READY_TO_SHIP"}]
    assert listed["more"] is False and listed["next_cursor"] == ""

    path = "/api/v2/order/get_order_detail"
    plain = ok(client.get(path, order_sn_list=order.id))["response"]["order_list"][0]
    assert plain["order_status"] == "READY_TO_SHIP" and "item_list" not in plain
    fields = "item_list,total_amount,buyer_username,pay_time,package_list"
    detail = ok(client.get(path, order_sn_list=order.id, response_optional_fields=fields))
    full = detail["response"]["order_list"][0]
    line = full["item_list"][0]
    assert (line["item_id"], line["model_id"]) == (int(item.id), int(model.id))
    assert line["model_sku"] == model.sku and line["model_quantity_purchased"] == 2
    assert full["total_amount"] == int(model.price * 2) and full["buyer_username"] == "ani"
    assert full["pay_time"] == order.create_time
    assert full["package_list"][0]["logistics_status"] == "LOGISTICS_READY"
    too_many = ",".join([order.id] * 51)
    fails(client.get(path, order_sn_list=too_many), 400, "error_param")


def test_ship_order_moves_to_processed_with_a_tracking_number(world: World) -> None:
    client = world.client()
    item, (model,) = models_of(world.shop, with_models=False)
    world.state.set_stock("shopee", world.shop.id, item.id, model.id, 3)
    order = world.state.place_order("shopee", world.shop.id, [(item.id, "0", 1)])
    params = ok(client.get("/api/v2/logistics/get_shipping_parameter", order_sn=order.id))
    address = params["response"]["pickup"]["address_list"][0]
    pickup = {
        "address_id": address["address_id"],
        "pickup_time_id": address["time_slot_list"][0]["pickup_time_id"],
    }
    tracking = ok(client.get("/api/v2/logistics/get_tracking_number", order_sn=order.id))
    assert tracking["response"]["tracking_number"] == ""

    both = {"order_sn": order.id, "pickup": pickup, "dropoff": {}}
    fails(
        client.post("/api/v2/logistics/ship_order", both),
        400,
        "logistics.ship_order_only_support_one_type",
    )
    shipped = ok(
        client.post("/api/v2/logistics/ship_order", {"order_sn": order.id, "pickup": pickup})
    )
    assert "response" not in shipped and order.status == "PROCESSED"
    tracking = ok(client.get("/api/v2/logistics/get_tracking_number", order_sn=order.id))
    assert tracking["response"]["tracking_number"] == order.tracking_number != ""
    again = client.post("/api/v2/logistics/ship_order", {"order_sn": order.id, "pickup": pickup})
    fails(again, 400, "logistics.ship_order_not_ready_to_ship")


def test_cancelled_order_is_reported_as_cancelled(world: World) -> None:
    client = world.client()
    item, (model,) = models_of(world.shop, with_models=False)
    world.state.set_stock("shopee", world.shop.id, item.id, model.id, 3)
    order = world.state.place_order("shopee", world.shop.id, [(item.id, "0", 1)])
    world.state.set_order_status("shopee", order.id, "CANCELLED", restock=True)
    listed = client.get(
        "/api/v2/order/get_order_list",
        time_range_field="update_time",
        time_from=world.state.now() - 60,
        time_to=world.state.now() + 60,
        page_size=10,
        order_status="CANCELLED",
    )
    assert [o["order_sn"] for o in ok(listed)["response"]["order_list"]] == [order.id]
    assert model.stock == 3


# -- pushes, rate limits, faults ---------------------------------------------------------------


def test_order_push_reaches_the_registered_url_signed(world: World, receiver: Receiver) -> None:
    client = world.client()
    answer = client.public("/api/v2/push/set_app_push_config", {"callback_url": receiver.url})
    assert ok(answer)["response"] == {"result": "success"}
    assert world.state.webhooks["shopee"] == receiver.url
    item, (model,) = models_of(world.shop, with_models=False)
    world.state.set_stock("shopee", world.shop.id, item.id, model.id, 4)
    order = world.state.place_order("shopee", world.shop.id, [(item.id, "0", 1)])

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(b"ordersn" in b for _, b in receiver.received):
        time.sleep(0.02)
    headers, body = next((h, b) for h, b in receiver.received if b"ordersn" in b)
    expected = hmac_hex(client.partner_key, receiver.url.encode() + b"|" + body)
    assert hmac.compare_digest(headers["authorization"], expected)
    push = json.loads(body)
    assert push["code"] == 3 and push["shop_id"] == int(world.shop.id)
    assert push["data"]["ordersn"] == order.id and push["data"]["status"] == "READY_TO_SHIP"


def test_stock_push_is_code_8_and_codes_can_be_switched_off(world: World) -> None:
    sim = ShopeeSim()
    app = world.state.apps["shopee"]
    event = SandboxEvent(
        "shopee", world.shop.id, "stock.changed", {"item_id": "11", "model_id": "0", "stock": 3}
    )
    body, headers = sim.webhook(app, "https://erp.test/hook", event) or (b"", {})
    assert json.loads(body)["code"] == 8
    assert json.loads(body)["data"] == {
        "item_id": 11,
        "model_id": 0,
        "stock": 3,
        "update_time": event.timestamp,
    }
    assert headers["Authorization"] == hmac_hex(app.secret, b"https://erp.test/hook|" + body)
    sim.push_off.add(8)
    assert sim.webhook(app, "https://erp.test/hook", event) is None


def test_rate_limit_and_server_faults_use_shopee_errors(world: World) -> None:
    client = world.client()
    world.sandbox.faults.update("shopee", {"rate_limited_seconds": 5})
    fails(client.get("/api/v2/shop/get_shop_info"), 429, "error_rate_limit")
    world.sandbox.faults.update("shopee", {"rate_limited_seconds": 0, "burst_5xx": 1})
    fails(client.get("/api/v2/shop/get_shop_info"), 503, "error_system_busy")
    ok(client.get("/api/v2/shop/get_shop_info"))


def test_unknown_paths_answer_in_the_envelope(world: World) -> None:
    client = world.client()
    fails(client.get("/api/v2/product/no_such_api"), 404, "error_not_found")
    fails(client.http.get("/api/v2/auth/token/get"), 405, "error_param")
