"""Bases and column types for every table: naming convention, UUID keys, tenant column, UTC
timestamps, JSON documents and money amounts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from storesync.core.clock import utcnow
from storesync.core.ids import new_id

# -- column types --------------------------------------------------------------------------------


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: StoreSync stores timezone-aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON documents: JSONB on PostgreSQL (indexable), JSON text on SQLite.
JSONDoc: Any = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# Money amounts: 18 digits, 4 decimals covers IDR/VND totals and sub-cent unit costs.
MoneyAmount = sa.Numeric(18, 4)

# -- table bases ---------------------------------------------------------------------------------

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


def rows_changed(result: object) -> int:
    """How many rows an UPDATE or DELETE changed (`CursorResult.rowcount`; the typed `Result`
    of `session.execute` does not declare it)."""
    return int(getattr(result, "rowcount", 0) or 0)
