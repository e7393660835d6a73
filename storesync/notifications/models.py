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


class WebhookSubscription(TenantTable, table=True):
    """A merchant's URL that hears of chosen events (outbound webhooks). The signing secret is
    sealed like store credentials; a subscription that keeps failing is paused."""

    __tablename__ = "webhook_subscription"
    __table_args__ = (sa.CheckConstraint("status IN ('active', 'paused')", name="status"),)

    url: str = Field(max_length=500)
    events: list = Field(default_factory=list, sa_type=JSONDoc)
    description: str = Field(default="", max_length=200)
    secret_sealed: str = Field(sa_type=sa.Text)
    status: str = Field(default="active", max_length=16)
    consecutive_failures: int = Field(default=0)
    paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookDelivery(TenantTable, table=True):
    """One event for one subscription: recorded in the transaction that made the change, sent
    after commit, retried with backoff until delivered or out of attempts."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.Index(None, "organization_id", "subscription_id", "created_at"),
        sa.Index(None, "status", "next_attempt_at"),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
    )

    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscription.id", ondelete="CASCADE")
    event_type: str = Field(max_length=64)
    payload: dict = Field(default_factory=dict, sa_type=JSONDoc)
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str = Field(default="", max_length=500)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
