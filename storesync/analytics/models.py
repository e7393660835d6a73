"""The activity feed: what happened lately in an organization (orders, pushes, jobs, store
health, notifications), kept for the dashboard, the newest 100 per organization."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field

from storesync.core.models import TenantTable


class Activity(TenantTable, table=True):
    """One line of the feed: what happened (`text`), about what (`subject`: an order number, a
    SKU or a store name, of `subject_type`), on which channel, and where to look (`link`)."""

    __tablename__ = "activity"
    __table_args__ = (sa.Index(None, "organization_id", "created_at"),)

    kind: str = Field(max_length=40)
    text: str = Field(max_length=300)
    subject_type: str = Field(default="", max_length=16)  # order | sku | store | ""
    subject: str = Field(default="", max_length=200)
    channel: str = Field(default="", max_length=16)  # shopee | tiktok | ""
    link: str = Field(default="", max_length=300)
