"""The order CSV export over HTTP: `GET /api/v1/orders/export` (API key, orders:read) and the
browser's `GET /exports/orders.csv` (session cookie), both streaming the inbox's filter."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from storesync.db import session_scope
from storesync.orders.export import COLUMNS
from storesync.tenancy.auth import sessions
from storesync.ui.downloads import routes
from tests.api.conftest import ApiWorld
from tests.factories import browser_session, make_tenant
from tests.orders.conftest import BASE_TIME, Shop, build_shop, minutes
from tests.orders.test_export import _bulk_orders

SESSION_COOKIE = sessions.COOKIE

FILENAME = re.compile(r'^attachment; filename="orders-\d{8}-\d{4}\.csv"$')


@pytest.fixture
def shop(world: ApiWorld) -> Shop:
    """The order tests' shop on the world's engine; the client's key belongs to it."""
    made = build_shop(world.engine)
    world.api.key = world.key("orders:read", ctx=made.ctx)
    return made


@pytest.fixture
def orders(shop: Shop) -> dict[str, str]:
    """Four orders (name → platform order id), newest last."""
    made = {
        "budi": shop.create(
            shop.new_order(shop.line_b(2), order_number="SO-1001", ordered_at=BASE_TIME)
        ),
        "siti": shop.create(
            shop.new_order(
                shop.line_unmapped(),
                status="unpaid",
                customer_name="Siti Aminah",
                ordered_at=BASE_TIME + minutes(60),
            )
        ),
        "tiktok": shop.create(
            shop.new_order(
                shop.line_unmapped(3),
                store_id=shop.tiktok_store_id,
                customer_name="=cmd|' /C calc'!A0",
                ordered_at=BASE_TIME + minutes(120),
            )
        ),
        "gone": shop.create(
            shop.new_order(
                shop.line_unmapped(), status="cancelled", ordered_at=BASE_TIME + minutes(1440)
            )
        ),
    }
    return {name: order.platform_order_id for name, order in made.items()}


def _csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert FILENAME.match(response.headers["content-disposition"])
    assert response.headers["cache-control"] == "no-store"
    assert response.text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff")))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def _ids(response: httpx.Response) -> list[str]:
    return [row["platform_order_id"] for row in _csv(response)]


# The API


def test_the_export_is_the_inbox_as_csv(
    world: ApiWorld, shop: Shop, orders: dict[str, str]
) -> None:
    rows = _csv(world.api.get("/orders/export"))

    assert [row["platform_order_id"] for row in rows] == [
        orders[name] for name in ("gone", "tiktok", "siti", "budi")
    ]
    budi, tiktok = rows[3], rows[1]
    assert (budi["order_number"], budi["store"], budi["status"]) == ("SO-1001", "Shopee", "to_ship")
    assert (budi["items"], budi["quantity"], budi["total"]) == (f"{shop.sku_b} x2", "2", "69000")
    assert budi["ordered_at"] == "2026-03-01T09:00:00+00:00"
    assert (tiktok["platform"], tiktok["store"], tiktok["items"]) == (
        "tiktok",
        "TikTok",
        "NO-SUCH-SKU x3",
    )
    assert tiktok["customer_name"] == "'=cmd|' /C calc'!A0"


def test_the_export_takes_the_inbox_filters(
    world: ApiWorld, shop: Shop, orders: dict[str, str]
) -> None:
    def exported(**params: Any) -> list[str]:
        return _ids(world.api.get("/orders/export", params=params))

    def listed(**params: Any) -> list[str]:
        page = world.api.get("/orders", params=params)
        assert page.status_code == 200, page.text
        return [order["platform_order_id"] for order in page.json()["items"]]

    cases: list[dict[str, Any]] = [
        {"status": "to_ship"},
        {"status": ["unpaid", "cancelled"]},
        {"store_id": str(shop.tiktok_store_id)},
        {"platform": "shopee", "status": "to_ship"},
        {
            "ordered_from": (BASE_TIME + minutes(60)).isoformat(),
            "ordered_to": (BASE_TIME + minutes(1440)).isoformat(),
        },
        {"search": "siti"},
        {"search": "so-1001"},
        {"search": "nobody"},
    ]
    for params in cases:
        assert exported(**params) == listed(**params), params
    assert exported(status=["unpaid", "cancelled"]) == [orders["gone"], orders["siti"]]
    assert exported(search="SO-1001") == [orders["budi"]]


def test_bad_filters_are_refused_naming_the_field(world: ApiWorld, shop: Shop) -> None:
    for params, field in (
        ({"status": "lost"}, "status"),
        ({"ordered_from": "2026-03-01T09:00:00"}, "ordered_from"),
        ({"store_id": "not-an-id"}, "store_id"),
    ):
        response = world.api.get("/orders/export", params=params)
        assert response.status_code == 422, response.text
        assert response.json()["details"]["field"] == field


def test_the_export_needs_a_key_with_orders_read(world: ApiWorld, shop: Shop) -> None:
    assert world.api.get("/orders/export", key=None).status_code == 401
    assert world.api.get("/orders/export", key="ss_live_forged").status_code == 401
    products_only = world.key("products:read", ctx=shop.ctx)
    refused = world.api.get("/orders/export", key=products_only)
    assert refused.status_code == 403
    assert refused.json()["details"]["scope"] == "orders:read"
    assert world.api.get("/orders/export", key=world.key("read", ctx=shop.ctx)).status_code == 200


def test_another_organizations_key_exports_only_its_own_orders(
    world: ApiWorld, shop: Shop, orders: dict[str, str]
) -> None:
    other = build_shop(world.engine)
    mine = other.create(other.new_order(other.line_unmapped()))

    response = world.api.get("/orders/export", key=world.key("orders:read", ctx=other.ctx))

    assert _ids(response) == [mine.platform_order_id]


def test_more_orders_than_a_batch_stream_each_once(world: ApiWorld, shop: Shop) -> None:
    made = _bulk_orders(shop, 1234)

    rows = _csv(world.api.get("/orders/export"))

    assert [row["order_number"] for row in rows] == [number for _, _, number, _ in made]


# The browser's download


@pytest.fixture
def browser(world: ApiWorld) -> TestClient:
    """The download routes as the app server mounts them (on the world's engine)."""
    return TestClient(Starlette(routes=routes))


def _signed_in(client: TestClient, shop: Shop, engine: Engine, **changes: Any) -> TestClient:
    """`client` with the session cookie of the shop's owner (`changes` alter the session)."""
    claims: dict[str, Any] = {
        "user_id": shop.ctx.user_id,
        "organization_id": shop.ctx.organization_id,
        **changes,
    }
    client.cookies.set(SESSION_COOKIE, browser_session(engine, **claims))
    return client


def test_signed_out_browsers_get_401(browser: TestClient, shop: Shop, world: ApiWorld) -> None:
    response = browser.get("/exports/orders.csv")
    assert response.status_code == 401
    assert response.json()["code"] == "not_signed_in"

    browser.cookies.set(SESSION_COOKIE, "forged-session-id")
    assert browser.get("/exports/orders.csv").status_code == 401
    expired = _signed_in(browser, shop, world.engine, ttl=timedelta(seconds=-1))
    assert expired.get("/exports/orders.csv").status_code == 401
    # A live session, but working in an organization its user is not a member of.
    elsewhere = make_tenant(world.engine).ctx.organization_id
    stranger = _signed_in(browser, shop, world.engine, organization_id=elsewhere)
    assert stranger.get("/exports/orders.csv").status_code == 401
    # Signed out: the same cookie no longer works.
    client = _signed_in(browser, shop, world.engine)
    assert client.get("/exports/orders.csv").status_code == 200
    with session_scope(engine=world.engine) as session:
        assert sessions.revoke(session, token=client.cookies[SESSION_COOKIE])
    assert client.get("/exports/orders.csv").status_code == 401


def test_signed_in_browsers_download_the_filtered_inbox(
    browser: TestClient, shop: Shop, orders: dict[str, str], world: ApiWorld
) -> None:
    client = _signed_in(browser, shop, world.engine)

    def exported(**params: Any) -> list[str]:
        return _ids(client.get("/exports/orders.csv", params=params))

    assert exported() == [orders[name] for name in ("gone", "tiktok", "siti", "budi")]
    assert exported(status=["unpaid", "cancelled"]) == [orders["gone"], orders["siti"]]
    assert exported(platform="tiktok") == [orders["tiktok"]]
    assert exported(store_id=str(shop.store_id), status="to_ship") == [orders["budi"]]
    assert exported(q="siti") == [orders["siti"]]
    assert exported(q="SO-1001") == [orders["budi"]]
    assert exported(stage="to_arrange") == [orders["tiktok"], orders["budi"]]
    assert exported(stage="to_print") == []
    window = {
        "from": (BASE_TIME + minutes(60)).isoformat(),
        "to": (BASE_TIME + minutes(1440)).isoformat(),
    }
    assert exported(**window) == [orders["tiktok"], orders["siti"]]
    assert exported(status="", platform="", q="  ") == exported()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"platform": "amazon"}, "platform"),
        ({"store_id": "42"}, "store_id"),
        ({"stage": "packed"}, "stage"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-03-01T00:00:00"}, "to"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    browser: TestClient, shop: Shop, params: dict[str, str], field: str, world: ApiWorld
) -> None:
    response = _signed_in(browser, shop, world.engine).get("/exports/orders.csv", params=params)

    assert response.status_code == 400, response.text
    assert response.json()["details"]["field"] == field
