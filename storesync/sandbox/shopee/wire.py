"""Shopee Open Platform v2 on the wire: signing, the common-parameter check, the error envelope
and strict parameter readers shared by every simulated endpoint.

HTTP statuses (Shopee's own are not documented; clients must decide on the `error` field):
403 for signature, token and permission errors, 429 for `error_rate_limit`, 500 for
`error_server`/`error_inner`, 503 for `error_system_busy`, 400 for every other error
(`error_param`, `order.order_list_invalid_time`, `error_item_not_found`, `logistics.*`, ...).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from storesync.sandbox.state import App, SandboxError, SandboxState, Shop, Token

Level = Literal["public", "shop"]
Shape = Literal["response", "top", "bare"]  # success fields under `response`, at top level, none
TIMESTAMP_TOLERANCE = 300
MAX_PAGE_SIZE = 100

_STATUS = {
    "error_sign": 403,
    "error_auth": 403,
    "invalid_acceess_token": 403,
    "error_permission": 403,
    "error_rate_limit": 429,
    "error_server": 500,
    "error_inner": 500,
    "error_system_busy": 503,
}
_MISSING = {
    "partner_id": "There is no partner_id in query.",
    "timestamp": "no timestamp",
    "sign": "There is no sign in query.",
    "access_token": "There is no access_token in query.",
    "shop_id": "There is no shop_id in query.",
}
INVALID_SHOP = "Invalid partner_id or shopid."
INVALID_TOKEN = "Invalid access_token."  # noqa: S105 (a message, not a secret)


def sign(partner_key: str, base: str) -> str:
    """HMAC-SHA256 of `base` keyed with the partner_key's UTF-8 bytes, lowercase hex (§1.2)."""
    return hmac.new(partner_key.encode(), base.encode(), hashlib.sha256).hexdigest()


def push_signature(partner_key: str, url: str, body: bytes) -> str:
    """The `Authorization` header of a push: HMAC-SHA256 of `url|body` (§1.6)."""
    return hmac.new(partner_key.encode(), url.encode() + b"|" + body, hashlib.sha256).hexdigest()


class ShopeeError(Exception):
    """An answer with a non-empty `error`; `response` is kept for errors that carry one
    (e.g. `error_busi_update_stock_failed` with its failure_list)."""

    def __init__(
        self,
        error: str,
        message: str,
        *,
        status: int | None = None,
        response: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.status = status or _STATUS.get(error, 400)
        self.response = response


def param_error(detail: str) -> ShopeeError:
    return ShopeeError("error_param", f"Wrong parameters, detail: {detail}.")


def error_response(exc: ShopeeError) -> JSONResponse:
    body: dict[str, Any] = {"request_id": new_request_id(), "error": exc.error}
    body["message"] = exc.message
    if exc.response is not None:
        body["response"] = exc.response
    return JSONResponse(body, status_code=exc.status)


def success_response(result: dict[str, Any] | None, shape: Shape, warning: Any) -> JSONResponse:
    body: dict[str, Any] = {"request_id": new_request_id(), "error": "", "message": ""}
    if shape == "top":
        body.update(result or {})
    elif shape == "response":
        body["warning"] = warning
        body["response"] = result or {}
    return JSONResponse(body)


def new_request_id() -> str:
    return secrets.token_hex(16)


def money(value: Decimal) -> int | float:
    """Prices as Shopee's JSON shows them: whole amounts without a fraction."""
    return int(value) if value == value.to_integral_value() else float(value)


def api_path(request: Request) -> str:
    """The path the platform signs: without the mount prefix (`/shopee`)."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def signed_paths(request: Request) -> tuple[str, ...]:
    """The paths a caller may have signed: the platform's own (`/api/v2/...`), or the whole path
    it sent (`/shopee/api/v2/...`), as a client built from the platform's documentation does
    when it is given the sandbox's base URL."""
    own, sent = api_path(request), request.scope["path"]
    return (own,) if sent == own else (own, sent)


# -- strict readers ----------------------------------------------------------------------------


def as_int(value: Any, name: str) -> int:
    """A JSON integer (Shopee rejects strings and booleans where int64 is expected)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise param_error(f"{name} should be an integer")
    return value


def as_list(value: Any, name: str, low: int, high: int) -> list[Any]:
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise param_error(f"the length of {name} should be between {low} and {high}")
    return value


def parse_int(raw: str, name: str) -> int:
    text = raw.strip()
    if not text.lstrip("-").isdigit():
        raise param_error(f"{name} should be an integer")
    return int(text)


@dataclass
class Call:
    """One authenticated call: its app, query, JSON body and (shop level) shop and token."""

    state: SandboxState
    app: App
    query: QueryParams
    body: dict[str, Any]
    shop_or_none: Shop | None = None
    token: Token | None = None
    warning: Any = ""

    @property
    def shop(self) -> Shop:
        assert self.shop_or_none is not None, "shop-level endpoint"
        return self.shop_or_none

    def text(self, name: str) -> str:
        value = self.query.get(name)
        if value is None or value == "":
            raise param_error(f"{name} is required")
        return value

    def integer(self, name: str, *, low: int | None = None, high: int | None = None) -> int:
        value = parse_int(self.text(name), name)
        if low is not None and value < low:
            raise param_error(f"{name} should be at least {low}")
        if high is not None and value > high:
            raise param_error(f"{name} should be at most {high}")
        return value

    def optional_integer(self, name: str) -> int | None:
        return parse_int(self.query[name], name) if self.query.get(name) else None

    def csv(self, name: str, *, high: int) -> list[str]:
        """A comma-joined list (`item_id_list`, `order_sn_list`), 1 to `high` entries."""
        values = [v.strip() for raw in self.query.getlist(name) for v in raw.split(",")]
        values = [v for v in values if v]
        if not values:
            raise param_error(f"{name} is required")
        if len(values) > high:
            raise param_error(f"the length of {name} should be between 1 and {high}")
        return values

    def field(self, name: str) -> Any:
        if name not in self.body or self.body[name] is None:
            raise param_error(f"invalid field {name}: value must Not Null")
        return self.body[name]

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() == "true"

    def string_field(self, name: str) -> str:
        """A required, non-empty JSON string of the body (`order_sn`, `return_sn`, ...)."""
        value = self.field(name)
        if not isinstance(value, str) or not value.strip():
            raise param_error(f"{name} should be a non-empty string")
        return value.strip()


# -- authentication ----------------------------------------------------------------------------


async def authenticate(state: SandboxState, request: Request, level: Level) -> Call:
    """Check the common parameters and the signature the way the gateway does, in its order:
    presence, partner_id, timestamp freshness, sign, then shop and access token."""
    query = request.query_params
    names = ("partner_id", "timestamp", "sign") + (
        ("access_token", "shop_id") if level == "shop" else ()
    )
    for name in names:
        if not query.get(name):
            raise ShopeeError("error_param", _MISSING[name])
    app = state.apps.get("shopee")
    partner_id = query["partner_id"].strip()
    if app is None or not partner_id.isdigit() or int(partner_id) != int(app.key):
        raise ShopeeError("error_param", "Invalid partner_id.")
    try:
        timestamp = int(query["timestamp"].strip())
    except ValueError:
        raise ShopeeError("error_param", "Invalid timestamp") from None
    if abs(state.now() - timestamp) > TIMESTAMP_TOLERANCE:
        raise ShopeeError("error_param", "Timestamp is expired")
    shop_id = ""
    tail = ""
    if level == "shop":
        shop_id = query["shop_id"].strip()
        if not shop_id.isdigit():
            raise ShopeeError("error_param", "Invalid shop_id.")
        tail = f"{query['access_token']}{int(shop_id)}"
    bases = [f"{int(partner_id)}{path}{timestamp}{tail}" for path in signed_paths(request)]
    given = query["sign"]
    if not any(hmac.compare_digest(sign(app.secret, base), given) for base in bases):
        raise ShopeeError("error_sign", "Wrong sign.")
    call = Call(state, app, query, await _json_body(request))
    if level == "shop":
        call.shop_or_none, call.token = _shop_and_token(state, str(int(shop_id)), query)
    return call


def _shop_and_token(state: SandboxState, shop_id: str, query: QueryParams) -> tuple[Shop, Token]:
    shop = state.shops.get(("shopee", shop_id))
    if shop is None:
        raise ShopeeError("error_auth", INVALID_SHOP)
    access_token = query["access_token"]
    known = state.tokens.get(access_token)
    if known is not None and known.platform == "shopee" and known.shop_id != shop_id:
        raise ShopeeError("error_auth", INVALID_TOKEN)
    try:
        token = state.check_token("shopee", access_token, shop_id)
    except SandboxError:
        # Expired, revoked (by a refresh) and unknown tokens: Shopee's own misspelt code.
        raise ShopeeError("invalid_acceess_token", INVALID_TOKEN) from None
    return shop, token


async def _json_body(request: Request) -> dict[str, Any]:
    if request.method != "POST":
        return {}
    raw = await request.body()
    if not raw.strip():
        return {}
    if "application/json" not in request.headers.get("content-type", ""):
        raise param_error("Content-Type should be application/json")
    try:
        data = json.loads(raw)
    except ValueError:
        raise ShopeeError("error_data", "parse data failed") from None
    if not isinstance(data, dict):
        raise ShopeeError("error_data", "parse data failed")
    return data


Handler = Callable[[Call], dict[str, Any] | Response | None]


@dataclass(frozen=True)
class Endpoint:
    """One signed API: where it lives, how it is signed and where its answer goes. A handler
    that returns a `Response` (a file, e.g. download_shipping_document's PDF) answers with it
    as it is, outside the JSON envelope."""

    method: Literal["GET", "POST"]
    path: str
    level: Level
    handler: Handler
    shape: Shape = "response"
