"""Setting a store's allocation runs at the same time as itself: two first settings of a store
(no allocation row yet) both land, the later one winning, on PostgreSQL's real row locks."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.channels.models import Store
from storesync.db import session_scope
from storesync.inventory.models import ChannelAllocation
from storesync.stores import allocation
from storesync.tenancy.context import RequestContext
from tests.channels.conftest import make_org

pytestmark = pytest.mark.postgres
ALLOCATIONS = ChannelAllocation.__table__  # type: ignore[attr-defined]


def _store_without_allocation(engine: Engine, ctx: RequestContext) -> uuid.UUID:
    with session_scope(ctx, engine=engine) as session:
        store = Store(
            organization_id=ctx.organization_id,
            platform="tiktok",
            platform_store_id=uuid.uuid4().hex[:16],
            name="Toko TikTok",
            status="connected",
        )
        session.add(store)
        session.flush()
        session.execute(sa.delete(ALLOCATIONS).where(ALLOCATIONS.c.store_id == store.id))
        return store.id


def test_two_first_settings_at_once_both_land_and_the_later_wins(app_engine: Engine) -> None:
    ctx = make_org(app_engine)
    store_id = _store_without_allocation(app_engine, ctx)
    second: list[object] = []

    def set_in_another_transaction() -> None:
        try:
            with session_scope(ctx, engine=app_engine) as session:
                second.append(
                    allocation.set_allocation(
                        session, ctx=ctx, store_id=store_id, share_percent="40", buffer="3"
                    )
                )
        except Exception as error:
            second.append(error)

    with session_scope(ctx, engine=app_engine) as session:
        allocation.set_allocation(session, ctx=ctx, store_id=store_id, share_percent="70", buffer=1)
        other = threading.Thread(target=set_in_another_transaction)
        other.start()
        other.join(timeout=0.5)
        assert other.is_alive()  # it waits on this transaction's new row
    other.join(timeout=10)

    assert [type(s).__name__ for s in second] == ["AllocationDTO"], second
    with session_scope(ctx, engine=app_engine) as session:
        rows = session.execute(
            sa.select(ALLOCATIONS.c.share_percent, ALLOCATIONS.c.buffer).where(
                ALLOCATIONS.c.store_id == store_id
            )
        ).all()
        read = allocation.get_allocation(session, ctx=ctx, store_id=store_id)
    assert [(Decimal(s), b) for s, b in rows] == [(Decimal(40), 3)]
    assert (read.share_percent, read.buffer) == (Decimal(40), 3)
