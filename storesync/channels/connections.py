"""Connections to a connected store: its sealed credentials opened into an adapter, tokens
renewed before they expire, a push routed to its store, credentials re-sealed under a new key.

Credentials are sealed with MultiFernet the moment they arrive and only opened to build an
adapter; DTOs, logs and errors never carry them. Connecting, health and metrics (which act on
the sync engine) are the store service's, above: `storesync.stores`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storesync.channels.adapter import PlatformAdapter
from storesync.channels.apps import app_credentials
from storesync.channels.models import Store
from storesync.channels.registry import build_adapter, open_connection
from storesync.channels.schemas import Credentials, StoreDTO
from storesync.core.clock import utcnow
from storesync.core.crypto import CredentialBox
from storesync.core.errors import AppError, ErrorType, NotFound
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.settings import Settings, get_settings
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

REFRESH_MARGIN = timedelta(minutes=30)


def credential_box(settings: Settings | None = None) -> CredentialBox:
    return CredentialBox((settings or get_settings()).fernet_key_list)


def store_key(store: Store | StoreDTO) -> str:
    """The circuit breaker key of a store."""
    return f"store:{store.id}"


def load_store(session: Session, ctx: RequestContext, store_id: uuid.UUID) -> Store:
    store = session.exec(
        select(Store).where(Store.id == store_id, Store.organization_id == ctx.organization_id)
    ).first()
    if store is None:
        raise NotFound("store", store_id)
    return store


def seal(store: Store, credentials: Credentials, cfg: Settings) -> None:
    store.credentials_encrypted = credential_box(cfg).seal(credentials.model_dump(mode="json"))
    store.token_expires_at = credentials.access_expires_at
    store.refresh_expires_at = credentials.refresh_expires_at
    store.updated_at = utcnow()


def open_credentials(store: Store, cfg: Settings | None = None) -> Credentials:
    if not store.credentials_encrypted or store.status == "disconnected":
        raise AppError(
            ErrorType.AUTHENTICATION,
            "store_disconnected",
            f"store {store.name} is disconnected: connect it again",
        )
    return Credentials.model_validate(credential_box(cfg).open(store.credentials_encrypted))


def open_adapter(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, settings: Settings | None = None
) -> PlatformAdapter:
    """An adapter for the store; rotated tokens are sealed back into the store row at once
    (they are single use), in their own transaction so a later rollback cannot lose them."""
    ctx.require(Permission.READ)
    cfg = settings or get_settings()
    store = load_store(session, ctx, store_id)
    credentials = open_credentials(store, cfg)
    bind = session.get_bind()

    async def persist(fresh: Credentials) -> None:
        with session_scope(ctx, engine=bind) as own:  # type: ignore[arg-type]
            row = load_store(own, ctx, store_id)
            seal(row, fresh, cfg)
            row.status = "connected"

    connection = open_connection(
        store.platform,
        app=app_credentials(store.platform, cfg),
        credentials=credentials,
        on_refresh=persist,
        store_key=store_key(store),
        settings=cfg,
    )
    return build_adapter(store.platform, connection)


async def refresh_tokens(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    force: bool = False,
    settings: Settings | None = None,
) -> StoreDTO:
    """Refresh the tokens when they expire within 30 minutes (or always, with `force`).
    Needs RUN_SYNC (staff and workers refresh proactively). A refused refresh raises the
    adapter's error (`reauthorize`); `storesync.stores.service.refresh_credentials` also records
    the outage, and a job's failure does (`storesync.sync.kinds`). Nothing is written through
    `session`, so on SQLite the caller holds no write lock that the rotated tokens' own
    transaction would wait for."""
    ctx.require(Permission.RUN_SYNC)
    store = load_store(session, ctx, store_id)
    expires = store.token_expires_at
    if not force and expires is not None and expires - utcnow() > REFRESH_MARGIN:
        return StoreDTO.model_validate(store)
    adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
    try:
        await adapter.refresh()
    finally:
        await adapter.connection.http.client.aclose()
    # The rotated tokens were committed in their own transaction; read them back from there
    # (an SQLite reader keeps its snapshot until its own transaction ends).
    with session_scope(ctx, engine=session.get_bind()) as fresh:  # type: ignore[arg-type]
        return StoreDTO.model_validate(load_store(fresh, ctx, store_id))


def rotate_credentials(
    session: Session, *, ctx: RequestContext, settings: Settings | None = None
) -> int:
    """Re-encrypt every store credential of the organization under the newest key."""
    ctx.require(Permission.MANAGE_STORES)
    box = credential_box(settings)
    stores = session.exec(
        select(Store).where(
            Store.organization_id == ctx.organization_id,
            col(Store.credentials_encrypted).is_not(None),
        )
    ).all()
    for store in stores:
        assert store.credentials_encrypted is not None
        store.credentials_encrypted = box.rotate(store.credentials_encrypted)
    session.flush()
    return len(stores)


def route_store(
    session: Session, *, platform: str, platform_store_id: str
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(store id, organization id) of the store a push is for, before any tenant context exists
    (PostgreSQL: a SECURITY DEFINER function returning ids only)."""
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(
            sa.text("SELECT store_id, organization_id FROM storesync_route_store(:p, :s)"),
            {"p": platform, "s": platform_store_id},
        ).first()
    else:
        row = session.execute(
            sa.select(table_of(Store).c.id, table_of(Store).c.organization_id).where(
                table_of(Store).c.platform == platform,
                table_of(Store).c.platform_store_id == platform_store_id,
            )
        ).first()
    return (uuid.UUID(str(row[0])), uuid.UUID(str(row[1]))) if row else None
