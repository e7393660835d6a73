"""What fulfilment hands its callers: per-order outcomes of bulk shipping work, printed
documents, returns as the merchant sees them."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from storesync.core.errors import ValidationFailed
from storesync.core.schemas import DTO


class Resolution(StrEnum):
    """What the merchant does with returned units: back on the shelf, or written off."""

    RESTOCK = "restock"
    WRITE_OFF = "write_off"


def parse_resolution(value: str) -> Resolution:
    try:
        return Resolution(value)
    except ValueError:
        raise ValidationFailed("resolution", "must be restock or write_off") from None


class OrderOutcome(DTO):
    """One order's result in a bulk action: done, or the reason (the platform's own message)."""

    order_id: uuid.UUID
    order_number: str
    ok: bool
    tracking_number: str = ""
    error_code: str = ""
    error_message: str = ""


class PrintedLabels(DTO):
    """Labels merged into one PDF (`pdf` None when no order had one), and the orders left out."""

    pdf: bytes | None
    pages: int
    printed: list[OrderOutcome]
    failed: list[OrderOutcome]


class ReturnLineDTO(DTO):
    platform_item_id: str
    platform_model_id: str
    sku: str
    quantity: int
    variant_id: uuid.UUID | None


class ReturnDTO(DTO):
    id: uuid.UUID
    store_id: uuid.UUID
    order_id: uuid.UUID
    order_number: str
    platform: str
    platform_return_id: str
    platform_status: str
    state: str
    reason: str
    refund_only: bool
    lines: list[ReturnLineDTO]
    refund_amount: Decimal | None
    currency: str
    resolution: str
    resolved_by_user_id: uuid.UUID | None
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime | None


class ReturnsSyncReport(DTO):
    store_id: uuid.UUID
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unknown_orders: int = 0  # returns of orders StoreSync does not have
