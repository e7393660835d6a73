"""Orders, their lines, their timeline and the tokens the inbox search finds them by."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storesync.core.models import JSONDoc, MoneyAmount, TenantTable, UTCDateTime

ORDER_STATUSES = (
    "unpaid",
    "to_ship",
    "shipped",
    "delivered",
    "completed",
    "cancelled",
    "returned",
)


class Order(TenantTable, table=True):
    __tablename__ = "sales_order"
    __table_args__ = (
        sa.UniqueConstraint("store_id", "platform_order_id"),
        sa.Index(None, "organization_id", "status", "ordered_at"),
        sa.Index(None, "organization_id", "ordered_at"),
        # A pasted order number is found through these (orders.queries.list_orders).
        sa.Index(None, "organization_id", "platform_order_id"),
        sa.Index(None, "organization_id", "order_number"),
        sa.CheckConstraint(
            "status IN ('unpaid', 'to_ship', 'shipped', 'delivered', 'completed', "
            "'cancelled', 'returned')",
            name="status",
        ),
    )

    store_id: uuid.UUID = Field(foreign_key="store.id", ondelete="RESTRICT", index=True)
    platform: str = Field(max_length=16)
    platform_order_id: str = Field(max_length=64)
    order_number: str = Field(default="", max_length=64)
    status: str = Field(default="unpaid", max_length=16)
    platform_status: str = Field(default="", max_length=40)
    financial_status: str = Field(default="pending", max_length=16)
    fulfillment_status: str = Field(default="unfulfilled", max_length=16)
    customer_name: str = Field(default="", max_length=200)
    currency: str = Field(default="IDR", max_length=3)
    subtotal: Decimal = Field(default=Decimal(0), sa_type=MoneyAmount)
    shipping_fee: Decimal = Field(default=Decimal(0), sa_type=MoneyAmount)
    discount: Decimal = Field(default=Decimal(0), sa_type=MoneyAmount)
    total: Decimal = Field(default=Decimal(0), sa_type=MoneyAmount)
    ordered_at: datetime = Field(sa_type=UTCDateTime)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    shipped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    tracking_number: str = Field(default="", max_length=64)
    carrier: str = Field(default="", max_length=64)
    package_id: str = Field(default="", max_length=64)  # the platform's first package
    # The recipient as the platform gives it (masked where it masks): channels.ShippingAddress.
    shipping_address: dict = Field(default_factory=dict, sa_type=JSONDoc)
    # The "to ship" workflow: arranged with the platform (pickup or dropoff), label printed.
    handover_method: str = Field(default="", max_length=16)
    arranged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    label_printed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    has_unmapped_items: bool = Field(default=False)
    raw: dict = Field(default_factory=dict, sa_type=JSONDoc)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OrderItem(TenantTable, table=True):
    __tablename__ = "order_item"
    __table_args__ = (sa.CheckConstraint("quantity > 0", name="quantity_positive"),)

    order_id: uuid.UUID = Field(foreign_key="sales_order.id", ondelete="CASCADE", index=True)
    listing_id: uuid.UUID | None = Field(
        default=None, foreign_key="channel_listing.id", ondelete="SET NULL"
    )
    variant_id: uuid.UUID | None = Field(
        default=None, foreign_key="product_variant.id", ondelete="SET NULL", index=True
    )
    platform_item_id: str = Field(default="", max_length=64)
    platform_model_id: str = Field(default="", max_length=64)
    sku: str = Field(default="", max_length=100)
    title: str = Field(default="", max_length=255)
    quantity: int
    unit_price: Decimal = Field(default=Decimal(0), sa_type=MoneyAmount)
    currency: str = Field(default="IDR", max_length=3)
    is_mapped: bool = Field(default=False)


class OrderEvent(TenantTable, table=True):
    """Append-only timeline: every status change, by whom and why."""

    __tablename__ = "order_event"
    __table_args__ = (sa.Index(None, "order_id", "created_at"),)

    order_id: uuid.UUID = Field(foreign_key="sales_order.id", ondelete="CASCADE")
    from_status: str = Field(default="", max_length=16)
    to_status: str = Field(max_length=16)
    actor_user_id: uuid.UUID | None = Field(
        default=None, foreign_key="app_user.id", ondelete="SET NULL"
    )
    source: str = Field(default="", max_length=32)
    reason: str = Field(default="", max_length=255)


# Compared byte by byte on PostgreSQL as on SQLite, so a prefix is one contiguous index range.
SearchTokenText: Any = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


class OrderSearchToken(SQLModel, table=True):
    """What the inbox search finds an order by (`orders.search`): one row per distinct token of
    its order number, platform order id, customer name and lines' SKUs and titles, and per order
    number written backwards (`tail`: a prefix of it is an end of the number), written with the
    order. A search word is a prefix range of the primary key, which PostgreSQL reads through the
    index under row-level security (text comparisons are leakproof; ILIKE is not). The order's
    foreign key removes its tokens with it (an organization's go with its orders); an organization
    key as well would cost a second check on every token written."""

    __tablename__ = "order_search_token"
    # The order's tokens, with the organization for the policy: probed without reading the table.
    __table_args__ = (
        sa.Index(None, "order_id", "tail", "token", postgresql_include=["organization_id"]),
        {"sqlite_with_rowid": False},  # the key is the table: one b-tree fewer to write
    )

    organization_id: uuid.UUID = Field(primary_key=True)
    tail: bool = Field(primary_key=True)
    token: str = Field(primary_key=True, sa_type=SearchTokenText)
    order_id: uuid.UUID = Field(foreign_key="sales_order.id", ondelete="CASCADE", primary_key=True)
