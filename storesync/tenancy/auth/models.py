"""Credentials, sessions, emailed links and OAuth connect states."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storesync.core.models import JSONDoc, UTCDateTime, created_at_field, id_field, org_field

LINK_PURPOSES = ("invite", "signup", "reset")


class UserCredential(SQLModel, table=True):
    """A login's password hash, apart from `app_user`: on PostgreSQL the app role may write it
    but never select it (sign-in reads it through `storesync_login(email)`)."""

    __tablename__ = "user_credential"

    user_id: uuid.UUID = Field(primary_key=True, foreign_key="app_user.id", ondelete="CASCADE")
    password_hash: str = Field(max_length=255)
    changed_at: datetime = created_at_field()


class UserSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random id, this row its SHA-256. Revoked at
    sign-out, on a password change and when an owner removes the member.

    Sign-in happens over the app's websocket, which cannot set an HttpOnly cookie: it makes a
    pending session (not yet `activated_at`) whose `token_hash` is that of a one-time ticket
    valid for a minute; the browser takes the ticket to `/auth/session`, which swaps it for the
    session token and sets the cookie."""

    __tablename__ = "user_session"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="app_user.id", ondelete="CASCADE", index=True)
    current_organization_id: uuid.UUID = Field(foreign_key="organization.id", ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = created_at_field()
    last_seen_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    client_address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=200)


class AccountLink(SQLModel, table=True):
    """A single-use, expiring link sent by email: an invitation to an organization, the
    confirmation of a sign-up, or a password reset. Only the token's SHA-256 is kept."""

    __tablename__ = "account_link"
    __table_args__ = (
        sa.CheckConstraint("purpose IN ('invite', 'signup', 'reset')", name="purpose"),
    )

    id: uuid.UUID = id_field()
    purpose: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    email: str = Field(max_length=320, index=True)
    organization_id: uuid.UUID | None = Field(
        default=None, foreign_key="organization.id", ondelete="CASCADE", index=True
    )
    role: str = Field(default="", max_length=16)
    created_by: uuid.UUID | None = Field(
        default=None, foreign_key="app_user.id", ondelete="SET NULL"
    )
    data: dict = Field(default_factory=dict, sa_type=JSONDoc)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OAuthState(SQLModel, table=True):
    """One marketplace authorization in flight: the nonce in its `state`, bound to the browser
    session that started it, consumed by the callback once."""

    __tablename__ = "oauth_state"

    id: uuid.UUID = id_field()
    organization_id: uuid.UUID = org_field()
    user_id: uuid.UUID = Field(foreign_key="app_user.id", ondelete="CASCADE")
    session_id: uuid.UUID = Field(foreign_key="user_session.id", ondelete="CASCADE")
    platform: str = Field(max_length=16)
    nonce_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
