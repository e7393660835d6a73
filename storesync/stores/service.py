"""The store service: connect through OAuth, disconnect, keep credentials fresh, check health,
metrics. Above the sync engine: connecting a store back-fills the orders missed while it was
away, a failed health check or refused refresh marks an outage (`storesync.sync.health`).

Credentials are sealed with MultiFernet the moment they arrive (`storesync.channels.connections`
opens them only to build an adapter); DTOs, logs and errors never carry them.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storesync.channels import connections
from storesync.channels.apps import app_credentials
from storesync.channels.connections import load_store, open_adapter, seal, store_key
from storesync.channels.models import ChannelListing, Store
from storesync.channels.registry import (
    PLATFORM_NAMES,
    adapter_class,
    build_adapter,
    open_connection,
)
from storesync.channels.resilience import breaker_for
from storesync.channels.schemas import (
    AuthorizedShop,
    ShopHealth,
    StoreDTO,
    StoreHealthDTO,
    StoreMetricsDTO,
)
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, ValidationFailed
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.inventory.models import ChannelAllocation
from storesync.orders.models import Order
from storesync.settings import RunMode, Settings, get_settings
from storesync.sync.health import backfill, trouble
from storesync.sync.health.schemas import StoreConditionDTO
from storesync.sync.models import SyncJob, WebhookEvent
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

log = logging.getLogger(__name__)
AUTH_PROBLEMS = {"token_invalid", "reauthorize", "bad_app_credentials", "not_connected"}
NETWORK_PROBLEMS = {"network_error", "timeout", "circuit_open", "server_error"}


def list_stores(session: Session, *, ctx: RequestContext) -> list[StoreDTO]:
    ctx.require(Permission.READ)
    rows = session.exec(
        select(Store)
        .where(Store.organization_id == ctx.organization_id)
        .order_by(col(Store.created_at))
    ).all()
    return [StoreDTO.model_validate(row) for row in rows]


def get_store(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> StoreDTO:
    ctx.require(Permission.READ)
    return StoreDTO.model_validate(load_store(session, ctx, store_id))


# -- connecting ---------------------------------------------------------------------------------


def connect_url(
    ctx: RequestContext,
    *,
    platform: str,
    callback_url: str,
    state: str = "",
    settings: Settings | None = None,
) -> str:
    """Where to send the merchant to approve StoreSync on `platform`, carrying `state` (made
    and checked by `storesync.stores.oauth`, which binds it to the browser session). Needs
    MANAGE_STORES."""
    ctx.require(Permission.MANAGE_STORES)
    cfg = settings or get_settings()
    adapter_class(platform)
    connection = open_connection(platform, app=app_credentials(platform, cfg), settings=cfg)
    return build_adapter(platform, connection).authorize_url(redirect_url=callback_url, state=state)


async def exchange_code(
    *, platform: str, code: str, shop_id: str | None = None, settings: Settings | None = None
) -> AuthorizedShop:
    """Trade the callback's code for the shop's tokens (a network call: hold no transaction
    across it)."""
    if not code:
        raise ValidationFailed("code", "the marketplace did not send an authorization code")
    cfg = settings or get_settings()
    connection = open_connection(platform, app=app_credentials(platform, cfg), settings=cfg)
    try:
        return await build_adapter(platform, connection).exchange_code(code=code, shop_id=shop_id)
    finally:
        await connection.http.client.aclose()


def save_connection(
    session: Session,
    *,
    ctx: RequestContext,
    platform: str,
    shop: AuthorizedShop,
    settings: Settings | None = None,
) -> StoreDTO:
    """Create (or reconnect) the store of an authorized shop with sealed credentials and a
    default allocation. A shop already connected to another organization is refused. Needs
    MANAGE_STORES."""
    ctx.require(Permission.MANAGE_STORES)
    return _save_connected(session, ctx, platform, shop, settings or get_settings())


async def complete_connect(
    session: Session,
    *,
    ctx: RequestContext,
    platform: str,
    code: str,
    shop_id: str | None = None,
    settings: Settings | None = None,
) -> StoreDTO:
    """`exchange_code`, then `save_connection` in `session` (the demo and tests; the OAuth
    callback does the two apart so no transaction waits on the marketplace). Needs
    MANAGE_STORES."""
    ctx.require(Permission.MANAGE_STORES)
    shop = await exchange_code(platform=platform, code=code, shop_id=shop_id, settings=settings)
    return save_connection(session, ctx=ctx, platform=platform, shop=shop, settings=settings)


def _save_connected(
    session: Session, ctx: RequestContext, platform: str, shop: AuthorizedShop, cfg: Settings
) -> StoreDTO:
    store = session.exec(
        select(Store).where(
            Store.organization_id == ctx.organization_id,
            Store.platform == platform,
            Store.platform_store_id == shop.platform_store_id,
        )
    ).first()
    previous_status = store.status if store is not None else None
    try:
        with session.begin_nested():
            if store is None:
                store = Store(
                    organization_id=ctx.organization_id,
                    platform=platform,
                    platform_store_id=shop.platform_store_id,
                    name=shop.name,
                )
                session.add(store)
                session.flush()
                session.add(
                    ChannelAllocation(organization_id=ctx.organization_id, store_id=store.id)
                )
            seal(store, shop.credentials, cfg)
            store.name = shop.name or store.name
            store.region = shop.region
            store.status = "connected"
            if store.sync_status == "paused":
                store.sync_status = "idle"
            session.flush()
    except sa.exc.IntegrityError:
        # The unique (platform, shop id) key: another organization has this shop.
        raise _shop_taken(platform) from None
    record(
        session,
        ctx=ctx,
        action="store.connect",
        entity_type="store",
        entity_id=store.id,
        before={"status": previous_status} if previous_status else None,
        after={
            "status": store.status,
            "platform": platform,
            "platform_store_id": store.platform_store_id,
            "name": store.name,
        },
    )
    backfill.on_connected(session, ctx=ctx, store_id=store.id, previous_status=previous_status)
    return StoreDTO.model_validate(store)


def _shop_taken(platform: str) -> AppError:
    return AppError(
        ErrorType.CONFLICT,
        "shop_connected_elsewhere",
        f"this {PLATFORM_NAMES[platform]} shop is already connected to another "
        "StoreSync organization",
    )


def disconnect(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> StoreDTO:
    """Forget the store's credentials (listings and orders stay). Needs MANAGE_STORES."""
    ctx.require(Permission.MANAGE_STORES)
    store = load_store(session, ctx, store_id)
    if store.status != "disconnected":
        record(
            session,
            ctx=ctx,
            action="store.disconnect",
            entity_type="store",
            entity_id=store.id,
            before={"status": store.status},
            after={"status": "disconnected", "name": store.name},
        )
    store.credentials_encrypted = None
    store.token_expires_at = None
    store.refresh_expires_at = None
    store.status = "disconnected"
    store.sync_status = "paused"
    store.updated_at = utcnow()
    session.flush()
    return StoreDTO.model_validate(store)


# -- using a store ------------------------------------------------------------------------------


async def refresh_credentials(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    force: bool = False,
    settings: Settings | None = None,
) -> StoreDTO:
    """Refresh the tokens when they expire within 30 minutes (or always, with `force`).
    Needs RUN_SYNC (staff and workers refresh proactively).

    When the platform refuses the refresh (`reauthorize`), the store becomes `reauth_required`
    and unhealthy in a transaction of its own, committed before the error is re-raised: the caller's
    transaction rolls back on the error and must not take the news with it."""
    try:
        return await connections.refresh_tokens(
            session, ctx=ctx, store_id=store_id, force=force, settings=settings
        )
    except AppError as error:
        if error.type is ErrorType.AUTHENTICATION:
            # Both adapters raise `reauthorize` when the refresh token is refused (not for
            # `bad_app_credentials`: our settings, not the merchant's shop).
            backfill.note_failure(
                ctx=ctx,
                store_id=store_id,
                error=error,
                engine=session.get_bind(),  # type: ignore[arg-type]
            )
        raise


def circuit_state(store: StoreDTO | Store) -> str:
    """The store's circuit breaker as this process sees it: closed, open or half_open."""
    return str(breaker_for(store_key(store)).state.value)


async def check_health(
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> StoreHealthDTO:
    """Token valid, API reachable, latency, expiry and circuit state of one store. Reads the
    store, asks the marketplace with no transaction open, then records what it found."""
    ctx.require(Permission.READ)
    with session_scope(ctx, engine=engine) as session:
        store = load_store(session, ctx, store_id)
        key = store_key(store)
        base: dict[str, Any] = {
            "store_id": store.id,
            "token_expires_at": store.token_expires_at,
            "circuit": breaker_for(key).state.value,
        }
        try:
            adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
        except AppError as error:
            # No credentials (disconnected: nothing was asked), or the marketplace could not be
            # reached to learn the app (the token is not known to be refused).
            network = error.type is ErrorType.NETWORK or error.code in NETWORK_PROBLEMS
            return StoreHealthDTO(
                **base,
                ok=False,
                token_valid=network,
                reachable=False,
                latency_ms=None,
                detail=error.message,
            )
    try:
        health = await adapter.health()
    except AppError as error:
        health = ShopHealth(ok=False, latency_ms=0.0, detail=error.code)
    finally:
        await adapter.connection.http.client.aclose()
    # Adapters report "code: message"; the code says which kind of failure it was.
    code, _message = trouble.split_detail(health.detail)
    token_valid = health.ok or code not in AUTH_PROBLEMS
    reachable = health.ok or code not in NETWORK_PROBLEMS
    checked = StoreHealthDTO(
        **{**base, "circuit": breaker_for(key).state.value},
        ok=health.ok,
        token_valid=token_valid,
        reachable=reachable,
        latency_ms=health.latency_ms if health.ok else None,
        detail=health.detail,
    )
    with session_scope(ctx, engine=engine) as session:
        backfill.on_health_checked(session, ctx=ctx, health=checked)
    return checked


def store_condition(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID
) -> StoreConditionDTO:
    """How the store is doing in a merchant's words: `connected`, `trouble` (its marketplace
    calls fail; the message says why and `since` since when) or `disconnected` (its token is
    refused: reconnect). Needs READ."""
    ctx.require(Permission.READ)
    return trouble.condition(load_store(session, ctx, store_id))


def store_metrics(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> StoreMetricsDTO:
    """Listings (and how many are matched), orders in 24 h, last sync, sync error rate."""
    ctx.require(Permission.READ)
    store = load_store(session, ctx, store_id)
    since = utcnow() - timedelta(hours=24)
    org = ctx.organization_id
    listing, order, job = table_of(ChannelListing), table_of(Order), table_of(SyncJob)
    listings, matched = session.execute(
        sa.select(sa.func.count(), sa.func.count(listing.c.variant_id)).where(
            listing.c.organization_id == org, listing.c.store_id == store.id
        )
    ).one()
    orders = session.execute(
        sa.select(sa.func.count()).where(
            order.c.organization_id == org,
            order.c.store_id == store.id,
            order.c.ordered_at >= since,
        )
    ).scalar_one()
    jobs, failed = session.execute(
        sa.select(sa.func.count(), sa.func.count().filter(job.c.status == "failed")).where(
            job.c.organization_id == org, job.c.store_id == store.id, job.c.created_at >= since
        )
    ).one()
    pushes = table_of(WebhookEvent)
    last_push = session.execute(
        sa.select(pushes.c.received_at)
        .where(pushes.c.organization_id == org, pushes.c.store_id == store.id)
        .order_by(pushes.c.received_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return StoreMetricsDTO(
        store_id=store.id,
        listings=listings,
        matched_listings=matched,
        orders_24h=orders,
        last_synced_at=store.last_synced_at,
        sync_jobs_24h=jobs,
        sync_error_rate=(failed / jobs) if jobs else 0.0,
        last_push_at=last_push,
    )


async def register_pushes(
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> bool:
    """In production, register the store's push URL (`STORESYNC_PUBLIC_URL` + its webhook
    route) with its platform, after a connect or reconnect; embedded mode registers the
    sandbox's pushes itself. False (logged, the store stays connected and is polled) when the
    platform refuses or cannot be reached. Needs MANAGE_STORES."""
    ctx.require(Permission.MANAGE_STORES)
    cfg = settings or get_settings()
    if cfg.env is not RunMode.PRODUCTION:
        return False
    try:
        with session_scope(ctx, engine=engine) as session:
            platform = load_store(session, ctx, store_id).platform
            adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=cfg)
    except AppError as error:  # the store was saved: its connection stands, pushes wait
        log.warning("store %s: push URL not registered (%s): polling only", store_id, error.code)
        return False
    url = f"{cfg.public_url}/webhooks/{platform}"
    try:
        await adapter.setup_webhooks(url)
    except AppError as error:
        log.warning("store %s: push URL not registered (%s): polling only", store_id, error.code)
        return False
    finally:
        await adapter.connection.http.client.aclose()
    log.info("store %s: push URL %s registered", store_id, url)
    return True
