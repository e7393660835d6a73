"""Reflex configuration; every value comes from storesync.settings."""

import reflex as rx

from storesync.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="storesync",
    app_module_import="storesync.ui.app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    frontend_port=_settings.port,
    backend_port=_settings.port,
    api_url=_settings.public_url,
    deploy_url=_settings.public_url,
    # Same origin only (plus STORESYNC_CORS_ORIGINS): Reflex's default lets every site's pages
    # call StoreSync with the merchant's cookies.
    cors_allowed_origins=_settings.allowed_origins,
    redis_url=_settings.redis_url,
    state_manager_mode="redis" if _settings.redis_url else "memory",
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="light", accent_color="teal", radius="medium")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
