"""The TikTok Shop simulator over real HTTP on 127.0.0.1, driven by a client written here.

The signing helper below is deliberately independent of `storesync.sandbox.tiktok`: it is the
published algorithm (§2.3), so a sandbox that drifted from the wire format fails these tests.
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
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from storesync.core.clock import set_clock, utcnow
from storesync.sandbox.app import Sandbox
from storesync.sandbox.seed import SeedConfig
from storesync.sandbox.server import serve_in_thread
from storesync.sandbox.state import App, SandboxEvent, SandboxState
from storesync.sandbox.tiktok.sim import TikTokSim, push_signature, sign
from tests.sandbox.conftest import Receiver, RunningSandbox

PRODUCTS = 250
REDIRECT = "https://storesync.example/oauth/tiktok/callback"


def tts_sign(secret: str, path: str, query: dict[str, str], body: bytes = b"") -> str:
    """The published TikTok Shop signature, written out independently of the sandbox."""
    keys = sorted(k for k in query if k not in ("sign", "access_token"))
    base = (path + "".join(f"{k}{query[k]}" for k in keys)).encode()
    message = secret.encode() + base + body + secret.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def tts_push_signature(app_key: str, secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()


# -- a small client ----------------------------------------------------------------------------


@dataclass
class Client:
    base: str
    app_key: str
    app_secret: str
    access_token: str = ""
    refresh_token: str = ""
    cipher: str = ""
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    def call(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        shop: bool = True,
        timestamp: int | None = None,
        drop: tuple[str, ...] = (),
        sign_with: str | None = None,
        send_body: bytes | None = None,
        token_in_query: bool = False,
    ) -> httpx.Response:
        params = {"app_key": self.app_key, **(query or {})}
        params["timestamp"] = str(timestamp or int(utcnow().timestamp()))
        if shop and self.cipher:
            params["shop_cipher"] = self.cipher
        for name in drop:
            params.pop(name, None)
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        params["sign"] = tts_sign(sign_with or self.app_secret, path, params, raw)
        headers = {"content-type": "application/json"}
        if token_in_query:
            params["access_token"] = self.access_token
        elif self.access_token:
            headers["x-tts-access-token"] = self.access_token
        content = raw if send_body is None else send_body
        return self.http.request(
            method, self.base + path, params=params, content=content, headers=headers
        )

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.call(method, path, **kwargs)
        payload = response.json()
        assert response.status_code == 200 and payload["code"] == 0, payload
        assert set(payload) == {"code", "message", "request_id", "data"}
        return payload["data"]  # type: ignore[no-any-return]


@dataclass
class World:
    base_url: str
    sandbox: Sandbox
    sim: TikTokSim

    @property
    def state(self) -> SandboxState:
        return self.sandbox.state

    @property
    def app_key(self) -> str:
        return self.state.apps["tiktok"].key

    @property
    def app_secret(self) -> str:
        return self.state.apps["tiktok"].secret

    def client(self) -> Client:
        return Client(self.base_url + "/tiktok", self.app_key, self.app_secret)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    sim = TikTokSim()
    sandbox = Sandbox(
        seed=SeedConfig(seed=5, products_per_shop=PRODUCTS), sims={"tiktok": sim}, clock=utcnow
    )
    with serve_in_thread(sandbox.asgi()) as base_url:
        yield World(base_url, sandbox, sim)


def authorize(world: World, client: Client) -> dict[str, Any]:
    """The seller consents on the page, the app exchanges the code; returns token `data`."""
    auth = world.base_url + "/tiktok-auth"
    page = client.http.get(
        auth + "/oauth/authorize",
        params={"app_key": world.app_key, "state": "xyz", "redirect_uri": REDIRECT},
    )
    assert page.status_code == 200 and 'id="authorize"' in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    assert action is not None and action.group(1) == "/tiktok-auth/oauth/authorize"
    submitted = client.http.post(
        world.base_url + action.group(1),
        data={**fields, "decision": "authorize"},
        follow_redirects=False,
    )
    assert submitted.status_code == 302
    location = submitted.headers["location"]
    assert location.startswith(REDIRECT + "?")
    redirect = parse_qs(urlsplit(location).query)
    assert redirect["state"] == ["xyz"]
    token = client.http.get(
        auth + "/api/v2/token/get",
        params={
            "app_key": world.app_key,
            "app_secret": world.app_secret,
            "auth_code": redirect["code"][0],
            "grant_type": "authorized_code",
        },
    ).json()
    assert token["code"] == 0, token
    client.access_token = token["data"]["access_token"]
    client.refresh_token = token["data"]["refresh_token"]
    shops = client.ok("GET", "/authorization/202309/shops", shop=False)["shops"]
    client.cipher = shops[0]["cipher"]
    return token["data"]  # type: ignore[no-any-return]


@pytest.fixture
def client(world: World) -> Client:
    c = world.client()
    authorize(world, c)
    return c


def a_product(world: World, *, min_stock: int = 0) -> tuple[str, str, str]:
    """(product id, sku id, warehouse id) of a seeded product with at least `min_stock`."""
    shop = world.state.shops_of("tiktok")[0]
    for item in shop.items.values():
        for model in item.models:
            if model.stock >= min_stock:
                return item.id, model.id, model.warehouse_id
    raise AssertionError("no product with enough stock")


# -- signing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "path", "query", "body", "expected"),
    [
        (
            "e59af819cc",
            "/authorization/202309/shops",
            {"app_key": "29a39d", "timestamp": "1623812664"},
            b"",
            "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8",
        ),
        (
            "app_secret",
            "/test-api",
            {"foo": "bar"},
            b"",
            "d3cb7fe11ecae942802ceeca67e7cf10120cc12f1517d45fbc1c8cfe5413c80f",
        ),
        (
            "e59af819cc",
            "/event/202309/webhooks",
            {
                "app_key": "68xu9ks5p4i8",
                "shop_cipher": "ROW_xkMbgAAAeVAQra0eZWebFQq5aIK",
                "timestamp": "1696909648",
            },
            b'{"address":"https://partner.tiktokshop.com","event_type":"PACKAGE_UPDATE"}',
            "cd0d6268252f4ba293bf7ea4c0a2873bf9beec600d22530638564ab301435f7a",
        ),
    ],
)
def test_sign_matches_the_published_vectors(
    secret: str, path: str, query: dict[str, str], body: bytes, expected: str
) -> None:
    assert tts_sign(secret, path, query, body) == expected
    assert sign(secret, path, query, body) == expected
    assert sign(secret, path, {**query, "sign": "x", "access_token": "y"}, body) == expected


def test_push_signature_matches_the_official_vector() -> None:
    body = (
        b'{"type":1,"tts_notification_id":"7380066284010030890","shop_id":"7495540735365777507",'
        b'"timestamp":1718305585,"data":{"is_on_hold_order":true,"order_id":"576653688135258178",'
        b'"order_status":"UNPAID","update_time":1718305585}}'
    )
    expected = "5dec0f11ec2f6783b8deee53c9ffbf8d024302f7c7e7fa55a35d17629031ac05"
    assert tts_push_signature("abcdef", "123", body) == expected
    assert push_signature("abcdef", "123", body) == expected


def _error(response: httpx.Response) -> tuple[int, int]:
    payload = response.json()
    assert set(payload) == {"code", "message", "request_id", "data"}
    return response.status_code, payload["code"]


def test_signed_calls_are_accepted_and_every_flaw_is_refused(client: Client) -> None:
    search = "/product/202309/products/search"
    page = {"page_size": "5"}
    assert client.ok("POST", search, query=page, body={"status": "ACTIVATE"})["products"]

    wrong_secret = client.call("POST", search, query=page, body={}, sign_with="not-the-secret")
    stale = client.call("POST", search, query=page, body={}, timestamp=int(time.time()) - 301)
    short = client.call("POST", search, query=page, body={}, timestamp=1_623_812)
    no_app_key = client.call("POST", search, query=page, body={}, drop=("app_key",))
    no_cipher = client.call("POST", search, query=page, body={}, drop=("shop_cipher",))
    tampered = client.call(
        "POST", search, query=page, body={"status": "ACTIVATE"}, send_body=b'{"status":"ALL"}'
    )
    in_query = client.call("GET", "/authorization/202309/shops", shop=False, token_in_query=True)

    assert _error(wrong_secret) == (401, 106001)
    assert _error(stale) == (401, 36009004)
    assert _error(short) == (401, 36009004)
    assert _error(no_app_key) == (401, 106001)
    assert _error(no_cipher) == (200, 36009004)
    assert _error(tampered) == (401, 106001)
    assert _error(in_query) == (401, 105002)


def test_the_signature_covers_the_platform_path_or_the_whole_path_sent(client: Client) -> None:
    """The platform's path, or the path as sent with the sandbox's mount prefix (what a client
    given the sandbox's base URL signs); any other path is refused."""
    answers = {}
    for signed in ("/tiktok/authorization/202309/shops", "/elsewhere/authorization/202309/shops"):
        params = {"app_key": client.app_key, "timestamp": str(int(time.time()))}
        params["sign"] = tts_sign(client.app_secret, signed, params)
        answers[signed] = client.http.get(
            client.base + "/authorization/202309/shops",
            params=params,
            headers={"x-tts-access-token": client.access_token},
        )
    assert answers["/tiktok/authorization/202309/shops"].json()["code"] == 0
    assert _error(answers["/elsewhere/authorization/202309/shops"]) == (401, 106001)


def test_unknown_paths_answer_the_envelope(client: Client) -> None:
    assert _error(client.call("GET", "/product/202309/nothing")) == (404, 36009004)


# -- OAuth -------------------------------------------------------------------------------------


def test_oauth_round_trip_gives_absolute_expiries_and_a_working_token(world: World) -> None:
    client = world.client()
    data = authorize(world, client)

    issued = int(utcnow().timestamp())
    shop = world.state.shops_of("tiktok")[0]
    assert data["access_token_expire_in"] > issued + 86_400  # absolute time, not a duration
    assert data["refresh_token_expire_in"] >= data["access_token_expire_in"]
    assert data["seller_name"] == shop.name and data["seller_base_region"] == shop.region
    assert data["user_type"] == 0 and data["open_id"] and data["granted_scopes"]
    assert client.cipher == shop.cipher
    found = client.ok("POST", "/product/202309/products/search", query={"page_size": "1"})
    assert found["total_count"] == PRODUCTS


def test_the_consent_page_accepts_service_id_and_cancel_denies(world: World) -> None:
    http = httpx.Client(timeout=10)
    auth = world.base_url + "/tiktok-auth/oauth/authorize"
    service_id = world.state.apps["tiktok"].service_id
    page = http.get(
        auth, params={"service_id": service_id, "state": "s1", "redirect_uri": REDIRECT}
    )
    unknown = http.get(auth, params={"app_key": "nope", "redirect_uri": REDIRECT})
    cancelled = http.post(
        auth,
        data={"service_id": service_id, "state": "s1", "redirect_uri": REDIRECT},
        follow_redirects=False,
    )

    assert page.status_code == 200 and 'id="authorize"' in page.text
    assert unknown.status_code == 400
    assert cancelled.status_code == 302
    assert parse_qs(urlsplit(cancelled.headers["location"]).query) == {
        "code": ["null"],
        "error": ["auth_denied"],
        "state": ["s1"],
    }


def test_an_auth_code_works_once(world: World) -> None:
    shop = world.state.shops_of("tiktok")[0]
    code = world.state.issue_code("tiktok", shop.id).code
    params = {
        "app_key": world.app_key,
        "app_secret": world.app_secret,
        "auth_code": code,
        "grant_type": "authorized_code",
    }
    url = world.base_url + "/tiktok-auth/api/v2/token/get"

    first, second = httpx.get(url, params=params), httpx.get(url, params=params)
    wrong_secret = httpx.get(url, params={**params, "app_secret": "x"})

    assert first.json()["code"] == 0
    assert _error(second) == (401, 105002)
    assert _error(wrong_secret) == (401, 106001)


def test_expired_token_is_refused_then_refresh_rotates(world: World, client: Client) -> None:
    old_access = client.access_token
    data = client.ok("GET", "/authorization/202309/shops", shop=False)
    assert data["shops"][0]["cipher"] == client.cipher
    refresh_url = world.base_url + "/tiktok-auth/api/v2/token/refresh"
    params = {
        "app_key": world.app_key,
        "app_secret": world.app_secret,
        "refresh_token": client.refresh_token,
        "grant_type": "refresh_token",
    }
    later = utcnow() + timedelta(days=8)
    set_clock(lambda: later)
    try:
        expired = client.call("POST", "/product/202309/products/search", query={"page_size": "1"})
        refreshed = httpx.get(refresh_url, params=params).json()
        client.access_token = refreshed["data"]["access_token"]
        after = client.ok("POST", "/product/202309/products/search", query={"page_size": "1"})
        reused = httpx.get(refresh_url, params=params)
        client.access_token = old_access
        old = client.call("POST", "/product/202309/products/search", query={"page_size": "1"})
    finally:
        set_clock(None)

    assert _error(expired) == (401, 105001)
    assert refreshed["code"] == 0
    assert refreshed["data"]["access_token_expire_in"] > int(later.timestamp())
    assert refreshed["data"]["refresh_token"] != params["refresh_token"]
    assert after["total_count"] == PRODUCTS
    assert _error(reused) == (401, 105002)
    assert _error(old) == (401, 105002)


# -- products ----------------------------------------------------------------------------------


def test_product_search_pages_walk_every_product_exactly_once(world: World, client: Client) -> None:
    seen: list[str] = []
    pages, token = 0, ""
    while True:
        query = {"page_size": "100", **({"page_token": token} if token else {})}
        data = client.ok("POST", "/product/202309/products/search", query=query, body={})
        seen += [p["id"] for p in data["products"]]
        pages += 1
        assert data["total_count"] == PRODUCTS
        token = data["next_page_token"]
        if not token:
            break

    shop = world.state.shops_of("tiktok")[0]
    assert pages == 3
    assert sorted(seen) == sorted(shop.items)
    product = data["products"][0]
    sku = product["skus"][0]
    assert set(sku["price"]) >= {"currency", "sale_price", "tax_exclusive_price"}
    assert isinstance(sku["price"]["sale_price"], str)
    assert set(sku["inventory"][0]) == {"warehouse_id", "quantity"}


def test_product_search_refuses_bad_pages(client: Client) -> None:
    search = "/product/202309/products/search"
    first = client.ok("POST", search, query={"page_size": "10"}, body={})
    other_filter = client.call(
        "POST",
        search,
        query={"page_size": "10", "page_token": first["next_page_token"]},
        body={"status": "DRAFT"},
    )

    assert _error(client.call("POST", search, query={"page_size": "101"}, body={}))[1] == 36009004
    assert _error(client.call("POST", search, query={"page_size": "0"}, body={}))[1] == 36009004
    assert _error(client.call("POST", search, query={"page_size": "5", "page_token": "zz"}))[1] == (
        36009004
    )
    assert _error(other_filter)[1] == 36009004


def test_product_search_by_seller_sku(world: World, client: Client) -> None:
    product_id, sku_id, _w = a_product(world)
    seller_sku = world.state.shops_of("tiktok")[0].find_model(product_id, sku_id)[1].sku

    data = client.ok(
        "POST",
        "/product/202309/products/search",
        query={"page_size": "20"},
        body={"seller_skus": [seller_sku]},
    )

    assert [p["id"] for p in data["products"]] == [product_id]


def test_inventory_update_is_absolute_and_refuses_negative(world: World, client: Client) -> None:
    product_id, sku_id, warehouse = a_product(world)
    path = f"/product/202309/products/{product_id}/inventory/update"

    def update(quantity: Any, warehouse_id: str = warehouse) -> httpx.Response:
        inventory = [{"warehouse_id": warehouse_id, "quantity": quantity}]
        return client.call("POST", path, body={"skus": [{"id": sku_id, "inventory": inventory}]})

    assert update(7).json()["code"] == 0
    assert update(7).json()["code"] == 0
    detail = client.ok("GET", f"/product/202309/products/{product_id}")
    negative = update(-1)
    wrong_warehouse = update(3, "123")
    entry = {"id": sku_id, "inventory": [{"warehouse_id": warehouse, "quantity": 1}]}
    too_many = client.call("POST", path, body={"skus": [entry] * 101})

    sku = next(s for s in detail["skus"] if s["id"] == sku_id)
    assert sku["inventory"] == [{"warehouse_id": warehouse, "quantity": 7}]
    assert _error(negative) == (200, 36009004)
    assert _error(wrong_warehouse) == (200, 36009004)
    assert _error(too_many) == (200, 36009004)
    assert world.state.shops_of("tiktok")[0].find_model(product_id, sku_id)[1].stock == 7


def test_price_update_sets_the_sale_price(world: World, client: Client) -> None:
    product_id, sku_id, _w = a_product(world)
    path = f"/product/202309/products/{product_id}/prices/update"

    client.ok(
        "POST",
        path,
        body={"skus": [{"id": sku_id, "price": {"amount": "51500", "currency": "IDR"}}]},
    )
    wrong_currency = client.call(
        "POST", path, body={"skus": [{"id": sku_id, "price": {"amount": "5", "currency": "USD"}}]}
    )

    detail = client.ok("GET", f"/product/202309/products/{product_id}")
    sku = next(s for s in detail["skus"] if s["id"] == sku_id)
    assert sku["price"]["sale_price"] == "51500"
    assert _error(wrong_currency) == (200, 36009004)


# -- orders ------------------------------------------------------------------------------------


def test_orders_search_detail_and_ship(world: World, client: Client) -> None:
    product_id, sku_id, _w = a_product(world, min_stock=2)
    shop = world.state.shops_of("tiktok")[0]
    order = world.state.place_order("tiktok", shop.id, [(product_id, sku_id, 2)], buyer="budi")

    found = client.ok(
        "POST",
        "/order/202309/orders/search",
        query={"page_size": "50", "sort_field": "create_time", "sort_order": "DESC"},
        body={"order_status": "AWAITING_SHIPMENT"},
    )
    detail = client.ok("GET", "/order/202309/orders", query={"ids": f"{order.id},unknown"})
    too_many = client.call("GET", "/order/202309/orders", query={"ids": ",".join("1" * 51)})
    listed = next(o for o in found["orders"] if o["id"] == order.id)
    package_id = listed["packages"][0]["id"]
    client.ok("POST", f"/fulfillment/202309/packages/{package_id}/ship", body={})
    again = client.call("POST", f"/fulfillment/202309/packages/{package_id}/ship", body={})
    shipped = client.ok("GET", "/order/202309/orders", query={"ids": order.id})["orders"][0]

    assert [o["id"] for o in detail["orders"]] == [order.id]
    assert listed["status"] == "AWAITING_SHIPMENT"
    assert [(li["product_id"], li["sku_id"]) for li in listed["line_items"]] == [
        (product_id, sku_id)
    ] * 2
    assert listed["payment"]["total_amount"] == str(order.total)
    assert listed["payment"]["currency"] == "IDR"
    assert _error(too_many) == (200, 36009004)
    assert shipped["status"] == "AWAITING_COLLECTION" and shipped["tracking_number"]
    assert _error(again) == (200, 36009004)


def test_orders_search_pages_by_update_time(world: World, client: Client) -> None:
    product_id, sku_id, _w = a_product(world, min_stock=3)
    shop = world.state.shops_of("tiktok")[0]
    for _ in range(3):
        world.state.place_order("tiktok", shop.id, [(product_id, sku_id, 1)])
    ids: list[str] = []
    token = ""
    while True:
        query = {"page_size": "1", "sort_field": "update_time", "sort_order": "ASC"}
        data = client.ok(
            "POST",
            "/order/202309/orders/search",
            query=query | ({"page_token": token} if token else {}),
        )
        ids += [o["id"] for o in data["orders"]]
        token = data["next_page_token"]
        if not token:
            break

    assert (
        len(ids)
        == len(set(ids))
        == data["total_count"]
        == len(world.state.orders_of("tiktok", shop.id))
    )


# -- webhooks ----------------------------------------------------------------------------------


def test_order_webhook_is_signed_with_the_published_algorithm(
    world: World, client: Client, receiver: Receiver
) -> None:
    client.ok(
        "PUT",
        "/event/202309/webhooks",
        body={"address": receiver.url, "event_type": "ORDER_STATUS_CHANGE"},
    )
    listed = client.ok("GET", "/event/202309/webhooks")["webhooks"]
    product_id, sku_id, _w = a_product(world, min_stock=1)
    shop = world.state.shops_of("tiktok")[0]
    try:
        order = world.state.place_order("tiktok", shop.id, [(product_id, sku_id, 1)])
        deadline = time.monotonic() + 5
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        world.state.webhooks.pop("tiktok", None)

    headers, body = receiver.received[0]
    payload = json.loads(body)
    assert [(h["event_type"], h["address"]) for h in listed] == [
        ("ORDER_STATUS_CHANGE", receiver.url)
    ]
    assert headers["authorization"] == tts_push_signature(world.app_key, world.app_secret, body)
    assert payload["type"] == 1 and payload["shop_id"] == shop.id
    assert payload["data"]["order_id"] == order.id
    assert payload["data"]["order_status"] == "AWAITING_SHIPMENT"
    assert payload["data"]["is_on_hold_order"] is False
    assert b" " not in body  # compact JSON


def test_stock_pushes_only_when_low_and_cancel_is_spelled_cancel() -> None:
    sim = TikTokSim(low_stock_threshold=5)
    state = SandboxState()
    app = App("tiktok", key="abcdef", secret="123")
    sim.mounts(state)
    low = SandboxEvent(
        "tiktok", "1", "stock.changed", {"item_id": "9", "model_id": "8", "stock": 0}
    )
    plenty = SandboxEvent(
        "tiktok", "1", "stock.changed", {"item_id": "9", "model_id": "8", "stock": 50}
    )
    cancel = SandboxEvent("tiktok", "1", "order.status", {"order_id": "5", "status": "CANCELLED"})

    pushed = sim.webhook(app, "http://x", low)
    cancelled = sim.webhook(app, "http://x", cancel)

    assert pushed is not None and cancelled is not None
    assert sim.webhook(app, "http://x", plenty) is None
    body = json.loads(pushed[0])
    assert body["type"] == 27 and body["data"]["current_inventory_status"] == "OUT_OF_STOCK"
    assert pushed[1]["Authorization"] == tts_push_signature("abcdef", "123", pushed[0])
    assert json.loads(cancelled[0])["data"]["order_status"] == "CANCEL"


def test_rate_limit_and_server_errors_use_the_tiktok_envelope() -> None:
    sim = TikTokSim()
    limited, failed = sim.rate_limited(), sim.server_error(503)

    assert limited.status_code == 429 and json.loads(bytes(limited.body))["code"] == 36009002
    assert failed.status_code == 503 and json.loads(bytes(failed.body))["code"] == 36009003


def test_throttling_over_http_answers_429_with_36009002(world: World, client: Client) -> None:
    world.sandbox.faults.update("tiktok", {"rate_limited_seconds": 30})
    try:
        limited = client.call("POST", "/product/202309/products/search", query={"page_size": "1"})
    finally:
        world.sandbox.faults.update("tiktok", {"rate_limited_seconds": 0})

    assert _error(limited) == (429, 36009002)
    assert client.ok("POST", "/product/202309/products/search", query={"page_size": "1"})


def test_works_inside_the_shared_sandbox(running_sandbox: RunningSandbox) -> None:
    base = running_sandbox.base_url
    app = httpx.get(f"{base}/sandbox/apps").json()["tiktok"]
    code = httpx.post(f"{base}/sandbox/authorize", json={"platform": "tiktok"}).json()["code"]
    client = Client(base + "/tiktok", app["app_key"], app["app_secret"])
    token = httpx.get(
        f"{base}/tiktok-auth/api/v2/token/get",
        params={
            "app_key": app["app_key"],
            "app_secret": app["app_secret"],
            "auth_code": code,
            "grant_type": "authorized_code",
        },
    ).json()["data"]
    client.access_token = token["access_token"]
    client.cipher = client.ok("GET", "/authorization/202309/shops", shop=False)["shops"][0][
        "cipher"
    ]

    found = client.ok("POST", "/product/202309/products/search", query={"page_size": "100"})

    assert found["total_count"] == 24 and found["next_page_token"] == ""
