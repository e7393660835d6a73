"""Extra HTTP routes mounted beside the Reflex app (the embedded sandbox; later webhooks, OAuth
callbacks) and the lifespan tasks they need."""

from __future__ import annotations

import reflex as rx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from storesync.settings import RunMode, get_settings


def install(app: rx.App) -> None:
    """Mount what the run mode needs; in embedded mode that includes the marketplace sandbox."""
    from storesync.channels.routes import routes as channel_routes
    from storesync.sync.webhooks import routes as webhook_routes
    from storesync.ui.relay import relay

    settings = get_settings()
    routes: list[BaseRoute] = [
        *channel_routes,
        *webhook_routes,
        Route("/api/relay", _relay_stats),
    ]
    app.register_lifespan_task(relay.lifespan, app=app)
    from storesync.sync import runtime

    runtime.wire_hooks()
    if settings.env is RunMode.EMBEDDED:
        app.register_lifespan_task(runtime.embedded_worker)
    if settings.env is RunMode.EMBEDDED and settings.embedded_sandbox:
        from storesync.sandbox.app import Sandbox

        sandbox = Sandbox(
            orders_per_minute=settings.sandbox_orders_per_minute,
            state_file=settings.var_dir / "sandbox.sqlite",
        )
        from storesync.channels import apps

        apps.in_process_apps = sandbox.app_credentials
        for platform in ("shopee", "tiktok"):  # the push URL a merchant's app registers
            sandbox.state.webhooks.setdefault(
                platform, f"{settings.public_url}/webhooks/{platform}"
            )
        routes.append(Mount("/sandbox", routes=sandbox.routes()))
        app.register_lifespan_task(sandbox.lifespan)
    app.api_transformer = Starlette(routes=routes)


async def _relay_stats(_request: Request) -> JSONResponse:
    """The live relay's counts (subscriptions, open tabs it follows, asyncio tasks): no ids."""
    from storesync.ui.relay import relay

    return JSONResponse(relay.stats())
