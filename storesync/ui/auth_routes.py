"""The two plain HTTP steps of a browser session: `/auth/session` swaps the one-time ticket a
sign-in made for the session cookie (HttpOnly, SameSite=Lax, Secure when the public URL is
https), `/auth/signout` clears it (the session itself was revoked by the sign-out event).

Lax rather than Strict: the marketplace's OAuth redirect back to `/oauth/.../callback` is a
top-level navigation from another site, and it must carry the session it is bound to."""

from __future__ import annotations

from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from storesync.core.errors import AppError
from storesync.db import writing
from storesync.settings import get_settings
from storesync.tenancy.auth import sessions
from storesync.ui.state.auth import HOME_ROUTE, SIGN_IN_ROUTE, safe_next


def _activate(ticket: str) -> str | None:
    ttl = timedelta(hours=get_settings().session_ttl_hours)
    try:
        with writing() as session:
            return sessions.activate(session, ticket=ticket, ttl=ttl)
    except AppError:
        return None


async def take_session(request: Request) -> Response:
    """GET /auth/session?ticket=…&next=/path → 303 to `next` with the session cookie; an
    unknown, used or expired ticket goes back to sign-in."""
    token = await run_in_threadpool(_activate, request.query_params.get("ticket", ""))
    if token is None:
        return _no_store(RedirectResponse(f"{SIGN_IN_ROUTE}?expired=1", status_code=303))
    settings = get_settings()
    response = RedirectResponse(
        safe_next(request.query_params.get("next", HOME_ROUTE)), status_code=303
    )
    response.set_cookie(
        sessions.COOKIE,
        token,
        max_age=settings.session_ttl_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
    )
    return _no_store(response)


async def sign_out(_request: Request) -> Response:
    response = RedirectResponse(SIGN_IN_ROUTE, status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="lax")
    return _no_store(response)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


routes: list[BaseRoute] = [
    Route("/auth/session", take_session, methods=["GET"]),
    Route("/auth/signout", sign_out, methods=["GET"]),
]
