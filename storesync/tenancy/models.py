"""Organizations, users and memberships."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storesync.core.models import JSONDoc, UTCDateTime, created_at_field, id_field, org_field

ROLES = ("owner", "admin", "staff", "viewer")


class Organization(SQLModel, table=True):
    __tablename__ = "organization"

    id: uuid.UUID = id_field()
    name: str = Field(max_length=200)
    slug: str = Field(max_length=80, unique=True)
    default_currency: str = Field(default="IDR", max_length=3)
    timezone: str = Field(default="Asia/Jakarta", max_length=64)
    created_at: datetime = created_at_field()


class User(SQLModel, table=True):
    """A person; global (one login, possibly several organizations), so not tenant-scoped. On
    PostgreSQL the app role sees only itself and the members of the current organization; the
    password hash lives in `user_credential`."""

    __tablename__ = "app_user"

    id: uuid.UUID = id_field()
    email: str = Field(max_length=320, unique=True)
    full_name: str = Field(default="", max_length=200)
    is_active: bool = Field(default=True)
    created_at: datetime = created_at_field()
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Membership(SQLModel, table=True):
    __tablename__ = "membership"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "user_id"),
        sa.CheckConstraint("role IN ('owner', 'admin', 'staff', 'viewer')", name="role"),
    )

    id: uuid.UUID = id_field()
    organization_id: uuid.UUID = org_field()
    user_id: uuid.UUID = Field(foreign_key="app_user.id", ondelete="CASCADE", index=True)
    role: str = Field(max_length=16)
    created_at: datetime = created_at_field()


class AuditLog(SQLModel, table=True):
    """Who did what to which entity; append-only. `data` holds the changed fields' values as
    {"before": {...}, "after": {...}}; `actor` is the person's email or the API key's name when
    it acted (kept when the user or key is later deleted)."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index(None, "organization_id", "created_at"),)

    id: uuid.UUID = id_field()
    organization_id: uuid.UUID = Field(foreign_key="organization.id", ondelete="CASCADE")
    actor_user_id: uuid.UUID | None = Field(
        default=None, foreign_key="app_user.id", ondelete="SET NULL"
    )
    actor_api_key_id: uuid.UUID | None = Field(
        default=None, foreign_key="api_key.id", ondelete="SET NULL"
    )
    actor: str = Field(default="", max_length=320)
    client_address: str = Field(default="", max_length=64)
    action: str = Field(max_length=64)
    entity_type: str = Field(max_length=64)
    entity_id: str = Field(default="", max_length=64)
    data: dict = Field(default_factory=dict, sa_type=JSONDoc)
    created_at: datetime = created_at_field()


class ApiKey(SQLModel, table=True):
    """A key a merchant's other systems call the API with: stored as a SHA-256 of the whole key
    (keys are 256-bit random, so a fast hash is as safe as a slow one and costs nothing per
    request), found by its public prefix."""

    __tablename__ = "api_key"

    id: uuid.UUID = id_field()
    organization_id: uuid.UUID = org_field()
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, unique=True)
    key_hash: str = Field(max_length=64)
    scopes: list = Field(default_factory=list, sa_type=JSONDoc)
    role: str = Field(default="admin", max_length=16)
    created_by: uuid.UUID | None = Field(
        default=None, foreign_key="app_user.id", ondelete="SET NULL"
    )
    created_at: datetime = created_at_field()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiRequest(SQLModel, table=True):
    """A POST made with an `Idempotency-Key`: its body's hash and the response it got, so a
    repeat gets the same response and changes nothing twice."""

    __tablename__ = "api_request"
    __table_args__ = (sa.UniqueConstraint("key_id", "idempotency_key"),)

    id: uuid.UUID = id_field()
    organization_id: uuid.UUID = org_field()
    key_id: uuid.UUID = Field(foreign_key="api_key.id", ondelete="CASCADE")
    idempotency_key: str = Field(max_length=200)
    method: str = Field(max_length=8)
    path: str = Field(max_length=500)
    body_hash: str = Field(max_length=64)
    status_code: int
    response: dict = Field(default_factory=dict, sa_type=JSONDoc)
    created_at: datetime = created_at_field()
