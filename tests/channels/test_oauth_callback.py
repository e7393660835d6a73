"""The OAuth callback route: the marketplace's redirect lands in StoreSync and creates the store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from storesync import db
from storesync import settings as settings_module
from storesync.sandbox.server import serve_in_thread
from storesync.stores import routes
from storesync.stores import service as stores
from tests.channels.conftest import consent, make_org
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


@pytest.mark.parametrize("platform", ["shopee", "tiktok"])
def test_the_callback_connects_the_store_and_returns_to_stores(
    sqlite_engine: Engine, app_settings: str, platform: str
) -> None:
    ctx = make_org(sqlite_engine)
    url = stores.connect_url(ctx, platform=platform, callback_url=routes.callback_url(platform))
    query = consent(url)

    landed = httpx.get(
        f"{app_settings}/oauth/{platform}/callback", params=query, follow_redirects=False
    )
    forged = httpx.get(
        f"{app_settings}/oauth/{platform}/callback",
        params={**query, "state": "forged"},
        follow_redirects=False,
    )

    assert landed.status_code == 303
    target = urlsplit(landed.headers["location"])
    assert target.path == "/stores"
    store_id = parse_qs(target.query)["connected"][0]
    with db.session_scope(ctx, engine=sqlite_engine) as session:
        (store,) = stores.list_stores(session, ctx=ctx)
    assert str(store.id) == store_id and store.platform == platform and store.status == "connected"
    assert forged.status_code == 303 and "error=" in forged.headers["location"]
