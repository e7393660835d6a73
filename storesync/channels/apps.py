"""StoreSync's own app credentials per platform: from settings, or (embedded mode) from the
mounted sandbox's control API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from storesync.channels.schemas import AppCredentials
from storesync.core.errors import AppError, ErrorType
from storesync.settings import RunMode, Settings, get_settings


def configured_app(platform: str, cfg: Settings) -> AppCredentials | None:
    """The app credentials the settings hold for the platform, if any (no I/O)."""
    if platform == "shopee" and cfg.shopee_partner_id and cfg.shopee_partner_key:
        return AppCredentials("shopee", cfg.shopee_partner_id, cfg.shopee_partner_key)
    if platform == "tiktok" and cfg.tiktok_app_key and cfg.tiktok_app_secret:
        return AppCredentials(
            "tiktok", cfg.tiktok_app_key, cfg.tiktok_app_secret, cfg.tiktok_service_id
        )
    return None


def app_credentials(platform: str, settings: Settings | None = None) -> AppCredentials:
    cfg = settings or get_settings()
    configured = configured_app(platform, cfg)
    if configured is not None:
        return configured
    if cfg.env is RunMode.EMBEDDED:
        return _from_sandbox(platform, cfg.shopee_base_url.rsplit("/shopee", 1)[0])
    names = "SHOPEE_PARTNER_ID/KEY" if platform == "shopee" else "TIKTOK_APP_KEY/SECRET"
    raise AppError(
        ErrorType.VALIDATION,
        "app_not_configured",
        f"{platform} is not configured: set STORESYNC_{names}",
    )


# Set when the sandbox is mounted in this very process (embedded mode): its credentials are read
# directly. Asking it over HTTP from an async route or event handler of the same server blocked
# the event loop that had to answer, so connecting a store timed out.
in_process_apps: Callable[[], dict[str, Any]] | None = None


def _sandbox_apps(sandbox_base: str) -> dict:
    if in_process_apps is not None:
        return in_process_apps()
    # Not cached: a sandbox can be reset or replaced behind the same URL (tests start one per
    # test on whatever port is free). One local call; the TLS context is shared.
    from storesync.channels.registry import ssl_context

    return httpx.get(f"{sandbox_base}/sandbox/apps", timeout=5, verify=ssl_context()).json()


def _from_sandbox(platform: str, sandbox_base: str) -> AppCredentials:
    try:
        apps = _sandbox_apps(sandbox_base)
    except (httpx.HTTPError, ValueError) as error:
        raise AppError(
            ErrorType.NETWORK,
            "sandbox_unreachable",
            f"the embedded marketplace sandbox is not reachable: {type(error).__name__}",
            retryable=True,
        ) from None
    if platform == "shopee":
        return AppCredentials(
            "shopee", str(apps["shopee"]["partner_id"]), apps["shopee"]["partner_key"]
        )
    tiktok = apps["tiktok"]
    return AppCredentials("tiktok", tiktok["app_key"], tiktok["app_secret"], tiktok["service_id"])
