"""What the embedded mode exposes, tested as the attacks: the sandbox's control API refuses other
machines, other sites' pages and callers without its token; production never mounts the
sandbox; a non-loopback host with the published demo password refuses to start."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from storesync.cli import CliError, check_exposure
from storesync.db import get_engine, use_engine
from storesync.sandbox.app import CONSENT_PAGES
from storesync.settings import Settings, build_settings
from storesync.ui.mounts import extra_routes
from storesync.ui.sandbox_guard import ConsentGuard, ControlGuard, guard_for, sandbox_token
from tests.factories import browser_session, make_tenant

OWN = "http://127.0.0.1:3000"


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return build_settings(var_dir=tmp_path, port=3000, **overrides)


def _guarded(settings: Settings) -> tuple[Starlette, list[str]]:
    """A stand-in control API behind the guard; `calls` records what reached it."""
    calls: list[str] = []

    async def reset(request: Request) -> JSONResponse:
        calls.append(request.url.path)
        return JSONResponse({"ok": True})

    inner = Starlette(routes=[Route("/reset", reset, methods=["GET", "POST"])])
    return Starlette(routes=[Mount("/sandbox", app=guard_for(settings)(inner))]), calls


def _call(
    app: Starlette,
    *,
    client: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    query: str = "",
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=OWN) as http:
            return await http.post(f"/sandbox/reset{query}", headers=headers or {})

    return asyncio.run(go())


def test_the_control_api_needs_the_token_from_this_machine_and_no_foreign_page(
    tmp_path: Path, app_database: Engine
) -> None:
    settings = _settings(tmp_path)
    app, calls = _guarded(settings)
    token = sandbox_token(settings)

    refused = {
        "no token": _call(app),
        "wrong token": _call(app, headers={"X-Sandbox-Token": "guess"}),
        "another machine": _call(app, client="10.0.0.7", headers={"X-Sandbox-Token": token}),
        "another site": _call(
            app, headers={"X-Sandbox-Token": token, "Origin": "https://evil.example"}
        ),
        "another site, signed in": _call(
            app,
            headers={
                "Origin": "https://evil.example",
                "Cookie": f"storesync_session={_session(settings)}",
            },
        ),
        "own page, signed out": _call(app, headers={"Origin": OWN}),
    }
    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 403)
    assert calls == []  # nothing reached the sandbox

    allowed = [
        _call(app, headers={"X-Sandbox-Token": token}),
        _call(app, query=f"?token={token}"),
        _call(app, client="::1", headers={"X-Sandbox-Token": token}),
        _call(app, headers={"Origin": OWN, "Cookie": f"storesync_session={_session(settings)}"}),
    ]
    assert [r.status_code for r in allowed] == [200, 200, 200, 200]
    assert len(calls) == 4


@pytest.fixture
def app_database(sqlite_engine: Engine) -> Iterator[Engine]:
    """The database the guard looks sessions up in."""
    use_engine(sqlite_engine)
    yield sqlite_engine
    use_engine(None)


def _session(settings: Settings) -> str:
    """A live browser session in the app's database (the guard looks it up)."""
    owner = make_tenant(get_engine()).ctx
    assert owner.user_id is not None
    return browser_session(
        get_engine(), user_id=owner.user_id, organization_id=owner.organization_id
    )


def test_the_token_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = _settings(tmp_path)

    first, second = sandbox_token(settings), sandbox_token(_settings(tmp_path))

    assert first == second and len(first) >= 40
    mode = stat.S_IMODE((tmp_path / "sandbox-token").stat().st_mode)
    assert mode == 0o600
    given = _settings(tmp_path, sandbox_token="from-the-environment")
    assert sandbox_token(given) == "from-the-environment"
    assert settings.own_origins == {OWN, "http://localhost:3000"}


def test_production_never_mounts_the_sandbox_and_embedded_closes_its_control_api(
    tmp_path: Path,
) -> None:
    production = _settings(
        tmp_path,
        env="production",
        database_url="postgresql+psycopg://app@127.0.0.1:5432/storesync",
        fernet_keys=Fernet.generate_key().decode(),
    )
    embedded = _settings(tmp_path)

    routes, sandbox = extra_routes(production)
    assert sandbox is None
    assert not [r for r in routes if getattr(r, "path", "").startswith("/sandbox")]

    routes, sandbox = extra_routes(embedded)
    assert sandbox is not None
    (mount,) = [r for r in routes if getattr(r, "path", "") == "/sandbox"]
    assert isinstance(mount.app, ConsentGuard)  # type: ignore[attr-defined]
    inner = mount.app.app.routes  # type: ignore[attr-defined]
    control = [r for r in inner if getattr(r, "path", "") == "/sandbox"]
    assert len(control) == 1 and isinstance(control[0].app, ControlGuard)


@pytest.mark.parametrize("page", CONSENT_PAGES)
def test_the_consent_pages_open_only_from_a_signed_in_storesync_page_or_with_the_token(
    tmp_path: Path, app_database: Engine, page: str
) -> None:
    settings = _settings(tmp_path)
    routes, _sandbox = extra_routes(settings)
    app = Starlette(routes=routes)
    cookie = f"storesync_session={_session(settings)}"
    token = sandbox_token(settings)

    def status(client: str = "127.0.0.1", **headers: str) -> int:
        async def go() -> int:
            transport = httpx.ASGITransport(app=app, client=(client, 40000))
            async with httpx.AsyncClient(transport=transport, base_url=OWN) as http:
                return (await http.get(f"/sandbox{page}", headers=headers)).status_code

        return asyncio.run(go())

    refused = {
        "nobody": status(),
        "another site's page, signed in": status(cookie=cookie, **{"sec-fetch-site": "cross-site"}),
        "another site's form, signed in": status(cookie=cookie, origin="https://evil.example"),
        "linked from elsewhere, signed in": status(cookie=cookie, referer="https://evil.example/"),
        "own page, signed out": status(**{"sec-fetch-site": "same-origin"}),
        "another machine with the token": status("10.0.0.9", **{"x-sandbox-token": token}),
    }
    assert refused == dict.fromkeys(refused, 403)
    allowed = [
        status(cookie=cookie, **{"sec-fetch-site": "same-origin"}),
        status(cookie=cookie, referer=f"{OWN}/stores"),
        status(**{"x-sandbox-token": token}),
    ]
    assert 403 not in allowed, allowed


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        ({"host": "0.0.0.0"}, True),
        ({"host": "192.168.1.20"}, True),
        ({"host": "0.0.0.0", "demo_password": "my own secret"}, False),
        ({"host": "0.0.0.0", "seed_demo": False}, False),
        ({"host": "0.0.0.0", "allow_public_demo": True}, False),
        ({"host": "127.0.0.1"}, False),
        ({"host": "::1"}, False),
    ],
)
def test_a_public_host_with_the_published_demo_password_refuses_to_start(
    tmp_path: Path, overrides: dict[str, object], refused: bool
) -> None:
    settings = _settings(tmp_path, **overrides)

    if refused:
        with pytest.raises(CliError) as error:
            check_exposure(settings)
        message = str(error.value)
        assert "STORESYNC_DEMO_PASSWORD" in message and "STORESYNC_ALLOW_PUBLIC_DEMO" in message
        assert "demo-storesync" not in message  # the message does not repeat the password
    else:
        check_exposure(settings)


def test_browsers_may_call_storesync_from_its_own_origin_only(tmp_path: Path) -> None:
    import rxconfig

    own = _settings(tmp_path)
    public = _settings(tmp_path, public_url="https://shop.example.com")
    extra = _settings(tmp_path, cors_origins="https://admin.example.com/, https://b.example")

    assert own.allowed_origins == ("http://127.0.0.1:3000", "http://localhost:3000")
    assert public.allowed_origins == ("https://shop.example.com",)
    assert extra.allowed_origins == (
        "http://127.0.0.1:3000",
        "http://localhost:3000",
        "https://admin.example.com",
        "https://b.example",
    )
    assert "*" not in rxconfig.config.cors_allowed_origins
    assert tuple(rxconfig.config.cors_allowed_origins) == rxconfig._settings.allowed_origins
