"""The OAuth callback route: the marketplace's redirect lands in StoreSync and creates the store,
only for the browser session that started the connection, once, and only while its member may
still manage stores."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, unquote_plus, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from storesync import db
from storesync import settings as settings_module
from storesync.core.clock import set_clock, utcnow
from storesync.core.errors import AppError
from storesync.core.models import table_of
from storesync.sandbox.server import serve_in_thread
from storesync.stores import oauth, routes
from storesync.stores import service as stores
from storesync.tenancy.auth import sessions
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import AuditLog, Membership
from tests.channels.conftest import consent, make_org
from tests.factories import browser_session
from tests.sandbox.conftest import RunningSandbox


@pytest.fixture
def app_settings(sqlite_engine: Engine, running_sandbox: RunningSandbox) -> Iterator[str]:
    """Global settings pointed at the sandbox and the test database; yields the callback base."""
    base = running_sandbox.base_url
    with serve_in_thread(Starlette(routes=routes.routes)) as app_url:
        env = {
            "STORESYNC_SHOPEE_BASE_URL": f"{base}/shopee",
            "STORESYNC_TIKTOK_BASE_URL": f"{base}/tiktok",
            "STORESYNC_TIKTOK_AUTH_BASE_URL": f"{base}/tiktok-auth",
            "STORESYNC_PUBLIC_URL": app_url,
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        settings_module.get_settings.cache_clear()
        db.use_engine(sqlite_engine)
        try:
            yield app_url
        finally:
            db.use_engine(None)
            for key, value in saved.items():
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
            settings_module.get_settings.cache_clear()


def _browser(engine: Engine, ctx: RequestContext) -> tuple[str, uuid.UUID]:
    """A signed-in browser of the member: (its cookie, its session id)."""
    assert ctx.user_id is not None
    cookie = browser_session(engine, user_id=ctx.user_id, organization_id=ctx.organization_id)
    with db.session_scope(engine=engine) as session:
        found = sessions.find_session(session, token=cookie)
    assert found is not None
    return cookie, found.id


def _start(engine: Engine, ctx: RequestContext, browser: uuid.UUID, platform: str) -> str:
    with db.session_scope(ctx, engine=engine) as session:
        return oauth.begin_connect(
            session,
            ctx=ctx,
            platform=platform,
            browser_session_id=browser,
            callback_url=routes.callback_url(platform),
        )


def _callback(base: str, platform: str, query: dict[str, str], cookie: str = "") -> str:
    """Where the callback sends the browser (its Location)."""
    response = httpx.get(
        f"{base}/oauth/{platform}/callback",
        params=query,
        cookies={sessions.COOKIE: cookie} if cookie else None,
        follow_redirects=False,
    )
    assert response.status_code == 303
    return str(response.headers["location"])


def _connected(engine: Engine, ctx: RequestContext) -> list[str]:
    with db.session_scope(ctx, engine=engine) as session:
        return [s.platform for s in stores.list_stores(session, ctx=ctx)]


@pytest.mark.parametrize("platform", ["shopee", "tiktok"])
def test_the_callback_connects_the_store_for_the_browser_that_started_it(
    sqlite_engine: Engine, app_settings: str, platform: str
) -> None:
    ctx = make_org(sqlite_engine)
    cookie, browser = _browser(sqlite_engine, ctx)
    query = consent(_start(sqlite_engine, ctx, browser, platform))

    landed = urlsplit(_callback(app_settings, platform, query, cookie))

    assert landed.path == "/stores"
    store_id = parse_qs(landed.query)["connected"][0]
    with db.session_scope(ctx, engine=sqlite_engine) as session:
        (store,) = stores.list_stores(session, ctx=ctx)
        audit = session.execute(
            sa.select(AuditLog.action, AuditLog.actor).where(AuditLog.entity_id == store_id)
        ).all()
    assert str(store.id) == store_id and store.platform == platform and store.status == "connected"
    assert audit == [("store.connect", ctx.actor)]


def test_a_reused_foreign_forged_or_expired_state_connects_nothing(
    sqlite_engine: Engine, app_settings: str
) -> None:
    victim = make_org(sqlite_engine)
    attacker = make_org(sqlite_engine)
    victim_cookie, _ = _browser(sqlite_engine, victim)
    attacker_cookie, attacker_browser = _browser(sqlite_engine, attacker)

    # The attack: the attacker starts a connection in their organization and gets the victim
    # to follow the authorize link: the callback arrives with the victim's browser session.
    query = consent(_start(sqlite_engine, attacker, attacker_browser, "shopee"))
    refused = {
        "foreign session": _callback(app_settings, "shopee", query, victim_cookie),
        "no session": _callback(app_settings, "shopee", query),
        "forged state": _callback(
            app_settings, "shopee", {**query, "state": "forged"}, attacker_cookie
        ),
        "other platform": _callback(app_settings, "tiktok", query, attacker_cookie),
    }
    assert all("error=" in where for where in refused.values()), refused
    assert _connected(sqlite_engine, victim) == []
    assert _connected(sqlite_engine, attacker) == []

    # The state still works once for the browser that started it, then never again.
    assert "connected=" in _callback(app_settings, "shopee", query, attacker_cookie)
    assert "error=" in _callback(app_settings, "shopee", query, attacker_cookie)
    assert _connected(sqlite_engine, attacker) == ["shopee"]


def test_a_member_demoted_before_the_callback_cannot_finish(
    sqlite_engine: Engine, app_settings: str
) -> None:
    owner = make_org(sqlite_engine)
    cookie, browser = _browser(sqlite_engine, owner)
    query = consent(_start(sqlite_engine, owner, browser, "tiktok"))
    with db.session_scope(owner, engine=sqlite_engine) as session:
        session.execute(
            sa.update(table_of(Membership))
            .where(table_of(Membership).c.user_id == owner.user_id)
            .values(role="staff")
        )

    where = _callback(app_settings, "tiktok", query, cookie)

    assert unquote_plus(where).endswith("error=role 'staff' may not manage stores")
    assert _connected(sqlite_engine, owner) == []


def test_a_state_expires_within_minutes(sqlite_engine: Engine, app_settings: str) -> None:
    owner = make_org(sqlite_engine)
    cookie, browser = _browser(sqlite_engine, owner)
    query = consent(_start(sqlite_engine, owner, browser, "shopee"))
    later = utcnow() + oauth.STATE_TTL + timedelta(seconds=1)
    set_clock(lambda: later)
    try:
        with db.session_scope(engine=sqlite_engine) as session, pytest.raises(AppError) as raised:
            oauth.claim_state(
                session, state=query["state"], platform="shopee", browser_session_id=browser
            )
    finally:
        set_clock(None)
    assert raised.value.code == "bad_oauth_state"
    assert "connected=" in _callback(app_settings, "shopee", query, cookie)  # not consumed
