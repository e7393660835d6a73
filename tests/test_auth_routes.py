"""`/auth/session` and `/auth/signout`: a sign-in ticket becomes an HttpOnly session cookie once,
never sends the browser to another site, and signing out clears the cookie."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from storesync import settings as settings_module
from storesync.db import session_scope, use_engine
from storesync.tenancy.auth import sessions
from storesync.ui.auth_routes import routes
from tests.factories import make_tenant


@pytest.fixture
def client(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("STORESYNC_PUBLIC_URL", "https://shop.example.com")
    settings_module.get_settings.cache_clear()
    use_engine(sqlite_engine)
    yield TestClient(Starlette(routes=routes), base_url="https://shop.example.com")
    use_engine(None)
    settings_module.get_settings.cache_clear()


def _ticket(engine: Engine) -> str:
    owner = make_tenant(engine).ctx
    assert owner.user_id is not None
    with session_scope(engine=engine) as session:
        return sessions.start_session(
            session, user_id=owner.user_id, organization_id=owner.organization_id
        )


@pytest.mark.parametrize(
    ("next_path", "landing"),
    [
        ("/inventory?tab=low", "/inventory?tab=low"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_a_ticket_becomes_an_http_only_cookie_once_and_lands_on_this_site(
    client: TestClient, sqlite_engine: Engine, next_path: str, landing: str
) -> None:
    ticket = _ticket(sqlite_engine)

    taken = client.get(
        "/auth/session", params={"ticket": ticket, "next": next_path}, follow_redirects=False
    )
    again = client.get("/auth/session", params={"ticket": ticket}, follow_redirects=False)

    assert (taken.status_code, taken.headers["location"]) == (303, landing)
    cookie = taken.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=lax", "Secure", "Path=/"):
        assert attribute in cookie, attribute
    assert ticket not in cookie  # the cookie is a new secret, not the ticket
    assert taken.headers["referrer-policy"] == "no-referrer"
    token = cookie.split(";")[0].split("=", 1)[1]
    with session_scope(engine=sqlite_engine) as session:
        assert sessions.find_session(session, token=token) is not None
    assert (again.status_code, again.headers["location"]) == (303, "/signin?expired=1")
    assert "set-cookie" not in again.headers


def test_signing_out_clears_the_cookie(client: TestClient) -> None:
    response = client.get("/auth/signout", follow_redirects=False)

    assert (response.status_code, response.headers["location"]) == (303, "/signin")
    assert response.headers["set-cookie"].startswith(f'{sessions.COOKIE}=""')
    assert "Max-Age=0" in response.headers["set-cookie"]
