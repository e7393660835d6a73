"""Server-side browser sessions. The cookie holds 32 random bytes (URL-safe); the table keeps
their SHA-256, so a leaked table signs nobody in. A session names the organization its browser
is working in (the organization switcher changes it) and ends at sign-out, at its expiry, on a
password change (every other session of the user) and when the member is removed."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storesync.core.clock import utcnow
from storesync.core.errors import AppError, AuthenticationFailed
from storesync.core.models import rows_changed, table_of
from storesync.core.schemas import DTO
from storesync.db import set_tenant
from storesync.tenancy import service as tenancy
from storesync.tenancy.auth.models import UserSession
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import User

COOKIE = "storesync_session"
SEEN_EVERY = timedelta(minutes=5)  # last_seen_at is refreshed at most this often
TICKET_TTL = timedelta(seconds=60)  # from sign-in to the browser taking its cookie


@dataclass(frozen=True, slots=True)
class ActiveSession:
    id: uuid.UUID
    user_id: uuid.UUID
    organization_id: uuid.UUID
    expires_at: datetime


class SessionDTO(DTO):
    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client_address: str
    user_agent: str
    current: bool = False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session,
    *,
    user_id: uuid.UUID,
    organization_id: uuid.UUID,
    client_address: str = "",
    user_agent: str = "",
) -> str:
    """A pending session; returns its one-time ticket (`activate` swaps it for the token)."""
    ticket = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            user_id=user_id,
            current_organization_id=organization_id,
            token_hash=hash_token(ticket),
            created_at=now,
            last_seen_at=now,
            expires_at=now + TICKET_TTL,
            client_address=client_address[:64],
            user_agent=user_agent[:200],
        )
    )
    session.flush()
    return ticket


def activate(session: Session, *, ticket: str, ttl: timedelta) -> str | None:
    """Swap a pending session's ticket for its token (once, within `TICKET_TTL`); the token
    for the cookie, or None for a ticket that is unknown, used or expired."""
    if not ticket or len(ticket) > 100:
        return None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    table = table_of(UserSession)
    result = session.execute(
        sa.update(table)
        .where(
            table.c.token_hash == hash_token(ticket),
            table.c.activated_at.is_(None),
            table.c.revoked_at.is_(None),
            table.c.expires_at > now,
        )
        .values(
            token_hash=hash_token(token), activated_at=now, last_seen_at=now, expires_at=now + ttl
        )
    )
    return token if rows_changed(result) == 1 else None


def find_session(session: Session, *, token: str) -> ActiveSession | None:
    """The live session a cookie names: not revoked, not expired; None for anything else."""
    if not token or len(token) > 100:
        return None
    row = session.exec(
        select(UserSession).where(UserSession.token_hash == hash_token(token))
    ).first()
    now = utcnow()
    if row is None or row.activated_at is None or row.revoked_at is not None:
        return None
    if row.expires_at <= now:
        return None
    if now - row.last_seen_at >= SEEN_EVERY:
        session.execute(
            sa.update(table_of(UserSession))
            .where(table_of(UserSession).c.id == row.id)
            .values(last_seen_at=now)
        )
    return ActiveSession(row.id, row.user_id, row.current_organization_id, row.expires_at)


def context_for_token(
    session: Session, *, token: str, client_address: str = ""
) -> RequestContext | None:
    """The request context of the member a session cookie names, re-checked against their
    membership (a removed member, a deactivated login: None)."""
    found = find_session(session, token=token)
    if found is None:
        return None
    set_tenant(session, organization_id=found.organization_id, user_id=found.user_id)
    try:
        ctx = tenancy.context_for(
            session, user_id=found.user_id, organization_id=found.organization_id
        )
    except AppError:
        return None
    email = session.exec(select(User.email).where(User.id == found.user_id)).first() or ""
    return RequestContext(
        user_id=ctx.user_id,
        organization_id=ctx.organization_id,
        role=ctx.role,
        actor=email,
        client_address=client_address,
    )


def revoke(session: Session, *, token: str) -> bool:
    """End the session a cookie names (sign-out); whether there was a live one."""
    result = session.execute(
        sa.update(table_of(UserSession))
        .where(
            table_of(UserSession).c.token_hash == hash_token(token),
            table_of(UserSession).c.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return bool(rows_changed(result))


def revoke_session(session: Session, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """End one of `user_id`'s own sessions (the sessions list); NotFound-like error otherwise."""
    result = session.execute(
        sa.update(table_of(UserSession))
        .where(
            table_of(UserSession).c.id == session_id,
            table_of(UserSession).c.user_id == user_id,
            table_of(UserSession).c.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    if not rows_changed(result):
        raise AuthenticationFailed("unknown_session", "that session has already ended")


def revoke_all(session: Session, *, user_id: uuid.UUID, except_id: uuid.UUID | None = None) -> int:
    """End every live session of a user but `except_id` (a password change keeps the browser
    that made it); how many ended."""
    table = table_of(UserSession)
    statement = sa.update(table).where(table.c.user_id == user_id, table.c.revoked_at.is_(None))
    if except_id is not None:
        statement = statement.where(table.c.id != except_id)
    return rows_changed(session.execute(statement.values(revoked_at=utcnow())))


def revoke_in_organization(
    session: Session, *, user_id: uuid.UUID, organization_id: uuid.UUID
) -> int:
    """End a removed member's sessions working in that organization."""
    table = table_of(UserSession)
    statement = sa.update(table).where(
        table.c.user_id == user_id,
        table.c.current_organization_id == organization_id,
        table.c.revoked_at.is_(None),
    )
    return rows_changed(session.execute(statement.values(revoked_at=utcnow())))


def switch_organization(
    session: Session, *, token: str, organization_id: uuid.UUID
) -> RequestContext:
    """Point this browser's session at another organization the user belongs to."""
    found = find_session(session, token=token)
    if found is None:
        raise AuthenticationFailed("not_signed_in", "sign in first")
    set_tenant(session, organization_id=organization_id, user_id=found.user_id)
    ctx = tenancy.context_for(session, user_id=found.user_id, organization_id=organization_id)
    session.execute(
        sa.update(table_of(UserSession))
        .where(table_of(UserSession).c.id == found.id)
        .values(current_organization_id=organization_id)
    )
    return ctx


def list_sessions(
    session: Session, *, user_id: uuid.UUID, current_id: uuid.UUID | None = None
) -> list[SessionDTO]:
    """The user's live sessions, most recently used first."""
    rows = session.exec(
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            col(UserSession.activated_at).is_not(None),
            col(UserSession.revoked_at).is_(None),
            col(UserSession.expires_at) > utcnow(),
        )
        .order_by(col(UserSession.last_seen_at).desc())
        .limit(100)
    ).all()
    return [
        SessionDTO.model_validate(row).model_copy(update={"current": row.id == current_id})
        for row in rows
    ]


def last_organization(
    session: Session, *, user_id: uuid.UUID, memberships: list[uuid.UUID]
) -> uuid.UUID:
    """Where a sign-in lands: the organization of the user's latest session when they still
    belong to it, else their oldest membership (`memberships`, oldest first, not empty)."""
    latest = session.exec(
        select(UserSession.current_organization_id)
        .where(UserSession.user_id == user_id, col(UserSession.activated_at).is_not(None))
        .order_by(col(UserSession.last_seen_at).desc())
        .limit(1)
    ).first()
    return latest if latest in memberships else memberships[0]
