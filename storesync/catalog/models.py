"""Products and variants; a variant's SKU is unique within its organization."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field

from storesync.core.models import JSONDoc, MoneyAmount, TenantTable, UTCDateTime


class Product(TenantTable, table=True):
    __tablename__ = "product"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "handle"),
        sa.CheckConstraint("status IN ('active', 'draft', 'archived')", name="status"),
    )

    # Stable key of a product within its organization (imports group variants by it).
    handle: str = Field(max_length=120)
    title: str = Field(max_length=255)
    description: str = Field(default="", sa_type=sa.Text)
    brand: str = Field(default="", max_length=120)
    category: str = Field(default="", max_length=120)
    status: str = Field(default="active", max_length=16)
    attributes: dict = Field(default_factory=dict, sa_type=JSONDoc)
    images: list = Field(default_factory=list, sa_type=JSONDoc)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ProductVariant(TenantTable, table=True):
    __tablename__ = "product_variant"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "variant_sku"),
        sa.CheckConstraint("price IS NULL OR price >= 0", name="price_non_negative"),
        sa.CheckConstraint("cost IS NULL OR cost >= 0", name="cost_non_negative"),
    )

    product_id: uuid.UUID = Field(foreign_key="product.id", ondelete="CASCADE", index=True)
    variant_sku: str = Field(max_length=100)
    name: str = Field(default="", max_length=255)
    options: dict = Field(default_factory=dict, sa_type=JSONDoc)
    barcode: str = Field(default="", max_length=64)
    price: Decimal | None = Field(default=None, sa_type=MoneyAmount)
    cost: Decimal | None = Field(default=None, sa_type=MoneyAmount)
    currency: str = Field(default="IDR", max_length=3)
    weight_grams: int | None = Field(default=None, ge=0)
    length_mm: int | None = Field(default=None, ge=0)
    width_mm: int | None = Field(default=None, ge=0)
    height_mm: int | None = Field(default=None, ge=0)
    # One of the product's images (its id in `Product.images`); blank: the product's main one.
    image_id: str = Field(default="", max_length=40)
    is_active: bool = Field(default=True)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
