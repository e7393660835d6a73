"""TikTok Shop wire basics for the simulator: signing, the response envelope, error codes and
HTTP statuses, opaque page tokens, and the checks every signed API call passes.

HTTP statuses (our choice, documented here once; clients must read `code`, never only the status):

| code | meaning | HTTP |
| --- | --- | --- |
| 0 | success | 200 |
| 106001 | missing/unknown `app_key`, missing or wrong `sign` | 401 (a captured real answer) |
| 36009004 | timestamp missing, not 10 digits or more than 300 s off | 401 (before routing) |
| 105001 | access token expired | 401 |
| 105002 | access token missing, unknown, revoked, or not for this shop | 401 |
| 36009004 | any other invalid parameter or business rule (TikTok answers 200 with a code) | 200 |
| 12052001.. | a listing the publishing calls refuse, one code per rule (own numbers) | 200 |
| 36009004 | unknown path / method | 404 / 405 |
| 36009002 | rate limited | 429 |
| 36009003 | internal error (fault injection) | the injected 5xx |

Business refusals (shipping a cancelled or already shipped package, a pickup slot that is not
offered, a label before shipping, cancelling a shipped or cancelled order) answer 36009004 with a
message saying which rule refused: TikTok's per-endpoint business codes are published behind the
partner login and none could be confirmed [UNCONF], so clients must read the message, not branch
on the number.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import heapq
import hmac
import json
import operator
import secrets
import weakref
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from storesync.sandbox.state import SandboxError, SandboxState, Shop, Token, real_clock

SUCCESS = 0
INVALID_SIGNATURE = 106001
TOKEN_EXPIRED = 105001
TOKEN_INVALID = 105002
RATE_LIMITED = 36009002
INTERNAL_ERROR = 36009003
INVALID_PARAMETER = 36009004

TIMESTAMP_WINDOW_SECONDS = 300
T = TypeVar("T")
_AUTH_STATUS = {INVALID_SIGNATURE: 401, TOKEN_EXPIRED: 401, TOKEN_INVALID: 401}
_STATE_CODES = {"invalid_token": TOKEN_INVALID, "token_expired": TOKEN_EXPIRED}


def sign(app_secret: str, path: str, query: Mapping[str, Any], body: bytes) -> str:
    """The `sign` query parameter (§2.3): every query parameter except `sign` and `access_token`,
    sorted by key, joined as `{key}{value}`, the path in front, the raw body behind (pass b"" for
    GET and multipart), wrapped in the secret at both ends; HMAC-SHA256 keyed with the secret."""
    params = "".join(
        f"{key}{query[key]}" for key in sorted(query) if key not in ("sign", "access_token")
    )
    message = (app_secret + path + params).encode() + body + app_secret.encode()
    return hmac.new(app_secret.encode(), message, hashlib.sha256).hexdigest()


def push_signature(app_key: str, app_secret: str, body: bytes) -> str:
    """The webhook `Authorization` header (§2.6): HMAC-SHA256(app_secret, app_key + raw body)."""
    return hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()


class TikTokError(Exception):
    """An error answer: TikTok `code`, message, and the HTTP status we send with it."""

    def __init__(self, code: int, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else _AUTH_STATUS.get(code, 200)


def invalid(message: str) -> TikTokError:
    return TikTokError(INVALID_PARAMETER, message)


def request_id() -> str:
    """Like TikTok's: UTC `YYYYmmddHHMMSS` then 20 upper-case hex digits. The stamp is real
    time (the id only has to look right and be unique), not the sandbox's clock."""
    stamp = real_clock().strftime("%Y%m%d%H%M%S")
    return stamp + secrets.token_hex(10).upper()


def envelope(
    data: Any, *, code: int = SUCCESS, message: str = "Success", status: int = 200
) -> Response:
    body = {"code": code, "message": message, "request_id": request_id(), "data": data}
    return JSONResponse(body, status_code=status)


def error_response(error: TikTokError) -> Response:
    return envelope(None, code=error.code, message=error.message, status=error.status)


def from_sandbox_error(error: SandboxError) -> TikTokError:
    return TikTokError(_STATE_CODES.get(error.code, INVALID_PARAMETER), error.message)


def json_object(body: bytes, content_type: str) -> dict[str, Any]:
    """The JSON object body of a POST/PUT (an empty body counts as `{}`)."""
    if not body.strip():
        return {}
    if not content_type.lower().startswith("application/json"):
        raise invalid("Content-Type must be application/json")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise invalid(f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise invalid("the body must be a JSON object")
    return data


# -- page tokens -------------------------------------------------------------------------------


def page_size(query: dict[str, str], *, maximum: int = 100) -> int:
    raw = query.get("page_size", "")
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise invalid(f"page_size is required and must be between 1 and {maximum}")
    return int(raw)


def paginate(
    rows: Sequence[T],
    *,
    key: Callable[[T], tuple[Any, ...]],
    descending: bool,
    size: int,
    token: str,
    scope: str,
) -> tuple[list[T], str]:
    """Keyset pagination: `token` carries the last key sent and a fingerprint of the filters
    (`scope`), so it is opaque, survives inserts, and is refused with other filters."""
    keyed = [(key(r), r) for r in rows]
    if token:
        after, _total = _decode_token(token, scope)
        keyed = [kr for kr in keyed if (kr[0] < after if descending else kr[0] > after)]
    # The next size + 1 rows only: a page of a 20,000-row list must not sort all of it.
    pick = heapq.nlargest if descending else heapq.nsmallest
    head = pick(size + 1, keyed, key=operator.itemgetter(0))
    page = [row for _key, row in head[:size]]
    if len(head) <= size:
        return page, ""
    return page, _encode_token(head[size - 1][0], scope)


@dataclass
class SortedRows(Generic[T]):
    """Rows in ascending key order, with their keys (for `bisect`)."""

    keys: list[tuple[Any, ...]]
    rows: list[T]


_SORTED: dict[int, tuple[weakref.ref[Any], int, SortedRows[Any]]] = {}


def sorted_rows(
    owner: object, rows: Collection[T], key: Callable[[T], tuple[Any, ...]]
) -> SortedRows[T]:
    """`rows` sorted by `key`, cached per `owner` while their number stays the same. Only for
    rows the sandbox never removes and whose key never changes (a shop's products, keyed by
    creation time and id): a page of a 20,000-product shop then costs a bisect, not a sort."""
    cached = _SORTED.get(id(owner))
    if cached is not None and cached[0]() is owner and cached[1] == len(rows):
        return cached[2]
    keyed = sorted(((key(r), r) for r in rows), key=operator.itemgetter(0))
    made = SortedRows([k for k, _r in keyed], [r for _k, r in keyed])
    _SORTED[id(owner)] = (weakref.ref(owner), len(rows), made)
    return made


def paginate_sorted(
    index: SortedRows[T],
    *,
    keep: Callable[[T], bool],
    descending: bool,
    size: int,
    token: str,
    scope: str,
) -> tuple[list[T], str, int]:
    """`paginate` over presorted rows: the page of rows `keep` accepts after the token's key,
    the next token, and how many rows `keep` accepts in all. The total is counted for the first
    page and carried in the token (a snapshot, as a search session would keep it): counting on
    every page made paging a 20,000-product shop quadratic."""
    keys, rows = index.keys, index.rows
    total = -1
    if token:
        after, total = _decode_token(token, scope)
        start = (
            bisect.bisect_left(keys, after) - 1 if descending else bisect.bisect_right(keys, after)
        )
    else:
        start = len(rows) - 1 if descending else 0
    positions = range(start, -1, -1) if descending else range(start, len(rows))
    picked: list[int] = []
    for i in positions:
        if keep(rows[i]):
            picked.append(i)
            if len(picked) > size:
                break
    page = [rows[i] for i in picked[:size]]
    if total < 0:
        total = sum(1 for r in rows if keep(r))
    if len(picked) <= size:
        return page, "", total
    return page, _encode_token(keys[picked[size - 1]], scope, total=total), total


def _fingerprint(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:16]


def _encode_token(last: tuple[Any, ...], scope: str, *, total: int | None = None) -> str:
    payload: dict[str, Any] = {"after": list(last), "scope": _fingerprint(scope)}
    if total is not None:
        payload["total"] = total
    raw = json.dumps(payload, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(token: str, scope: str) -> tuple[tuple[Any, ...], int]:
    """The last key sent, and the total carried since the first page (-1 when none)."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, fingerprint = tuple(raw["after"]), raw["scope"]
        total = int(raw.get("total", -1))
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        raise invalid("page_token is invalid") from None
    if fingerprint != _fingerprint(scope):
        raise invalid("page_token does not belong to this query")
    return after, total


# -- signed calls ------------------------------------------------------------------------------


@dataclass
class Call:
    """A signed, authenticated API call, handed to the endpoint handlers."""

    state: SandboxState
    request: Request
    query: dict[str, str]
    body: bytes
    token: Token
    shop: Shop | None

    def json(self) -> dict[str, Any]:
        return json_object(self.body, self.request.headers.get("content-type", ""))

    def the_shop(self) -> Shop:
        assert self.shop is not None, "shop-scoped endpoint"
        return self.shop


Handler = Callable[[Call], Any]


def platform_path(request: Request) -> str:
    """The path as the real platform sees it: without the mount prefix (root_path)."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def authenticate(state: SandboxState, request: Request, *, shop_scoped: bool) -> Call:
    """Check app_key, timestamp, sign (over the raw body), the `x-tts-access-token` header and,
    for shop endpoints, `shop_cipher` and that the token was granted for that shop."""
    query = dict(request.query_params)
    body = await request.body()
    app = state.apps["tiktok"]
    if query.get("app_key") != app.key:
        raise TikTokError(INVALID_SIGNATURE, "Invalid credentials. The 'app_key' is invalid.")
    _check_timestamp(query.get("timestamp", ""), state.now())
    signed_body = b"" if _is_multipart(request) else body
    given = query.get("sign", "")
    # The platform's own path, or the whole path sent (`/tiktok/...`: a client built from the
    # platform's documentation signs what it sends when given the sandbox's base URL).
    paths = {platform_path(request), request.scope["path"]}
    if not any(
        hmac.compare_digest(given, sign(app.secret, path, query, signed_body)) for path in paths
    ):
        raise TikTokError(
            INVALID_SIGNATURE, "Invalid credentials. The 'sign' query parameter is invalid."
        )
    access_token = request.headers.get("x-tts-access-token", "")
    if not access_token:
        raise TikTokError(TOKEN_INVALID, "The x-tts-access-token header is required.")
    shop = _shop(state, query) if shop_scoped else None
    known = state.tokens.get(access_token)
    try:
        token = state.check_token(
            "tiktok", access_token, shop.id if shop else (known.shop_id if known else "")
        )
    except SandboxError as error:
        raise from_sandbox_error(error) from None
    return Call(state, request, query, body, token, shop)


def _check_timestamp(raw: str, current: int) -> None:
    if len(raw) != 10 or not raw.isdigit():
        raise TikTokError(INVALID_PARAMETER, "timestamp must be 10-digit Unix seconds", 401)
    if abs(current - int(raw)) > TIMESTAMP_WINDOW_SECONDS:
        raise TikTokError(INVALID_PARAMETER, "timestamp is expired or in the future", 401)


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


def _shop(state: SandboxState, query: dict[str, str]) -> Shop:
    cipher = query.get("shop_cipher", "")
    if not cipher:
        raise invalid("shop_cipher is required for this endpoint")
    try:
        return state.shop_by_cipher(cipher)
    except SandboxError:
        raise invalid("shop_cipher is invalid") from None


def endpoint(
    state: SandboxState, handler: Handler, *, shop_scoped: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint: authenticate, run `handler` (returns `data`), wrap the envelope."""

    async def run(request: Request) -> Response:
        try:
            call = await authenticate(state, request, shop_scoped=shop_scoped)
            with state.lock:  # handlers read and write shared state; other threads place orders
                data = handler(call)
            return envelope(data)
        except TikTokError as error:
            return error_response(error)
        except SandboxError as error:
            return error_response(from_sandbox_error(error))

    return run
