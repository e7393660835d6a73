"""Order DTOs: what callers pass in (`NewOrder`, built by `channels/` from a marketplace
payload) and what the services return. No marketplace field names here."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    field_validator,
)

from storesync.core.schemas import DTO
from storesync.orders.status import (
    FinancialStatus,
    FulfillmentStatus,
    OrderStatus,
    shipping_stage,
)

NonNegativeMoney = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("money amounts must not be floats; pass a str, int or Decimal")
    return value


class NewOrderItem(BaseModel):
    """One line as the marketplace sent it (`platform_model_id` is '' for an item without
    models)."""

    model_config = ConfigDict(frozen=True)

    platform_item_id: str = Field(default="", max_length=64)
    platform_model_id: str = Field(default="", max_length=64)
    sku: str = Field(default="", max_length=100)
    title: str = Field(default="", max_length=255)
    quantity: int = Field(gt=0)
    unit_price: NonNegativeMoney = Decimal(0)

    _money = field_validator("unit_price", mode="before")(_no_float)


class NewOrder(BaseModel):
    """An order as a channel reports it, in our own terms."""

    model_config = ConfigDict(frozen=True)

    store_id: uuid.UUID
    platform_order_id: str = Field(min_length=1, max_length=64)
    order_number: str = Field(default="", max_length=64)
    status: OrderStatus = OrderStatus.TO_SHIP
    platform_status: str = Field(default="", max_length=40)
    customer_name: str = Field(default="", max_length=200)
    currency: str = Field(default="IDR", pattern=r"^[A-Z]{3}$")
    subtotal: NonNegativeMoney = Decimal(0)
    shipping_fee: NonNegativeMoney = Decimal(0)
    discount: NonNegativeMoney = Decimal(0)
    total: NonNegativeMoney = Decimal(0)
    ordered_at: AwareDatetime
    paid_at: AwareDatetime | None = None
    items: list[NewOrderItem] = Field(min_length=1)
    tracking_number: str = Field(default="", max_length=64)
    carrier: str = Field(default="", max_length=64)
    package_id: str = Field(default="", max_length=64)
    # The recipient as the platform gives it (channels.schemas.ShippingAddress as a dict).
    shipping_address: dict[str, str] = {}

    _money = field_validator("subtotal", "shipping_fee", "discount", "total", mode="before")(
        _no_float
    )


class ItemStockStatus(StrEnum):
    """What happened to a line's stock: derived from its reservations."""

    UNMAPPED = "unmapped"  # no master variant: nothing to reserve until it is mapped
    RESERVED = "reserved"  # held for this order
    FULFILLED = "fulfilled"  # deducted from on-hand (shipped)
    RELEASED = "released"  # given back (cancelled)
    OVERSOLD = "oversold"  # could not be reserved: not enough stock when the order arrived
    NONE = "none"  # nothing was due (e.g. the order arrived already cancelled or returned)


class OrderItemDTO(DTO):
    id: uuid.UUID
    listing_id: uuid.UUID | None
    variant_id: uuid.UUID | None
    platform_item_id: str
    platform_model_id: str
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    currency: str
    is_mapped: bool
    stock_status: ItemStockStatus
    reserved_quantity: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reserved(self) -> bool:
        """Stock is held for this line right now."""
        return self.stock_status == ItemStockStatus.RESERVED


class OrderDTO(DTO):
    id: uuid.UUID
    store_id: uuid.UUID
    platform: str
    platform_order_id: str
    order_number: str
    status: OrderStatus
    platform_status: str
    financial_status: FinancialStatus
    fulfillment_status: FulfillmentStatus
    customer_name: str
    currency: str
    subtotal: Decimal
    shipping_fee: Decimal
    discount: Decimal
    total: Decimal
    ordered_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    tracking_number: str
    carrier: str
    package_id: str
    shipping_address: dict[str, str]
    handover_method: str
    arranged_at: datetime | None
    label_printed_at: datetime | None
    has_unmapped_items: bool
    has_oversold_items: bool
    created_at: datetime
    updated_at: datetime | None
    items: list[OrderItemDTO]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def shipping_stage(self) -> str:
        """to_arrange / to_print / to_hand_over while the order waits to ship, else ""."""
        return shipping_stage(self.status, self.arranged_at, self.label_printed_at)


class OrderEventDTO(DTO):
    id: uuid.UUID
    from_status: str
    to_status: str
    actor_user_id: uuid.UUID | None
    source: str
    reason: str
    created_at: datetime


class OrderDetailDTO(OrderDTO):
    """An order with its timeline, oldest event first."""

    events: list[OrderEventDTO]


class OrderSummaryDTO(DTO):
    """One row of the order inbox."""

    id: uuid.UUID
    store_id: uuid.UUID
    platform: str
    platform_order_id: str
    order_number: str
    status: OrderStatus
    financial_status: FinancialStatus
    fulfillment_status: FulfillmentStatus
    customer_name: str
    currency: str
    total: Decimal
    ordered_at: datetime
    has_unmapped_items: bool
    tracking_number: str
    carrier: str
    handover_method: str
    arranged_at: datetime | None
    label_printed_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def shipping_stage(self) -> str:
        """to_arrange / to_print / to_hand_over while the order waits to ship, else ""."""
        return shipping_stage(self.status, self.arranged_at, self.label_printed_at)


class BulkStatusResult(DTO):
    """One order's outcome in a bulk status change: `ok` with its new status, or an error code
    and message (the other orders are unaffected)."""

    order_id: uuid.UUID
    ok: bool
    status: OrderStatus | None = None
    error_code: str | None = None
    error_message: str | None = None
