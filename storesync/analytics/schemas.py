"""Dashboard figures."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from storesync.core.schemas import DTO


class ChannelFiguresDTO(DTO):
    platform: str
    orders_today: int
    orders_7d: int
    revenue_today: Decimal
    revenue_7d: Decimal


class StoreHealthLineDTO(DTO):
    name: str
    platform: str
    status: str
    sync_status: str


class DayCountDTO(DTO):
    day: date
    platform: str
    orders: int


class TopProductDTO(DTO):
    title: str
    sku: str
    quantity: int


class ActivityDTO(DTO):
    """One line of the activity feed: what happened, about which order, SKU or store
    (`subject_type`, `subject`), on which channel, and the page to look at (`link`)."""

    id: uuid.UUID
    kind: str
    text: str
    subject_type: str
    subject: str
    channel: str
    link: str
    created_at: datetime


class DashboardDTO(DTO):
    currency: str
    timezone: str  # the organization's: "today" and the chart's days are its days
    channels: list[ChannelFiguresDTO]
    orders_today: int
    revenue_today: Decimal
    orders_7d: int
    revenue_7d: Decimal
    low_stock: int
    oversells_7d: int
    stores: list[StoreHealthLineDTO]
    orders_by_day: list[DayCountDTO]
    top_products: list[TopProductDTO]
