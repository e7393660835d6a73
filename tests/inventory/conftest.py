"""A small world for stock tests: an organization, a variant at the default location, and order
lines to reserve for. Built with plain rows so these tests depend on inventory alone."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import Store
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.orders.models import Order, OrderItem
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.factories import token


@dataclass(frozen=True)
class World:
    engine: Engine
    ctx: RequestContext
    variant_id: uuid.UUID
    location_id: uuid.UUID
    store_id: uuid.UUID

    def as_role(self, role: Role) -> RequestContext:
        return RequestContext(self.ctx.user_id, self.ctx.organization_id, role)

    def order(self, lines: int = 1, quantity: int = 1) -> tuple[uuid.UUID, list[uuid.UUID]]:
        """An order with `lines` lines of this variant; returns (order id, order item ids)."""
        org = self.ctx.organization_id
        with session_scope(self.ctx, engine=self.engine) as session:
            order = Order(
                organization_id=org,
                store_id=self.store_id,
                platform="shopee",
                platform_order_id=token(),
                ordered_at=datetime.now(UTC),
            )
            session.add(order)
            session.flush()
            item_rows = [
                OrderItem(
                    organization_id=org,
                    order_id=order.id,
                    variant_id=self.variant_id,
                    quantity=quantity,
                    is_mapped=True,
                )
                for _ in range(lines)
            ]
            session.add_all(item_rows)
            session.flush()
            return order.id, [row.id for row in item_rows]

    def level(self) -> tuple[int, int]:
        with session_scope(self.ctx, engine=self.engine) as session:
            (level,) = inventory.stock_levels(session, ctx=self.ctx, variant_ids=[self.variant_id])
        return level.on_hand, level.reserved

    def ledger_ok(self) -> bool:
        with session_scope(self.ctx, engine=self.engine) as session:
            return inventory.check_ledger(session, organization_id=self.ctx.organization_id) == []


def build_world(engine: Engine, on_hand: int = 0) -> World:
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(
            session, email=f"stock-{token()}@example.com", password="correct horse"
        )
        org = tenancy.create_organization(session, name="Gudang", owner_user_id=user.id)
    ctx = RequestContext(user.id, org.id, Role.OWNER)
    with session_scope(ctx, engine=engine) as session:
        product = Product(organization_id=org.id, handle=f"h-{token()}", title="Sandal")
        store = Store(
            organization_id=org.id, platform="shopee", platform_store_id=token(), name="Shop"
        )
        session.add_all([product, store])
        session.flush()
        variant = ProductVariant(
            organization_id=org.id, product_id=product.id, variant_sku=f"SKU-{token()}"
        )
        session.add(variant)
        session.flush()
        location = inventory.default_location(session, ctx=ctx)
        if on_hand:
            inventory.set_on_hand(
                session,
                ctx=ctx,
                variant_id=variant.id,
                location_id=location.id,
                quantity=on_hand,
                reason="opening count",
            )
    return World(engine, ctx, variant.id, location.id, store.id)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def world(engine: Engine) -> Callable[..., World]:
    return lambda on_hand=0: build_world(engine, on_hand)
