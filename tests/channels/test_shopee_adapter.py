"""ShopeeAdapter against the Shopee simulator over real HTTP on 127.0.0.1.

Every test opens its own connection (unique store key, so a fresh circuit breaker) and counts
what reached the sandbox through its inspection API, `GET /sandbox/calls`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from storesync.channels.registry import build_adapter, open_connection
from storesync.channels.resilience import RetryPolicy
from storesync.channels.schemas import (
    AppCredentials,
    AuthorizedShop,
    Credentials,
    PriceUpdate,
    ShipRequest,
    StockUpdate,
)
from storesync.channels.shopee.adapter import ShopeeAdapter
from storesync.channels.shopee.signing import public_base, shop_base, sign, verify_push
from storesync.channels.shopee.wire import classify_response
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType
from storesync.sandbox.state import Item, Model, Shop, now
from tests.channels.conftest import app_credentials, sandbox_settings
from tests.sandbox.conftest import Receiver, RunningSandbox

PRODUCT = "/api/v2/product"
Scenario = Callable[[ShopeeAdapter], Awaitable[Any]]


# -- helpers -----------------------------------------------------------------------------------


def adapter_for(
    sandbox: RunningSandbox,
    *,
    app: AppCredentials | None = None,
    credentials: Credentials | None = None,
    policy: RetryPolicy | None = None,
) -> ShopeeAdapter:
    base = sandbox.base_url
    connection = open_connection(
        "shopee",
        app=app or app_credentials(base, "shopee"),
        credentials=credentials,
        settings=sandbox_settings(base),
        store_key=f"test-shopee-{uuid.uuid4().hex}",
        rate=2000,
    )
    connection.http.policy = policy or RetryPolicy(base_delay=0.05, max_delay=0.5)
    adapter = build_adapter("shopee", connection)
    assert isinstance(adapter, ShopeeAdapter)
    return adapter


def run(adapter: ShopeeAdapter, scenario: Scenario) -> Any:
    async def main() -> Any:
        try:
            return await scenario(adapter)
        finally:
            await adapter.connection.http.client.aclose()

    return asyncio.run(main())


async def authorize(adapter: ShopeeAdapter) -> AuthorizedShop:
    """A code from the control API (no browser), traded by the adapter."""
    base = adapter.connection.base_url.removesuffix("/shopee")
    code = httpx.post(f"{base}/sandbox/authorize", json={"platform": "shopee"}).json()
    return await adapter.exchange_code(code=code["code"], shop_id=code["shop_id"])


def calls(sandbox: RunningSandbox, path: str, since: float) -> dict[str, Any]:
    """What reached the sandbox on `path` since `since` (Unix time): total and per outcome."""
    answer = httpx.get(
        f"{sandbox.base_url}/sandbox/calls",
        params={"platform": "shopee", "path": path, "since": since},
    ).json()
    outcomes: dict[str, int] = {}
    for key, count in answer["counts"].items():
        outcome = key.rsplit(" ", 1)[1]
        outcomes[outcome] = outcomes.get(outcome, 0) + count
    return {"total": answer["total"], **outcomes}


def faults(sandbox: RunningSandbox, **changes: Any) -> None:
    httpx.post(f"{sandbox.base_url}/sandbox/faults", json={"platform": "shopee", **changes})


def the_shop(sandbox: RunningSandbox) -> Shop:
    shop: Shop = sandbox.state.shops_of("shopee")[0]
    return shop


def record_requests(adapter: ShopeeAdapter) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request)

    adapter.connection.http.client.event_hooks["request"].append(hook)
    return seen


# -- signing -----------------------------------------------------------------------------------

VECTORS = [
    ("abc", "1/api/v2/shop/auth_partner1610000000", "c182b8cd3c3ea1d52ccb1a213ff5dbc9388520f455fc2a13523bd0e829798bf0"),  # noqa: E501
    ("test_partner_key", "2001887/api/v2/shop/auth_partner1655714431", "7aaf77cf2fb63bdf25623b6c3c2ad87ad51ccf4fe66e370b93b89f28bcafe45c"),  # noqa: E501
    ("test_partner_key", "2001887/api/v2/product/get_item_list165571443159777174636562737266615546704c6d14701711", "9d1c7b774dc15a752c1b0a15e34b97d3d0b3a0c4077490aaf6276242ab965b1c"),  # noqa: E501
]  # fmt: skip
PUSH_URL = "https://example.com/webhooks/shopee"
PUSH_BODY = (
    b'{"data":{"ordersn":"220101ABCDEF","status":"READY_TO_SHIP","update_time":1655714431},'
    b'"shop_id":14701711,"code":3,"timestamp":1655714431}'
)
PUSH_SIGNATURE = "a3b07a917c9c45c90da540b3c1397b933eda7a1ae81d050ffdf5a9b9ce19b581"


@pytest.mark.parametrize(("key", "base", "expected"), VECTORS)
def test_sign_matches_the_documented_vectors(key: str, base: str, expected: str) -> None:
    assert sign(key, base) == expected


def test_base_strings_are_built_as_documented() -> None:
    assert public_base("2001887", "/api/v2/shop/auth_partner", 1655714431) == VECTORS[1][1]
    token = "59777174636562737266615546704c6d"
    built = shop_base(2001887, "/api/v2/product/get_item_list", 1655714431, token, "14701711")
    assert built == VECTORS[2][1]


def test_verify_push_accepts_the_documented_vector_and_nothing_else() -> None:
    assert verify_push("test_partner_key", PUSH_URL, PUSH_BODY, PUSH_SIGNATURE)
    assert not verify_push("test_partner_key", PUSH_URL, PUSH_BODY + b" ", PUSH_SIGNATURE)
    assert not verify_push("test_partner_key", PUSH_URL + "?x=1", PUSH_BODY, PUSH_SIGNATURE)
    assert not verify_push("other_key", PUSH_URL, PUSH_BODY, PUSH_SIGNATURE)
    assert not verify_push("test_partner_key", PUSH_URL, PUSH_BODY, "")
    assert not verify_push("test_partner_key", PUSH_URL, PUSH_BODY, "é" * 64)


# -- error classification ----------------------------------------------------------------------


def answer(status: int, body: dict[str, Any] | bytes) -> httpx.Response:
    content = body if isinstance(body, bytes) else httpx.Response(200, json=body).content
    return httpx.Response(status, content=content)


@pytest.mark.parametrize(
    ("status", "body", "kind", "code", "retryable"),
    [
        (429, {"error": "error_rate_limit", "message": "Too many"}, "rate_limit", "rate_limited", True),  # noqa: E501
        (200, {"error": "error_rate_limit", "message": "Too many"}, "rate_limit", "rate_limited", True),  # noqa: E501
        (429, b"<html>slow down</html>", "rate_limit", "rate_limited", True),
        (503, {"error": "error_system_busy", "message": "busy"}, "platform_api", "server_error", True),  # noqa: E501
        (500, {"error": "error_inner", "message": "oops"}, "platform_api", "server_error", True),
        (502, b"Bad Gateway", "platform_api", "server_error", True),
        (200, b'{"error": "", "respo', "platform_api", "malformed_response", True),
        (403, {"error": "invalid_acceess_token", "message": "Invalid access_token."}, "authentication", "token_invalid", False),  # noqa: E501
        (403, {"error": "error_auth", "message": "Invalid access_token."}, "authentication", "token_invalid", False),  # noqa: E501
        (403, {"error": "error_sign", "message": "Wrong sign."}, "authentication", "bad_app_credentials", False),  # noqa: E501
        (400, {"error": "error_param", "message": "Invalid partner_id."}, "authentication", "bad_app_credentials", False),  # noqa: E501
        (403, {"error": "error_auth", "message": "Invalid partner_id or shopid."}, "authentication", "reauthorize", False),  # noqa: E501
        (400, {"error": "error_param", "message": "Wrong parameters, detail: x."}, "validation", "rejected", False),  # noqa: E501
        (400, {"error": "error_item_not_found", "message": "Item_id is not found."}, "not_found", "not_found", False),  # noqa: E501
        (403, {"error": "error_permission", "message": "no"}, "authorization", "error_permission", False),  # noqa: E501
        (400, {"error": "error_param", "message": "Timestamp is expired"}, "platform_api", "clock_skew", False),  # noqa: E501
        (400, {"error": "error_something_new", "message": "?"}, "platform_api", "rejected", False),
        (404, b"<html>not here</html>", "platform_api", "malformed_response", False),
    ],
)  # fmt: skip
def test_platform_answers_are_classified_once(
    status: int, body: dict[str, Any] | bytes, kind: str, code: str, retryable: bool
) -> None:
    error = classify_response(answer(status, body), "/api/v2/x")
    assert error is not None
    assert (error.type.value, error.code, error.retryable) == (kind, code, retryable)


def test_success_and_accepted_business_errors_are_not_errors() -> None:
    assert classify_response(answer(200, {"error": "", "response": {}}), "/p") is None
    refused = answer(400, {"error": "error_busi_update_stock_failed", "response": {}})
    assert classify_response(refused, "/p", accept={"error_busi_update_stock_failed"}) is None
    assert classify_response(refused, "/p") is not None


# -- connecting --------------------------------------------------------------------------------


def test_oauth_round_trip_through_the_consent_page(running_sandbox: RunningSandbox) -> None:
    adapter = adapter_for(running_sandbox)
    shop = the_shop(running_sandbox)

    async def scenario(adapter: ShopeeAdapter) -> None:
        url = adapter.authorize_url(
            redirect_url="https://app.example.com/connect/shopee?from=storesync", state="s-42"
        )
        assert url.startswith(f"{running_sandbox.base_url}/shopee/api/v2/shop/auth_partner?")
        async with httpx.AsyncClient() as browser:
            page = await browser.get(url)
            assert page.status_code == 200, page.text
            form = dict(re.findall(r'name="(nonce|shop_id)" value="([^"]+)"', page.text))
            back = await browser.post(page.url, data=form, follow_redirects=False)
        assert back.status_code == 302
        location = urlsplit(back.headers["location"])
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        assert location.netloc == "app.example.com" and location.path == "/connect/shopee"
        assert query["from"] == "storesync" and query["state"] == "s-42"

        issued = utcnow()
        connected = await adapter.exchange_code(code=query["code"], shop_id=query["shop_id"])
        assert (connected.platform_store_id, connected.name, connected.region) == (
            shop.id,
            shop.name,
            "ID",
        )
        credentials = connected.credentials
        assert adapter.connection.credentials == credentials and credentials.shop_id == shop.id
        lifetime = credentials.access_expires_at - issued
        assert timedelta(hours=3, minutes=58) < lifetime <= timedelta(hours=4, seconds=5)
        assert credentials.refresh_expires_at is not None
        assert credentials.refresh_expires_at - issued >= timedelta(days=29, hours=23)
        with pytest.raises(AppError) as spent:  # the code works once
            await adapter.exchange_code(code=query["code"], shop_id=query["shop_id"])
        assert spent.value.type is ErrorType.AUTHENTICATION

    run(adapter, scenario)


def test_health_reports_the_shop_and_latency(running_sandbox: RunningSandbox) -> None:
    async def scenario(adapter: ShopeeAdapter) -> None:
        not_yet = await adapter.health()
        assert not not_yet.ok and not_yet.detail.startswith("not_connected")
        await authorize(adapter)
        health = await adapter.health()
        assert health.ok and health.shop_name == the_shop(running_sandbox).name
        assert 0 < health.latency_ms < 5000

    run(adapter_for(running_sandbox), scenario)


def test_wrong_partner_key_is_a_clear_error_not_a_retry_loop(
    running_sandbox: RunningSandbox,
) -> None:
    real = app_credentials(running_sandbox.base_url, "shopee")
    wrong_key = AppCredentials("shopee", real.key, "0" * 64)
    wrong_id = AppCredentials("shopee", str(int(real.key) + 1), real.secret)
    code = httpx.post(f"{running_sandbox.base_url}/sandbox/authorize", json={"platform": "shopee"})

    for app in (wrong_key, wrong_id):
        since = time.time()

        async def scenario(adapter: ShopeeAdapter) -> None:
            await adapter.exchange_code(code=code.json()["code"], shop_id=code.json()["shop_id"])

        with pytest.raises(AppError) as raised:
            run(adapter_for(running_sandbox, app=app), scenario)
        error = raised.value
        assert (error.type, error.code, error.retryable) == (
            ErrorType.AUTHENTICATION,
            "bad_app_credentials",
            False,
        )
        assert "wrong partner id or key" in error.message and app.secret not in error.message
        assert calls(running_sandbox, "/api/v2/auth/token/get", since)["total"] == 1

    # A shop call signed with the wrong key is not mistaken for an expired token either.
    async def shop_call(adapter: ShopeeAdapter) -> Any:
        return await adapter.health()

    good = run(adapter_for(running_sandbox), authorize).credentials
    since = time.time()
    health = run(adapter_for(running_sandbox, app=wrong_key, credentials=good), shop_call)
    assert not health.ok and health.detail.startswith("bad_app_credentials")
    assert calls(running_sandbox, "/api/v2/shop/get_shop_info", since)["total"] == 1
    assert calls(running_sandbox, "/api/v2/auth/access_token/get", since)["total"] == 0


# -- products and stock ------------------------------------------------------------------------


def test_fetches_all_2000_products_exactly_once(big_sandbox: RunningSandbox) -> None:
    shop = the_shop(big_sandbox)
    since = time.time()

    async def scenario(adapter: ShopeeAdapter) -> list[Any]:
        await authorize(adapter)
        return [product async for product in adapter.fetch_products()]

    products = run(adapter_for(big_sandbox), scenario)
    ids = [p.platform_item_id for p in products]
    assert len(ids) == 2000 and set(ids) == set(shop.items)
    with_models = [i for i in shop.items.values() if i.has_models]
    assert calls(big_sandbox, f"{PRODUCT}/get_item_list", since)["total"] == 20
    assert calls(big_sandbox, f"{PRODUCT}/get_item_base_info", since)["total"] == 40
    assert calls(big_sandbox, f"{PRODUCT}/get_model_list", since)["total"] == len(with_models)

    for product in products:
        item = shop.items[product.platform_item_id]
        assert product.title == item.title and product.status == "NORMAL"
        assert len(product.variants) == len(item.models)
        for variant, model in zip(product.variants, item.models, strict=True):
            expected_model_id = model.id if item.has_models else ""
            assert variant.platform_model_id == expected_model_id
            assert (variant.sku, variant.quantity, variant.price) == (
                model.sku,
                model.stock,
                model.price,
            )
            assert variant.location_id == "IDZ" and variant.currency == "IDR"
            assert variant.model_name == (model.name if item.has_models else "")


def test_500_stock_changes_go_out_in_the_fewest_calls(big_sandbox: RunningSandbox) -> None:
    shop = the_shop(big_sandbox)
    rng = random.Random(500)
    chosen: list[tuple[Item, Model]] = []
    items = sorted(shop.items.values(), key=lambda i: int(i.id))
    rng.shuffle(items)
    for item in items:
        take = rng.randint(1, len(item.models))
        chosen += [(item, m) for m in item.models[:take]][: 500 - len(chosen)]
        if len(chosen) == 500:
            break
    per_item: dict[str, int] = {}
    for item, _model in chosen:
        per_item[item.id] = per_item.get(item.id, 0) + 1
    minimum = sum(math.ceil(n / 50) for n in per_item.values())
    updates = [
        StockUpdate(
            platform_item_id=item.id,
            platform_model_id=model.id if item.has_models else "",
            quantity=rng.randrange(0, 300),
        )
        for item, model in chosen
    ]
    rng.shuffle(updates)  # interleaved items must still be grouped
    since = time.time()

    async def scenario(adapter: ShopeeAdapter) -> Any:
        await authorize(adapter)
        return await adapter.update_stock(updates)

    result = run(adapter_for(big_sandbox), scenario)
    assert not result.failed and len(result.succeeded) == 500
    assert result.calls == minimum
    reached = calls(big_sandbox, f"{PRODUCT}/update_stock", since)
    assert reached["total"] == reached["ok"] == minimum
    for update in updates:
        _item, model = shop.find_model(update.platform_item_id, update.platform_model_id or "0")
        assert model.stock == update.quantity
    print(f"500 stock changes over {len(per_item)} items -> {result.calls} calls")


def test_an_item_with_more_than_50_models_is_split(running_sandbox: RunningSandbox) -> None:
    shop = the_shop(running_sandbox)
    created = now()
    item = Item(
        id="99000000001",
        title="Kaos Warna Warni",
        status="NORMAL",
        has_models=True,
        models=[
            Model(str(5_000_000_000 + n), f"KWW-{n:03d}", f"Warna {n}", Decimal(50_000), 1)
            for n in range(120)
        ],
        images=[],
        create_time=created,
        update_time=created,
    )
    with running_sandbox.state.lock:
        shop.items[item.id] = item
    stock = [
        StockUpdate(platform_item_id=item.id, platform_model_id=m.id, quantity=7)
        for m in item.models
    ]
    prices = [
        PriceUpdate(
            platform_item_id=item.id,
            platform_model_id=m.id,
            price=Decimal(61_000),
            currency="IDR",
        )
        for m in item.models
    ]
    since = time.time()

    async def scenario(adapter: ShopeeAdapter) -> Any:
        await authorize(adapter)
        return await adapter.update_stock(stock), await adapter.update_price(prices)

    stock_result, price_result = run(adapter_for(running_sandbox), scenario)
    assert (stock_result.calls, len(stock_result.succeeded)) == (3, 120)
    assert (price_result.calls, len(price_result.succeeded)) == (3, 120)
    assert calls(running_sandbox, f"{PRODUCT}/update_stock", since)["total"] == 3
    assert calls(running_sandbox, f"{PRODUCT}/update_price", since)["total"] == 3
    assert {m.stock for m in item.models} == {7}
    assert {m.price for m in item.models} == {Decimal(61_000)}


def test_refused_updates_are_reported_per_model(running_sandbox: RunningSandbox) -> None:
    shop = the_shop(running_sandbox)
    plain = next(i for i in shop.items.values() if not i.has_models)
    varied = next(i for i in shop.items.values() if i.has_models)
    before = varied.models[1].stock
    updates = [
        StockUpdate(platform_item_id=plain.id, platform_model_id="", quantity=11),
        StockUpdate(platform_item_id=varied.id, platform_model_id=varied.models[0].id, quantity=3),
        StockUpdate(platform_item_id=varied.id, platform_model_id=varied.models[1].id, quantity=-1),
        StockUpdate(platform_item_id="98989898989", platform_model_id="", quantity=1),
        StockUpdate(platform_item_id="not-an-id", platform_model_id="", quantity=1),
    ]
    prices = [
        PriceUpdate(platform_item_id=plain.id, platform_model_id="", price=Decimal("1234.5"), currency="IDR"),  # noqa: E501
        PriceUpdate(platform_item_id=varied.id, platform_model_id=varied.models[0].id, price=Decimal(99_000), currency="IDR"),  # noqa: E501
    ]  # fmt: skip

    async def scenario(adapter: ShopeeAdapter) -> Any:
        await authorize(adapter)
        return await adapter.update_stock(updates), await adapter.update_price(prices)

    stock, price = run(adapter_for(running_sandbox), scenario)
    assert stock.succeeded == updates[:2] and stock.calls == 3  # the bad id never left
    reasons = {(f.platform_item_id, f.platform_model_id): f.reason for f in stock.failed}
    assert "larger than or equal to 0" in reasons[(varied.id, varied.models[1].id)]
    assert "not found" in reasons[("98989898989", "")]
    assert "not a Shopee" in reasons[("not-an-id", "")]
    assert plain.models[0].stock == 11 and varied.models[0].stock == 3
    assert varied.models[1].stock == before
    assert price.succeeded == prices[1:] and "decimal" in price.failed[0].reason
    assert varied.models[0].price == Decimal(99_000)


# -- orders ------------------------------------------------------------------------------------


def place_orders(sandbox: RunningSandbox, count: int) -> list[Any]:
    """`count` one-unit orders, spread over the listings that still have stock."""
    shop = the_shop(sandbox)
    models = [(i, m) for i in shop.items.values() for m in i.models]
    placed: list[Any] = []
    for item, model in itertools.cycle(models):
        if len(placed) == count:
            return placed
        if model.stock > 0:
            order = sandbox.state.place_order("shopee", shop.id, [(item.id, model.id, 1)])
            placed.append(order)
    raise AssertionError("unreachable")


def test_orders_of_40_days_come_in_3_windows_each_once(running_sandbox: RunningSandbox) -> None:
    until = datetime.fromtimestamp(now() - 60, UTC)
    since = until - timedelta(days=40)
    orders = place_orders(running_sandbox, 260)
    start, end = int(since.timestamp()), int(until.timestamp())
    statuses = ["UNPAID", "READY_TO_SHIP", "PROCESSED", "SHIPPED", "TO_CONFIRM_RECEIVE"]
    statuses += ["COMPLETED", "CANCELLED", "TO_RETURN", "IN_CANCEL"]
    with running_sandbox.state.lock:
        for n, order in enumerate(orders[:240]):
            # 120 orders in the first day force a second page in the first window.
            offset = n * 60 if n < 120 else (n - 120) * (end - start - 86400) // 120 + 86400
            order.create_time = order.update_time = start + offset
            order.status = statuses[n % len(statuses)]
        orders[240].update_time = start + 15 * 86400  # exactly on a window boundary
        orders[241].update_time = start - 1  # before the range
        orders[242].update_time = end  # `until` is excluded
        for order in orders[243:]:
            order.update_time = end + 3600
    expected = {o.id for o in orders[:241]}

    async def scenario(adapter: ShopeeAdapter) -> list[Any]:
        await authorize(adapter)
        return [order async for order in adapter.fetch_orders(since=since, until=until)]

    adapter = adapter_for(running_sandbox)
    requests = record_requests(adapter)
    fetched = run(adapter, scenario)
    ids = [o.platform_order_id for o in fetched]
    assert len(ids) == len(expected) and set(ids) == expected

    listing = [r.url.params for r in requests if r.url.path.endswith("/get_order_list")]
    windows = sorted({(int(p["time_from"]), int(p["time_to"])) for p in listing})
    assert len(windows) == 3 and len(listing) == 4  # the first window has two pages
    assert windows[0][0] == start and windows[-1][1] == end - 1
    for (_, previous_to), (next_from, _) in itertools.pairwise(windows):
        assert next_from == previous_to + 1
    assert all(to - frm <= 15 * 86400 for frm, to in windows)
    assert all(p["time_range_field"] == "update_time" for p in listing)
    details = [r for r in requests if r.url.path.endswith("/get_order_detail")]
    assert all(len(r.url.params["order_sn_list"].split(",")) <= 50 for r in details)

    mapped = {o.platform_status: o.status for o in fetched}
    assert mapped == {
        "UNPAID": "unpaid",
        "READY_TO_SHIP": "to_ship",
        "PROCESSED": "to_ship",
        "IN_CANCEL": "to_ship",
        "SHIPPED": "shipped",
        "TO_CONFIRM_RECEIVE": "delivered",
        "COMPLETED": "completed",
        "CANCELLED": "cancelled",
        "TO_RETURN": "returned",
    }
    by_id = {o.id: o for o in orders}
    for order in fetched:
        source = by_id[order.platform_order_id]
        line, placed_line = order.lines[0], source.lines[0]
        assert order.total == source.total and order.currency == "IDR"
        assert order.customer_name == source.buyer
        assert order.updated_at == datetime.fromtimestamp(source.update_time, UTC)
        assert (line.platform_item_id, line.sku, line.quantity, line.unit_price) == (
            placed_line.item_id,
            placed_line.sku,
            1,
            placed_line.price,
        )
        assert line.platform_model_id == (
            "" if placed_line.model_id == "0" else placed_line.model_id
        )


def test_arrange_shipment_picks_up_at_an_offered_slot(running_sandbox: RunningSandbox) -> None:
    (order,) = place_orders(running_sandbox, 1)

    async def scenario(adapter: ShopeeAdapter) -> tuple[Any, Any, Any]:
        await authorize(adapter)
        options = await adapter.shipping_options(order.id)
        address = options.addresses[0]
        request = ShipRequest(
            method="pickup", address_id=address.address_id, slot_id=address.slots[0].slot_id
        )
        shipment = await adapter.arrange_shipment(order.id, request)
        (detail,) = await adapter.fetch_order_details([order.id, "000000NOTREAL"])
        with pytest.raises(AppError) as again:
            await adapter.arrange_shipment(order.id, request)
        return shipment, detail, again.value

    shipment, detail, again = run(adapter_for(running_sandbox), scenario)
    assert shipment.tracking_number.startswith("SPXID")
    assert shipment.tracking_number == order.tracking_number
    assert shipment.method == order.handover_method == "pickup"
    assert order.status == "PROCESSED"
    assert (detail.platform_status, detail.status) == ("PROCESSED", "to_ship")
    assert again.type is ErrorType.VALIDATION and not again.retryable
    assert again.details["platform_error"] == "logistics.ship_order_not_ready_to_ship"


# -- tokens ------------------------------------------------------------------------------------


def test_expired_token_is_refreshed_transparently(running_sandbox: RunningSandbox) -> None:
    shop = the_shop(running_sandbox)
    plain = next(i for i in shop.items.values() if not i.has_models)
    rotated: list[Credentials] = []

    async def keep(credentials: Credentials) -> None:
        rotated.append(credentials)

    async def scenario(adapter: ShopeeAdapter) -> Any:
        adapter.connection.on_refresh = keep
        first = (await authorize(adapter)).credentials
        httpx.post(f"{running_sandbox.base_url}/sandbox/tokens/expire", json={"platform": "shopee"})
        update = StockUpdate(platform_item_id=plain.id, platform_model_id="", quantity=42)
        result = await adapter.update_stock([update])
        return first, result

    since = time.time()
    first, result = run(adapter_for(running_sandbox), scenario)
    assert len(result.succeeded) == 1 and plain.models[0].stock == 42
    assert result.calls == 2  # the refused call and its retry (the refresh is not a push)
    assert len(rotated) == 1
    assert rotated[0].access_token != first.access_token
    assert rotated[0].refresh_token != first.refresh_token
    assert running_sandbox.state.refresh_tokens.get(first.refresh_token) is None  # spent
    assert calls(running_sandbox, "/api/v2/auth/access_token/get", since)["total"] == 1


def test_a_token_refused_again_after_refresh_raises(running_sandbox: RunningSandbox) -> None:
    base = running_sandbox.base_url

    async def expire_again(_credentials: Credentials) -> None:
        httpx.post(f"{base}/sandbox/tokens/expire", json={"platform": "shopee"})

    async def scenario(adapter: ShopeeAdapter) -> None:
        await authorize(adapter)
        adapter.connection.on_refresh = expire_again
        httpx.post(f"{base}/sandbox/tokens/expire", json={"platform": "shopee"})
        await adapter.fetch_order_details(["220101ABCDEF"])

    since = time.time()
    with pytest.raises(AppError) as raised:
        run(adapter_for(running_sandbox), scenario)
    assert (raised.value.type, raised.value.code) == (ErrorType.AUTHENTICATION, "token_invalid")
    assert calls(running_sandbox, "/api/v2/auth/access_token/get", since)["total"] == 1
    assert calls(running_sandbox, "/api/v2/order/get_order_detail", since)["total"] == 2


def test_a_refused_refresh_asks_for_reauthorization(running_sandbox: RunningSandbox) -> None:
    async def scenario(adapter: ShopeeAdapter) -> None:
        connected = await authorize(adapter)
        spent = connected.credentials.model_copy(update={"refresh_token": "0" * 32})
        adapter.connection.credentials = spent
        await adapter.refresh()

    with pytest.raises(AppError) as raised:
        run(adapter_for(running_sandbox), scenario)
    assert (raised.value.type, raised.value.code) == (ErrorType.AUTHENTICATION, "reauthorize")


def test_no_token_key_or_signature_reaches_the_logs(
    running_sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_credentials(running_sandbox.base_url, "shopee")

    async def scenario(adapter: ShopeeAdapter) -> list[str]:
        first = (await authorize(adapter)).credentials
        httpx.post(f"{running_sandbox.base_url}/sandbox/tokens/expire", json={"platform": "shopee"})
        await adapter.health()
        second = adapter.connection.credentials
        assert second is not None
        return [first.access_token, first.refresh_token, second.access_token, second.refresh_token]

    with caplog.at_level(logging.DEBUG):
        secrets = run(adapter_for(running_sandbox), scenario)
    assert "get_shop_info" in caplog.text  # httpx did log the requests ...
    for secret in [*secrets, app.secret]:
        assert secret not in caplog.text  # ... without their secrets
    assert not re.search(r"sign=[0-9a-f]{64}", caplog.text)


# -- resilience --------------------------------------------------------------------------------


def test_push_completes_after_the_rate_limit_passes(running_sandbox: RunningSandbox) -> None:
    shop = the_shop(running_sandbox)
    plain = next(i for i in shop.items.values() if not i.has_models)
    patient = RetryPolicy(max_attempts=15, base_delay=0.05, max_delay=0.5)

    async def scenario(adapter: ShopeeAdapter) -> Any:
        await authorize(adapter)
        faults(running_sandbox, rate_limited_seconds=2)
        update = StockUpdate(platform_item_id=plain.id, platform_model_id="", quantity=5)
        return await adapter.update_stock([update])

    since = time.time()
    adapter = adapter_for(running_sandbox, policy=patient)
    result = run(adapter, scenario)
    reached = calls(running_sandbox, f"{PRODUCT}/update_stock", since)
    assert len(result.succeeded) == 1 and plain.models[0].stock == 5
    assert reached["ok"] == 1 and reached["rate_limited"] >= 3
    assert result.calls == reached["total"]
    assert time.time() - since >= 1.9
    assert adapter.connection.http.breaker.state == "closed"  # throttling is not an outage


def test_5xx_burst_opens_the_circuit_and_a_success_closes_it(
    running_sandbox: RunningSandbox,
) -> None:
    shop = the_shop(running_sandbox)
    plain = next(i for i in shop.items.values() if not i.has_models)
    update = StockUpdate(platform_item_id=plain.id, platform_model_id="", quantity=9)
    adapter = adapter_for(running_sandbox, policy=RetryPolicy(base_delay=0.01, max_delay=0.05))
    breaker = adapter.connection.http.breaker
    breaker.reset_after = 0.5
    path = f"{PRODUCT}/update_stock"

    async def scenario(adapter: ShopeeAdapter) -> None:
        await authorize(adapter)
        faults(running_sandbox, burst_5xx=breaker.threshold)
        since = time.time()
        with pytest.raises(AppError) as outage:
            await adapter.update_stock([update])
        assert (outage.value.code, outage.value.retryable) == ("server_error", True)
        assert breaker.state == "open"
        assert calls(running_sandbox, path, since)["fault_5xx"] == breaker.threshold

        since = time.time()
        with pytest.raises(AppError) as fast:
            await adapter.update_stock([update])
        assert fast.value.code == "circuit_open"
        assert calls(running_sandbox, path, since)["total"] == 0  # never left this process

        await asyncio.sleep(breaker.reset_after + 0.1)
        result = await adapter.update_stock([update])
        assert len(result.succeeded) == 1 and breaker.state == "closed"

    run(adapter, scenario)
    assert plain.models[0].stock == 9


# -- webhooks ----------------------------------------------------------------------------------


def test_setup_webhooks_registers_the_url_and_pushes_verify(
    running_sandbox: RunningSandbox, receiver: Receiver
) -> None:
    app = app_credentials(running_sandbox.base_url, "shopee")

    async def scenario(adapter: ShopeeAdapter) -> None:
        await adapter.setup_webhooks(receiver.url)

    run(adapter_for(running_sandbox), scenario)
    assert running_sandbox.state.webhooks["shopee"] == receiver.url
    # Reserved-stock pushes (code 8), which StoreSync ignores, are switched off.
    assert running_sandbox.sandbox.sims["shopee"].push_off == {8}  # type: ignore[attr-defined]
    (order,) = place_orders(running_sandbox, 1)
    deadline = time.monotonic() + 10
    pushes: list[tuple[dict[str, str], bytes]] = []
    while not pushes and time.monotonic() < deadline:
        time.sleep(0.05)
        pushes = [(h, b) for h, b in receiver.received if order.id.encode() in b]
    headers, body = pushes[0]
    assert verify_push(app.secret, receiver.url, body, headers["authorization"])
    assert not verify_push(app.secret, receiver.url, body + b"x", headers["authorization"])
