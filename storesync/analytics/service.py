"""Dashboard figures: orders and revenue per channel, low stock, oversells, store health, orders
per day and top products. Days are UTC days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

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
    today = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    org = ctx.organization_id
    currency = session.execute(
        sa.select(table_of(Organization).c.default_currency).where(
            table_of(Organization).c.id == org
        )
    ).scalar_one()
    channels = _channels(session, org, today, today - timedelta(days=6))
    return DashboardDTO(
        currency=currency,
        channels=channels,
        orders_today=sum(c.orders_today for c in channels),
        revenue_today=sum((c.revenue_today for c in channels), Decimal(0)),
        orders_7d=sum(c.orders_7d for c in channels),
        revenue_7d=sum((c.revenue_7d for c in channels), Decimal(0)),
        low_stock=_low_stock(session, org),
        oversells_7d=_oversells(session, org, moment - timedelta(days=7)),
        stores=_stores(session, org),
        orders_by_day=_by_day(session, org, today - timedelta(days=CHART_DAYS - 1)),
        top_products=_top_products(session, org, today - timedelta(days=CHART_DAYS - 1)),
    )


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


def _by_day(session: Session, org: object, since: datetime) -> list[DayCountDTO]:
    orders = table_of(Order)
    stamp: sa.ColumnElement[object] = orders.c.ordered_at
    if session.get_bind().dialect.name == "postgresql":
        # date() of a timestamptz takes the session's TimeZone (Asia/Jakarta on a server set up
        # in Indonesia): take the UTC wall-clock time first. SQLite stores UTC already.
        stamp = sa.func.timezone("UTC", stamp)
    day = sa.func.date(stamp)  # a date on PostgreSQL, 'YYYY-MM-DD' on SQLite
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
