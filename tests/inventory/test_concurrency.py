"""Reservations under real concurrency on PostgreSQL: separate connections, released together."""

from __future__ import annotations

import threading
import uuid

import pytest

from storesync.db import make_engine, session_scope
from storesync.inventory import service as inventory
from storesync.inventory.errors import InsufficientStock
from tests.conftest import PgDatabase
from tests.inventory.conftest import build_world

pytestmark = pytest.mark.postgres

CLIENTS = 50
STOCK = 20


def _race(pg: PgDatabase, work) -> list[object]:  # type: ignore[no-untyped-def]
    """Run `work(engine, index)` on CLIENTS threads that start at the same instant."""
    engine = make_engine(pg.app_url, pool_size=CLIENTS // 2 + 1)
    barrier = threading.Barrier(CLIENTS)
    outcomes: list[object] = [None] * CLIENTS

    def run(index: int) -> None:
        with engine.connect():  # open the connection before the start line
            barrier.wait()
            try:
                outcomes[index] = work(engine, index)
            except Exception as error:
                outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        engine.dispose()
    return outcomes


def test_fifty_clients_reserving_one_each_against_twenty(pg: PgDatabase) -> None:
    setup = make_engine(pg.app_url)
    w = build_world(setup, on_hand=STOCK)
    _, lines = w.order(lines=CLIENTS)

    def reserve(engine, index: int) -> object:  # type: ignore[no-untyped-def]
        with session_scope(w.ctx, engine=engine) as session:
            return inventory.reserve_stock(
                session,
                ctx=w.ctx,
                order_item_id=lines[index],
                variant_id=w.variant_id,
                location_id=w.location_id,
                quantity=1,
            )

    outcomes = _race(pg, reserve)

    refused = [o for o in outcomes if isinstance(o, InsufficientStock)]
    reserved = [o for o in outcomes if not isinstance(o, Exception)]
    assert (len(reserved), len(refused)) == (STOCK, CLIENTS - STOCK), [
        o for o in outcomes if isinstance(o, Exception) and not isinstance(o, InsufficientStock)
    ]
    assert {(e.requested, e.available) for e in refused} == {(1, 0)}
    assert w.level() == (STOCK, STOCK)
    assert w.ledger_ok()
    setup.dispose()


def test_the_same_line_reserved_fifty_times_at_once_reserves_once(pg: PgDatabase) -> None:
    setup = make_engine(pg.app_url)
    w = build_world(setup, on_hand=STOCK)
    _, (line,) = w.order(quantity=3)

    def reserve(engine, _index: int) -> uuid.UUID:  # type: ignore[no-untyped-def]
        with session_scope(w.ctx, engine=engine) as session:
            return inventory.reserve_stock(
                session,
                ctx=w.ctx,
                order_item_id=line,
                variant_id=w.variant_id,
                location_id=w.location_id,
                quantity=3,
            ).id

    outcomes = _race(pg, reserve)

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert len(set(outcomes)) == 1
    assert w.level() == (STOCK, 3)
    assert w.ledger_ok()
    setup.dispose()


def test_concurrent_cancel_and_ship_of_one_order_settle_it_once(pg: PgDatabase) -> None:
    setup = make_engine(pg.app_url)
    w = build_world(setup, on_hand=STOCK)
    order_id, lines = w.order(lines=4, quantity=2)
    with session_scope(w.ctx, engine=setup) as session:
        for line in lines:
            inventory.reserve_stock(
                session,
                ctx=w.ctx,
                order_item_id=line,
                variant_id=w.variant_id,
                location_id=w.location_id,
                quantity=2,
            )

    def settle(engine, index: int) -> int:  # type: ignore[no-untyped-def]
        action = inventory.release_order if index % 2 else inventory.fulfil_order
        with session_scope(w.ctx, engine=engine) as session:
            return len(action(session, ctx=w.ctx, order_id=order_id))

    outcomes = _race(pg, settle)

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert sum(outcomes) == 4  # type: ignore[arg-type]
    on_hand, reserved = w.level()
    assert reserved == 0 and on_hand in range(STOCK - 8, STOCK + 1) and (STOCK - on_hand) % 2 == 0
    assert w.ledger_ok()
    setup.dispose()
