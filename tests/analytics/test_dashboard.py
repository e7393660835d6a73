"""The dashboard's figures (analytics.dashboard_summary) on a fixed clock: orders and revenue per
channel today and over the last 7 days, low stock, oversells, store health, orders per day and top
products; another organization's rows never count. Days are the organization's: most tests keep
it on UTC; one moves it to Asia/Jakarta (the default for new organizations)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.analytics.schemas import (
    ChannelFiguresDTO,
    DashboardDTO,
    DayCountDTO,
    StoreHealthLineDTO,
    TopProductDTO,
)
from storesync.analytics.service import dashboard_summary
from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import Store
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.inventory.models import InventoryItem
from storesync.notifications.models import Notification
from storesync.orders.models import Order, OrderItem
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.factories import token

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
TODAY = datetime(2026, 3, 10, tzinfo=UTC)
SKU_TITLES = {
    "SKU-A": "Kaos hitam",
    "SKU-B": "Sandal 42",
    "SKU-C": "Topi",
    "SKU-D": "Celana",
    "SKU-E": "Jaket",
    "SKU-F": "Kaus kaki",
    "SKU-G": "Sabuk",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Org:
    engine: Engine
    ctx: RequestContext
    stores: dict[str, uuid.UUID]

    def summary(self, *, now: datetime = NOW) -> DashboardDTO:
        with session_scope(self.ctx, engine=self.engine) as session:
            return dashboard_summary(session, ctx=self.ctx, now=now)

    def order(
        self,
        store: str,
        ordered_at: datetime,
        status: str,
        total: int,
        **lines: int,
    ) -> uuid.UUID:
        """An order of store `store` with lines {sku: quantity}, written in this org's context."""
        org = self.ctx.organization_id
        store_id = self.stores[store]
        with session_scope(self.ctx, engine=self.engine) as session:
            platform = session.get(Store, store_id).platform  # type: ignore[union-attr]
            row = Order(
                organization_id=org,
                store_id=store_id,
                platform=platform,
                platform_order_id=f"PO{token()}",
                status=status,
                total=Decimal(total),
                ordered_at=ordered_at,
            )
            session.add(row)
            session.flush()
            session.add_all(
                OrderItem(
                    organization_id=org,
                    order_id=row.id,
                    sku=sku.replace("_", "-"),
                    title=SKU_TITLES[sku.replace("_", "-")],
                    quantity=quantity,
                )
                for sku, quantity in lines.items()
            )
            return row.id

    def stock(self, sku: str, *, on_hand: int, reserved: int, reorder_point: int) -> None:
        org = self.ctx.organization_id
        with session_scope(self.ctx, engine=self.engine) as session:
            product = Product(organization_id=org, handle=f"h-{token()}", title=SKU_TITLES[sku])
            session.add(product)
            session.flush()
            variant = ProductVariant(organization_id=org, product_id=product.id, variant_sku=sku)
            session.add(variant)
            session.flush()
            location = inventory.default_location(session, ctx=self.ctx)
            session.add(
                InventoryItem(
                    organization_id=org,
                    variant_id=variant.id,
                    location_id=location.id,
                    on_hand=on_hand,
                    reserved=reserved,
                    reorder_point=reorder_point,
                )
            )

    def notification(self, kind: str, created_at: datetime) -> None:
        with session_scope(self.ctx, engine=self.engine) as session:
            session.add(
                Notification(
                    organization_id=self.ctx.organization_id,
                    kind=kind,
                    title=kind,
                    created_at=created_at,
                )
            )


def build_org(engine: Engine, stores: dict[str, tuple[str, str, str]], *, zone: str = "UTC") -> Org:
    """An organization (owner context) in time zone `zone` with stores {key: (platform, name,
    status)}."""
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(
            session, email=f"dash-{token()}@example.com", password="correct horse"
        )
        org = tenancy.create_organization(session, name="Toko Dasbor", owner_user_id=user.id)
    ctx = RequestContext(user.id, org.id, Role.OWNER)
    ids: dict[str, uuid.UUID] = {}
    with session_scope(ctx, engine=engine) as session:
        tenancy.update_organization(session, ctx=ctx, name="Toko Dasbor", timezone=zone)
        for key, (platform, name, status) in stores.items():
            row = Store(
                organization_id=org.id,
                platform=platform,
                platform_store_id=token(),
                name=name,
                status=status,
                sync_status="error" if status != "connected" else "idle",
            )
            session.add(row)
            ids[key] = row.id
    return Org(engine, ctx, ids)


def build_mine(engine: Engine) -> Org:
    """Orders, stock and notifications around NOW (2026-03-10 15:00 UTC)."""
    mine = build_org(
        engine,
        {
            "shopee": ("shopee", "Toko Shopee", "connected"),
            "tiktok": ("tiktok", "Toko TikTok", "reauth_required"),
            "old": ("shopee", "Arsip Shopee", "disconnected"),
        },
    )
    day = timedelta(days=1)
    # Today (UTC): two Shopee orders (one cancelled) and a TikTok one at midnight sharp.
    mine.order("shopee", TODAY + timedelta(hours=1), "to_ship", 100, SKU_A=2, SKU_F=1, SKU_G=1)
    mine.order("shopee", NOW - timedelta(minutes=1), "cancelled", 1000, SKU_A=50)
    mine.order("tiktok", TODAY, "to_ship", 300, SKU_B=3)
    # Yesterday: in the 7 days, not today (20:00 UTC is already the 10th in Jakarta, but this
    # organization keeps UTC days).
    mine.order("shopee", TODAY - timedelta(seconds=1), "shipped", 200, SKU_B=1)
    mine.order("shopee", TODAY - day + timedelta(hours=20), "to_ship", 10, SKU_B=1)
    # The first of the 7 days (6 days before today) counts; the second before it does not.
    mine.order("tiktok", TODAY - 6 * day, "returned", 400, SKU_C=10)
    mine.order("tiktok", TODAY - 6 * day - timedelta(seconds=1), "completed", 50, SKU_C=1)
    # 8 days ago: outside the 7 days, inside the 30-day chart.
    mine.order("old", NOW - 8 * day, "completed", 5000, SKU_D=2)
    # 40 days ago: outside the chart and the top products too.
    mine.order("shopee", NOW - 40 * day, "completed", 9000, SKU_E=100)

    mine.stock("SKU-A", on_hand=10, reserved=0, reorder_point=3)  # available 10: fine
    mine.stock("SKU-B", on_hand=5, reserved=2, reorder_point=3)  # available 3 = point: low
    mine.stock("SKU-C", on_hand=0, reserved=0, reorder_point=0)  # available 0 = point: low
    mine.stock("SKU-D", on_hand=4, reserved=0, reorder_point=3)  # available 4: fine

    mine.notification("order.oversold", NOW - timedelta(hours=1))
    mine.notification("order.oversold", NOW - timedelta(days=7))  # the edge of the 7 days
    mine.notification("order.oversold", NOW - timedelta(days=7, minutes=1))  # too old
    mine.notification("store.reauth_required", NOW - timedelta(hours=1))  # another kind
    return mine


def build_theirs(engine: Engine) -> Org:
    """Another organization with rows of every kind the dashboard reads, all 'today'."""
    theirs = build_org(engine, {"shopee": ("shopee", "Toko Lain", "error")})
    theirs.order("shopee", NOW - timedelta(hours=2), "to_ship", 777_000, SKU_A=99)
    theirs.order("shopee", NOW - timedelta(days=2), "to_ship", 1, SKU_G=40)
    theirs.stock("SKU-A", on_hand=0, reserved=0, reorder_point=5)
    theirs.notification("order.oversold", NOW - timedelta(hours=1))
    return theirs


EXPECTED_CHANNELS = [
    ChannelFiguresDTO(
        platform="shopee",
        orders_today=2,  # a cancelled order is still an order received
        orders_7d=4,
        revenue_today=Decimal(100),  # not the cancelled 1000
        revenue_7d=Decimal(310),
    ),
    ChannelFiguresDTO(
        platform="tiktok",
        orders_today=1,
        orders_7d=2,
        revenue_today=Decimal(300),
        revenue_7d=Decimal(300),  # not the returned 400
    ),
]
EXPECTED_BY_DAY = [
    DayCountDTO(day=date(2026, 3, 2), platform="shopee", orders=1),
    DayCountDTO(day=date(2026, 3, 3), platform="tiktok", orders=1),
    DayCountDTO(day=date(2026, 3, 4), platform="tiktok", orders=1),
    DayCountDTO(day=date(2026, 3, 9), platform="shopee", orders=2),
    DayCountDTO(day=date(2026, 3, 10), platform="shopee", orders=2),
    DayCountDTO(day=date(2026, 3, 10), platform="tiktok", orders=1),
]


def test_dashboard_counts_each_figure_over_its_own_window(engine: Engine) -> None:
    mine = build_mine(engine)

    summary = mine.summary()

    assert summary.currency == "IDR"
    assert summary.channels == EXPECTED_CHANNELS
    assert (summary.orders_today, summary.orders_7d) == (3, 6)
    assert (summary.revenue_today, summary.revenue_7d) == (Decimal(400), Decimal(610))
    assert summary.low_stock == 2  # SKU-B and SKU-C, at their reorder points; not A or D
    assert summary.oversells_7d == 2  # not the one 7 days and a minute old, nor other kinds
    assert summary.stores == [
        StoreHealthLineDTO(
            name="Arsip Shopee", platform="shopee", status="disconnected", sync_status="error"
        ),
        StoreHealthLineDTO(
            name="Toko Shopee", platform="shopee", status="connected", sync_status="idle"
        ),
        StoreHealthLineDTO(
            name="Toko TikTok", platform="tiktok", status="reauth_required", sync_status="error"
        ),
    ]
    # Cancelled and returned orders are orders received that day; the 40-day-old one is gone.
    assert summary.orders_by_day == EXPECTED_BY_DAY
    # Quantities sold in 30 days, cancelled/returned lines left out (A would be 52, C 11), the
    # 40-day-old SKU-E x100 left out, ties by SKU, five at most (SKU-G is sixth).
    assert summary.top_products == [
        TopProductDTO(title="Sandal 42", sku="SKU-B", quantity=5),
        TopProductDTO(title="Kaos hitam", sku="SKU-A", quantity=2),
        TopProductDTO(title="Celana", sku="SKU-D", quantity=2),
        TopProductDTO(title="Topi", sku="SKU-C", quantity=1),
        TopProductDTO(title="Kaus kaki", sku="SKU-F", quantity=1),
    ]


def test_another_organizations_orders_stores_stock_and_notifications_never_count(
    engine: Engine,
) -> None:
    mine = build_mine(engine)
    alone = mine.summary()
    theirs = build_theirs(engine)  # written through its own context (RLS on PostgreSQL)

    summary = mine.summary()

    assert summary == alone
    assert summary.channels == EXPECTED_CHANNELS
    assert (summary.low_stock, summary.oversells_7d) == (2, 2)
    assert [s.name for s in summary.stores] == ["Arsip Shopee", "Toko Shopee", "Toko TikTok"]
    assert summary.orders_by_day == EXPECTED_BY_DAY
    assert [(p.sku, p.quantity) for p in summary.top_products][:2] == [("SKU-B", 5), ("SKU-A", 2)]
    # And the other organization sees its own figures only.
    other = theirs.summary()
    assert other.channels == [
        ChannelFiguresDTO(
            platform="shopee",
            orders_today=1,
            orders_7d=2,
            revenue_today=Decimal(777_000),
            revenue_7d=Decimal(777_001),
        )
    ]
    assert (other.low_stock, other.oversells_7d) == (1, 1)
    assert other.stores == [
        StoreHealthLineDTO(name="Toko Lain", platform="shopee", status="error", sync_status="error")
    ]
    assert other.orders_by_day == [
        DayCountDTO(day=date(2026, 3, 8), platform="shopee", orders=1),
        DayCountDTO(day=date(2026, 3, 10), platform="shopee", orders=1),
    ]
    assert other.top_products == [
        TopProductDTO(title="Kaos hitam", sku="SKU-A", quantity=99),
        TopProductDTO(title="Sabuk", sku="SKU-G", quantity=40),
    ]


def test_an_empty_organization_has_zero_figures_not_errors(engine: Engine) -> None:
    empty = build_org(engine, {})

    summary = empty.summary()

    assert summary == DashboardDTO(
        currency="IDR",
        timezone="UTC",
        channels=[],
        orders_today=0,
        revenue_today=Decimal(0),
        orders_7d=0,
        revenue_7d=Decimal(0),
        low_stock=0,
        oversells_7d=0,
        stores=[],
        orders_by_day=[],
        top_products=[],
    )


@pytest.mark.postgres
def test_the_days_do_not_follow_the_database_session_time_zone(app_engine: Engine) -> None:
    # A server initialised in Indonesia has TimeZone = 'Asia/Jakarta' (UTC+7): there the orders
    # at 20:00 and 23:59:59 UTC on the 9th would fall on the 10th, and the 3rd's on the 4th;
    # this organization's days are UTC days.
    mine = build_mine(app_engine)

    with session_scope(mine.ctx, engine=app_engine) as session:
        session.execute(sa.text("SET LOCAL TIME ZONE 'Asia/Jakarta'"))
        summary = dashboard_summary(session, ctx=mine.ctx, now=NOW)

    assert summary.orders_by_day == EXPECTED_BY_DAY
    assert summary.channels == EXPECTED_CHANNELS


def test_days_start_at_midnight_in_the_organizations_time_zone(engine: Engine) -> None:
    """Jakarta is UTC+7: at NOW (22:00 there) its today began at 17:00 UTC on the 9th, its
    7 days at 17:00 UTC on the 3rd, and the chart counts orders on Jakarta's dates."""
    jakarta = build_org(
        engine, {"shopee": ("shopee", "Toko Shopee", "connected")}, zone="Asia/Jakarta"
    )
    local_midnight = datetime(2026, 3, 9, 17, 0, tzinfo=UTC)  # the 10th begins in Jakarta
    second = timedelta(seconds=1)
    jakarta.order("shopee", local_midnight, "to_ship", 100, SKU_A=1)  # today
    jakarta.order("shopee", local_midnight + timedelta(hours=3), "to_ship", 20, SKU_A=1)  # today
    jakarta.order("shopee", local_midnight - second, "to_ship", 3, SKU_A=1)  # the 9th there
    week_start = local_midnight - timedelta(days=6)  # the 4th begins in Jakarta
    jakarta.order("shopee", week_start, "to_ship", 4000, SKU_A=1)  # the first of the 7 days
    jakarta.order("shopee", week_start - second, "to_ship", 50000, SKU_A=1)  # the 3rd there

    summary = jakarta.summary()

    assert summary.timezone == "Asia/Jakarta"
    assert summary.channels == [
        ChannelFiguresDTO(
            platform="shopee",
            orders_today=2,  # not the one a second before Jakarta's midnight (UTC's 9th too)
            orders_7d=4,
            revenue_today=Decimal(120),
            revenue_7d=Decimal(4123),
        )
    ]
    assert summary.orders_by_day == [
        DayCountDTO(day=date(2026, 3, 3), platform="shopee", orders=1),
        DayCountDTO(day=date(2026, 3, 4), platform="shopee", orders=1),
        DayCountDTO(day=date(2026, 3, 9), platform="shopee", orders=1),
        DayCountDTO(day=date(2026, 3, 10), platform="shopee", orders=2),
    ]
    # Two hours later it is the 11th in Jakarta (still the 10th in UTC): a new, empty today.
    later = jakarta.summary(now=NOW + timedelta(hours=2))
    assert (later.orders_today, later.revenue_today, later.orders_7d) == (0, Decimal(0), 3)
