"""Shopee v2 on the wire, client side: the error envelope mapped once into `AppError`, and a log
filter that keeps tokens and signatures (which Shopee carries in the query string) out of logs.

Shopee's HTTP statuses are not documented, so answers are classified on the `error` field first;
HTTP 429 and 5xx are honoured even without a readable body. download_shipping_document answers
a file on success (and JSON on failure): its classifier takes a complete file for success.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import httpx

from storesync.channels.body import json_body
from storesync.core.errors import AppError, ErrorType

TOKEN_ERRORS = frozenset({"invalid_acceess_token", "invalid_access_token"})
TRANSIENT_ERRORS = frozenset({"error_server", "error_inner", "error_system_busy"})
# Refresh failures that only a new authorization by the seller can cure.
REAUTHORIZE_ERRORS = frozenset(
    {"refresh_token_expired", "shop_access_expired", "error_shop_refresh_token", "shop_no_linked"}
)
NOT_FOUND_ERRORS = frozenset({"error_not_found", "error_item_not_found"})
BAD_APP = "wrong partner id or key: check the Shopee partner_id and partner_key in settings"

Classifier = Callable[[httpx.Response], AppError | None]


def classifier(path: str, *, accept: Collection[str] = (), binary: bool = False) -> Classifier:
    """How to read an answer of `path`: None for success (or for an `error` listed in `accept`,
    whose body the caller reads itself, e.g. update_stock's failure_list), else the AppError.
    `binary`: a 2xx answer that is not JSON is a file, a success when it is complete."""

    def classify(response: httpx.Response) -> AppError | None:
        return classify_response(response, path, accept=accept, binary=binary)

    return classify


def classify_response(
    response: httpx.Response, path: str, *, accept: Collection[str] = (), binary: bool = False
) -> AppError | None:
    status = response.status_code
    if binary and 200 <= status < 300 and _is_file(response):
        return None
    body = _json_body(response)
    error = str(body.get("error") or "") if body is not None else ""
    if status == 429 or error in ("error_rate_limit", "too_many_request"):
        return AppError(
            ErrorType.RATE_LIMIT,
            "rate_limited",
            f"Shopee rate limit reached on {path}",
            details={"path": path},
            retryable=True,
        )
    if body is None:
        code = "server_error" if status >= 500 else "malformed_response"
        return AppError(
            ErrorType.PLATFORM_API,
            code,
            f"Shopee answered {path} with HTTP {status} and no readable JSON",
            details={"path": path, "http_status": status},
            retryable=status >= 500 or 200 <= status < 300,
        )
    if not error and status < 400:
        return None
    if error in accept:
        return None
    return _error(error, str(body.get("message") or ""), status, path)


def _is_file(response: httpx.Response) -> bool:
    """A non-JSON answer with content; a PDF only when it is whole (a cut-off download is
    malformed and retried)."""
    content = response.content
    if not content or content.lstrip()[:1] in (b"{", b"["):
        return False
    if content.startswith(b"%PDF"):
        return b"%%EOF" in content[-1024:]
    return True


def _json_body(response: httpx.Response) -> dict[str, Any] | None:
    data = json_body(response)
    return data if isinstance(data, dict) else None


def _error(error: str, message: str, status: int, path: str) -> AppError:
    details = {"path": path, "platform_error": error, "http_status": status}
    said = f"Shopee {path}: {message or error}"
    if error == "error_sign" or _bad_partner(error, message):
        return AppError(
            ErrorType.AUTHENTICATION,
            "bad_app_credentials",
            BAD_APP,
            details=details,
            retryable=False,
        )
    if error in TOKEN_ERRORS or (error == "error_auth" and "access_token" in message.lower()):
        return AppError(
            ErrorType.AUTHENTICATION,
            "token_invalid",
            "the shop's Shopee access token is invalid or expired",
            details=details,
            retryable=False,
        )
    if error in TRANSIENT_ERRORS or status >= 500:
        return AppError(
            ErrorType.PLATFORM_API, "server_error", said, details=details, retryable=True
        )
    if error == "error_limit":
        return AppError(ErrorType.RATE_LIMIT, "daily_limit", said, details=details, retryable=False)
    if error in REAUTHORIZE_ERRORS or error == "error_auth":
        return AppError(
            ErrorType.AUTHENTICATION, "reauthorize", said, details=details, retryable=False
        )
    if error in ("error_permission", "shop_banned", "source_ip_undeclared"):
        return AppError(ErrorType.AUTHORIZATION, error, said, details=details, retryable=False)
    if error in NOT_FOUND_ERRORS:
        return AppError(ErrorType.NOT_FOUND, "not_found", said, details=details, retryable=False)
    if "timestamp is expired" in message.lower():
        return AppError(
            ErrorType.PLATFORM_API,
            "clock_skew",
            f"Shopee refused the request time on {path}: check this server's clock",
            details=details,
            retryable=False,
        )
    if error.startswith(("error_param", "error_data", "logistics.", "order.")):
        return AppError(ErrorType.VALIDATION, "rejected", said, details=details, retryable=False)
    return AppError(ErrorType.PLATFORM_API, "rejected", said, details=details, retryable=False)


def _bad_partner(error: str, message: str) -> bool:
    text = message.lower()
    return error in ("error_param", "error_partner_key_expired") and (
        "partner_id" in text or error == "error_partner_key_expired"
    )
