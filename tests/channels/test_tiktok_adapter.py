"""TikTokShopAdapter against the TikTok Shop sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import httpx
import pytest

from storesync.channels.adapter import Connection
from storesync.channels.registry import open_connection
from storesync.channels.resilience import BreakerState, RateLimiter, ResilientClient, RetryPolicy
from storesync.channels.schemas import (
    AppCredentials,
    ChannelProduct,
    Credentials,
    PriceUpdate,
    Shipment,
    ShipRequest,
    StockUpdate,
)
from storesync.channels.tiktok.adapter import TikTokShopAdapter
from storesync.channels.tiktok.mapping import order_status
from storesync.channels.tiktok.signing import push_signature, sign, verify_push
from storesync.channels.tiktok.wire import classify
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType
from storesync.sandbox.state import Order
from storesync.sandbox.tiktok.api import MAX_INVENTORY_SKUS_PER_CALL
from tests.channels.conftest import app_credentials, sandbox_settings
from tests.sandbox.conftest import Receiver, RunningSandbox

REDIRECT = "https://storesync.example/oauth/tiktok/callback"
FAST = RetryPolicy(base_delay=0.05, max_delay=0.5)
T = TypeVar("T")


# -- helpers -----------------------------------------------------------------------------------


async def connect(
    sandbox: RunningSandbox,
    *,
    app: AppCredentials | None = None,
    credentials: Credentials | None = None,
    on_refresh: Callable[[Credentials], Awaitable[None]] | None = None,
) -> TikTokShopAdapter:
    """A fresh connection (own breaker), authorized with a control-API code unless given
    `credentials`."""
    base = sandbox.base_url
    connection = open_connection(
        "tiktok",
        app=app or app_credentials(base, "tiktok"),
        credentials=credentials,
        on_refresh=on_refresh,
        settings=sandbox_settings(base, tiktok_rate_limit=1000),
        store_key=f"tiktok-test-{uuid4().hex}",
    )
    connection.http.policy = FAST
    adapter = TikTokShopAdapter(connection)
    if credentials is None:
        code = httpx.post(f"{base}/sandbox/authorize", json={"platform": "tiktok"}).json()["code"]
        await adapter.exchange_code(code=code)
    return adapter


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(scenario())  # type: ignore[arg-type]


def calls(sandbox: RunningSandbox, path: str, since: float) -> list[dict[str, Any]]:
    """The sandbox's log of TikTok calls whose path ends with `path`, made after `since`."""
    answer = httpx.get(
        f"{sandbox.base_url}/sandbox/calls",
        params={"platform": "tiktok", "path": path, "since": str(since)},
    ).json()
    assert answer["total"] <= 500, "the log shows only the last 500 calls"
    return list(answer["calls"])


def tiktok_shop(sandbox: RunningSandbox) -> Any:
    return sandbox.state.shops_of("tiktok")[0]


def stock(item_id: str, model_id: str, quantity: int, location: str = "") -> StockUpdate:
    return StockUpdate(
        platform_item_id=item_id,
        platform_model_id=model_id,
        quantity=quantity,
        location_id=location,
    )


def price(item_id: str, model_id: str, amount: str, currency: str = "IDR") -> PriceUpdate:
    return PriceUpdate(
        platform_item_id=item_id,
        platform_model_id=model_id,
        price=Decimal(amount),
        currency=currency,
    )


async def collect(products: Any) -> list[ChannelProduct]:
    return [product async for product in products]


# -- signing -----------------------------------------------------------------------------------


def test_sign_matches_the_official_vector() -> None:
    query = {"app_key": "29a39d", "timestamp": "1623812664"}

    signature = sign("e59af819cc", "/authorization/202309/shops", query, b"")

    assert signature == "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8"


def test_sign_matches_the_ecomphp_vector_and_ignores_sign_and_access_token() -> None:
    query = {"foo": "bar", "sign": "old", "access_token": "tok"}

    signature = sign("app_secret", "/test-api", query, b"")

    assert signature == "d3cb7fe11ecae942802ceeca67e7cf10120cc12f1517d45fbc1c8cfe5413c80f"


def test_sign_covers_the_raw_body() -> None:
    query = {
        "app_key": "68xu9ks5p4i8",
        "shop_cipher": "ROW_xkMbgAAAeVAQra0eZWebFQq5aIK",
        "timestamp": "1696909648",
    }
    body = b'{"address":"https://partner.tiktokshop.com","event_type":"PACKAGE_UPDATE"}'

    signature = sign("e59af819cc", "/event/202309/webhooks", query, body)

    assert signature == "cd0d6268252f4ba293bf7ea4c0a2873bf9beec600d22530638564ab301435f7a"
    spaced = body.replace(b",", b", ")
    assert sign("e59af819cc", "/event/202309/webhooks", query, spaced) != signature


def test_verify_push_accepts_the_official_vector_only() -> None:
    body = (
        b'{"type":1,"tts_notification_id":"7380066284010030890","shop_id":"7495540735365777507",'
        b'"timestamp":1718305585,"data":{"is_on_hold_order":true,"order_id":"576653688135258178",'
        b'"order_status":"UNPAID","update_time":1718305585}}'
    )
    good = "5dec0f11ec2f6783b8deee53c9ffbf8d024302f7c7e7fa55a35d17629031ac05"

    assert push_signature("abcdef", "123", body) == good
    assert verify_push("abcdef", "123", body, good)
    assert not verify_push("abcdef", "123", body.replace(b"UNPAID", b"CANCEL"), good)
    assert not verify_push("abcdef", "124", body, good)
    assert not verify_push("abcdef", "123", body, "")


# -- classification ----------------------------------------------------------------------------


def answer(status: int, code: int | None = 0, message: str = "Success") -> httpx.Response:
    if code is None:
        return httpx.Response(status, content=b'{"code":0,"mess')
    return httpx.Response(status, json={"code": code, "message": message, "data": {}})


@pytest.mark.parametrize(
    ("response", "type_", "code", "retryable"),
    [
        (answer(429, 36009002), ErrorType.RATE_LIMIT, "rate_limited", True),
        (answer(200, 36009002), ErrorType.RATE_LIMIT, "rate_limited", True),
        (answer(503, 36009003), ErrorType.PLATFORM_API, "server_error", True),
        (answer(200, 36009003), ErrorType.PLATFORM_API, "server_error", True),
        (answer(502, None), ErrorType.PLATFORM_API, "server_error", True),
        (answer(401, 105001), ErrorType.AUTHENTICATION, "token_invalid", False),
        (answer(401, 105002), ErrorType.AUTHENTICATION, "token_invalid", False),
        (answer(401, 106001), ErrorType.AUTHENTICATION, "bad_app_credentials", False),
        (answer(200, 36009004, "bad sku"), ErrorType.VALIDATION, "invalid_parameter", False),
        (answer(200, 12019001, "frozen"), ErrorType.PLATFORM_API, "platform_error", False),
        (answer(200, None), ErrorType.PLATFORM_API, "malformed_response", True),
    ],
)
def test_classify_maps_every_answer_once(
    response: httpx.Response, type_: ErrorType, code: str, retryable: bool
) -> None:
    error = classify(response)

    assert error is not None
    assert (error.type, error.code, error.retryable) == (type_, code, retryable)


def test_classify_accepts_success_and_keeps_the_platform_message() -> None:
    assert classify(answer(200, 0)) is None
    error = classify(answer(200, 36009004, "sku 1 does not belong to product 2"))
    assert error is not None and "sku 1 does not belong to product 2" in error.message
    wrong_app = classify(answer(401, 106001))
    assert wrong_app is not None and "wrong app key or secret" in wrong_app.message


@pytest.mark.parametrize(
    ("platform_status", "status"),
    [
        ("UNPAID", "unpaid"),
        ("ON_HOLD", "to_ship"),
        ("AWAITING_SHIPMENT", "to_ship"),
        ("PARTIALLY_SHIPPING", "to_ship"),
        ("AWAITING_COLLECTION", "to_ship"),
        ("IN_TRANSIT", "shipped"),
        ("DELIVERED", "delivered"),
        ("COMPLETED", "completed"),
        ("CANCELLED", "cancelled"),
        ("CANCEL", "cancelled"),
    ],
)
def test_order_statuses_map_to_ours(platform_status: str, status: str) -> None:
    assert order_status(platform_status).value == status


def test_an_unknown_order_status_is_refused_not_guessed() -> None:
    with pytest.raises(AppError) as refused:
        order_status("AWAITING_TELEPORT")
    assert refused.value.code == "unknown_order_status"


def test_capabilities_use_the_sandbox_cap_to_the_full() -> None:
    caps = TikTokShopAdapter.capabilities

    assert caps.stock_batch_size == MAX_INVENTORY_SKUS_PER_CALL
    assert caps.stock_call_per_item
    assert (caps.order_detail_batch_size, caps.order_window_days, caps.page_size) == (50, None, 100)


# -- OAuth -------------------------------------------------------------------------------------


class ConsentForm(HTMLParser):
    """The consent page's form as a browser would submit it with "Authorize" clicked."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self._select = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = attr["action"]
        elif tag == "input" and attr.get("name"):
            self.fields[attr["name"]] = attr.get("value", "")
        elif tag == "button" and attr.get("id") == "authorize":
            self.fields[attr["name"]] = attr["value"]
        elif tag == "select":
            self._select = attr["name"]
        elif tag == "option" and self._select and self._select not in self.fields:
            self.fields[self._select] = attr["value"]


def test_connect_through_the_consent_page_without_a_browser(
    running_sandbox: RunningSandbox,
) -> None:
    base = running_sandbox.base_url
    shop = tiktok_shop(running_sandbox)

    async def scenario() -> None:
        connection = open_connection(
            "tiktok",
            app=app_credentials(base, "tiktok"),
            settings=sandbox_settings(base),
            store_key=f"tiktok-test-{uuid4().hex}",
        )
        adapter = TikTokShopAdapter(connection)
        url = adapter.authorize_url(redirect_url=REDIRECT, state="csrf-123")
        query = parse_qs(urlsplit(url).query)
        assert query["app_key"] == [connection.app.key]
        assert query["service_id"] == [connection.app.service_id]
        assert (query["state"], query["redirect_uri"]) == (["csrf-123"], [REDIRECT])

        async with httpx.AsyncClient() as browser:
            page = await browser.get(url)
            form = ConsentForm()
            form.feed(page.text)
            submitted = await browser.post(f"{base}{form.action}", data=form.fields)
        assert submitted.status_code == 302
        location = submitted.headers["location"]
        assert location.startswith(REDIRECT)
        redirect = parse_qs(urlsplit(location).query)
        assert redirect["state"] == ["csrf-123"]

        authorized = await adapter.exchange_code(code=redirect["code"][0])

        assert authorized.platform_store_id == shop.id
        assert (authorized.name, authorized.region) == (shop.name, shop.region)
        credentials = authorized.credentials
        assert credentials.shop_cipher == shop.cipher
        assert credentials.access_expires_at > utcnow() + timedelta(days=6)
        assert credentials.refresh_expires_at is not None
        assert connection.credentials == credentials
        assert (await adapter.health()).ok

        with pytest.raises(AppError) as reused:
            await adapter.exchange_code(code=redirect["code"][0])
        assert (reused.value.type, reused.value.code) == (ErrorType.AUTHENTICATION, "invalid_code")
        assert connection.credentials == credentials

    run(scenario)


# -- products and stock ------------------------------------------------------------------------


def test_fetch_products_yields_all_2000_seeded_products_exactly_once(
    big_sandbox: RunningSandbox,
) -> None:
    shop = tiktok_shop(big_sandbox)
    since = time.time()

    async def scenario() -> list[ChannelProduct]:
        adapter = await connect(big_sandbox)
        return await collect(adapter.fetch_products())

    products = run(scenario)

    ids = [p.platform_item_id for p in products]
    assert len(ids) == len(set(ids)) == len(shop.items) == 2000
    assert set(ids) == set(shop.items)
    for product in products:
        item = shop.items[product.platform_item_id]
        assert product.title == item.title
        expected = {m.id: (m.sku, m.stock, m.price, m.warehouse_id) for m in item.models}
        got = {
            v.platform_model_id: (v.sku, v.quantity, v.price, v.location_id)
            for v in product.variants
        }
        assert got == expected
    assert len(calls(big_sandbox, "/products/search", since)) == 20


def test_push_500_stock_changes_in_the_fewest_calls(big_sandbox: RunningSandbox) -> None:
    shop = tiktok_shop(big_sandbox)
    updates: list[StockUpdate] = []
    for item in sorted(shop.items.values(), key=lambda i: i.id):
        for model in item.models[: 500 - len(updates)]:
            quantity = (model.stock + 37) % 500
            updates.append(stock(item.id, model.id, quantity, model.warehouse_id))
        if len(updates) == 500:
            break
    per_product = Counter(u.platform_item_id for u in updates)
    fewest = sum(math.ceil(n / MAX_INVENTORY_SKUS_PER_CALL) for n in per_product.values())
    since = time.time()

    async def scenario() -> Any:
        adapter = await connect(big_sandbox)
        return await adapter.update_stock(updates)

    result = run(scenario)

    logged = calls(big_sandbox, "/inventory/update", since)
    assert len(updates) == 500 and fewest < 500
    assert len(logged) == fewest == result.calls
    assert all(c["method"] == "POST" and c["outcome"] == "ok" for c in logged)
    assert result.failed == [] and len(result.succeeded) == 500
    for update in updates:
        _item, model = shop.find_model(update.platform_item_id, update.platform_model_id)
        assert model.stock == update.quantity


def test_stock_push_fills_missing_warehouses_and_collects_item_failures(
    running_sandbox: RunningSandbox,
) -> None:
    shop = tiktok_shop(running_sandbox)
    first, second = list(shop.items.values())[:2]
    updates = [
        stock(first.id, first.models[0].id, 11),  # no location: looked up
        stock(first.id, first.models[0].id, 12, first.models[0].warehouse_id),  # wins
        stock(second.id, second.models[0].id, -1, second.models[0].warehouse_id),
        stock(second.id, "999", 5, second.models[0].warehouse_id),
        stock("1234567890", "1", 5, "7000714532876273"),
    ]

    async def scenario() -> Any:
        adapter = await connect(running_sandbox)
        return await adapter.update_stock(updates)

    result = run(scenario)

    assert first.models[0].stock == 12
    assert {u.quantity for u in result.succeeded} == {11, 12}
    reasons = {(f.platform_item_id, f.platform_model_id): f.reason for f in result.failed}
    assert reasons[(second.id, second.models[0].id)] == "quantity must not be negative"
    assert "does not belong" in reasons[(second.id, "999")]
    assert "does not exist" in reasons[("1234567890", "1")]
    assert result.calls == 4  # detail lookup + 3 product calls


def test_update_price_sets_prices_and_reports_refusals(running_sandbox: RunningSandbox) -> None:
    shop = tiktok_shop(running_sandbox)
    item = next(i for i in shop.items.values() if len(i.models) >= 2)
    updates = [
        price(item.id, item.models[0].id, "51500"),
        price(item.id, item.models[1].id, "52500.50"),
    ]
    other = next(i for i in shop.items.values() if i.id != item.id)

    async def scenario() -> tuple[Any, Any]:
        adapter = await connect(running_sandbox)
        ok = await adapter.update_price(updates)
        refused = await adapter.update_price([price(other.id, other.models[0].id, "1", "USD")])
        return ok, refused

    ok, refused = run(scenario)

    assert (ok.calls, len(ok.succeeded), ok.failed) == (1, 2, [])
    assert [m.price for m in item.models[:2]] == [Decimal("51500"), Decimal("52500.50")]
    assert "currency must be IDR" in refused.failed[0].reason


# -- orders ------------------------------------------------------------------------------------


def place_orders(sandbox: RunningSandbox, count: int) -> list[Order]:
    shop = tiktok_shop(sandbox)
    models = [(i.id, m.id) for i in shop.items.values() for m in i.models if m.stock >= 3]
    return [
        sandbox.state.place_order(
            "tiktok", shop.id, [(*models[n % len(models)], 1 + n % 2)], buyer=f"buyer{n}"
        )
        for n in range(count)
    ]


def test_fetch_orders_over_40_days_yields_every_order_once(
    running_sandbox: RunningSandbox,
) -> None:
    orders = place_orders(running_sandbox, 150)
    now = int(utcnow().timestamp())
    with running_sandbox.state.lock:
        for n, order in enumerate(orders):
            order.update_time = now - n * (40 * 86400 // 150) - 60
            order.create_time = order.update_time - 3600
        orders[0].status, orders[1].status = "CANCELLED", "IN_TRANSIT"
    start = utcnow() - timedelta(days=41)
    window = (utcnow() - timedelta(days=20), utcnow() - timedelta(days=10))
    since = time.time()

    async def scenario() -> tuple[list[Any], list[Any]]:
        adapter = await connect(running_sandbox)
        everything = [o async for o in adapter.fetch_orders(since=start, until=utcnow())]
        part = [o async for o in adapter.fetch_orders(since=window[0], until=window[1])]
        return everything, part

    everything, part = run(scenario)

    ids = [o.platform_order_id for o in everything]
    assert len(ids) == len(set(ids)) == 150
    assert set(ids) == {o.id for o in orders}
    in_window = {
        o.id for o in orders if window[0].timestamp() <= o.update_time < window[1].timestamp()
    }
    assert {o.platform_order_id for o in part} == in_window
    by_id = {o.platform_order_id: o for o in everything}
    assert by_id[orders[0].id].status == "cancelled"
    assert by_id[orders[1].id].status == "shipped"
    assert by_id[orders[2].id].status == "to_ship"
    two_units = by_id[orders[3].id]
    assert [line.quantity for line in two_units.lines] == [2]
    assert two_units.total == orders[3].total and two_units.customer_name == "b***3"
    assert len(calls(running_sandbox, "/orders/search", since)) == 2 + 1


def test_bare_search_results_get_details_in_batches_of_50() -> None:
    """Whether the real search returns full orders is unconfirmed (§2.4): ids alone work too.
    Also pins the wire form: the path is signed without the host's prefix, the token travels
    in the header only, shop calls carry the cipher."""
    app = AppCredentials("tiktok", "key1", "secret1")
    details: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        path = request.url.path.removeprefix("/prefix")
        assert query.pop("sign") == sign(app.secret, path, query, request.content)
        assert request.headers["x-tts-access-token"] == "tok"
        assert "access_token" not in query and query["shop_cipher"] == "ROW_c"
        if path.endswith("/orders/search"):
            first = 0 if "page_token" not in query else 100
            ids = [str(n) for n in range(first, min(first + 100, 120))]
            orders = [{"id": i, "status": "AWAITING_SHIPMENT"} for i in ids]
            data = {"orders": orders, "next_page_token": "p2" if first == 0 else ""}
        else:
            ids = query["ids"].split(",")
            details.append(len(ids))
            data = {"orders": [full_order(i) for i in ids]}
        return httpx.Response(200, json={"code": 0, "message": "Success", "data": data})

    async def scenario() -> list[Any]:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        credentials = Credentials(
            access_token="tok",
            refresh_token="ref",
            access_expires_at=utcnow() + timedelta(days=1),
            shop_id="1",
            shop_cipher="ROW_c",
        )
        connection = Connection(
            app=app,
            base_url="http://tiktok.test/prefix",
            auth_base_url="http://auth.test",
            http=ResilientClient(client=client, limiter=RateLimiter(1000)),
            credentials=credentials,
        )
        adapter = TikTokShopAdapter(connection)
        return [o async for o in adapter.fetch_orders(since=utcnow() - timedelta(days=3))]

    orders = run(scenario)

    assert details == [50, 50, 20]
    assert sorted(int(o.platform_order_id) for o in orders) == list(range(120))
    assert orders[0].lines[0].quantity == 2 and orders[0].total == Decimal("20")


def full_order(order_id: str) -> dict[str, Any]:
    unit = {"product_id": "p1", "sku_id": "s1", "seller_sku": "KAOS-M", "sale_price": "10"}
    return {
        "id": order_id,
        "status": "AWAITING_SHIPMENT",
        "create_time": 1_700_000_000,
        "update_time": 1_700_000_100,
        "line_items": [unit, unit],
        "payment": {"currency": "IDR", "total_amount": "20"},
        "recipient_address": {"name": "Budi"},
    }


def test_arrange_shipment_returns_the_tracking_number(running_sandbox: RunningSandbox) -> None:
    placed = httpx.post(
        f"{running_sandbox.base_url}/sandbox/orders", json={"platform": "tiktok"}
    ).json()

    async def scenario() -> tuple[Shipment, Any]:
        adapter = await connect(running_sandbox)
        shipment = await adapter.arrange_shipment(placed["id"], ShipRequest(method="pickup"))
        [detail] = await adapter.fetch_order_details([placed["id"]])
        with pytest.raises(AppError) as again:
            await adapter.arrange_shipment(placed["id"], ShipRequest(method="pickup"))
        assert again.value.type is ErrorType.VALIDATION and not again.value.retryable
        assert "already been shipped" in again.value.message
        return shipment, detail

    shipment, detail = run(scenario)

    order = running_sandbox.state.orders[("tiktok", placed["id"])]
    assert shipment == Shipment(
        platform_order_id=order.id,
        package_id=order.package_id,
        method="pickup",
        tracking_number=order.tracking_number,
        carrier="J&T Express",
    )
    assert order.tracking_number.startswith("JX") and order.status == "AWAITING_COLLECTION"
    assert (detail.status, detail.tracking_number) == ("to_ship", order.tracking_number)


# -- webhooks and health -----------------------------------------------------------------------


def test_setup_webhooks_registers_order_cancellation_and_return_events_only(
    running_sandbox: RunningSandbox, receiver: Receiver
) -> None:
    app = app_credentials(running_sandbox.base_url, "tiktok")

    async def scenario() -> None:
        adapter = await connect(running_sandbox)
        await adapter.setup_webhooks(receiver.url)

    run(scenario)
    placed = httpx.post(
        f"{running_sandbox.base_url}/sandbox/orders", json={"platform": "tiktok"}
    ).json()
    deadline = time.monotonic() + 5
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.05)

    events = running_sandbox.sandbox.sims["tiktok"].webhooks.events  # type: ignore[attr-defined]
    assert set(events) == {  # not the stock pushes StoreSync ignores
        "ORDER_STATUS_CHANGE",
        "CANCELLATION_STATUS_CHANGE",
        "RETURN_STATUS_CHANGE",
    }
    headers, body = receiver.received[0]
    assert verify_push(app.key, app.secret, body, headers["authorization"])
    assert json.loads(body)["data"]["order_id"] == placed["id"]


def test_health_reports_the_shop_and_latency(running_sandbox: RunningSandbox) -> None:
    async def scenario() -> Any:
        adapter = await connect(running_sandbox)
        return await adapter.health()

    health = run(scenario)

    assert health.ok and health.latency_ms > 0
    assert health.shop_name == tiktok_shop(running_sandbox).name


# -- tokens, faults and wrong credentials ------------------------------------------------------


def test_expired_token_is_refreshed_once_transparently(running_sandbox: RunningSandbox) -> None:
    base = running_sandbox.base_url
    saved: list[Credentials] = []

    async def remember(credentials: Credentials) -> None:
        saved.append(credentials)

    async def scenario() -> tuple[Credentials, Credentials | None, Any]:
        adapter = await connect(running_sandbox, on_refresh=remember)
        before = adapter.connection.credentials
        assert before is not None
        httpx.post(f"{base}/sandbox/tokens/expire", json={"platform": "tiktok"})
        health = await adapter.health()
        return before, adapter.connection.credentials, health

    since = time.time()
    before, after, health = run(scenario)

    assert health.ok
    assert after is not None and saved == [after]
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    assert (after.shop_id, after.shop_cipher) == (before.shop_id, before.shop_cipher)
    assert len(calls(running_sandbox, "/token/refresh", since)) == 1
    outcomes = [c["status"] for c in calls(running_sandbox, "/authorization/202309/shops", since)]
    assert outcomes[-2:] == [401, 200]


def test_a_second_token_refusal_raises_instead_of_looping(running_sandbox: RunningSandbox) -> None:
    base = running_sandbox.base_url

    async def scenario() -> AppError:
        adapter = await connect(running_sandbox)
        credentials = adapter.connection.credentials
        assert credentials is not None
        adapter.connection.credentials = credentials.model_copy(update={"refresh_token": "spent"})
        httpx.post(f"{base}/sandbox/tokens/expire", json={"platform": "tiktok"})
        with pytest.raises(AppError) as refused:
            await adapter.fetch_order_details(["576000000000000001"])
        return refused.value

    since = time.time()
    error = run(scenario)

    assert (error.type, error.code, error.retryable) == (
        ErrorType.AUTHENTICATION,
        "reauthorize",  # the refresh token was refused: the seller must connect again
        False,
    )
    assert len(calls(running_sandbox, "/token/refresh", since)) == 1
    assert len(calls(running_sandbox, "/order/202309/orders", since)) == 1


def test_push_completes_after_backoff_while_rate_limited(running_sandbox: RunningSandbox) -> None:
    base = running_sandbox.base_url
    shop = tiktok_shop(running_sandbox)
    items = list(shop.items.values())[:3]
    updates = [stock(i.id, m.id, 42, m.warehouse_id) for i in items for m in i.models]

    async def scenario() -> Any:
        adapter = await connect(running_sandbox)
        adapter.connection.http.policy = RetryPolicy(
            max_attempts=12, base_delay=0.05, max_delay=0.5
        )
        httpx.post(f"{base}/sandbox/faults", json={"platform": "tiktok", "rate_limited_seconds": 2})
        return await adapter.update_stock(updates)

    since = time.time()
    started = time.monotonic()
    result = run(scenario)

    assert time.monotonic() - started >= 2
    assert result.failed == [] and len(result.succeeded) == len(updates)
    assert all(m.stock == 42 for i in items for m in i.models)
    outcomes = Counter(c["outcome"] for c in calls(running_sandbox, "/inventory/update", since))
    assert outcomes["rate_limited"] >= 1 and outcomes["ok"] == 3


def test_5xx_burst_opens_the_circuit_and_a_success_closes_it(
    running_sandbox: RunningSandbox,
) -> None:
    base = running_sandbox.base_url

    async def scenario() -> None:
        adapter = await connect(running_sandbox)
        breaker = adapter.connection.http.breaker
        breaker.reset_after = 0.5
        httpx.post(f"{base}/sandbox/faults", json={"platform": "tiktok", "burst_5xx": 5})

        with pytest.raises(AppError) as outage:
            await adapter.fetch_order_details(["576000000000000001"])
        assert (outage.value.code, outage.value.retryable) == ("server_error", True)
        assert breaker.state == "open"

        reached = len(calls(running_sandbox, "", 0))
        with pytest.raises(AppError) as paused:
            await adapter.fetch_order_details(["576000000000000001"])
        assert paused.value.code == "circuit_open"
        assert len(calls(running_sandbox, "", 0)) == reached

        await asyncio.sleep(0.6)
        assert await adapter.fetch_order_details(["576000000000000001"]) == []
        assert breaker.state is BreakerState.CLOSED

    run(scenario)


def test_wrong_app_secret_is_one_clear_authentication_error(
    running_sandbox: RunningSandbox,
) -> None:
    base = running_sandbox.base_url
    real = app_credentials(base, "tiktok")
    wrong = AppCredentials("tiktok", real.key, "0" * len(real.secret), real.service_id)
    item = next(iter(tiktok_shop(running_sandbox).items.values()))
    update = stock(item.id, item.models[0].id, 3, item.models[0].warehouse_id)

    async def scenario() -> tuple[AppError, AppError, float]:
        good = await connect(running_sandbox)
        adapter = await connect(running_sandbox, app=wrong, credentials=good.connection.credentials)
        start = time.time()
        with pytest.raises(AppError) as pushed:
            await adapter.update_stock([update])
        code = httpx.post(f"{base}/sandbox/authorize", json={"platform": "tiktok"}).json()["code"]
        with pytest.raises(AppError) as exchanged:
            await adapter.exchange_code(code=code)
        return pushed.value, exchanged.value, start

    pushed, exchanged, start = run(scenario)

    for error in (pushed, exchanged):
        assert (error.type, error.code, error.retryable) == (
            ErrorType.AUTHENTICATION,
            "bad_app_credentials",
            False,
        )
        assert "wrong app key or secret" in error.message
        assert real.secret not in error.message and wrong.secret not in error.message
    assert len(calls(running_sandbox, "/inventory/update", start)) == 1
    assert len(calls(running_sandbox, "/token/get", start)) == 1


def test_no_token_secret_or_signature_in_any_log(
    running_sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Ours and httpx's (which logs every URL: TikTok puts the app secret in token calls)."""
    base = running_sandbox.base_url
    item = next(iter(tiktok_shop(running_sandbox).items.values()))

    async def scenario() -> None:
        adapter = await connect(running_sandbox)
        httpx.post(f"{base}/sandbox/tokens/expire", json={"platform": "tiktok"})
        await adapter.update_stock([stock(item.id, item.models[0].id, 9)])
        await adapter.refresh()

    caplog.set_level(logging.DEBUG)
    run(scenario)

    state = running_sandbox.state
    secrets = [state.apps["tiktok"].secret, *(c.code for c in state.codes.values())]
    secrets += [t.access_token for t in state.tokens.values()]
    secrets += [t.refresh_token for t in state.tokens.values()]
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert any("refreshed" in r.getMessage() for r in caplog.records)
    assert "token/refresh" in text and "app_secret=<hidden>" in text
    assert len(secrets) >= 7
    assert [s for s in secrets if s in text] == []
    assert re.search(r"sign=[0-9a-f]{64}", text) is None
