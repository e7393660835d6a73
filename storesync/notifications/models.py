"""Notifications for an organization (or one of its users)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from storesync.core.models import JSONDoc, TenantTable, UTCDateTime


class Notification(TenantTable, table=True):
    __tablename__ = "notification"
    __table_args__ = (
        sa.Index(None, "organization_id", "created_at"),
        sa.CheckConstraint("severity IN ('info', 'warning', 'error')", name="severity"),
    )

    user_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", ondelete="CASCADE")
    kind: str = Field(max_length=40)
    severity: str = Field(default="info", max_length=16)
    title: str = Field(max_length=200)
    body: str = Field(default="", sa_type=sa.Text)
    data: dict = Field(default_factory=dict, sa_type=JSONDoc)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
