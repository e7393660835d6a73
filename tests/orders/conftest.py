"""A small shop for order tests: an organization with a Shopee and a TikTok store, three variants
with stock at the default location, and listings (matched, SKU-only, ignored, unmatched)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing, Store
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.inventory.models import InventoryItem, Reservation
from storesync.notifications.models import Notification
from storesync.orders import service as orders
from storesync.orders.models import Order, OrderEvent, OrderItem
from storesync.orders.schemas import NewOrder, NewOrderItem, OrderDTO
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.factories import token

BASE_TIME = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Shop:
    engine: Engine
    ctx: RequestContext
    store_id: uuid.UUID
    tiktok_store_id: uuid.UUID
    location_id: uuid.UUID
    # Variant A sells through a matched listing (item A-ITEM, model A-MODEL).
    variant_a: uuid.UUID
    sku_a: str
    # Variant B has no listing: lines link to it by exact SKU.
    variant_b: uuid.UUID
    sku_b: str
    # Variant C's SKU is on a listing the merchant ignored: lines stay unmapped.
    variant_c: uuid.UUID
    sku_c: str

    def as_role(self, role: Role) -> RequestContext:
        return RequestContext(self.ctx.user_id, self.ctx.organization_id, role)

    def line_a(self, quantity: int = 1) -> NewOrderItem:
        return NewOrderItem(
            platform_item_id="A-ITEM",
            platform_model_id="A-MODEL",
            sku="seller-typed-sku",
            title="Kaos hitam M",
            quantity=quantity,
            unit_price=Decimal("59000"),
        )

    def line_b(self, quantity: int = 1) -> NewOrderItem:
        return NewOrderItem(
            platform_item_id="B-ITEM", sku=self.sku_b, title="Sandal 42", quantity=quantity
        )

    def line_c(self, quantity: int = 1) -> NewOrderItem:
        return NewOrderItem(
            platform_item_id="C-ITEM", sku=self.sku_c, title="Topi", quantity=quantity
        )

    def line_unmapped(self, quantity: int = 1) -> NewOrderItem:
        return NewOrderItem(
            platform_item_id="X-ITEM", sku="NO-SUCH-SKU", title="Mystery", quantity=quantity
        )

    def new_order(
        self,
        *items: NewOrderItem,
        status: str = "to_ship",
        platform_order_id: str | None = None,
        store_id: uuid.UUID | None = None,
        ordered_at: datetime | None = None,
        customer_name: str = "Budi Santoso",
        order_number: str = "",
    ) -> NewOrder:
        return NewOrder(
            store_id=store_id or self.store_id,
            platform_order_id=platform_order_id or f"PO{token()}",
            order_number=order_number,
            status=status,  # type: ignore[arg-type]
            customer_name=customer_name,
            currency="IDR",
            subtotal=Decimal("59000"),
            total=Decimal("69000"),
            shipping_fee=Decimal("10000"),
            ordered_at=ordered_at or BASE_TIME,
            items=list(items) or [self.line_a()],
        )

    def create(self, order: NewOrder) -> OrderDTO:
        with session_scope(self.ctx, engine=self.engine) as session:
            return orders.create_order(session, ctx=self.ctx, order=order)

    def change(self, order_id: uuid.UUID, to_status: str, reason: str = "") -> OrderDTO:
        with session_scope(self.ctx, engine=self.engine) as session:
            return orders.change_status(
                session, ctx=self.ctx, order_id=order_id, to_status=to_status, reason=reason
            )

    def stock(self, variant_id: uuid.UUID) -> tuple[int, int]:
        """(on_hand, reserved) of a variant at the default location."""
        t = InventoryItem.__table__.c  # type: ignore[attr-defined]
        with session_scope(self.ctx, engine=self.engine) as session:
            row = session.execute(
                sa.select(t.on_hand, t.reserved).where(
                    t.variant_id == variant_id, t.location_id == self.location_id
                )
            ).one()
        return int(row.on_hand), int(row.reserved)

    def all_stock(self) -> dict[uuid.UUID, tuple[int, int]]:
        return {v: self.stock(v) for v in (self.variant_a, self.variant_b, self.variant_c)}

    def count(self, model: type, **where: object) -> int:
        table = model.__table__  # type: ignore[attr-defined]
        query = sa.select(sa.func.count()).select_from(table)
        query = query.where(table.c.organization_id == self.ctx.organization_id)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        with session_scope(self.ctx, engine=self.engine) as session:
            return int(session.execute(query).scalar_one())

    def snapshot(self) -> dict[str, object]:
        """Everything an order operation could write, to assert that nothing was."""
        with session_scope(self.ctx, engine=self.engine) as session:
            statuses = session.execute(
                sa.select(Order.id, Order.status, Order.updated_at).order_by(Order.id)  # type: ignore[arg-type]
            ).all()
            reservations = session.execute(
                sa.select(Reservation.id, Reservation.status).order_by(Reservation.id)  # type: ignore[arg-type]
            ).all()
        return {
            "orders": [tuple(r) for r in statuses],
            "items": self.count(OrderItem),
            "events": self.count(OrderEvent),
            "reservations": [tuple(r) for r in reservations],
            "notifications": self.count(Notification),
            "stock": self.all_stock(),
        }


def build_shop(engine: Engine, *, on_hand: tuple[int, int, int] = (10, 5, 7)) -> Shop:
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(
            session, email=f"orders-{token()}@example.com", password="correct horse"
        )
        org = tenancy.create_organization(session, name="Toko Budi", owner_user_id=user.id)
    ctx = RequestContext(user.id, org.id, Role.OWNER)
    skus = [f"SKU-A-{token()}", f"SKU-B-{token()}", f"SKU-C-{token()}"]
    with session_scope(ctx, engine=engine) as session:
        product = Product(organization_id=org.id, handle=f"kaos-{token()}", title="Kaos")
        store = Store(
            organization_id=org.id, platform="shopee", platform_store_id=token(), name="Shopee"
        )
        tiktok = Store(
            organization_id=org.id, platform="tiktok", platform_store_id=token(), name="TikTok"
        )
        session.add_all([product, store, tiktok])
        session.flush()
        variants = [
            ProductVariant(organization_id=org.id, product_id=product.id, variant_sku=sku)
            for sku in skus
        ]
        session.add_all(variants)
        session.flush()
        session.add_all(
            [
                ChannelListing(
                    organization_id=org.id,
                    store_id=store.id,
                    platform_item_id="A-ITEM",
                    platform_model_id="A-MODEL",
                    variant_id=variants[0].id,
                    match_status="matched",
                ),
                ChannelListing(
                    organization_id=org.id,
                    store_id=store.id,
                    platform_item_id="C-ITEM",
                    platform_sku=skus[2],
                    match_status="ignored",
                ),
                ChannelListing(
                    organization_id=org.id,
                    store_id=store.id,
                    platform_item_id="X-ITEM",
                    match_status="unmatched",
                ),
            ]
        )
        location = inventory.default_location(session, ctx=ctx)
        for variant, quantity in zip(variants, on_hand, strict=True):
            inventory.set_on_hand(
                session,
                ctx=ctx,
                variant_id=variant.id,
                location_id=location.id,
                quantity=quantity,
                reason="opening count",
            )
    return Shop(
        engine=engine,
        ctx=ctx,
        store_id=store.id,
        tiktok_store_id=tiktok.id,
        location_id=location.id,
        variant_a=variants[0].id,
        sku_a=skus[0],
        variant_b=variants[1].id,
        sku_b=skus[1],
        variant_c=variants[2].id,
        sku_c=skus[2],
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def shop(engine: Engine) -> Shop:
    return build_shop(engine)


@pytest.fixture
def sqlite_shop(sqlite_engine: Engine) -> Shop:
    return build_shop(sqlite_engine)


MakeShop = Callable[..., Shop]


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)
