"""Stock rows: find or create the row of a variant at a location, and change it atomically."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storesync.catalog.models import ProductVariant
from storesync.core.clock import utcnow
from storesync.core.errors import NotFound
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.inventory import ledger
from storesync.inventory.models import InventoryItem, Location
from storesync.tenancy.context import RequestContext

ITEMS: Any = table_of(InventoryItem)
VARIANTS: Any = table_of(ProductVariant)
LOCATIONS: Any = table_of(Location)


def find_item(
    session: Session, ctx: RequestContext, variant_id: uuid.UUID, location_id: uuid.UUID
) -> uuid.UUID | None:
    return session.execute(
        sa.select(ITEMS.c.id).where(
            ITEMS.c.organization_id == ctx.organization_id,
            ITEMS.c.variant_id == variant_id,
            ITEMS.c.location_id == location_id,
        )
    ).scalar_one_or_none()


def ensure_item(
    session: Session, ctx: RequestContext, variant_id: uuid.UUID, location_id: uuid.UUID
) -> uuid.UUID:
    """The stock row's id, created empty when missing (safe when created concurrently)."""
    found = find_item(session, ctx, variant_id, location_id)
    if found is not None:
        return found
    _require_owned(session, ctx, VARIANTS, variant_id, "variant")
    _require_owned(session, ctx, LOCATIONS, location_id, "location")
    item_id = new_id()
    try:
        with session.begin_nested():
            session.execute(
                sa.insert(ITEMS).values(
                    id=item_id,
                    organization_id=ctx.organization_id,
                    created_at=utcnow(),
                    variant_id=variant_id,
                    location_id=location_id,
                    on_hand=0,
                    reserved=0,
                    reorder_point=0,
                )
            )
    except IntegrityError:
        found = find_item(session, ctx, variant_id, location_id)
        if found is None:
            raise
        return found
    return item_id


def _require_owned(
    session: Session, ctx: RequestContext, table: Any, entity_id: uuid.UUID, name: str
) -> None:
    exists = session.execute(
        sa.select(table.c.id).where(
            table.c.id == entity_id, table.c.organization_id == ctx.organization_id
        )
    ).first()
    if exists is None:
        raise NotFound(name, entity_id)


STOCK_TOUCHED = "stock_touched"
LISTINGS_AGAIN = "listings_pushed_again"


def touch(session: Session, variant_ids: Iterable[uuid.UUID]) -> None:
    """Record variants whose stock changed in this transaction. The sync engine reads the set at
    commit to queue channel pushes in the same transaction (storesync.sync.push.outbox)."""
    session.info.setdefault(STOCK_TOUCHED, set()).update(variant_ids)


def push_again(session: Session, listing_ids: Iterable[uuid.UUID]) -> None:
    """Ask for these listings to be pushed once more after this transaction even if a push of
    the same quantity is in flight: the channel changed its own count (a cancellation put units
    back), so a push sent before that is not the last word. Read at commit by the sync engine."""
    session.info.setdefault(LISTINGS_AGAIN, set()).update(listing_ids)


def change(
    session: Session,
    ctx: RequestContext,
    item_id: uuid.UUID,
    *,
    on_hand_delta: int,
    reserved_delta: int,
    kind: str,
    reason: str,
    reference_type: str = "",
    reference_id: str = "",
) -> tuple[int, int] | None:
    """Apply deltas in ONE conditional UPDATE that keeps 0 <= reserved <= on_hand, and write the
    ledger row. Returns (on_hand, reserved) after, or None (nothing changed) when the condition
    fails, e.g. not enough available."""
    entry = apply_delta(
        session,
        ctx,
        item_id,
        on_hand_delta=on_hand_delta,
        reserved_delta=reserved_delta,
        kind=kind,
        reason=reason,
        reference_type=reference_type,
        reference_id=reference_id,
    )
    if entry is None:
        return None
    ledger.write(session, [entry])
    return entry["on_hand_after"], entry["reserved_after"]


def apply_delta(
    session: Session,
    ctx: RequestContext,
    item_id: uuid.UUID,
    *,
    on_hand_delta: int,
    reserved_delta: int,
    kind: str,
    reason: str,
    reference_type: str = "",
    reference_id: str = "",
) -> dict[str, Any] | None:
    """`change` without writing its ledger row: returns the row (`ledger.entry`), for the caller
    to write with others in one statement (`ledger.write`) before its transaction ends, or None
    when nothing changed."""
    new_on_hand = ITEMS.c.on_hand + on_hand_delta
    new_reserved = ITEMS.c.reserved + reserved_delta
    row = session.execute(
        sa.update(ITEMS)
        .where(
            ITEMS.c.id == item_id,
            ITEMS.c.organization_id == ctx.organization_id,
            new_on_hand >= new_reserved,
            new_reserved >= 0,
        )
        .values(on_hand=new_on_hand, reserved=new_reserved, updated_at=utcnow())
        .returning(ITEMS.c.on_hand, ITEMS.c.reserved, ITEMS.c.variant_id)
    ).first()
    if row is None:
        return None
    touch(session, [row[2]])
    return ledger.entry(
        ctx,
        item_id=item_id,
        kind=kind,
        on_hand_delta=on_hand_delta,
        reserved_delta=reserved_delta,
        on_hand_after=int(row[0]),
        reserved_after=int(row[1]),
        reason=reason,
        reference_type=reference_type,
        reference_id=reference_id,
    )


def available(session: Session, item_id: uuid.UUID) -> int:
    """on_hand - reserved of a stock row, as this transaction sees it."""
    value = session.execute(
        sa.select(ITEMS.c.on_hand - ITEMS.c.reserved).where(ITEMS.c.id == item_id)
    ).scalar_one()
    return int(value)


def lock_and_read(session: Session, ctx: RequestContext, item_id: uuid.UUID) -> tuple[int, int]:
    """Lock the row (PostgreSQL: FOR UPDATE; SQLite: a no-op write takes the database lock) and
    read (on_hand, reserved), for changes whose delta depends on the current value."""
    where = sa.and_(ITEMS.c.id == item_id, ITEMS.c.organization_id == ctx.organization_id)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.update(ITEMS).where(where).values(on_hand=ITEMS.c.on_hand))
        query = sa.select(ITEMS.c.on_hand, ITEMS.c.reserved).where(where)
    else:
        query = sa.select(ITEMS.c.on_hand, ITEMS.c.reserved).where(where).with_for_update()
    row = session.execute(query).one()
    return int(row[0]), int(row[1])
