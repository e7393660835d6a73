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
    """A person; global (one login, possibly several organizations), so not tenant-scoped."""

    __tablename__ = "app_user"

    id: uuid.UUID = id_field()
    email: str = Field(max_length=320, unique=True)
    full_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=255)
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
    """Who did what to which entity; append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index(None, "organization_id", "created_at"),)

    id: uuid.UUID = id_field()
    organization_id: uuid.UUID = Field(foreign_key="organization.id", ondelete="CASCADE")
    actor_user_id: uuid.UUID | None = Field(
        default=None, foreign_key="app_user.id", ondelete="SET NULL"
    )
    action: str = Field(max_length=64)
    entity_type: str = Field(max_length=64)
    entity_id: str = Field(default="", max_length=64)
    data: dict = Field(default_factory=dict, sa_type=JSONDoc)
    created_at: datetime = created_at_field()
