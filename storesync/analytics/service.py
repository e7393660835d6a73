"""Dashboard figures: orders and revenue per channel, low stock, oversells, store health, orders
per day and top products. Days are the organization's days: they start at midnight in its time
zone (Asia/Jakarta by default), not at midnight UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlmodel import Session

from storesync.analytics.schemas import (
    ChannelFiguresDTO,
    DashboardDTO,
    DayCountDTO,
    StoreHealthLineDTO,
    TopProductDTO,
)
from storesync.channels.models import Store
from storesync.core.clock import utcnow
from storesync.core.models import table_of
from storesync.inventory.models import InventoryItem
from storesync.notifications.models import Notification
from storesync.orders.models import Order, OrderItem
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import Organization
from storesync.tenancy.permissions import Permission

NOT_SOLD = ("cancelled", "returned")  # orders that are not revenue
CHART_DAYS = 30
TOP_PRODUCTS = 5


def dashboard_summary(
    session: Session, *, ctx: RequestContext, now: datetime | None = None
) -> DashboardDTO:
    """The dashboard's KPIs and charts for the organization. Needs READ."""
    ctx.require(Permission.READ)
    moment = now or utcnow()
    org = ctx.organization_id
    organizations = table_of(Organization)
    currency, zone_name = session.execute(
        sa.select(organizations.c.default_currency, organizations.c.timezone).where(
            organizations.c.id == org
        )
    ).one()
    zone = _zone(zone_name)
    local_today = moment.astimezone(zone).date()

    def midnight(days_ago: int) -> datetime:
        """The instant (UTC) the organization's day `days_ago` before today began."""
        day = local_today - timedelta(days=days_ago)
        return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)

    today = midnight(0)
    channels = _channels(session, org, today, midnight(6))
    return DashboardDTO(
        currency=currency,
        timezone=str(zone),
        channels=channels,
        orders_today=sum(c.orders_today for c in channels),
        revenue_today=sum((c.revenue_today for c in channels), Decimal(0)),
        orders_7d=sum(c.orders_7d for c in channels),
        revenue_7d=sum((c.revenue_7d for c in channels), Decimal(0)),
        low_stock=_low_stock(session, org),
        oversells_7d=_oversells(session, org, moment - timedelta(days=7)),
        stores=_stores(session, org),
        orders_by_day=_by_day(session, org, midnight(CHART_DAYS - 1), zone, moment),
        top_products=_top_products(session, org, midnight(CHART_DAYS - 1)),
    )


def _zone(name: str) -> tzinfo:
    """The organization's time zone; UTC if its name is not one (settings validate it)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _channels(
    session: Session, org: object, today: datetime, week_start: datetime
) -> list[ChannelFiguresDTO]:
    orders = table_of(Order)
    is_today = orders.c.ordered_at >= today
    sold = orders.c.status.not_in(NOT_SOLD)
    rows = session.execute(
        sa.select(
            orders.c.platform,
            sa.func.count().filter(is_today),
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(orders.c.total).filter(is_today & sold), 0),
            sa.func.coalesce(sa.func.sum(orders.c.total).filter(sold), 0),
        )
        .where(orders.c.organization_id == org, orders.c.ordered_at >= week_start)
        .group_by(orders.c.platform)
        .order_by(orders.c.platform)
    ).all()
    return [
        ChannelFiguresDTO(
            platform=platform,
            orders_today=today_count,
            orders_7d=week_count,
            revenue_today=Decimal(today_sum),
            revenue_7d=Decimal(week_sum),
        )
        for platform, today_count, week_count, today_sum, week_sum in rows
    ]


def _low_stock(session: Session, org: object) -> int:
    items = table_of(InventoryItem)
    return int(
        session.execute(
            sa.select(sa.func.count()).where(
                items.c.organization_id == org,
                items.c.on_hand - items.c.reserved <= items.c.reorder_point,
            )
        ).scalar_one()
    )


def _oversells(session: Session, org: object, since: datetime) -> int:
    notes = table_of(Notification)
    return int(
        session.execute(
            sa.select(sa.func.count()).where(
                notes.c.organization_id == org,
                notes.c.kind == "order.oversold",
                notes.c.created_at >= since,
            )
        ).scalar_one()
    )


def _stores(session: Session, org: object) -> list[StoreHealthLineDTO]:
    stores = table_of(Store)
    rows = session.execute(
        sa.select(stores.c.name, stores.c.platform, stores.c.status, stores.c.sync_status)
        .where(stores.c.organization_id == org)
        .order_by(stores.c.platform, stores.c.name)
    ).all()
    return [StoreHealthLineDTO(name=n, platform=p, status=s, sync_status=y) for n, p, s, y in rows]


def _by_day(
    session: Session, org: object, since: datetime, zone: tzinfo, moment: datetime
) -> list[DayCountDTO]:
    """Orders per platform and organization day since `since`."""
    orders = table_of(Order)
    stamp: sa.ColumnElement[object] = orders.c.ordered_at
    if session.get_bind().dialect.name == "postgresql":
        # The wall-clock time in the organization's zone, whatever the session's TimeZone
        # (date() of a timestamptz would take the session's).
        day = sa.func.date(sa.func.timezone(str(zone), stamp))
    else:
        # SQLite stores UTC wall-clock times: shift by the zone's offset now (one offset for
        # the 30 days; in a zone with daylight saving, orders within an hour of midnight on
        # the far side of a change may land on the neighbouring day).
        offset = moment.astimezone(zone).utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        day = sa.func.date(stamp, f"{minutes:+d} minutes")  # 'YYYY-MM-DD'

    rows = session.execute(
        sa.select(day, orders.c.platform, sa.func.count())
        .where(orders.c.organization_id == org, orders.c.ordered_at >= since)
        .group_by(day, orders.c.platform)
        .order_by(day, orders.c.platform)
    ).all()
    return [
        DayCountDTO(day=date.fromisoformat(str(d)[:10]), platform=p, orders=n) for d, p, n in rows
    ]


def _top_products(session: Session, org: object, since: datetime) -> list[TopProductDTO]:
    orders, items = table_of(Order), table_of(OrderItem)
    quantity = sa.func.sum(items.c.quantity)
    rows = session.execute(
        sa.select(sa.func.max(items.c.title), items.c.sku, quantity)
        .join(orders, orders.c.id == items.c.order_id)
        .where(
            items.c.organization_id == org,
            orders.c.ordered_at >= since,
            orders.c.status.not_in(NOT_SOLD),
        )
        .group_by(items.c.sku)
        .order_by(quantity.desc(), items.c.sku)
        .limit(TOP_PRODUCTS)
    ).all()
    return [TopProductDTO(title=t or s, sku=s, quantity=int(q)) for t, s, q in rows]
