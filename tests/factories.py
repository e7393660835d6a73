"""Random-data factories that go through the services (and so through RLS)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing, Store
from storesync.db import session_scope
from storesync.orders.models import Order
from storesync.tenancy import service as tenancy
from storesync.tenancy.auth import sessions
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role


def token() -> str:
    return uuid.uuid4().hex[:10]


@dataclass(frozen=True)
class Tenant:
    ctx: RequestContext
    product_id: uuid.UUID
    store_id: uuid.UUID
    order_id: uuid.UUID
    listing_id: uuid.UUID


def make_tenant(engine: Engine, *, name: str | None = None) -> Tenant:
    """An organization with an owner, one product/variant, a store, a listing and an order."""
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(
            session, email=f"owner-{token()}@example.com", password="correct horse"
        )
        org = tenancy.create_organization(
            session, name=name or f"Org {token()}", owner_user_id=user.id
        )
    ctx = RequestContext(user_id=user.id, organization_id=org.id, role=Role.OWNER)
    with session_scope(ctx, engine=engine) as session:
        product = Product(organization_id=org.id, handle=f"kaos-{token()}", title="Kaos")
        variant = ProductVariant(
            organization_id=org.id,
            product_id=product.id,
            variant_sku=f"SKU-{token()}",
            price=Decimal("59000"),
        )
        store = Store(
            organization_id=org.id, platform="shopee", platform_store_id=token(), name="Shop"
        )
        listing = ChannelListing(
            organization_id=org.id,
            store_id=store.id,
            platform_item_id=token(),
            variant_id=variant.id,
            match_status="matched",
        )
        order = Order(
            organization_id=org.id,
            store_id=store.id,
            platform="shopee",
            platform_order_id=token(),
            ordered_at=datetime.now(UTC),
        )
        session.add(product)
        session.add(store)
        session.flush()
        session.add(variant)
        session.flush()
        session.add(listing)
        session.add(order)
    return Tenant(ctx, product.id, store.id, order.id, listing.id)


def browser_session(
    engine: Engine,
    *,
    user_id: uuid.UUID,
    organization_id: uuid.UUID,
    ttl: timedelta = timedelta(hours=1),
) -> str:
    """The cookie value of a signed-in browser (a session started and activated as sign-in
    does); a negative `ttl` makes one already expired."""
    with session_scope(engine=engine) as session:
        ticket = sessions.start_session(session, user_id=user_id, organization_id=organization_id)
    with session_scope(engine=engine) as session:
        cookie = sessions.activate(session, ticket=ticket, ttl=ttl)
    assert cookie is not None
    return cookie
