"""Extra HTTP routes mounted beside the Reflex app (the embedded sandbox; later webhooks, OAuth
callbacks) and the lifespan tasks they need."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

import reflex as rx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from storesync.settings import RunMode, Settings, get_settings

log = logging.getLogger(__name__)


def install(app: rx.App) -> None:
    """Mount what the run mode needs; in embedded mode that includes the marketplace sandbox."""
    from storesync.ui.relay import relay

    settings = get_settings()
    routes, sandbox = extra_routes(settings)
    app.register_lifespan_task(relay.lifespan, app=app)
    from workers import runtime, wiring

    wiring.wire()
    if settings.env is RunMode.EMBEDDED:
        app.register_lifespan_task(runtime.embedded_worker)
    if sandbox is not None:
        from storesync.channels import apps

        apps.in_process_apps = sandbox.app_credentials
        app.register_lifespan_task(sandbox.lifespan)
        if settings.seed_demo and settings.demo_alive:
            demo = functools.update_wrapper(functools.partial(_demo_alive, sandbox), _demo_alive)
            app.register_lifespan_task(demo)
    app.api_transformer = Starlette(routes=routes)


def extra_routes(settings: Settings) -> tuple[list[BaseRoute], Any | None]:
    """The routes beside the Reflex app, and the embedded sandbox when the run mode has one
    (never in production). The sandbox's control API is closed (`sandbox_guard`)."""
    from storesync.api.app import PREFIX, build_api
    from storesync.stores.routes import routes as channel_routes
    from storesync.sync.intake.routes import routes as webhook_routes
    from storesync.ui.audit_export import routes as audit_routes
    from storesync.ui.auth_routes import routes as auth_routes
    from storesync.ui.downloads import routes as download_routes
    from storesync.ui.media import routes as media_routes
    from storesync.ui.metrics_route import routes as metrics_routes
    from storesync.ui.sandbox_guard import consent_guard_for, guard_for

    routes: list[BaseRoute] = [
        *channel_routes,
        *webhook_routes,
        *download_routes,
        *media_routes,
        *audit_routes,
        *auth_routes,
        *metrics_routes,
        Route("/api/relay", _relay_stats),
        Mount(PREFIX, app=build_api(settings)),
    ]
    if settings.env is not RunMode.EMBEDDED or not settings.embedded_sandbox:
        return routes, None
    from storesync.core.clock import utcnow
    from storesync.sandbox.app import CONSENT_PAGES, Sandbox

    sandbox = Sandbox(
        orders_per_minute=settings.sandbox_orders_per_minute,
        state_file=settings.var_dir / "sandbox.sqlite",
        clock=utcnow,
        mail_dir=settings.mail_dir,
    )
    for platform in ("shopee", "tiktok"):  # the push URL a merchant's app registers
        sandbox.state.webhooks.setdefault(platform, f"{settings.public_url}/webhooks/{platform}")
    inner = Starlette(routes=sandbox.routes(control_guard=guard_for(settings)))
    closed = consent_guard_for(settings, CONSENT_PAGES)(inner)
    routes.append(Mount("/sandbox", app=closed))
    return routes, sandbox


async def _relay_stats(_request: Request) -> JSONResponse:
    """The live relay's counts (subscriptions, open tabs it follows, asyncio tasks): no ids."""
    from storesync.ui.relay import relay

    return JSONResponse(relay.stats())


@contextlib.asynccontextmanager
async def _demo_alive(sandbox: Any) -> AsyncIterator[None]:
    """Once the server answers, connect the demo organization's stores (first start only)."""
    task = asyncio.create_task(_bring_alive_when_up(sandbox), name="storesync-demo-alive")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _bring_alive_when_up(sandbox: Any) -> None:
    import httpx

    from storesync.demo import bring_demo_alive

    settings = get_settings()
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(240):
            try:
                if (await client.get(f"{settings.public_url}/ping")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    try:
        connected = await bring_demo_alive(sandbox, email=settings.demo_email, settings=settings)
    except Exception:
        log.exception("demo: could not connect the sandbox stores")
        return
    if connected:
        log.warning("demo: connected %d sandbox stores; importing their products", len(connected))
