"""The database itself keeps 0 <= reserved <= on_hand and computes available, on both backends."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from storesync.catalog.models import ProductVariant
from storesync.db import make_engine, session_scope
from storesync.inventory.models import InventoryItem, Location
from tests.conftest import PgDatabase
from tests.factories import Tenant, make_tenant


def _item(engine: Engine, tenant: Tenant) -> uuid.UUID:
    with session_scope(tenant.ctx, engine=engine) as session:
        org = tenant.ctx.organization_id
        variant_id = session.execute(
            sa.select(ProductVariant.id).where(ProductVariant.product_id == tenant.product_id)  # type: ignore[arg-type]
        ).scalar_one()
        location_id = session.execute(
            sa.select(Location.id).where(Location.organization_id == org)  # type: ignore[arg-type]
        ).scalar_one()
        item = InventoryItem(
            organization_id=org, variant_id=variant_id, location_id=location_id, on_hand=10
        )
        session.add(item)
        session.flush()
        return item.id


def _check(engine: Engine) -> None:
    tenant = make_tenant(engine)
    item_id = _item(engine, tenant)

    table = InventoryItem.__table__
    where = table.c.id == item_id  # type: ignore[attr-defined]
    with session_scope(tenant.ctx, engine=engine) as session:
        session.execute(sa.update(table).where(where).values(reserved=4))
        available = session.execute(sa.select(table.c.available).where(where)).scalar_one()  # type: ignore[attr-defined]
    assert available == 6

    for bad in ({"reserved": 11}, {"reserved": -1}, {"on_hand": 3}):
        with pytest.raises(IntegrityError):
            with session_scope(tenant.ctx, engine=engine) as session:
                session.execute(sa.update(table).where(where).values(**bad))

    with session_scope(tenant.ctx, engine=engine) as session:
        c = table.c  # type: ignore[attr-defined]
        row = session.execute(sa.select(c.on_hand, c.reserved, c.available).where(where)).one()
    assert tuple(row) == (10, 4, 6)


def test_stock_constraints_on_sqlite(sqlite_engine: Engine) -> None:
    _check(sqlite_engine)


@pytest.mark.postgres
def test_stock_constraints_on_postgres(app_engine: Engine) -> None:
    _check(app_engine)


@pytest.mark.postgres
def test_variant_sku_is_unique_per_organization_only(pg: PgDatabase) -> None:
    engine = make_engine(pg.app_url)
    a, b = make_tenant(engine), make_tenant(engine)
    try:
        with session_scope(a.ctx, engine=engine) as session:
            sku = session.execute(sa.text("SELECT variant_sku FROM product_variant")).scalar_one()
        with session_scope(b.ctx, engine=engine) as session:
            session.add(
                ProductVariant(
                    organization_id=b.ctx.organization_id, product_id=b.product_id, variant_sku=sku
                )
            )
        with pytest.raises(IntegrityError), session_scope(a.ctx, engine=engine) as session:
            session.add(
                ProductVariant(
                    organization_id=a.ctx.organization_id,
                    product_id=a.product_id,
                    variant_sku=sku,
                )
            )
    finally:
        engine.dispose()
