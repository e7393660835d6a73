"""Connected stores and their listings (a store's item/model, maybe matched to a master variant)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field

from storesync.core.models import JSONDoc, MoneyAmount, TenantTable, UTCDateTime

PLATFORMS = ("shopee", "tiktok")


class Store(TenantTable, table=True):
    __tablename__ = "store"
    __table_args__ = (
        # A marketplace shop belongs to exactly one organization: webhooks route by shop id.
        sa.UniqueConstraint("platform", "platform_store_id"),
        sa.CheckConstraint("platform IN ('shopee', 'tiktok')", name="platform"),
        sa.CheckConstraint(
            "status IN ('connected', 'disconnected', 'reauth_required', 'error')", name="status"
        ),
    )

    platform: str = Field(max_length=16)
    platform_store_id: str = Field(max_length=64)
    name: str = Field(max_length=200)
    region: str = Field(default="", max_length=8)
    status: str = Field(default="connected", max_length=20)
    # MultiFernet token of the access/refresh tokens; never leaves the server decrypted.
    credentials_encrypted: str | None = Field(default=None, sa_type=sa.Text)
    token_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    refresh_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    settings: dict = Field(default_factory=dict, sa_type=JSONDoc)
    sync_status: str = Field(default="idle", max_length=20)
    last_synced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    orders_cursor: str = Field(default="", max_length=255)
    returns_cursor: str = Field(default="", max_length=255)
    # When the store stopped syncing (expired token, open circuit); cleared when it heals, after
    # the gap's orders are back-filled.
    unhealthy_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ChannelListing(TenantTable, table=True):
    """One sellable unit on a channel: Shopee item+model, TikTok product+SKU."""

    __tablename__ = "channel_listing"
    __table_args__ = (
        # platform_model_id is '' for an item without models, so the key stays unique.
        sa.UniqueConstraint("store_id", "platform_item_id", "platform_model_id"),
        sa.Index(None, "store_id", "platform_sku"),
        sa.CheckConstraint(
            "match_status IN ('matched', 'unmatched', 'suggested', 'ignored')", name="match_status"
        ),
    )

    store_id: uuid.UUID = Field(foreign_key="store.id", ondelete="CASCADE")
    variant_id: uuid.UUID | None = Field(
        default=None, foreign_key="product_variant.id", ondelete="SET NULL", index=True
    )
    # The review queue: a suggested master variant with the matcher's confidence (0..1) and
    # how it was found (platform_id, sku, normalized_sku, title); only unique exact SKU matches
    # link automatically.
    suggested_variant_id: uuid.UUID | None = Field(
        default=None, foreign_key="product_variant.id", ondelete="SET NULL"
    )
    match_confidence: Decimal | None = Field(default=None, sa_type=sa.Numeric(4, 3))
    match_method: str = Field(default="", max_length=20)
    platform_item_id: str = Field(max_length=64)
    platform_model_id: str = Field(default="", max_length=64)
    platform_sku: str = Field(default="", max_length=100)
    title: str = Field(default="", max_length=255)
    model_name: str = Field(default="", max_length=255)
    status: str = Field(default="active", max_length=20)
    match_status: str = Field(default="unmatched", max_length=16)
    price: Decimal | None = Field(default=None, sa_type=MoneyAmount)
    currency: str = Field(default="IDR", max_length=3)
    channel_quantity: int | None = Field(default=None)
    last_pushed_quantity: int | None = Field(default=None)
    last_pushed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    raw: dict = Field(default_factory=dict, sa_type=JSONDoc)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
