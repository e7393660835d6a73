"""The append-only stock ledger: one row per change, and the check that it adds up."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storesync.core.clock import utcnow
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.inventory.models import InventoryItem, InventoryTransaction
from storesync.inventory.schemas import LedgerMismatch
from storesync.tenancy.context import RequestContext

LEDGER: Any = table_of(InventoryTransaction)
ITEMS: Any = table_of(InventoryItem)


def entry(
    ctx: RequestContext,
    *,
    item_id: uuid.UUID,
    kind: str,
    on_hand_delta: int,
    reserved_delta: int,
    on_hand_after: int,
    reserved_after: int,
    reason: str,
    reference_type: str = "",
    reference_id: str = "",
) -> dict[str, Any]:
    """One ledger row as a dict, ready for a (bulk) insert."""
    return {
        "id": new_id(),
        "organization_id": ctx.organization_id,
        "created_at": utcnow(),
        "inventory_item_id": item_id,
        "kind": kind,
        "on_hand_delta": on_hand_delta,
        "reserved_delta": reserved_delta,
        "on_hand_after": on_hand_after,
        "reserved_after": reserved_after,
        "reason": reason[:255],
        "reference_type": reference_type[:32],
        "reference_id": reference_id[:64],
        "actor_user_id": ctx.user_id,
    }


def write(session: Session, rows: Sequence[dict[str, Any]], *, chunk: int = 5000) -> None:
    for start in range(0, len(rows), chunk):
        session.execute(sa.insert(LEDGER), list(rows[start : start + chunk]))


def mismatches(session: Session, *, organization_id: uuid.UUID) -> list[LedgerMismatch]:
    """Items whose on_hand / reserved differ from the sums of their ledger deltas."""
    sums = (
        sa.select(
            LEDGER.c.inventory_item_id.label("item_id"),
            sa.func.sum(LEDGER.c.on_hand_delta).label("on_hand"),
            sa.func.sum(LEDGER.c.reserved_delta).label("reserved"),
        )
        .where(LEDGER.c.organization_id == organization_id)
        .group_by(LEDGER.c.inventory_item_id)
        .subquery()
    )
    ledger_on_hand = sa.func.coalesce(sums.c.on_hand, 0)
    ledger_reserved = sa.func.coalesce(sums.c.reserved, 0)
    rows = session.execute(
        sa.select(ITEMS.c.id, ITEMS.c.on_hand, ITEMS.c.reserved, ledger_on_hand, ledger_reserved)
        .select_from(ITEMS.outerjoin(sums, sums.c.item_id == ITEMS.c.id))
        .where(
            ITEMS.c.organization_id == organization_id,
            sa.or_(ITEMS.c.on_hand != ledger_on_hand, ITEMS.c.reserved != ledger_reserved),
        )
        .order_by(ITEMS.c.id)
    ).all()
    return [
        LedgerMismatch(
            organization_id=organization_id,
            inventory_item_id=row[0],
            on_hand=row[1],
            reserved=row[2],
            ledger_on_hand=int(row[3]),
            ledger_reserved=int(row[4]),
        )
        for row in rows
    ]
