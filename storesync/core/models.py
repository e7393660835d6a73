"""Bases for every table: naming convention, UUID keys, tenant column, UTC timestamps."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storesync.core.clock import utcnow
from storesync.core.ids import new_id
from storesync.core.types import UTCDateTime

# Deterministic constraint names, so migrations can drop and compare them on every backend.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def id_field() -> uuid.UUID:
    return Field(default_factory=new_id, primary_key=True)


def created_at_field() -> datetime:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def org_field() -> uuid.UUID:
    return Field(foreign_key="organization.id", ondelete="CASCADE", nullable=False, index=True)


class TenantTable(SQLModel):
    """Columns every tenant-owned table carries; PostgreSQL RLS filters on organization_id."""

    id: uuid.UUID = id_field()
    organization_id: uuid.UUID = org_field()
    created_at: datetime = created_at_field()


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a model, for set-based statements (bulk inserts, conditional updates)."""
    return model.__table__  # type: ignore[attr-defined]
