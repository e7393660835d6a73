"""The TikTok Shop auth host (`auth.tiktok-shops.com`) as a Starlette app.

- `GET /oauth/authorize?app_key=..&state=..` (or `service_id=..` instead of `app_key`, the current
  services.tiktokshop.com form): the seller's consent page, a shop picker when the app has several
  shops, an "Authorize" button (`id="authorize"`) and a "Cancel" button (`id="cancel"`).
  The redirect URL is the `redirect_uri` query parameter if given, else `state.tiktok_redirect_url`
  (the app's registered URL, set through the control API or the CLI).
- `POST /oauth/authorize` (the page's form): 302 to `<redirect>?code=<auth_code>&state=..`; a
  cancel sends `code=null&error=auth_denied&state=..`.
- `GET /api/v2/token/get?app_key&app_secret&auth_code&grant_type=authorized_code` and
  `GET /api/v2/token/refresh?app_key&app_secret&refresh_token&grant_type=refresh_token`:
  unsigned (the secret is in the query). `*_expire_in` are ABSOLUTE Unix times. Refresh rotates:
  the old refresh token and the old access token stop working.
Errors: wrong app_key/app_secret 106001 (401); bad/used/expired auth code or refresh token
105002 (401); missing parameters or wrong grant_type 36009004 (200).
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from storesync.sandbox.state import App, SandboxError, SandboxState, Token
from storesync.sandbox.tiktok.wire import (
    INVALID_SIGNATURE,
    TOKEN_INVALID,
    TikTokError,
    envelope,
    error_response,
    invalid,
)

GRANTED_SCOPES = [
    "seller.authorization.info",
    "seller.product.basic",
    "seller.product.write",
    "seller.order.info",
    "seller.fulfillment.basic",
    "seller.logistics",
]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize {app} - TikTok Shop</title></head>
<body>
<h1>TikTok Shop Seller Center (sandbox)</h1>
<p><strong>{app}</strong> asks to manage your shop: products, orders, fulfillment.</p>
<form method="post" action="{action}">
{hidden}
{picker}
<button type="submit" id="authorize" name="decision" value="authorize">Authorize</button>
<button type="submit" id="cancel" name="decision" value="cancel">Cancel</button>
</form>
</body></html>
"""


def _error_page(message: str, status: int = 400) -> HTMLResponse:
    body = f"<!doctype html><title>Authorization error</title><p>{escape(message)}</p>"
    return HTMLResponse(body, status_code=status)


def _app_for(state: SandboxState, params: dict[str, str]) -> App | None:
    app = state.apps["tiktok"]
    if params.get("app_key") == app.key or (
        params.get("service_id") and params.get("service_id") == app.service_id
    ):
        return app
    return None


def _redirect_target(state: SandboxState, params: dict[str, str]) -> str:
    return params.get("redirect_uri") or getattr(state, "tiktok_redirect_url", "") or ""


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *extra.items()])
    return urlunsplit(parts._replace(query=query))


def build_auth_app(state: SandboxState) -> Starlette:
    async def page(request: Request) -> Response:
        params = dict(request.query_params)
        app = _app_for(state, params)
        if app is None:
            return _error_page("unknown app_key or service_id")
        if not _redirect_target(state, params):
            return _error_page("no redirect URL: pass redirect_uri or register the app's URL")
        shops = state.shops_of("tiktok")
        if not shops:
            return _error_page("no TikTok shop to authorize")
        keep = ("app_key", "service_id", "state", "redirect_uri")
        hidden = "\n".join(
            f'<input type="hidden" name="{k}" value="{escape(params[k])}">'
            for k in keep
            if k in params
        )
        if len(shops) == 1:
            picker = f'<input type="hidden" name="shop_id" value="{escape(shops[0].id)}">'
            picker += f"<p>Shop: {escape(shops[0].name)} ({escape(shops[0].region)})</p>"
        else:
            options = "".join(
                f'<option value="{escape(s.id)}">{escape(s.name)} ({escape(s.region)})</option>'
                for s in shops
            )
            picker = f'<label>Shop <select id="shop" name="shop_id">{options}</select></label>'
        action = escape(request.scope.get("root_path", "") + "/oauth/authorize")
        html = _PAGE.format(app=escape(app.key), action=action, hidden=hidden, picker=picker)
        return HTMLResponse(html)

    async def submit(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if _app_for(state, form) is None:
            return _error_page("unknown app_key or service_id")
        target = _redirect_target(state, form)
        if not target:
            return _error_page("no redirect URL")
        if form.get("decision") != "authorize":
            extra = {"code": "null", "error": "auth_denied", "state": form.get("state", "")}
            return RedirectResponse(_with_query(target, extra), status_code=302)
        try:
            code = state.issue_code("tiktok", form.get("shop_id", ""))
        except SandboxError as error:
            return _error_page(error.message)
        extra = {"code": code.code, "state": form.get("state", "")}
        return RedirectResponse(_with_query(target, extra), status_code=302)

    async def token_get(request: Request) -> Response:
        return _token_call(state, request, "authorized_code", "auth_code")

    async def token_refresh(request: Request) -> Response:
        return _token_call(state, request, "refresh_token", "refresh_token")

    return Starlette(
        routes=[
            Route("/oauth/authorize", page, methods=["GET"]),
            Route("/oauth/authorize", submit, methods=["POST"]),
            Route("/api/v2/token/get", token_get, methods=["GET"]),
            Route("/api/v2/token/refresh", token_refresh, methods=["GET"]),
        ]
    )


def _token_call(state: SandboxState, request: Request, grant: str, field: str) -> Response:
    params = dict(request.query_params)
    app = state.apps["tiktok"]
    try:
        if params.get("app_key") != app.key or not hmac.compare_digest(
            params.get("app_secret", ""), app.secret
        ):
            raise TikTokError(INVALID_SIGNATURE, "Invalid credentials. app_key or app_secret")
        if params.get("grant_type") != grant:
            raise invalid(f"grant_type must be {grant}")
        if not params.get(field):
            raise invalid(f"{field} is required")
        try:
            if grant == "authorized_code":
                token = state.exchange_code("tiktok", params[field])
            else:
                token = state.refresh("tiktok", params[field])
        except SandboxError as error:
            raise TikTokError(TOKEN_INVALID, error.message) from None
    except TikTokError as error:
        return error_response(error)
    return envelope(_token_data(state, token), message="success")


def _token_data(state: SandboxState, token: Token) -> dict[str, object]:
    shop = state.shop("tiktok", token.shop_id)
    open_id = hashlib.sha256(f"open:{shop.id}".encode()).hexdigest()[:43]
    return {
        "access_token": token.access_token,
        "access_token_expire_in": token.access_expires_at,
        "refresh_token": token.refresh_token,
        "refresh_token_expire_in": token.refresh_expires_at,
        "open_id": open_id,
        "seller_name": shop.name,
        "seller_base_region": shop.region,
        "user_type": 0,
        "granted_scopes": GRANTED_SCOPES,
    }
