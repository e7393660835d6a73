"""Jobs, raw webhook events and the stock outbox."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from storesync.core.models import JSONDoc, TenantTable, UTCDateTime


class SyncJob(TenantTable, table=True):
    __tablename__ = "sync_job"
    __table_args__ = (
        sa.Index(None, "organization_id", "created_at"),
        sa.Index(None, "store_id", "status"),
        sa.Index(None, "status"),  # the sweep: jobs queued or running (storesync.sync.due)
        sa.Index(None, "store_id", "kind", "created_at", "id"),  # a store's newest job of a kind
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name="status"
        ),
    )

    store_id: uuid.UUID | None = Field(default=None, foreign_key="store.id", ondelete="CASCADE")
    kind: str = Field(max_length=32)
    status: str = Field(default="queued", max_length=16)
    phase: str = Field(default="", max_length=40)
    total: int = Field(default=0)
    done: int = Field(default=0)
    failed: int = Field(default=0)
    params: dict = Field(default_factory=dict, sa_type=JSONDoc)
    result: dict = Field(default_factory=dict, sa_type=JSONDoc)
    error: dict = Field(default_factory=dict, sa_type=JSONDoc)
    retries: int = Field(default=0)
    cancel_requested: bool = Field(default=False)
    requested_by: uuid.UUID | None = Field(
        default=None, foreign_key="app_user.id", ondelete="SET NULL"
    )
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookEvent(TenantTable, table=True):
    """A raw push notification, stored before it is processed; the dedupe key drops repeats."""

    __tablename__ = "webhook_event"
    __table_args__ = (
        sa.UniqueConstraint("store_id", "dedupe_key"),
        sa.Index(None, "status", "received_at"),
        sa.Index(None, "store_id", "received_at"),  # a store's last push (the Stores page)
        sa.Index(None, "status", "attempts", "processed_at"),  # failed, still to retry (the sweep)
        sa.CheckConstraint(
            "status IN ('received', 'processing', 'processed', 'failed', 'ignored')", name="status"
        ),
    )

    store_id: uuid.UUID = Field(foreign_key="store.id", ondelete="CASCADE")
    platform: str = Field(max_length=16)
    event_type: str = Field(max_length=64)
    dedupe_key: str = Field(max_length=200)
    payload: dict = Field(default_factory=dict, sa_type=JSONDoc)
    status: str = Field(default="received", max_length=16)
    attempts: int = Field(default=0)
    error: str = Field(default="", sa_type=sa.Text)
    received_at: datetime = Field(sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When a run last took it: one that has held it `STUCK_PROCESSING` is presumed dead.
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StockOutbox(TenantTable, table=True):
    """A pending stock push: one row per listing, overwritten with the latest quantity."""

    __tablename__ = "stock_outbox"
    __table_args__ = (
        sa.UniqueConstraint("listing_id"),
        sa.Index(None, "store_id", "status", "available_at"),
        sa.Index(None, "status", "available_at"),  # due or lapsed rows of every store (the sweep)
        sa.CheckConstraint("quantity >= 0", name="quantity_non_negative"),
        sa.CheckConstraint("status IN ('pending', 'in_progress', 'done', 'failed')", name="status"),
    )

    store_id: uuid.UUID = Field(foreign_key="store.id", ondelete="CASCADE")
    listing_id: uuid.UUID = Field(foreign_key="channel_listing.id", ondelete="CASCADE")
    quantity: int
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    available_at: datetime = Field(sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", sa_type=sa.Text)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the oldest order this push carries arrived (None: no order changed it); read for the
    # propagation histogram when the channel confirms the push.
    caused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StockDrift(TenantTable, table=True):
    """A listing whose channel stock differed from what it should be, found by reconciliation,
    and whether it was repaired."""

    __tablename__ = "stock_drift"
    __table_args__ = (sa.Index(None, "store_id", "created_at"),)

    store_id: uuid.UUID = Field(foreign_key="store.id", ondelete="CASCADE")
    listing_id: uuid.UUID = Field(foreign_key="channel_listing.id", ondelete="CASCADE")
    job_id: uuid.UUID | None = Field(default=None, foreign_key="sync_job.id", ondelete="SET NULL")
    expected: int
    found: int | None = Field(default=None)
    repaired: bool = Field(default=False)
    repaired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CategoryCache(TenantTable, table=True):
    """A store's platform category tree (`category_id` "") or one category's attributes, rules
    and logistics channels, as the platform last answered; refreshed on demand."""

    __tablename__ = "category_cache"
    __table_args__ = (sa.UniqueConstraint("store_id", "category_id"),)

    store_id: uuid.UUID = Field(foreign_key="store.id", ondelete="CASCADE")
    category_id: str = Field(default="", max_length=64)
    payload: dict = Field(default_factory=dict, sa_type=JSONDoc)
    fetched_at: datetime = Field(sa_type=UTCDateTime)


class Publication(TenantTable, table=True):
    """A master product published to a store: the listing it became, the category, attribute
    values and logistics the merchant chose (sent again with each content update), the store's
    own title or description when it keeps one, and the images uploaded for it. One per product
    and store: publishing the same product twice at once creates one listing."""

    __tablename__ = "publication"
    __table_args__ = (
        sa.UniqueConstraint("store_id", "product_id"),
        sa.CheckConstraint("status IN ('publishing', 'published', 'failed')", name="status"),
    )

    store_id: uuid.UUID = Field(foreign_key="store.id", ondelete="CASCADE")
    product_id: uuid.UUID = Field(foreign_key="product.id", ondelete="CASCADE", index=True)
    status: str = Field(default="publishing", max_length=16)
    platform_item_id: str = Field(default="", max_length=64)
    category_id: str = Field(default="", max_length=64)
    attributes: list = Field(default_factory=list, sa_type=JSONDoc)
    logistics_ids: list = Field(default_factory=list, sa_type=JSONDoc)
    title_override: str = Field(default="", max_length=255)
    description_override: str = Field(default="", sa_type=sa.Text)
    images: dict = Field(default_factory=dict, sa_type=JSONDoc)  # master image id → platform id
    error: str = Field(default="", sa_type=sa.Text)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # this publish began
    published_by: uuid.UUID | None = Field(
        default=None, foreign_key="app_user.id", ondelete="SET NULL"
    )
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    content_pushed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
