"""Platform → adapter, and the factory of per-store connections (client, bucket, breaker)."""

from __future__ import annotations

import functools
import ssl

import httpx

from storesync.channels.adapter import Connection, OnRefresh, PlatformAdapter
from storesync.channels.resilience import ResilientClient, breaker_for, limiter_for
from storesync.channels.schemas import AppCredentials, Credentials
from storesync.core.errors import ValidationFailed
from storesync.settings import Settings, get_settings

PLATFORM_NAMES = {"shopee": "Shopee", "tiktok": "TikTok Shop"}


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one loads the CA bundle, which costs
    ~20 ms of CPU, and every push and order fetch opens a connection."""
    return httpx.create_ssl_context()


def adapter_class(platform: str) -> type[PlatformAdapter]:
    if platform == "shopee":
        from storesync.channels.shopee.adapter import ShopeeAdapter

        return ShopeeAdapter
    if platform == "tiktok":
        from storesync.channels.tiktok.adapter import TikTokShopAdapter

        return TikTokShopAdapter
    raise ValidationFailed("platform", f"unknown platform {platform!r} (shopee or tiktok)")


def burst_of(per_second: float) -> int:
    """Calls a store's bucket lets go at once: a tenth of a second's worth (the platforms count
    calls per second, so any second still sees at most the rate plus this). One at a time made
    a push round of five products wait 20 ms per product at 50 calls/s, and the round trips
    behind them queued: a third of a sale's propagation at 50 orders/s."""
    return max(1, int(per_second / 10))


def open_connection(
    platform: str,
    *,
    app: AppCredentials,
    credentials: Credentials | None = None,
    on_refresh: OnRefresh | None = None,
    store_key: str | None = None,
    settings: Settings | None = None,
    rate: float | None = None,
) -> Connection:
    """A connection with its own httpx client (explicit timeouts), and the process-wide token
    bucket and circuit breaker of `store_key` (default: platform + shop id), shared with every
    other connection to that store. The bucket runs at `rate` (default: the platform's setting)
    from now on, for all of them."""
    cfg = settings or get_settings()
    adapter_class(platform)  # validates the platform
    base = cfg.shopee_base_url if platform == "shopee" else cfg.tiktok_base_url
    auth = cfg.shopee_base_url if platform == "shopee" else cfg.tiktok_auth_base_url
    per_second = rate or (cfg.shopee_rate_limit if platform == "shopee" else cfg.tiktok_rate_limit)
    key = store_key or f"{platform}:{credentials.shop_id if credentials else 'app'}"
    client = httpx.AsyncClient(
        verify=ssl_context(),
        timeout=httpx.Timeout(cfg.http_timeout_seconds, connect=min(5.0, cfg.http_timeout_seconds)),
    )
    http = ResilientClient(
        client=client,
        limiter=limiter_for(key, per_second, burst=burst_of(per_second)),
        breaker=breaker_for(key),
        platform=platform,
    )
    return Connection(
        app=app,
        base_url=base,
        auth_base_url=auth,
        http=http,
        credentials=credentials,
        on_refresh=on_refresh,
    )


def build_adapter(platform: str, connection: Connection) -> PlatformAdapter:
    return adapter_class(platform)(connection)  # type: ignore[call-arg]
