"""The embedded sandbox's control API, closed to everyone but the person running StoreSync.

The control API reads the apps' secrets, places orders, resets the world and registers webhook
URLs: a demo aid, never an open door. Mounted beside the app it answers only when all hold:
- the request comes from this machine (a loopback client address);
- it carries no `Origin` of another site (a page the merchant has open elsewhere is refused,
  whatever CORS would allow);
- it names the per-install token (`X-Sandbox-Token` header, or `token` in the query; the token
  is generated once under `var/sandbox-token` and printed with the demo login), or it is a
  same-origin request from a signed-in StoreSync page.
Refusals are 403 JSON and change nothing.

The sandbox's consent pages (where the "seller" authorizes an app) are closed the same way by
`ConsentGuard`: from this machine, with the token or from a signed-in StoreSync browser that
reached them from StoreSync itself (a top-level navigation sends no `Origin`, so its
`Sec-Fetch-Site`, or failing that its `Referer`, must be this site). A page elsewhere cannot
drive the consent page in the merchant's browser.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from storesync.settings import Settings, is_loopback
from storesync.tenancy.auth import sessions

TOKEN_FILE = "sandbox-token"  # noqa: S105 - a file name, not a secret
TOKEN_HEADER = "x-sandbox-token"  # noqa: S105 - a header name
SESSION_COOKIE = sessions.COOKIE


def sandbox_token(settings: Settings) -> str:
    """The per-install token: `STORESYNC_SANDBOX_TOKEN` when set, else the one kept in
    `var/sandbox-token` (made on first use, readable by its owner only)."""
    if settings.sandbox_token:
        return settings.sandbox_token
    path = Path(settings.var_dir) / TOKEN_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it a moment ago
            pass
        else:
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


class ControlGuard:
    """ASGI middleware around the sandbox's control API (see the module's rules)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str,
        origins: frozenset[str],
        signed_in: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.token = token
        self.origins = origins
        self.signed_in = signed_in

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await JSONResponse({"error": refusal}, status_code=403)(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        client = (scope.get("client") or ("", 0))[0]
        if not is_loopback(str(client)):
            return "the sandbox's control API answers only on this machine"
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins:
            return "cross-origin requests to the sandbox are refused"
        given = headers.get(TOKEN_HEADER) or _query_token(scope)
        if given and hmac.compare_digest(given.encode(), self.token.encode()):
            return None
        if origin is not None and self.signed_in(_cookie(headers, SESSION_COOKIE)):
            return None
        return (
            "the sandbox's control API needs its token: send the contents of "
            "var/sandbox-token in the X-Sandbox-Token header"
        )


class ConsentGuard(ControlGuard):
    """ControlGuard for the consent pages under `paths` (suffixes of the request path); other
    sandbox paths (the platforms' APIs, which check their own signatures) pass untouched."""

    def __init__(self, app: ASGIApp, *, paths: tuple[str, ...], **rules: object) -> None:
        super().__init__(app, **rules)  # type: ignore[arg-type]
        self.paths = paths

    def _refusal(self, scope: Scope) -> str | None:
        if not str(scope.get("path", "")).endswith(self.paths):
            return None
        client = (scope.get("client") or ("", 0))[0]
        if not is_loopback(str(client)):
            return "the sandbox's consent pages answer only on this machine"
        headers = Headers(scope=scope)
        given = headers.get(TOKEN_HEADER) or _query_token(scope)
        if given and hmac.compare_digest(given.encode(), self.token.encode()):
            return None
        if self._from_this_site(headers) and self.signed_in(_cookie(headers, SESSION_COOKIE)):
            return None
        return "the sandbox's consent pages open only from a signed-in StoreSync page"

    def _from_this_site(self, headers: Headers) -> bool:
        origin = headers.get("origin")
        if origin is not None:
            return origin in self.origins
        site = headers.get("sec-fetch-site")
        if site is not None:
            return site in ("same-origin", "none")
        referer = headers.get("referer", "")
        return any(referer.startswith(f"{own}/") for own in self.origins)


def _query_token(scope: Scope) -> str:
    raw = scope.get("query_string", b"").decode("latin-1")
    return (parse_qs(raw).get("token") or [""])[0]


def _cookie(headers: Headers, name: str) -> str:
    jar = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed cookie header is no session
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""


def session_checker(settings: Settings) -> Callable[[str], bool]:
    """Whether a session cookie names a live StoreSync session (blocking: a database read)."""
    from storesync.db import session_scope

    def signed_in(cookie: str) -> bool:
        if not cookie:
            return False
        with session_scope() as session:
            return sessions.find_session(session, token=cookie) is not None

    return signed_in


def guard_for(settings: Settings) -> Callable[[ASGIApp], ASGIApp]:
    """What `Sandbox.routes` wraps its control API in."""
    token, origins = sandbox_token(settings), settings.own_origins
    signed_in = session_checker(settings)
    return lambda app: ControlGuard(app, token=token, origins=origins, signed_in=signed_in)


def consent_guard_for(settings: Settings, paths: tuple[str, ...]) -> Callable[[ASGIApp], ASGIApp]:
    """What the embedded app wraps the whole sandbox mount in: its consent pages closed."""
    token, origins = sandbox_token(settings), settings.own_origins
    signed_in = session_checker(settings)
    return lambda app: ConsentGuard(
        app, paths=paths, token=token, origins=origins, signed_in=signed_in
    )
