"""Fulfilment's own tables: the platforms' label PDFs and buyers' returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field

from storesync.core.models import JSONDoc, MoneyAmount, TenantTable, UTCDateTime


class ShippingLabel(TenantTable, table=True):
    """The platform's label PDF for an order's package, fetched once after arranging (labels do
    not change), so printing many is a local merge."""

    __tablename__ = "shipping_label"
    __table_args__ = (sa.UniqueConstraint("order_id"),)

    order_id: uuid.UUID = Field(foreign_key="sales_order.id", ondelete="CASCADE")
    package_id: str = Field(default="", max_length=64)
    tracking_number: str = Field(default="", max_length=64)
    pdf: bytes = Field(sa_type=sa.LargeBinary)
    pages: int = Field(default=1)


RETURN_STATES = ("requested", "in_progress", "completed", "cancelled", "rejected")
RETURN_RESOLUTIONS = ("", "restock", "write_off")


class OrderReturn(TenantTable, table=True):
    """A buyer's return or refund request as the platform reports it, and what the merchant
    decided for the units that came back (restock or write off, once, by whom)."""

    __tablename__ = "order_return"
    __table_args__ = (
        sa.UniqueConstraint("store_id", "platform_return_id"),
        sa.Index(None, "organization_id", "state", "updated_at"),
        sa.CheckConstraint(
            "state IN ('requested', 'in_progress', 'completed', 'cancelled', 'rejected')",
            name="state",
        ),
        sa.CheckConstraint("resolution IN ('', 'restock', 'write_off')", name="resolution"),
    )

    store_id: uuid.UUID = Field(foreign_key="store.id", ondelete="RESTRICT", index=True)
    order_id: uuid.UUID = Field(foreign_key="sales_order.id", ondelete="CASCADE", index=True)
    platform_return_id: str = Field(max_length=64)
    platform_status: str = Field(default="", max_length=64)
    state: str = Field(default="requested", max_length=16)
    reason: str = Field(default="", max_length=255)
    refund_only: bool = Field(default=False)
    # [{platform_item_id, platform_model_id, sku, quantity, variant_id}]
    lines: list = Field(default_factory=list, sa_type=JSONDoc)
    refund_amount: Decimal | None = Field(default=None, sa_type=MoneyAmount)
    currency: str = Field(default="", max_length=3)
    resolution: str = Field(default="", max_length=16)
    resolved_by_user_id: uuid.UUID | None = Field(
        default=None, foreign_key="app_user.id", ondelete="SET NULL"
    )
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    platform_updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
