"""Shopee shop authorization (the consent page and its redirect), tokens, push config and the
shop profile."""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from storesync.sandbox.shopee.wire import (
    Call,
    Endpoint,
    ShopeeError,
    as_int,
    authenticate,
    error_response,
    param_error,
)
from storesync.sandbox.state import SandboxError, SandboxState

PAGE_LIFETIME = 600  # seconds the consent page stays usable
# 1-13 as the set_app_push_config spec lists them, and the later codes seller consoles show:
# 15 shipping document status, 16 violation item, 22 item price update, 23/24/25 booking,
# 27 scheduled publish failed, 28 shop penalty, 29 return updates, 30 package fulfilment,
# 33, 36 FBS, 37 courier binding, 38 video upload result, 47 package info.
PUSH_CODES = frozenset(range(1, 14)) | {15, 16, 22, 23, 24, 25, 27, 28, 29, 30, 33, 36, 37, 38, 47}
MAX_BLOCKED_SHOPS = 500
AUTH_VALIDITY = 365 * 86400  # shop authorization lasts a year on Shopee


@dataclass
class ConsentPages:
    """`GET /api/v2/shop/auth_partner` (signed, public level) renders the seller's consent page;
    its form posts back to the same path and the seller is redirected with `code` and
    `shop_id`. Pending pages are remembered by a one-time nonce so the POST needs no signature."""

    state: SandboxState
    pending: dict[str, tuple[str, int]] = field(default_factory=dict)  # nonce → redirect, expiry

    async def show(self, request: Request) -> Response:
        try:
            await authenticate(self.state, request, "public")
            redirect = request.query_params.get("redirect", "")
            if not redirect:
                raise ShopeeError("error_param", "There is no redirect in query.")
            _check_url(redirect, "redirect")
        except ShopeeError as exc:
            return error_response(exc)
        current = self.state.now()
        self.pending = {k: v for k, v in self.pending.items() if v[1] >= current}
        nonce = secrets.token_urlsafe(16)
        self.pending[nonce] = (redirect, current + PAGE_LIFETIME)
        return HTMLResponse(self._page(nonce, redirect))

    async def submit(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode(errors="replace"), keep_blank_values=True)
        nonce = (form.get("nonce") or [""])[0]
        shop_id = (form.get("shop_id") or [""])[0]
        redirect, expires = self.pending.pop(nonce, ("", 0))
        if not redirect or expires < self.state.now():
            return HTMLResponse(
                _html("Link expired", "<p>Open the authorization link again.</p>"), 400
            )
        try:
            code = self.state.issue_code("shopee", shop_id)
        except SandboxError:
            return HTMLResponse(_html("Unknown shop", "<p>Choose one of your shops.</p>"), 400)
        return RedirectResponse(_with_query(redirect, code=code.code, shop_id=shop_id), 302)

    def _page(self, nonce: str, redirect: str) -> str:
        shops = sorted(self.state.shops_of("shopee"), key=lambda s: s.name)
        if len(shops) == 1:
            picker = (
                f"<p>Shop: <strong>{html.escape(shops[0].name)}</strong></p>"
                f'<input type="hidden" name="shop_id" value="{html.escape(shops[0].id)}">'
            )
        else:
            options = "".join(
                f'<option value="{html.escape(s.id)}">{html.escape(s.name)} ({s.id})</option>'
                for s in shops
            )
            picker = (
                '<label for="shop_id">Shop</label> '
                f'<select id="shop_id" name="shop_id">{options}</select>'
            )
        body = (
            f"<p>An app (partner {html.escape(self.state.apps['shopee'].key)}) asks to manage "
            f"products, orders and logistics of your shop.</p>"
            f'<form method="post" action="">'
            f'<input type="hidden" name="nonce" value="{html.escape(nonce)}">{picker}'
            f'<p><button id="authorize" type="submit">Authorize</button></p></form>'
            f"<p><small>You will return to {html.escape(redirect)}</small></p>"
        )
        return _html("Shopee Open Platform: authorize app", body)


def _html(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _check_url(url: str, name: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise param_error(f"{name} should be an http(s) URL")


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))


def _body_partner(call: Call) -> None:
    if as_int(call.field("partner_id"), "partner_id") != int(call.app.key):
        raise ShopeeError("error_param", "Invalid partner_id.")


def token_get(call: Call) -> dict[str, Any]:
    """`POST /api/v2/auth/token/get`: a one-time code for the first tokens (top level)."""
    _body_partner(call)
    code = call.field("code")
    if "main_account_id" in call.body:
        raise param_error("main account authorization is not simulated; use shop_id")
    shop_id = str(as_int(call.field("shop_id"), "shop_id"))
    if not isinstance(code, str):
        raise param_error("code should be a string")
    try:
        token = call.state.exchange_code("shopee", code, shop_id)
    except SandboxError:
        raise ShopeeError("error_auth", "Invalid code") from None
    return {
        "access_token": token.access_token,
        "refresh_token": token.refresh_token,
        "expire_in": token.access_expires_at - call.state.now(),
    }


def access_token_get(call: Call) -> dict[str, Any]:
    """`POST /api/v2/auth/access_token/get`: rotate; the refresh token works once."""
    _body_partner(call)
    refresh_token = call.field("refresh_token")
    shop_id = str(as_int(call.field("shop_id"), "shop_id"))
    known = call.state.refresh_tokens.get(refresh_token) if isinstance(refresh_token, str) else None
    if known is None or known.platform != "shopee":
        raise ShopeeError("error_auth", "Invalid refresh_token.")
    if known.shop_id != shop_id:
        raise ShopeeError(
            "error_shop_refresh_token",
            "Your refresh token is error ,please check refresh token or shopid.",
        )
    if known.refresh_expires_at < call.state.now():
        raise ShopeeError("refresh_token_expired", "Your refresh_token expired.")
    try:
        token = call.state.refresh("shopee", refresh_token, shop_id)
    except SandboxError:
        raise ShopeeError("error_auth", "Invalid refresh_token.") from None
    return {
        "partner_id": int(call.app.key),
        "shop_id": int(shop_id),
        "access_token": token.access_token,
        "refresh_token": token.refresh_token,
        "expire_in": token.access_expires_at - call.state.now(),
    }


def set_app_push_config(call: Call, off_codes: set[int]) -> dict[str, Any]:
    """`POST /api/v2/push/set_app_push_config` (public level): the callback URL goes to
    `state.webhooks["shopee"]`; codes switched off are not pushed."""
    url = call.body.get("callback_url")
    if url is not None:
        if not isinstance(url, str) or not url:
            raise ShopeeError(
                "error_param", "this callback_url is invalid, please check your callback_url."
            )
        _check_url(url, "callback_url")
    elif not call.state.webhooks.get("shopee"):
        raise ShopeeError(
            "error_param",
            "Your app's callback_url is empty, please input a callback_url before you set "
            "push config.",
        )
    switch_on = _codes(call.body.get("set_push_config_on", []), "set_push_config_on")
    switch_off = _codes(call.body.get("set_push_config_off", []), "set_push_config_off")
    blocked = call.body.get("blocked_shop_id_list", [])
    if not isinstance(blocked, list) or len(blocked) > MAX_BLOCKED_SHOPS:
        raise param_error(f"blocked_shop_id_list should have at most {MAX_BLOCKED_SHOPS} shops")
    if url is not None:
        call.state.webhooks["shopee"] = url
    off_codes.difference_update(switch_on)
    off_codes.update(switch_off)
    return {"result": "success"}


def _codes(value: Any, name: str) -> set[int]:
    if not isinstance(value, list):
        raise param_error(f"{name} should be a list of push codes")
    codes = {as_int(code, name) for code in value}
    if not codes <= PUSH_CODES:
        raise param_error(f"{name} contains an unknown push code")
    return codes


def get_shop_info(call: Call) -> dict[str, Any]:
    """`GET /api/v2/shop/get_shop_info`: the profile fields sit at the top level."""
    assert call.token is not None
    authorized = call.token.refresh_expires_at - call.state.lifetimes.refresh("shopee")
    return {
        "shop_name": call.shop.name,
        "region": call.shop.region,
        "status": "NORMAL",
        "shop_fulfillment_flag": "Others",
        "is_cb": False,
        "is_upgraded_cbsc": False,
        "merchant_id": None,
        "is_sip": False,
        "sip_affi_shops": [],
        "is_main_shop": False,
        "is_direct_shop": False,
        "linked_direct_shop_list": [],
        "linked_main_shop_id": 0,
        "auth_time": authorized,
        "expire_time": authorized + AUTH_VALIDITY,
    }


def endpoints(off_codes: set[int]) -> list[Endpoint]:
    return [
        Endpoint("POST", "/api/v2/auth/token/get", "public", token_get, "top"),
        Endpoint("POST", "/api/v2/auth/access_token/get", "public", access_token_get, "top"),
        Endpoint(
            "POST",
            "/api/v2/push/set_app_push_config",
            "public",
            lambda call: set_app_push_config(call, off_codes),
        ),
        Endpoint("GET", "/api/v2/shop/get_shop_info", "shop", get_shop_info, "top"),
    ]
