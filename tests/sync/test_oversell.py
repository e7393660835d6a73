"""40 orders for one SKU with 25 in stock, arriving at once on both platforms (PostgreSQL,
separate connections): exactly 25 reserved, 15 recorded as oversells with notifications, no
channel ever offered a negative quantity, and the ledger adds up."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from storesync.catalog.models import ProductVariant
from storesync.channels.models import ChannelListing, Store
from storesync.db import make_engine, session_scope
from storesync.inventory import service as inventory
from storesync.orders import service as orders
from storesync.orders.schemas import NewOrder, NewOrderItem
from storesync.sync.push import outbox
from tests.conftest import PgDatabase
from tests.factories import token
from tests.inventory.conftest import build_world

pytestmark = pytest.mark.postgres
ORDERS, STOCK = 40, 25


def test_forty_simultaneous_orders_against_twenty_five_in_stock(pg: PgDatabase) -> None:
    setup = make_engine(pg.app_url)
    w = build_world(setup, on_hand=0)
    org = w.ctx.organization_id
    with session_scope(w.ctx, engine=setup) as session:
        tiktok = Store(organization_id=org, platform="tiktok", platform_store_id=token(), name="T")
        session.add(tiktok)
        session.flush()
        session.execute(sa.update(Store.__table__).values(status="connected"))  # type: ignore[attr-defined]
        stores = {"shopee": w.store_id, "tiktok": tiktok.id}
        for platform, store_id in stores.items():
            session.add(
                ChannelListing(
                    organization_id=org,
                    store_id=store_id,
                    variant_id=w.variant_id,
                    platform_item_id=f"{platform}-1",
                    platform_sku="SKU",
                    match_status="matched",
                )
            )
        sku = session.execute(sa.select(ProductVariant.variant_sku)).scalar_one()  # type: ignore[call-overload]
    with session_scope(w.ctx, engine=setup) as session:
        inventory.set_on_hand(
            session,
            ctx=w.ctx,
            variant_id=w.variant_id,
            location_id=w.location_id,
            quantity=STOCK,
            reason="opening count",
        )

    engine = make_engine(pg.app_url, pool_size=ORDERS // 2 + 1)
    barrier = threading.Barrier(ORDERS)
    errors: list[BaseException] = []

    def place(index: int) -> None:
        platform = "shopee" if index % 2 else "tiktok"
        order = NewOrder(
            store_id=stores[platform],
            platform_order_id=f"{platform}-{index}",
            ordered_at=datetime.now(UTC),
            items=[NewOrderItem(platform_item_id=f"{platform}-1", sku=sku, quantity=1)],
        )
        with engine.connect():
            barrier.wait()
            try:
                with session_scope(w.ctx, engine=engine) as session:
                    orders.create_order(session, ctx=w.ctx, order=order)
            except BaseException as error:
                errors.append(error)

    threads = [threading.Thread(target=place, args=(i,)) for i in range(ORDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    engine.dispose()

    assert errors == []
    with session_scope(w.ctx, engine=setup) as session:
        placed = session.execute(sa.text("SELECT count(*) FROM sales_order")).scalar_one()
        active = session.execute(
            sa.text(
                "SELECT count(*), coalesce(sum(quantity), 0) FROM reservation "
                "WHERE status = 'active'"
            )
        ).one()
        oversells = session.execute(
            sa.text("SELECT count(*) FROM notification WHERE kind = 'order.oversold'")
        ).scalar_one()
        quantities = session.execute(sa.select(outbox.OUTBOX.c.quantity)).scalars().all()
        mismatches = inventory.check_ledger(session, organization_id=org)
    assert placed == ORDERS
    assert tuple(active) == (STOCK, STOCK)
    assert oversells == ORDERS - STOCK
    assert w.level() == (STOCK, STOCK)
    assert quantities and min(quantities) >= 0 and sorted(quantities) == [0, 0]
    assert mismatches == []
    setup.dispose()
