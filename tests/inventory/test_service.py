"""Inventory service: counts, adjustments, reservations and the ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from storesync.core.errors import AppError, ErrorType, NotFound, PermissionDenied
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.inventory.errors import InsufficientStock
from storesync.inventory.schemas import StockAdjustment
from storesync.tenancy.permissions import Role
from tests.inventory.conftest import World

MakeWorld = Callable[..., World]


def test_set_on_hand_writes_one_ledger_row_and_repeating_it_is_a_no_op(world: MakeWorld) -> None:
    w = world()
    for _ in range(2):
        with session_scope(w.ctx, engine=w.engine) as session:
            level = inventory.set_on_hand(
                session,
                ctx=w.ctx,
                variant_id=w.variant_id,
                location_id=w.location_id,
                quantity=12,
                reason="count",
            )

    with session_scope(w.ctx, engine=w.engine) as session:
        history = inventory.stock_history(
            session, ctx=w.ctx, inventory_item_id=level.inventory_item_id
        )
    assert (level.on_hand, level.reserved, level.available) == (12, 0, 12)
    assert [(e.kind, e.on_hand_delta, e.on_hand_after, e.reason) for e in history.items] == [
        ("count", 12, 12, "count")
    ]
    assert history.items[0].actor_user_id == w.ctx.user_id
    assert w.ledger_ok()


def test_adjust_by_delta_requires_a_reason_and_never_goes_below_reserved(world: MakeWorld) -> None:
    w = world(on_hand=10)
    _, (line,) = w.order(quantity=4)
    with session_scope(w.ctx, engine=w.engine) as session:
        inventory.reserve_stock(
            session,
            ctx=w.ctx,
            order_item_id=line,
            variant_id=w.variant_id,
            location_id=w.location_id,
            quantity=4,
        )
        level = inventory.adjust_stock(
            session,
            ctx=w.ctx,
            variant_id=w.variant_id,
            location_id=w.location_id,
            delta=-5,
            reason="damaged",
        )
    assert (level.on_hand, level.reserved, level.available) == (5, 4, 1)

    with pytest.raises(AppError) as raised:
        with session_scope(w.ctx, engine=w.engine) as session:
            inventory.adjust_stock(
                session,
                ctx=w.ctx,
                variant_id=w.variant_id,
                location_id=w.location_id,
                delta=-2,
                reason="lost",
            )
    assert raised.value.code == "below_reserved"
    with pytest.raises(AppError, match="reason: is required"):
        with session_scope(w.ctx, engine=w.engine) as session:
            inventory.adjust_stock(
                session,
                ctx=w.ctx,
                variant_id=w.variant_id,
                location_id=w.location_id,
                delta=1,
                reason="  ",
            )
    assert w.level() == (5, 4)
    assert w.ledger_ok()


def test_reserving_more_than_available_raises_and_changes_nothing(world: MakeWorld) -> None:
    w = world(on_hand=3)
    _, (line,) = w.order(quantity=5)

    with pytest.raises(InsufficientStock) as raised:
        with session_scope(w.ctx, engine=w.engine) as session:
            inventory.reserve_stock(
                session,
                ctx=w.ctx,
                order_item_id=line,
                variant_id=w.variant_id,
                location_id=w.location_id,
                quantity=5,
            )

    assert (raised.value.requested, raised.value.available) == (5, 3)
    assert raised.value.details == {"variant_id": str(w.variant_id), "requested": 5, "available": 3}
    assert w.level() == (3, 0)
    with session_scope(w.ctx, engine=w.engine) as session:
        assert inventory.fulfil_order(session, ctx=w.ctx, order_id=uuid.uuid4()) == []
    assert w.ledger_ok()


def test_reserve_release_fulfil_are_idempotent_per_order_line(world: MakeWorld) -> None:
    w = world(on_hand=10)
    cancelled, cancelled_lines = w.order(lines=2, quantity=2)
    shipped, (shipped_line,) = w.order(quantity=3)

    with session_scope(w.ctx, engine=w.engine) as session:
        for line in [*cancelled_lines, shipped_line, shipped_line]:
            inventory.reserve_stock(
                session,
                ctx=w.ctx,
                order_item_id=line,
                variant_id=w.variant_id,
                location_id=w.location_id,
                quantity=3 if line == shipped_line else 2,
            )
    assert w.level() == (10, 7)

    with session_scope(w.ctx, engine=w.engine) as session:
        released = inventory.release_order(session, ctx=w.ctx, order_id=cancelled)
        again = inventory.release_order(session, ctx=w.ctx, order_id=cancelled)
        fulfilled = inventory.fulfil_order(session, ctx=w.ctx, order_id=shipped)
        fulfilled_again = inventory.fulfil_order(session, ctx=w.ctx, order_id=shipped)
        released_after_ship = inventory.release_order(session, ctx=w.ctx, order_id=shipped)

    assert [r.status for r in released] == ["released", "released"] and again == []
    assert [(r.status, r.quantity) for r in fulfilled] == [("fulfilled", 3)]
    assert fulfilled_again == [] and released_after_ship == []
    assert w.level() == (7, 0)
    assert w.ledger_ok()


def test_batch_adjustment_is_all_or_nothing(world: MakeWorld) -> None:
    w = world(on_hand=5)
    good = StockAdjustment(
        variant_id=w.variant_id, location_id=w.location_id, delta=3, reason="found"
    )
    bad = StockAdjustment(
        variant_id=w.variant_id, location_id=w.location_id, delta=-100, reason="oops"
    )

    with pytest.raises(AppError) as raised:
        with session_scope(w.ctx, engine=w.engine) as session:
            inventory.adjust_stock_batch(session, ctx=w.ctx, adjustments=[good, bad])
    assert raised.value.code == "below_reserved" and raised.value.details["line"] == 2
    assert w.level() == (5, 0)

    with session_scope(w.ctx, engine=w.engine) as session:
        levels = inventory.adjust_stock_batch(session, ctx=w.ctx, adjustments=[good, good])
    assert [lv.on_hand for lv in levels] == [8, 11]
    assert w.level() == (11, 0)
    assert w.ledger_ok()


def test_available_low_stock_and_bulk_set(world: MakeWorld) -> None:
    w = world(on_hand=2)
    with session_scope(w.ctx, engine=w.engine) as session:
        second = inventory.create_location(session, ctx=w.ctx, code="jkt-2", name="Jakarta 2")
        changed = inventory.set_on_hand_bulk(
            session,
            ctx=w.ctx,
            reason="import",
            lines=[(w.variant_id, w.location_id, 2), (w.variant_id, second.id, 9)],
        )
        total = inventory.get_available(session, ctx=w.ctx, variant_id=w.variant_id)
        at_second = inventory.get_available(
            session, ctx=w.ctx, variant_id=w.variant_id, location_id=second.id
        )
        low = inventory.list_low_stock(session, ctx=w.ctx, limit=10)

    assert changed == 1  # the MAIN line was already 2
    assert (total, at_second, second.code) == (11, 9, "JKT-2")
    assert low.items == []  # reorder points are 0
    assert w.ledger_ok()


def test_ledger_check_finds_a_row_changed_behind_its_back(world: MakeWorld) -> None:
    w = world(on_hand=4)

    with session_scope(w.ctx, engine=w.engine) as session:
        session.execute(
            sa.update(inventory.ITEMS)
            .where(inventory.ITEMS.c.organization_id == w.ctx.organization_id)
            .values(on_hand=6)
        )
        mismatches = inventory.check_ledger(session, organization_id=w.ctx.organization_id)
    assert [(m.on_hand, m.ledger_on_hand) for m in mismatches] == [(6, 4)]


@pytest.mark.parametrize(
    ("role", "call"),
    [
        (Role.VIEWER, "set_on_hand"),
        (Role.VIEWER, "adjust_stock"),
        (Role.VIEWER, "adjust_stock_batch"),
        (Role.VIEWER, "set_on_hand_bulk"),
        (Role.VIEWER, "reserve_stock"),
        (Role.VIEWER, "release_order"),
        (Role.VIEWER, "fulfil_order"),
        (Role.STAFF, "create_location"),
        (Role.VIEWER, "create_location"),
    ],
)
def test_permission_denials_change_nothing(world: MakeWorld, role: Role, call: str) -> None:
    w = world(on_hand=5)
    order_id, (line,) = w.order()
    ctx = w.as_role(role)
    calls = {
        "set_on_hand": lambda s: inventory.set_on_hand(
            s, ctx=ctx, variant_id=w.variant_id, location_id=w.location_id, quantity=1, reason="x"
        ),
        "adjust_stock": lambda s: inventory.adjust_stock(
            s, ctx=ctx, variant_id=w.variant_id, location_id=w.location_id, delta=1, reason="x"
        ),
        "adjust_stock_batch": lambda s: inventory.adjust_stock_batch(
            s,
            ctx=ctx,
            adjustments=[
                StockAdjustment(
                    variant_id=w.variant_id, location_id=w.location_id, delta=1, reason="x"
                )
            ],
        ),
        "set_on_hand_bulk": lambda s: inventory.set_on_hand_bulk(
            s, ctx=ctx, lines=[(w.variant_id, w.location_id, 1)], reason="x"
        ),
        "reserve_stock": lambda s: inventory.reserve_stock(
            s,
            ctx=ctx,
            order_item_id=line,
            variant_id=w.variant_id,
            location_id=w.location_id,
            quantity=1,
        ),
        "release_order": lambda s: inventory.release_order(s, ctx=ctx, order_id=order_id),
        "fulfil_order": lambda s: inventory.fulfil_order(s, ctx=ctx, order_id=order_id),
        "create_location": lambda s: inventory.create_location(s, ctx=ctx, code="X", name="X"),
    }

    with pytest.raises(PermissionDenied) as raised:
        with session_scope(ctx, engine=w.engine) as session:
            calls[call](session)

    assert raised.value.type is ErrorType.AUTHORIZATION
    assert w.level() == (5, 0)
    with session_scope(w.ctx, engine=w.engine) as session:
        assert len(inventory.list_locations(session, ctx=w.ctx)) == 1
    assert w.ledger_ok()


def test_foreign_variant_is_not_found(world: MakeWorld) -> None:
    w, other = world(), world()

    with pytest.raises(NotFound):
        with session_scope(w.ctx, engine=w.engine) as session:
            inventory.set_on_hand(
                session,
                ctx=w.ctx,
                variant_id=other.variant_id,
                location_id=w.location_id,
                quantity=1,
                reason="x",
            )
