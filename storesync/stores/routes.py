"""HTTP routes the marketplaces call: the OAuth callback (webhooks join with the sync engine).

The callback is a top-level navigation from the marketplace back to StoreSync, so the browser
sends its session cookie (SameSite=Lax): the state must have been started by that same
browser session (`storesync.stores.oauth`). Three steps, none holding a transaction across the
network: claim the state, exchange the code with the marketplace, save the store."""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from storesync.channels.schemas import AuthorizedShop
from storesync.core.errors import AppError, ErrorType
from storesync.db import session_scope, writing
from storesync.settings import get_settings
from storesync.stores import oauth
from storesync.stores import service as stores
from storesync.tenancy.auth import sessions
from storesync.tenancy.context import RequestContext

log = logging.getLogger(__name__)


def callback_url(platform: str) -> str:
    return f"{get_settings().public_url}/oauth/{platform}/callback"


def _browser_session(cookie: str) -> uuid.UUID | None:
    if not cookie:
        return None
    with session_scope() as session:
        found = sessions.find_session(session, token=cookie)
    return found.id if found is not None else None


def _claim(state: str, platform: str, cookie: str, address: str) -> RequestContext:
    browser = _browser_session(cookie)
    with writing() as session:
        return oauth.claim_state(
            session,
            state=state,
            platform=platform,
            browser_session_id=browser,
            client_address=address,
        )


def _save(ctx: RequestContext, platform: str, shop: AuthorizedShop) -> uuid.UUID:
    with writing(ctx) as session:
        return stores.save_connection(session, ctx=ctx, platform=platform, shop=shop).id


async def oauth_callback(request: Request) -> RedirectResponse:
    """The platform redirects the merchant here with a code; connect, then back to Stores."""
    platform = request.path_params["platform"]
    params = request.query_params
    try:
        if params.get("error"):
            raise _denied(params.get("error", "denied"))
        ctx = await run_in_threadpool(
            _claim,
            params.get("state", ""),
            platform,
            request.cookies.get(sessions.COOKIE, ""),
            request.client.host if request.client else "",
        )
        shop = await stores.exchange_code(
            platform=platform, code=params.get("code", ""), shop_id=params.get("shop_id")
        )
        store_id = await run_in_threadpool(_save, ctx, platform, shop)
        # Production: the platform pushes this store's orders to us from now on.
        await stores.register_pushes(ctx=ctx, store_id=store_id)
    except AppError as error:
        log.info("store connection failed on %s: %s", platform, error.code)
        return RedirectResponse(f"/stores?{urlencode({'error': error.message})}", status_code=303)
    return RedirectResponse(f"/stores?{urlencode({'connected': str(store_id)})}", status_code=303)


def _denied(reason: str) -> AppError:
    return AppError(
        ErrorType.AUTHENTICATION,
        "authorization_denied",
        f"the marketplace did not authorize StoreSync ({reason[:40]})",
    )


routes = [Route("/oauth/{platform:str}/callback", oauth_callback)]
