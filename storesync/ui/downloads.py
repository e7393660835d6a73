"""Files the signed-in browser downloads over plain HTTP beside the Reflex app (too large to send
over its websocket): the order inbox's current filter as CSV, streamed.

Authenticated by the browser session cookie exactly as the pages are (`AuthState`): the
server-side session, then the membership, checked again on every request."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from storesync.channels.registry import PLATFORM_NAMES
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, ValidationFailed
from storesync.db import session_scope
from storesync.orders import export as order_export
from storesync.orders.status import parse_stage, parse_status
from storesync.tenancy.auth import sessions
from storesync.tenancy.context import RequestContext

MAX_SEARCH = 200
_STATUS = {ErrorType.VALIDATION: 400, ErrorType.AUTHENTICATION: 401, ErrorType.AUTHORIZATION: 403}


async def export_orders(request: Request) -> Response:
    """GET /exports/orders.csv?status=&platform=&store_id=&stage=&q=&from=&to=: every order the
    inbox shows for that filter, newest first (`storesync.orders.export.COLUMNS`). `status`
    may repeat; `from` (inclusive) and `to` (exclusive) are ISO 8601 datetimes with an offset.
    401 when not signed in, 400 naming the parameter that is wrong."""
    ctx = await run_in_threadpool(request_context, request)
    if ctx is None:
        return _error(AppError(ErrorType.AUTHENTICATION, "not_signed_in", "sign in first"))
    try:
        filters = _filters(request.query_params)
        chunks = _chunks(ctx, filters)
        header = await run_in_threadpool(next, chunks, "")  # checks the role and the filters
    except AppError as error:
        return _error(error)
    filename = order_export.export_filename(utcnow())
    return StreamingResponse(
        itertools.chain([header], chunks),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def request_context(request: Request) -> RequestContext | None:
    """The member the request's session cookie names, if the session is live and they still
    belong (blocking: call it in a thread from async code)."""
    token = request.cookies.get(sessions.COOKIE, "")
    if not token:
        return None
    address = request.client.host if request.client else ""
    with session_scope() as session:
        return sessions.context_for_token(session, token=token, client_address=address)


def _chunks(ctx: RequestContext, filters: dict[str, Any]) -> Iterator[str]:
    # One session for the download; the export ends its transaction after every batch.
    with session_scope(ctx) as session:
        yield from order_export.export_rows(session, ctx=ctx, **filters)


def _filters(params: QueryParams) -> dict[str, Any]:
    """The query parameters as the export's filters; `ValidationFailed` naming the parameter."""
    statuses = [v for v in params.getlist("status") if v]
    for value in statuses:
        parse_status(value, field="status")
    platform = params.get("platform") or None
    if platform is not None and platform not in PLATFORM_NAMES:
        raise ValidationFailed("platform", f"must be one of {', '.join(PLATFORM_NAMES)}")
    stage = params.get("stage") or None
    if stage is not None:
        parse_stage(stage, field="stage")
    search = (params.get("q") or "").strip() or None
    if search is not None and len(search) > MAX_SEARCH:
        raise ValidationFailed("q", f"must be at most {MAX_SEARCH} characters")
    return {
        "status": statuses or None,
        "platform": platform,
        "store_id": _uuid(params, "store_id"),
        "stage": stage,
        "search": search,
        "ordered_from": _moment(params, "from"),
        "ordered_to": _moment(params, "to"),
    }


def _uuid(params: QueryParams, name: str) -> uuid.UUID | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ValidationFailed(name, "is not a valid id") from None


def _moment(params: QueryParams, name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(name, "must be an ISO 8601 datetime") from None
    if value.tzinfo is None:
        raise ValidationFailed(name, "must include a UTC offset (e.g. 2026-03-01T00:00:00+07:00)")
    return value


def _error(error: AppError) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=_STATUS.get(error.type, 500))


routes: list[BaseRoute] = [Route("/exports/orders.csv", export_orders, methods=["GET"])]
