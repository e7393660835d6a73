"""HTTP routes the marketplaces call: the OAuth callback (webhooks join with the sync engine)."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from storesync.core.errors import AppError, ErrorType
from storesync.db import writing
from storesync.settings import get_settings
from storesync.stores import service as stores

log = logging.getLogger(__name__)


def callback_url(platform: str) -> str:
    return f"{get_settings().public_url}/oauth/{platform}/callback"


async def oauth_callback(request: Request) -> RedirectResponse:
    """The platform redirects the merchant here with a code; connect, then back to Stores."""
    platform = request.path_params["platform"]
    params = request.query_params
    try:
        if params.get("error"):
            raise _denied(params.get("error", "denied"))
        ctx = stores.context_from_state(params.get("state", ""), platform=platform)
        with writing(ctx) as session:  # reads, then writes
            store = await stores.complete_connect(
                session,
                ctx=ctx,
                platform=platform,
                code=params.get("code", ""),
                shop_id=params.get("shop_id"),
            )
    except AppError as error:
        log.info("store connection failed on %s: %s", platform, error.code)
        return RedirectResponse(f"/stores?{urlencode({'error': error.message})}", status_code=303)
    return RedirectResponse(f"/stores?{urlencode({'connected': str(store.id)})}", status_code=303)


def _denied(reason: str) -> AppError:
    return AppError(
        ErrorType.AUTHENTICATION,
        "authorization_denied",
        f"the marketplace did not authorize StoreSync ({reason[:40]})",
    )


routes = [Route("/oauth/{platform:str}/callback", oauth_callback)]
