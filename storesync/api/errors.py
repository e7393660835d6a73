"""The API's errors: one envelope (`type`, `code`, `message`, `details`, `retryable`,
`timestamp`) for every failure, with the HTTP status its type means. A validation error names
the field; nothing a client sends ends in a bare 500."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType

log = logging.getLogger(__name__)

STATUS: dict[ErrorType, int] = {
    ErrorType.VALIDATION: 422,
    ErrorType.AUTHENTICATION: 401,
    ErrorType.AUTHORIZATION: 403,
    ErrorType.NOT_FOUND: 404,
    ErrorType.CONFLICT: 409,
    ErrorType.PLATFORM_API: 502,
    ErrorType.SYNC: 502,
    ErrorType.RATE_LIMIT: 429,
    ErrorType.NETWORK: 503,
    ErrorType.INTERNAL: 500,
}
DESCRIPTIONS = {
    400: "The request is malformed (not JSON, or a header is invalid)",
    401: "Missing, unknown or revoked API key",
    403: "The key lacks the scope, or its role the permission",
    404: "No such resource in this organization",
    409: "Conflict with the current state (taken, busy, or an idempotency key in use)",
    413: "The request body is too large",
    422: "Invalid input; `details.field` names the field",
    429: "Too many requests for this key; wait `Retry-After` seconds",
    502: "The marketplace refused or failed",
    503: "A dependency is unreachable; retry",
}
AUTHENTICATED = (401, 403, 422, 429)


class ApiError(BaseModel):
    """Every error response."""

    type: str = Field(description="validation, authentication, authorization, not_found, ...")
    code: str = Field(description="A stable machine code, e.g. invalid_field, sku_taken")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    retryable: bool
    timestamp: datetime


def envelope(error: AppError) -> dict[str, Any]:
    return {**error.to_dict(), "timestamp": utcnow().isoformat()}


def error_response(
    error: AppError, *, status: int | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    code = status or STATUS.get(error.type, 500)
    return JSONResponse(envelope(error), status_code=code, headers=headers)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error responses a route may answer, for the OpenAPI document: every route may answer
    401, 403, 422 and 429; a route that reads a body adds 400 and 413."""
    wanted = sorted({*statuses, *AUTHENTICATED})
    return {s: {"model": ApiError, "description": DESCRIPTIONS[s]} for s in wanted}


class RateLimited(AppError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            ErrorType.RATE_LIMIT,
            "rate_limited",
            f"too many requests for this key: retry in {retry_after} s",
            details={"retry_after": retry_after},
        )
        self.retry_after = retry_after


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or (str(location[-1]) if location else "body")


async def _app_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AppError)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    return error_response(error, headers=headers)


async def _invalid(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = error.errors()
    first = problems[0] if problems else {"loc": ("body",), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        bad = AppError(
            ErrorType.VALIDATION,
            "malformed_json",
            "body: is not valid JSON",
            details={"field": "body"},
        )
        return error_response(bad, status=400)
    field = _field(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    others = [
        {"field": _field(tuple(p.get("loc", ()))), "message": str(p.get("msg", ""))}
        for p in problems[1:10]
    ]
    invalid = AppError(
        ErrorType.VALIDATION,
        "invalid_field",
        f"{field}: {message}",
        details={"field": field, **({"others": others} if others else {})},
    )
    return error_response(invalid)


async def _http(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    kinds = {404: ErrorType.NOT_FOUND, 405: ErrorType.VALIDATION, 401: ErrorType.AUTHENTICATION}
    kind = kinds.get(error.status_code, ErrorType.VALIDATION)
    codes = {404: "route_not_found", 405: "method_not_allowed"}
    problem = AppError(kind, codes.get(error.status_code, "bad_request"), str(error.detail))
    return error_response(problem, status=error.status_code)


async def _crash(request: Request, error: Exception) -> JSONResponse:
    log.exception("API %s %s failed", request.method, request.url.path)
    crash = AppError(ErrorType.INTERNAL, "internal_error", "StoreSync failed; nothing was changed")
    return error_response(crash, status=500)


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _crash)
