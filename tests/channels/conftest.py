"""Adapters against the sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from storesync.channels.schemas import AppCredentials
from storesync.core.clock import utcnow
from storesync.db import session_scope
from storesync.sandbox.app import Sandbox
from storesync.sandbox.seed import SeedConfig
from storesync.sandbox.server import serve_in_thread
from storesync.settings import Settings, build_settings
from storesync.stores import service as stores
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.factories import token
from tests.sandbox.conftest import RunningSandbox, receiver, running_sandbox  # noqa: F401


@pytest.fixture(scope="module")
def big_sandbox() -> Iterator[RunningSandbox]:
    """2,000 products per shop (about 9,000 models); shared by a module, so do not mutate it
    in ways other tests of the module would notice."""
    sandbox = Sandbox(seed=SeedConfig(seed=21, products_per_shop=2000), clock=utcnow)
    with serve_in_thread(sandbox.asgi()) as base_url:
        yield RunningSandbox(base_url, sandbox)


def sandbox_settings(base_url: str, **overrides: object) -> Settings:
    """Settings whose marketplace hosts are the sandbox at `base_url`."""
    return build_settings(
        var_dir=Path(tempfile.mkdtemp(prefix="storesync-channels-")),
        shopee_base_url=f"{base_url}/shopee",
        tiktok_base_url=f"{base_url}/tiktok",
        tiktok_auth_base_url=f"{base_url}/tiktok-auth",
        **overrides,
    )


def app_credentials(base_url: str, platform: str) -> AppCredentials:
    """The sandbox's app credentials, read through its control API."""
    apps = httpx.get(f"{base_url}/sandbox/apps").json()
    if platform == "shopee":
        return AppCredentials(
            "shopee", str(apps["shopee"]["partner_id"]), apps["shopee"]["partner_key"]
        )
    tiktok = apps["tiktok"]
    return AppCredentials("tiktok", tiktok["app_key"], tiktok["app_secret"], tiktok["service_id"])


def consent(authorize_url: str) -> dict[str, str]:
    """Play the merchant on the platform's consent page: submit its form with "Authorize" and
    return the query of the redirect back to StoreSync (code, shop_id / state)."""
    import html
    import re
    from urllib.parse import parse_qs, urljoin, urlsplit

    with httpx.Client() as browser:
        page = browser.get(authorize_url)
        assert page.status_code == 200, page.text
        action = re.search(r'<form[^>]*action="([^"]*)"', page.text)
        fields = {
            name: html.unescape(value)
            for name, value in re.findall(
                r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text
            )
        }
        option = re.search(r'<option value="([^"]+)"', page.text)
        if option and "shop_id" not in fields:
            fields["shop_id"] = option.group(1)
        fields["decision"] = "authorize"
        target = (
            urljoin(str(page.url), html.unescape(action.group(1)))
            if action and action.group(1)
            else str(page.url)
        )
        back = browser.post(target, data=fields, follow_redirects=False)
    assert back.status_code in (302, 303), back.text
    return {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}


def make_org(engine: Engine, role: Role = Role.OWNER) -> RequestContext:
    """A new organization with its owner; the context acts as `role`."""
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(
            session, email=f"s-{token()}@example.com", password="correct horse"
        )
        org = tenancy.create_organization(session, name="Toko", owner_user_id=user.id)
    return RequestContext(user.id, org.id, role, actor=user.email)


def connect_store(engine: Engine, ctx: RequestContext, platform: str, cfg: Settings) -> uuid.UUID:
    """Connect the sandbox's shop of `platform` through its OAuth consent page and callback."""
    url = stores.connect_url(
        ctx, platform=platform, callback_url="http://storesync.test/cb", settings=cfg
    )
    back = consent(url)
    with session_scope(ctx, engine=engine) as session:
        store = asyncio.run(
            stores.complete_connect(
                session,
                ctx=ctx,
                platform=platform,
                code=back["code"],
                shop_id=back.get("shop_id"),
                settings=cfg,
            )
        )
    return store.id
