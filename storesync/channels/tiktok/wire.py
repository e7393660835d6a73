"""TikTok Shop wire basics: how a request is built (signed API calls, unsigned auth host
calls), the response envelope, and the one place platform answers become `AppError`s
(MARKETPLACES §2.1, §2.2, §2.7).

Every answer is `{"code", "message", "request_id", "data"}`; success is `code == 0`, and HTTP 200
can carry an error code, so `classify` reads the code first and the HTTP status second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from storesync.channels.adapter import Connection
from storesync.channels.body import json_body
from storesync.channels.schemas import Credentials
from storesync.channels.tiktok.signing import sign
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType

SUCCESS = 0
RATE_LIMITED = 36009002
INTERNAL_ERROR = 36009003
INVALID_PARAMETER = 36009004
TOKEN_EXPIRED = 105001
TOKEN_INVALID = 105002
BAD_APP_CREDENTIALS = 106001


@dataclass(frozen=True)
class Multipart:
    """A multipart/form-data body (image upload). TikTok signs it without the body (§2.3)."""

    files: dict[str, tuple[str, bytes, str]]  # field → (file name, content, content type)
    fields: dict[str, str] = field(default_factory=dict)


def signed_request(
    connection: Connection,
    credentials: Credentials,
    method: str,
    path: str,
    query: dict[str, str],
    body: bytes,
    *,
    shop: bool,
    multipart: Multipart | None = None,
) -> httpx.Request:
    """An API host call: `app_key`, a fresh 10-digit `timestamp`, `shop_cipher` on shop
    endpoints and `sign` over exactly `body` (over no body for `multipart`, sent instead of
    `body`); the access token in `x-tts-access-token`, never in the query."""
    app = connection.app
    params = {**query, "app_key": app.key, "timestamp": str(int(utcnow().timestamp()))}
    if shop:
        params["shop_cipher"] = credentials.shop_cipher
    params["sign"] = sign(app.secret, path, params, b"" if multipart is not None else body)
    headers = {"x-tts-access-token": credentials.access_token}
    url = connection.base_url + path
    if multipart is not None:  # httpx writes the multipart content type with its boundary
        return httpx.Request(
            method,
            url,
            params=params,
            files=multipart.files,
            data=multipart.fields,
            headers=headers,
        )
    headers["content-type"] = "application/json"
    return httpx.Request(method, url, params=params, content=body or None, headers=headers)


def token_request(connection: Connection, path: str, params: dict[str, str]) -> httpx.Request:
    """An auth host call (token/get, token/refresh): unsigned, with the app secret in the query
    as TikTok requires."""
    app = connection.app
    query = {"app_key": app.key, "app_secret": app.secret, **params}
    return httpx.Request("GET", connection.auth_base_url + path, params=query)


def envelope(response: httpx.Response) -> dict[str, Any] | None:
    """The decoded envelope, or None when the body is not a JSON object with a `code`."""
    body = json_body(response)
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        return None
    return body


def data(response: httpx.Response) -> dict[str, Any]:
    """The `data` object of an answer `classify` accepted (`{}` when the platform sent none)."""
    body = envelope(response) or {}
    payload = body.get("data")
    return payload if isinstance(payload, dict) else {}


def classify(response: httpx.Response) -> AppError | None:
    """None for success; otherwise the `AppError` with the type, code and `retryable` the
    resilient client acts on. Messages carry the platform's text and request id, never a token,
    secret or signature (the platform does not echo those)."""
    body = envelope(response)
    code = body["code"] if body is not None else None
    if response.status_code == 429 or code == RATE_LIMITED:
        return _error(ErrorType.RATE_LIMIT, "rate_limited", "TikTok Shop rate limit hit", body)
    if response.status_code >= 500 or code == INTERNAL_ERROR:
        return _error(
            ErrorType.PLATFORM_API,
            "server_error",
            f"TikTok Shop server error (HTTP {response.status_code})",
            body,
            retryable=True,
        )
    if body is None:
        return AppError(
            ErrorType.PLATFORM_API,
            "malformed_response",
            f"TikTok Shop sent an unreadable answer (HTTP {response.status_code})",
            retryable=True,
        )
    if code == SUCCESS:
        return None
    return _by_code(body["code"], body)


def _by_code(code: int, body: dict[str, Any]) -> AppError:
    if code in (TOKEN_EXPIRED, TOKEN_INVALID):
        reason = "expired" if code == TOKEN_EXPIRED else "invalid"
        return _error(
            ErrorType.AUTHENTICATION,
            "token_invalid",
            f"the shop's access token is {reason}",
            body,
            retryable=False,
        )
    if code == BAD_APP_CREDENTIALS:
        return _error(
            ErrorType.AUTHENTICATION,
            "bad_app_credentials",
            "TikTok Shop refused the app: wrong app key or secret",
            body,
            retryable=False,
        )
    if code == INVALID_PARAMETER:
        return _error(
            ErrorType.VALIDATION,
            "invalid_parameter",
            _platform_message(body),
            body,
            retryable=False,
        )
    return _error(
        ErrorType.PLATFORM_API, "platform_error", _platform_message(body), body, retryable=False
    )


def _platform_message(body: dict[str, Any]) -> str:
    return f"TikTok Shop: {body.get('message') or 'request refused'}"


def _error(
    type_: ErrorType,
    code: str,
    message: str,
    body: dict[str, Any] | None,
    *,
    retryable: bool | None = None,
) -> AppError:
    details: dict[str, Any] = {}
    if body is not None:
        details = {
            "platform_code": body.get("code"),
            "platform_message": str(body.get("message") or ""),
            "request_id": body.get("request_id", ""),
        }
    return AppError(type_, code, message, details=details, retryable=retryable)


def document_request(url: str) -> httpx.Request:
    """A shipping document download: a plain GET of the link TikTok answered (a CDN URL that
    carries its own expiring token), never signed."""
    return httpx.Request("GET", url, headers={"accept": "application/pdf"})


def classify_document(response: httpx.Response) -> AppError | None:
    """None for a PDF; the download's failure otherwise (5xx and 429 retryable, an expired or
    unknown link not: ask for a new one)."""
    status = response.status_code
    if status == 429:
        return AppError(ErrorType.RATE_LIMIT, "rate_limited", "TikTok Shop rate limit hit")
    if status >= 500:
        return AppError(
            ErrorType.PLATFORM_API,
            "server_error",
            f"TikTok Shop's document server failed (HTTP {status})",
            retryable=True,
        )
    if status >= 400:
        return AppError(
            ErrorType.PLATFORM_API,
            "document_unavailable",
            f"TikTok Shop refused the shipping document link (HTTP {status}); ask for it again",
            details={"http_status": status},
            retryable=False,
        )
    if not response.content.startswith(b"%PDF-"):
        return AppError(
            ErrorType.PLATFORM_API,
            "malformed_response",
            "TikTok Shop's shipping document is not a PDF",
            details={"content_type": response.headers.get("content-type", "")},
            retryable=False,
        )
    return None
