"""Embedded mode (SQLite): a change made in the browser reads first and writes later. Begun
without the write lock, it failed at once ("database is locked") when a worker committed in
between, and the merchant's adjustment was lost; the app's writes take the lock when they begin
(`session_scope(write_lock=True)`, `PageState._writing`), so they wait instead."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from storesync.db import DatabaseBusy, make_engine, session_scope, writing
from storesync.inventory import service as inventory
from tests.inventory.conftest import World, build_world


def _adjust_in_another_thread(w: World, delta: int) -> tuple[threading.Thread, list[object]]:
    """A colleague's adjustment (the app's way: with the write lock), started now."""
    outcome: list[object] = []

    def run() -> None:
        try:
            with session_scope(w.ctx, engine=w.engine, write_lock=True) as session:
                outcome.append(
                    inventory.adjust_stock(
                        session,
                        ctx=w.ctx,
                        variant_id=w.variant_id,
                        location_id=w.location_id,
                        delta=delta,
                        reason="colleague",
                    ).on_hand
                )
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _read_then_adjust(session: object, w: World, delta: int) -> int:
    return inventory.adjust_stock(
        session,  # type: ignore[arg-type]
        ctx=w.ctx,
        variant_id=w.variant_id,
        location_id=w.location_id,
        delta=delta,
        reason="stock count",
    ).on_hand


def test_with_the_write_lock_a_commit_made_meanwhile_waits_and_both_changes_land(
    sqlite_engine: Engine,
) -> None:
    w = build_world(sqlite_engine, on_hand=10)
    with session_scope(w.ctx, engine=w.engine, write_lock=True) as session:
        inventory.stock_levels(session, ctx=w.ctx, variant_ids=[w.variant_id])  # reads first
        colleague, outcome = _adjust_in_another_thread(w, +5)
        colleague.join(timeout=0.5)
        assert colleague.is_alive() and outcome == []  # waits for this transaction
        assert _read_then_adjust(session, w, -3) == 7
    colleague.join(timeout=10)
    assert outcome == [12]
    assert w.level() == (12, 0)
    assert w.ledger_ok()


def test_without_it_the_change_fails_at_once_and_writes_nothing(sqlite_engine: Engine) -> None:
    """Why the lock: the failure it prevents, shown as it was."""
    w = build_world(sqlite_engine, on_hand=10)
    with (
        pytest.raises(OperationalError, match="database is locked"),
        session_scope(w.ctx, engine=w.engine) as session,
    ):
        inventory.stock_levels(session, ctx=w.ctx, variant_ids=[w.variant_id])  # reads first
        colleague, outcome = _adjust_in_another_thread(w, +5)
        colleague.join(timeout=10)
        assert outcome == [15]  # nobody held the lock: the colleague committed meanwhile
        _read_then_adjust(session, w, -3)
    assert w.level() == (15, 0)
    assert w.ledger_ok()


def test_still_busy_after_the_wait_it_is_a_clear_error_and_nothing_is_written(
    sqlite_url: str, sqlite_engine: Engine
) -> None:
    """An import holding the write lock longer than the busy timeout: the browser's change is
    refused with a message a merchant can act on (not a crash), and none of it is written."""
    w = build_world(sqlite_engine, on_hand=10)
    impatient = make_engine(sqlite_url, busy_timeout_ms=200)
    holder = sqlite_engine.raw_connection()
    try:
        holder.cursor().execute("BEGIN IMMEDIATE")  # the import's transaction
        with (
            pytest.raises(DatabaseBusy, match="busy saving other work") as refused,
            writing(w.ctx, engine=impatient) as session,
        ):
            _read_then_adjust(session, w, -3)
        assert refused.value.retryable and refused.value.code == "database_busy"
        holder.rollback()
    finally:
        holder.close()
        impatient.dispose()
    assert w.level() == (10, 0)
    assert w.ledger_ok()
