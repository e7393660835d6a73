"""Stored files the signed-in browser loads over plain HTTP beside the Reflex app: product images
(`<img src="/media/<organization_id>/products/...">`).

Authenticated by the browser session cookie exactly as the pages are: a member sees the files
of the organization they are working in, and nothing tells them whether another's exist."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from storesync.core.errors import AppError, ErrorType, ValidationFailed
from storesync.storage import ObjectNotFound, StoredObject, get_storage, organization_of
from storesync.ui.downloads import request_context

log = logging.getLogger(__name__)

CACHE_CONTROL = "private, max-age=86400"
# Shown in the page; anything else (a file some later feature stores, an SVG that could run
# script) is offered as a download, never rendered on StoreSync's origin.
INLINE_TYPES = frozenset({"image/webp", "image/png", "image/jpeg", "image/gif", "image/avif"})


async def serve_media(request: Request) -> Response:
    """GET /media/{key}: the object stored under `key` with its content type (raster images
    inline, anything else as a download), cached by the browser for a day. 401 when not signed
    in; 404 when the key is malformed, belongs to another organization or holds nothing (the
    three look the same); 503 when the store cannot be used."""
    ctx = await run_in_threadpool(request_context, request)
    if ctx is None:
        return _error(AppError(ErrorType.AUTHENTICATION, "not_signed_in", "sign in first"), 401)
    key = request.path_params["key"]
    try:
        if organization_of(key) != str(ctx.organization_id):
            raise ObjectNotFound(key)
        stored = await run_in_threadpool(_load, key)
    except (ObjectNotFound, ValidationFailed):
        return _error(AppError(ErrorType.NOT_FOUND, "not_found", "no such file"), 404)
    except AppError as error:
        log.warning("media: cannot serve %s: %s", key, error.message)
        return _error(AppError(ErrorType.NETWORK, "storage_unavailable", "try again"), 503)
    headers = {"Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
    if stored.content_type not in INLINE_TYPES:
        headers["Content-Disposition"] = "attachment"
    return Response(stored.data, media_type=stored.content_type, headers=headers)


def _load(key: str) -> StoredObject:
    return get_storage().get(key)


def _error(error: AppError, status: int) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=status, headers={"Cache-Control": "no-store"})


routes: list[BaseRoute] = [Route("/media/{key:path}", serve_media, methods=["GET"])]
