"""Connecting a store, made safe: the OAuth `state` a connection starts with is single-use,
expires in minutes and is bound to the browser session that started it.

`begin_connect` records the state (`OAuthState`: its nonce's SHA-256, the organization, the
member and the browser session) and returns the marketplace's authorize URL. The callback
`claim_state` consumes it once, only for that same browser session, and re-reads the member's
role then (a member demoted meanwhile cannot finish). The token exchange with the marketplace
happens after that transaction has ended (`storesync.stores.routes`), so no database lock is
held across the network call.

A state is `<organization id hex>.<nonce>`: the callback knows which organization's rows to
look in (row-level security) without any lookup across tenants; the nonce is 256 random bits.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType
from storesync.core.models import table_of
from storesync.db import set_tenant
from storesync.settings import Settings
from storesync.stores import service as stores
from storesync.tenancy import service as tenancy
from storesync.tenancy.auth.models import OAuthState
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import User
from storesync.tenancy.permissions import Permission

STATE_TTL = timedelta(minutes=10)


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def bad_state() -> AppError:
    return AppError(
        ErrorType.AUTHENTICATION,
        "bad_oauth_state",
        "this authorization was not started from this browser, was already used or has "
        "expired: connect the store again from the Stores page",
    )


def begin_connect(
    session: Session,
    *,
    ctx: RequestContext,
    platform: str,
    browser_session_id: uuid.UUID,
    callback_url: str,
    settings: Settings | None = None,
) -> str:
    """Record a connection's state for this browser session; the authorize URL to send the
    browser to. Needs MANAGE_STORES."""
    ctx.require(Permission.MANAGE_STORES)
    if ctx.user_id is None:
        raise AppError(ErrorType.AUTHORIZATION, "not_a_person", "a member connects stores")
    nonce = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        OAuthState(
            organization_id=ctx.organization_id,
            user_id=ctx.user_id,
            session_id=browser_session_id,
            platform=platform,
            nonce_hash=_hash(nonce),
            created_at=now,
            expires_at=now + STATE_TTL,
        )
    )
    session.flush()
    state = f"{ctx.organization_id.hex}.{nonce}"
    return stores.connect_url(
        ctx, platform=platform, callback_url=callback_url, state=state, settings=settings
    )


def claim_state(
    session: Session,
    *,
    state: str,
    platform: str,
    browser_session_id: uuid.UUID | None,
    client_address: str = "",
) -> RequestContext:
    """Consume a callback's state: once, before it expires, for the platform and browser
    session it was made for. Returns the context of the member who started it, with their
    role as it is now (MANAGE_STORES is required again)."""
    organization_hex, _, nonce = state.partition(".")
    try:
        organization_id = uuid.UUID(hex=organization_hex)
    except ValueError:
        raise bad_state() from None
    if browser_session_id is None or not nonce or len(nonce) > 100:
        raise bad_state()
    set_tenant(session, organization_id=organization_id)
    table = table_of(OAuthState)
    claimed = session.execute(
        sa.update(table)
        .where(
            table.c.nonce_hash == _hash(nonce),
            table.c.organization_id == organization_id,
            table.c.platform == platform,
            table.c.session_id == browser_session_id,
            table.c.used_at.is_(None),
            table.c.expires_at > utcnow(),
        )
        .values(used_at=utcnow())
        .returning(table.c.user_id)
    ).first()
    if claimed is None:
        raise bad_state()
    user_id = claimed[0]
    set_tenant(session, organization_id=organization_id, user_id=user_id)
    member = tenancy.context_for(session, user_id=user_id, organization_id=organization_id)
    member.require(Permission.MANAGE_STORES)
    email = session.exec(select(User.email).where(User.id == user_id)).first() or ""
    return RequestContext(
        user_id=user_id,
        organization_id=organization_id,
        role=member.role,
        actor=email,
        client_address=client_address,
    )
