"""GET /media/{key}: stored files for the signed-in members of the organization they belong to."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from storesync import db
from storesync.settings import build_settings
from storesync.storage import Storage, StorageNotConfigured, get_storage, product_image_key
from storesync.tenancy.auth import sessions
from storesync.tenancy.context import RequestContext
from storesync.ui import media
from storesync.ui.media import routes
from storesync.ui.mounts import extra_routes
from tests.factories import browser_session, make_tenant

IMAGE = b"RIFF\x24\x00\x00\x00WEBPVP8 not really but bytes"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine: Engine = request.getfixturevalue(
        "sqlite_engine" if request.param == "sqlite" else "app_engine"
    )
    db.use_engine(engine)
    try:
        yield engine
    finally:
        db.use_engine(None)


@pytest.fixture
def member(engine: Engine) -> RequestContext:
    return make_tenant(engine).ctx


@pytest.fixture
def browser() -> TestClient:
    return TestClient(Starlette(routes=routes))


def _signed_in(client: TestClient, engine: Engine, ctx: RequestContext, **changes: Any) -> None:
    claims = {"user_id": ctx.user_id, "organization_id": ctx.organization_id, **changes}
    client.cookies.set(sessions.COOKIE, browser_session(engine, **claims))


def _stored(ctx: RequestContext, data: bytes = IMAGE, content_type: str = "image/webp") -> str:
    key = product_image_key(
        organization_id=ctx.organization_id, product_id=uuid.uuid4(), image_id=uuid.uuid4()
    )
    get_storage().put(key, data, content_type)
    return key


def test_a_member_gets_the_file_with_its_type_cached_privately(
    browser: TestClient, engine: Engine, member: RequestContext
) -> None:
    key = _stored(member)
    _signed_in(browser, engine, member)

    response = browser.get(f"/media/{key}")

    assert response.status_code == 200
    assert response.content == IMAGE
    assert response.headers["content-type"] == "image/webp"
    assert response.headers["cache-control"] == "private, max-age=86400"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert browser.head(f"/media/{key}").status_code == 200


def test_signed_out_browsers_get_401(
    browser: TestClient, engine: Engine, member: RequestContext
) -> None:
    key = _stored(member)

    response = browser.get(f"/media/{key}")
    assert response.status_code == 401
    assert response.json()["code"] == "not_signed_in"
    assert IMAGE not in response.content

    browser.cookies.set(sessions.COOKIE, "forged-session-id")
    assert browser.get(f"/media/{key}").status_code == 401
    _signed_in(browser, engine, member, ttl=timedelta(seconds=-1))
    assert browser.get(f"/media/{key}").status_code == 401


def test_another_organizations_file_and_a_missing_one_look_the_same_404(
    browser: TestClient, engine: Engine, member: RequestContext
) -> None:
    theirs = _stored(make_tenant(engine).ctx)
    ours_missing = product_image_key(
        organization_id=member.organization_id, product_id=uuid.uuid4(), image_id=uuid.uuid4()
    )
    _signed_in(browser, engine, member)

    answers = [browser.get(f"/media/{key}") for key in (theirs, ours_missing)]

    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].json() == answers[1].json()
    assert answers[0].headers["cache-control"] == "no-store"
    assert IMAGE not in answers[0].content


@pytest.mark.parametrize("suffix", ["", "/", "/.hidden", "/a%5Cb", "/%2E%2E/x.webp"])
def test_malformed_keys_under_the_members_organization_are_404(
    browser: TestClient, engine: Engine, member: RequestContext, suffix: str
) -> None:
    _signed_in(browser, engine, member)

    response = browser.get(f"/media/{member.organization_id}{suffix}")

    assert response.status_code == 404


def test_the_app_server_mounts_the_route(tmp_path: Path) -> None:
    mounted, _sandbox = extra_routes(build_settings(var_dir=tmp_path, embedded_sandbox=False))

    assert any(getattr(route, "path", "") == "/media/{key:path}" for route in mounted)


def test_files_that_are_not_raster_images_are_only_offered_as_downloads(
    browser: TestClient, engine: Engine, member: RequestContext
) -> None:
    svg = _stored(member, b"<svg onload='alert(1)'/>", "image/svg+xml")
    html = _stored(member, b"<script>alert(1)</script>", "text/html")
    png = _stored(member, b"png", "image/png")
    _signed_in(browser, engine, member)

    for key in (svg, html):
        response = browser.get(f"/media/{key}")
        assert response.status_code == 200
        assert response.headers["content-disposition"] == "attachment"
    assert "content-disposition" not in browser.get(f"/media/{png}").headers


def test_a_store_that_cannot_be_used_is_a_503_that_tells_nothing(
    browser: TestClient,
    engine: Engine,
    member: RequestContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_configured() -> Storage:
        raise StorageNotConfigured()

    monkeypatch.setattr(media, "get_storage", not_configured)
    _signed_in(browser, engine, member)

    response = browser.get(f"/media/{member.organization_id}/products/x/y.webp")

    assert response.status_code == 503
    assert response.json()["code"] == "storage_unavailable"
    assert "STORESYNC" not in response.text
