"""The audit log as CSV for the signed-in browser (`/exports/audit.csv`), streamed beside the
Reflex app like the order export (`storesync.ui.downloads`): the Audit page's current filters
as query parameters, the browser session checked on every request, owners and admins only."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType
from storesync.db import session_scope
from storesync.tenancy.audit import queries as audit
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission
from storesync.ui.downloads import request_context

PARAMETERS = ("actor", "action", "entity_type", "entity_id", "from", "to")
_STATUS = {ErrorType.VALIDATION: 400, ErrorType.AUTHENTICATION: 401, ErrorType.AUTHORIZATION: 403}


async def export_audit(request: Request) -> Response:
    """GET /exports/audit.csv?actor=&action=&entity_type=&entity_id=&from=&to=: every audit
    entry for those filters, newest first (`storesync.tenancy.audit.queries.COLUMNS`, times in
    the organization's time zone). 401 when not signed in, 403 for staff and viewers, 400
    naming the parameter that is wrong."""
    ctx = await run_in_threadpool(request_context, request)
    if ctx is None:
        return _error(AppError(ErrorType.AUTHENTICATION, "not_signed_in", "sign in first"))
    try:
        ctx.require(Permission.VIEW_AUDIT)
        chunks = _chunks(ctx, request.query_params)
        header = await run_in_threadpool(next, chunks, "")  # checks the filters
    except AppError as error:
        return _error(error)
    return StreamingResponse(
        itertools.chain([header], chunks),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{audit.export_filename(utcnow())}"',
            "Cache-Control": "no-store",
        },
    )


def _chunks(ctx: RequestContext, params: QueryParams) -> Iterator[str]:
    # One session for the download; the export ends its transaction after every batch.
    with session_scope(ctx) as session:
        where = audit.audit_filter(
            session,
            ctx=ctx,
            actor=params.get("actor"),
            action=params.get("action"),
            entity_type=params.get("entity_type"),
            entity_id=params.get("entity_id"),
            date_from=params.get("from"),
            date_to=params.get("to"),
        )
        yield from audit.export_rows(session, ctx=ctx, where=where)


def _error(error: AppError) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=_STATUS.get(error.type, 500))


routes: list[BaseRoute] = [Route("/exports/audit.csv", export_audit, methods=["GET"])]
