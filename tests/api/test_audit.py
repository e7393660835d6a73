"""The audit log over HTTP: a change made with an API key is logged with the key's name and the
caller's address; `GET /api/v1/audit` (admin keys with audit:read) filters and pages it; the
browser's `GET /exports/audit.csv` (session cookie, owners and admins) downloads it."""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from storesync.catalog import service as catalog
from storesync.db import session_scope
from storesync.tenancy import api_keys
from storesync.tenancy import service as tenancy
from storesync.tenancy.audit import queries as audit
from storesync.tenancy.audit.queries import AuditEntryDTO
from storesync.tenancy.auth import sessions
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import Membership
from storesync.ui.audit_export import routes
from tests.api.conftest import ApiWorld
from tests.factories import browser_session, token

FILENAME = re.compile(r'^attachment; filename="audit-\d{8}-\d{4}\.csv"$')


def system(world: ApiWorld) -> RequestContext:
    return RequestContext.system(world.ctx.organization_id)


def a_variant(world: ApiWorld) -> str:
    with session_scope(system(world), engine=world.engine) as session:
        made = catalog.create_product(
            session, ctx=system(world), handle=f"kaos-{token()}", title="Kaos", sku=token().upper()
        )
    return str(made.variants[0].id)


def named_key(world: ApiWorld, name: str, *scopes: str, role: str = "admin") -> tuple[str, str]:
    """A key with `name` (made as the system, so not itself logged): its secret and id."""
    with session_scope(system(world), engine=world.engine) as session:
        made = api_keys.create_api_key(
            session, ctx=system(world), name=name, scopes=scopes, role=role
        )
    return made.secret, str(made.key.id)


def entries(world: ApiWorld, **filters: Any) -> list[AuditEntryDTO]:
    with session_scope(world.ctx, engine=world.engine) as session:
        where = audit.audit_filter(session, ctx=world.ctx, **filters)
        return audit.list_entries(session, ctx=world.ctx, where=where, limit=200).items


def test_a_change_made_with_a_key_is_logged_with_its_name_and_address(world: ApiWorld) -> None:
    variant = a_variant(world)
    secret, key_id = named_key(world, "ERP sync", "inventory:write")
    body = {"variant_id": variant, "delta": 4, "reason": "received from supplier"}

    plain = world.api.post("/inventory/adjustments", json=body, key=secret)
    again = world.api.post(
        "/inventory/adjustments",
        json={**body, "delta": -1},
        key=secret,
        headers={"Idempotency-Key": "adjust-2"},  # authenticated by the guard first
    )

    assert (plain.status_code, again.status_code) == (200, 200)
    logged = entries(world, action="stock.adjust")
    assert [(e.actor, str(e.actor_api_key_id), e.actor_user_id) for e in logged] == [
        ("API key ERP sync", key_id, None)
    ] * 2
    assert [e.client_address for e in logged] == ["testclient"] * 2
    assert [(e.before, e.after["on_hand"]) for e in logged] == [
        ({"on_hand": 4}, 3),
        ({"on_hand": 0}, 4),
    ]


def test_the_audit_route_filters_and_pages_newest_first(world: ApiWorld) -> None:
    variant = a_variant(world)
    writer, _ = named_key(world, "Warehouse", "inventory:write")
    for delta in (1, 2, 3):
        world.api.post(
            "/inventory/adjustments",
            json={"variant_id": variant, "delta": delta, "reason": f"box {delta}"},
            key=writer,
        )
    reader, _ = named_key(world, "Auditor", "audit:read")

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "action": "stock", "actor": "warehouse"}
        if cursor:
            params["cursor"] = cursor
        page = world.api.get("/audit", params=params, key=reader)
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert [e["after"]["reason"] for e in seen] == ["box 3", "box 2", "box 1"]
    assert {(e["action"], e["entity_type"], e["actor"]) for e in seen} == {
        ("stock.adjust", "stock", "API key Warehouse")
    }
    entity = seen[0]["entity_id"]
    one = world.api.get("/audit", params={"entity_type": "stock", "entity_id": entity}, key=reader)
    assert len(one.json()["items"]) == 3
    later = world.api.get("/audit", params={"from": "2999-01-01"}, key=reader)
    assert later.json() == {"items": [], "next_cursor": None}
    recent = world.api.get("/audit", params={"from": "2000-01-01", "to": "2999-01-01"}, key=reader)
    assert len(recent.json()["items"]) >= 3


@pytest.mark.parametrize(
    ("params", "field"),
    [({"from": "yesterday"}, "from"), ({"to": "2026-13-01"}, "to"), ({"cursor": "x"}, "cursor")],
)
def test_bad_parameters_are_422_naming_the_field(
    world: ApiWorld, params: dict[str, str], field: str
) -> None:
    response = world.api.get("/audit", params=params)
    assert response.status_code == 422
    assert response.json()["details"]["field"] == field


def test_only_admin_keys_with_the_audit_scope_read_the_log(world: ApiWorld) -> None:
    staff, _ = named_key(world, "Packer", "read", role="staff")
    unscoped, _ = named_key(world, "Shop", "orders:read")
    scoped, _ = named_key(world, "Auditor", "audit:read")

    assert world.api.get("/audit", key=staff).json()["code"] == "permission_denied"
    assert world.api.get("/audit", key=staff).status_code == 403
    refused = world.api.get("/audit", key=unscoped)
    assert (refused.status_code, refused.json()["code"]) == (403, "scope_missing")
    assert world.api.get("/audit", key=scoped).status_code == 200
    assert world.api.get("/audit", key=None).status_code == 401


# -- the browser's download ----------------------------------------------------------------------


@pytest.fixture
def browser(world: ApiWorld) -> TestClient:
    """The audit download route as the app server mounts it (on the world's engine)."""
    return TestClient(Starlette(routes=routes))


def signed_in(client: TestClient, engine: Engine, user_id: uuid.UUID, org: uuid.UUID) -> TestClient:
    cookie = browser_session(engine, user_id=user_id, organization_id=org)
    client.cookies.set(sessions.COOKIE, cookie)
    return client


def a_member(world: ApiWorld, role: str) -> uuid.UUID:
    with session_scope(system(world), engine=world.engine) as session:
        user = tenancy.create_user(
            session, email=f"{role}-{token()}@example.com", password="member-pass-1"
        )
        session.add(
            Membership(organization_id=world.ctx.organization_id, user_id=user.id, role=role)
        )
    return user.id


def rows_of(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert FILENAME.match(response.headers["content-disposition"])
    assert response.headers["cache-control"] == "no-store"
    assert response.text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff")))
    assert tuple(reader.fieldnames or ()) == audit.COLUMNS
    return list(reader)


def test_owners_download_the_filtered_log_as_csv(browser: TestClient, world: ApiWorld) -> None:
    variant = a_variant(world)
    writer, _ = named_key(world, "Stock sync", "inventory:write")
    for delta in (5, -2):
        world.api.post(
            "/inventory/adjustments",
            json={"variant_id": variant, "delta": delta, "reason": "count"},
            key=writer,
        )
    client = signed_in(browser, world.engine, world.ctx.user_id, world.ctx.organization_id)  # type: ignore[arg-type]

    everything = rows_of(client.get("/exports/audit.csv"))
    stock = rows_of(
        client.get("/exports/audit.csv", params={"action": "stock", "from": "2000-01-01"})
    )

    assert {r["action"] for r in everything} >= {"stock.adjust", "api_key.create"}
    assert [r["action"] for r in stock] == ["stock.adjust", "stock.adjust"]
    assert [r["actor"] for r in stock] == ["API key Stock sync"] * 2
    assert stock[0]["time"].endswith("+07:00")  # the organization's zone (Asia/Jakarta)
    assert [r["before"] for r in stock] == ['{"on_hand": 5}', '{"on_hand": 0}']
    assert stock[0]["client_address"] == "testclient"


def test_the_download_refuses_strangers_staff_and_bad_parameters(
    browser: TestClient, world: ApiWorld
) -> None:
    signed_out = browser.get("/exports/audit.csv")
    assert (signed_out.status_code, signed_out.json()["code"]) == (401, "not_signed_in")
    browser.cookies.set(sessions.COOKIE, "forged")
    assert browser.get("/exports/audit.csv").status_code == 401

    org = world.ctx.organization_id
    for role in ("staff", "viewer"):
        staff = signed_in(browser, world.engine, a_member(world, role), org)
        assert staff.get("/exports/audit.csv").status_code == 403

    admin = signed_in(browser, world.engine, a_member(world, "admin"), org)
    assert admin.get("/exports/audit.csv").status_code == 200
    bad = admin.get("/exports/audit.csv", params={"to": "tomorrow"})
    assert (bad.status_code, bad.json()["details"]["field"]) == (400, "to")
