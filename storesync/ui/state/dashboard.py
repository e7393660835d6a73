"""Dashboard: KPIs, charts and an activity feed, all following the organization's events."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import reflex as rx

from storesync.analytics import activity
from storesync.analytics import service as analytics
from storesync.analytics.schemas import ActivityDTO
from storesync.tenancy.context import RequestContext
from storesync.ui.format import label, money
from storesync.ui.state.page import PageState

FEED_SIZE = 100
PLATFORMS = ("shopee", "tiktok")


def _feed_row(entry: ActivityDTO, zone: str) -> dict[str, str]:
    try:
        moment = entry.created_at.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        moment = entry.created_at
    return {
        "id": str(entry.id),
        "at": moment.strftime("%m-%d %H:%M"),
        "text": entry.text,
        "subject": entry.subject,
        "subject_type": entry.subject_type,
        "channel": entry.channel,
        "link": entry.link,
    }


class DashboardState(PageState):
    kpis: dict[str, str] = {}
    channels: list[dict[str, str]] = []
    stores: list[dict[str, str]] = []
    chart: list[dict[str, Any]] = []
    top_products: list[dict[str, str]] = []
    feed: list[dict[str, str]] = []
    timezone: str = ""  # the organization's: its days start at its midnight

    @rx.event
    def load(self):
        return self._page_load()

    def _load(self, ctx: RequestContext) -> None:
        with self._session(ctx) as session:
            summary = analytics.dashboard_summary(session, ctx=ctx)
            feed = activity.list_activity(session, ctx=ctx, limit=FEED_SIZE)
        self.feed = [_feed_row(entry, summary.timezone) for entry in feed]
        currency = summary.currency
        self.timezone = summary.timezone
        active = sum(1 for s in summary.stores if s.status == "connected")
        self.kpis = {
            "orders_today": str(summary.orders_today),
            "revenue_today": money(summary.revenue_today, currency),
            "orders_7d": str(summary.orders_7d),
            "revenue_7d": money(summary.revenue_7d, currency),
            "low_stock": str(summary.low_stock),
            "oversells_7d": str(summary.oversells_7d),
            "stores_ok": f"{active}/{len(summary.stores)}",
        }
        self.channels = [
            {
                "platform": c.platform,
                "orders_today": str(c.orders_today),
                "orders_7d": str(c.orders_7d),
                "revenue_7d": money(c.revenue_7d, currency),
            }
            for c in summary.channels
        ]
        self.stores = [
            {
                "name": s.name,
                "platform": s.platform,
                "status": s.status,
                "sync": label(s.sync_status),
            }
            for s in summary.stores
        ]
        days: dict[str, dict[str, Any]] = {}
        for point in summary.orders_by_day:
            row = days.setdefault(
                point.day.strftime("%m-%d"),
                {"day": point.day.strftime("%m-%d"), **dict.fromkeys(PLATFORMS, 0)},
            )
            row[point.platform] = point.orders
        self.chart = list(days.values())
        self.top_products = [
            {"title": p.title, "sku": p.sku, "quantity": str(p.quantity)}
            for p in summary.top_products
        ]

    def _on_events(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        # The feed is written with each change (storesync.analytics.activity): read it again.
        if any(
            str(e.get("type", "")).startswith(
                ("order.", "notification", "sync_job", "stock.pushed", "store.")
            )
            and (
                e.get("type") != "sync_job.progress" or e.get("data", {}).get("status") != "running"
            )
            for e in events
        ):
            self._load(ctx)
