"""Inventory: locations, on-hand, reservations and the ledger.

Every change is a conditional, atomic UPDATE (never read-modify-write) plus a ledger row with its
reason and reference, so "why is this number what it is" always has an answer. Rows are locked in
primary-key order when several change together. Reservations live in `reservations.py` and are
re-exported here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, NotFound, ValidationFailed
from storesync.core.events import SessionListeners
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.core.pagination import Page, clamp_limit, decode_typed, encode_cursor
from storesync.inventory import items, ledger
from storesync.inventory.models import Location
from storesync.inventory.reservations import fulfil_order, release_order, reserve_stock
from storesync.inventory.schemas import (
    LedgerEntryDTO,
    LedgerMismatch,
    LocationDTO,
    StockAdjustment,
    StockLevelDTO,
)
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

__all__ = [
    "adjust_stock",
    "adjust_stock_batch",
    "check_ledger",
    "create_location",
    "default_location",
    "fulfil_order",
    "get_available",
    "list_locations",
    "list_low_stock",
    "release_order",
    "reserve_stock",
    "set_on_hand",
    "set_on_hand_bulk",
    "stock_history",
    "stock_levels",
]

ITEMS: Any = items.ITEMS
LOCATIONS: Any = table_of(Location)
SET_KINDS = ("count", "receive")
DEFAULT_LOCATION = "default_location"  # session.info key (see default_location)


def create_location(
    session: Session, *, ctx: RequestContext, code: str, name: str, is_default: bool = False
) -> LocationDTO:
    """A new stock location (code unique per organization). Needs MANAGE_SETTINGS."""
    ctx.require(Permission.MANAGE_SETTINGS)
    clean_code = code.strip().upper()
    if (
        not clean_code
        or len(clean_code) > 40
        or not clean_code.replace("-", "").replace("_", "").isalnum()
    ):
        raise ValidationFailed("code", "must be 1-40 letters, digits, '-' or '_'")
    if not name.strip():
        raise ValidationFailed("name", "must not be empty")
    if _location_by_code(session, ctx, clean_code) is not None:
        raise AppError(
            ErrorType.CONFLICT,
            "location_code_taken",
            f"code: location {clean_code} already exists",
            details={"field": "code"},
        )
    if is_default:
        session.execute(
            sa.update(LOCATIONS)
            .where(LOCATIONS.c.organization_id == ctx.organization_id)
            .values(is_default=False)
        )
    location = Location(
        organization_id=ctx.organization_id,
        code=clean_code,
        name=name.strip(),
        is_default=is_default,
    )
    session.info.pop(DEFAULT_LOCATION, None)
    session.add(location)
    record(
        session,
        ctx=ctx,
        action="location.create",
        entity_type="location",
        entity_id=location.id,
        after={"code": location.code, "name": location.name, "is_default": is_default},
    )
    session.flush()
    return LocationDTO.model_validate(location)


def create_main_location(session: Session, organization_id: uuid.UUID) -> None:
    """A new organization's default location, "MAIN" (every organization has one); called as
    the organization is created (`tenancy.service.organization_created`)."""
    session.add(
        Location(
            organization_id=organization_id, code="MAIN", name="Main warehouse", is_default=True
        )
    )
    session.flush()


def _location_by_code(session: Session, ctx: RequestContext, code: str) -> Location | None:
    return session.exec(
        select(Location).where(
            Location.organization_id == ctx.organization_id, Location.code == code
        )
    ).first()


def list_locations(session: Session, *, ctx: RequestContext) -> list[LocationDTO]:
    """Active locations, default first."""
    ctx.require(Permission.READ)
    rows = session.exec(
        select(Location)
        .where(Location.organization_id == ctx.organization_id, col(Location.is_active).is_(True))
        .order_by(col(Location.is_default).desc(), col(Location.code))
    ).all()
    return [LocationDTO.model_validate(row) for row in rows]


def default_location(session: Session, *, ctx: RequestContext) -> LocationDTO:
    """The organization's default location (every organization has one). Remembered for the
    rest of the session's transaction: a batch of orders asks once, not once per order."""
    ctx.require(Permission.READ)
    remembered: dict[uuid.UUID, LocationDTO] = session.info.setdefault(DEFAULT_LOCATION, {})
    if ctx.organization_id in remembered:
        return remembered[ctx.organization_id]
    locations = list_locations(session, ctx=ctx)
    if not locations:
        raise NotFound("location", "default")
    remembered[ctx.organization_id] = locations[0]
    return locations[0]


def _forget_default_location(session: Session) -> None:
    if not session.in_nested_transaction():  # fired for savepoints too
        session.info.pop(DEFAULT_LOCATION, None)


SESSION_LISTENERS: SessionListeners = (
    ("after_commit", _forget_default_location),
    ("after_rollback", _forget_default_location),
)


def _level(session: Session, item_id: uuid.UUID) -> StockLevelDTO:
    row = session.execute(sa.select(ITEMS).where(ITEMS.c.id == item_id)).one()
    return _level_dto(row)


def _level_dto(row: Any) -> StockLevelDTO:
    return StockLevelDTO(
        inventory_item_id=row.id,
        variant_id=row.variant_id,
        location_id=row.location_id,
        on_hand=row.on_hand,
        reserved=row.reserved,
        available=row.on_hand - row.reserved,
        reorder_point=row.reorder_point,
    )


def _below_reserved(on_hand: int, reserved: int) -> AppError:
    return AppError(
        ErrorType.VALIDATION,
        "below_reserved",
        f"quantity: on-hand {on_hand} would be below the {reserved} reserved for orders",
        details={"field": "quantity", "on_hand": on_hand, "reserved": reserved},
    )


def _require_reason(reason: str) -> str:
    clean = reason.strip()
    if not clean:
        raise ValidationFailed("reason", "is required for every stock change")
    return clean


def set_on_hand(
    session: Session,
    *,
    ctx: RequestContext,
    variant_id: uuid.UUID,
    location_id: uuid.UUID,
    quantity: int,
    reason: str,
    kind: str = "count",
    reference_type: str = "",
    reference_id: str = "",
) -> StockLevelDTO:
    """Set on-hand to `quantity` (a count or a receipt). Writes a ledger row only when the value
    changes, so repeating it is a no-op. Refuses a quantity below what is reserved.
    Needs ADJUST_STOCK."""
    ctx.require(Permission.ADJUST_STOCK)
    if quantity < 0:
        raise ValidationFailed("quantity", "must not be negative")
    if kind not in SET_KINDS:
        raise ValidationFailed("kind", f"must be one of {', '.join(SET_KINDS)}")
    clean_reason = _require_reason(reason)
    item_id = items.ensure_item(session, ctx, variant_id, location_id)
    on_hand, reserved = items.lock_and_read(session, ctx, item_id)
    if quantity < reserved:
        raise _below_reserved(quantity, reserved)
    if quantity != on_hand:
        items.change(
            session,
            ctx,
            item_id,
            on_hand_delta=quantity - on_hand,
            reserved_delta=0,
            kind=kind,
            reason=clean_reason,
            reference_type=reference_type,
            reference_id=reference_id,
        )
        _record_stock(session, ctx, f"stock.{kind}", item_id, on_hand, quantity, clean_reason)
    return _level(session, item_id)


def set_on_hand_bulk(
    session: Session,
    *,
    ctx: RequestContext,
    lines: Sequence[tuple[uuid.UUID, uuid.UUID, int]],
    reason: str,
    reference_type: str = "import",
    reference_id: str = "",
) -> int:
    """Set on-hand for many `(variant_id, location_id, quantity)` lines at once (imports):
    creates missing stock rows, writes ledger rows for changed ones only, in set-based statements
    (100,000 lines in seconds). Returns how many rows changed. Needs ADJUST_STOCK.
    The variants and locations must belong to the organization (the caller validated them)."""
    ctx.require(Permission.ADJUST_STOCK)
    clean_reason = _require_reason(reason)
    wanted: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for variant_id, location_id, quantity in lines:
        if quantity < 0:
            raise ValidationFailed("quantity", f"must not be negative (variant {variant_id})")
        wanted[(variant_id, location_id)] = quantity
    existing = _locked_items(session, ctx, sorted({v for v, _ in wanted}))
    now = utcnow()
    inserts, updates, entries = [], [], []
    for (variant_id, location_id), quantity in wanted.items():
        current = existing.get((variant_id, location_id))
        if current is None:
            item_id = new_id()
            inserts.append(
                {
                    "id": item_id,
                    "organization_id": ctx.organization_id,
                    "created_at": now,
                    "variant_id": variant_id,
                    "location_id": location_id,
                    "on_hand": quantity,
                    "reserved": 0,
                    "reorder_point": 0,
                    "updated_at": now,
                }
            )
            on_hand, reserved = 0, 0
        else:
            item_id, on_hand, reserved = current
            if quantity == on_hand:
                continue
            if quantity < reserved:
                raise _below_reserved(quantity, reserved)
            updates.append({"item_id": item_id, "quantity": quantity, "now": now})
        if quantity != on_hand:
            entries.append(
                ledger.entry(
                    ctx,
                    item_id=item_id,
                    kind="count",
                    on_hand_delta=quantity - on_hand,
                    reserved_delta=0,
                    on_hand_after=quantity,
                    reserved_after=reserved,
                    reason=clean_reason,
                    reference_type=reference_type,
                    reference_id=reference_id,
                )
            )
    _bulk_write_items(session, inserts, updates)
    items.touch(session, {variant for variant, _location in wanted})
    ledger.write(session, entries)
    return len(inserts) + len(updates)


def _locked_items(
    session: Session, ctx: RequestContext, variant_ids: list[uuid.UUID], chunk: int = 1000
) -> dict[tuple[uuid.UUID, uuid.UUID], tuple[uuid.UUID, int, int]]:
    """Current stock rows of these variants, locked in key order (PostgreSQL)."""
    found = {}
    postgres = session.get_bind().dialect.name == "postgresql"
    for start in range(0, len(variant_ids), chunk):
        query = (
            sa.select(
                ITEMS.c.id,
                ITEMS.c.variant_id,
                ITEMS.c.location_id,
                ITEMS.c.on_hand,
                ITEMS.c.reserved,
            )
            .where(
                ITEMS.c.organization_id == ctx.organization_id,
                ITEMS.c.variant_id.in_(variant_ids[start : start + chunk]),
            )
            .order_by(ITEMS.c.id)
        )
        for row in session.execute(query.with_for_update() if postgres else query):
            found[(row.variant_id, row.location_id)] = (row.id, row.on_hand, row.reserved)
    return found


def _bulk_write_items(
    session: Session,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    chunk: int = 5000,
) -> None:
    for start in range(0, len(inserts), chunk):
        session.execute(sa.insert(ITEMS), inserts[start : start + chunk])
    statement = (
        sa.update(ITEMS)
        .where(ITEMS.c.id == sa.bindparam("item_id"))
        .values(on_hand=sa.bindparam("quantity"), updated_at=sa.bindparam("now"))
    )
    for start in range(0, len(updates), chunk):
        session.connection().execute(statement, updates[start : start + chunk])


def adjust_stock(
    session: Session,
    *,
    ctx: RequestContext,
    variant_id: uuid.UUID,
    location_id: uuid.UUID,
    delta: int,
    reason: str,
    reference_type: str = "adjustment",
    reference_id: str = "",
) -> StockLevelDTO:
    """Change on-hand by `delta` with a reason; refuses to go below reserved. Needs ADJUST_STOCK."""
    ctx.require(Permission.ADJUST_STOCK)
    if delta == 0:
        raise ValidationFailed("delta", "must not be zero")
    clean_reason = _require_reason(reason)
    item_id = items.ensure_item(session, ctx, variant_id, location_id)
    after = items.change(
        session,
        ctx,
        item_id,
        on_hand_delta=delta,
        reserved_delta=0,
        kind="adjust",
        reason=clean_reason,
        reference_type=reference_type,
        reference_id=reference_id,
    )
    if after is None:
        level = _level(session, item_id)
        raise _below_reserved(level.on_hand + delta, level.reserved)
    _record_stock(session, ctx, "stock.adjust", item_id, after[0] - delta, after[0], clean_reason)
    return _level(session, item_id)


def _record_stock(
    session: Session,
    ctx: RequestContext,
    action: str,
    item_id: uuid.UUID,
    before: int,
    after: int,
    reason: str,
) -> None:
    """Log a person's change of on-hand, naming the SKU and location (the ledger keeps the
    deltas; the audit log says who asked)."""
    if not ctx.is_person_or_key:
        return
    where = session.execute(
        sa.select(items.VARIANTS.c.variant_sku, LOCATIONS.c.code)
        .select_from(ITEMS)
        .join(items.VARIANTS, items.VARIANTS.c.id == ITEMS.c.variant_id)
        .join(LOCATIONS, LOCATIONS.c.id == ITEMS.c.location_id)
        .where(ITEMS.c.id == item_id)
    ).one()
    record(
        session,
        ctx=ctx,
        action=action,
        entity_type="stock",
        entity_id=item_id,
        before={"on_hand": before},
        after={"on_hand": after, "sku": where[0], "location": where[1], "reason": reason},
    )


def return_units(
    session: Session,
    *,
    ctx: RequestContext,
    variant_id: uuid.UUID,
    quantity: int,
    restock: bool,
    reason: str,
    reference_id: str,
    location_id: uuid.UUID | None = None,
) -> StockLevelDTO:
    """Units a buyer sent back: a `return` entry in the ledger, adding `quantity` to on-hand when
    they are restocked, nothing (an entry of 0 recording the write-off) when they are not.
    At the default location unless `location_id`. Needs PROCESS_ORDERS (and ADJUST_STOCK to
    restock)."""
    ctx.require(Permission.PROCESS_ORDERS)
    if restock:
        ctx.require(Permission.ADJUST_STOCK)
    if quantity < 1:
        raise ValidationFailed("quantity", "must be at least 1")
    where = location_id or default_location(session, ctx=ctx).id
    item_id = items.ensure_item(session, ctx, variant_id, where)
    note = f"{reason}: {quantity} restocked" if restock else f"{reason}: {quantity} written off"
    after = items.change(
        session,
        ctx,
        item_id,
        on_hand_delta=quantity if restock else 0,
        reserved_delta=0,
        kind="return",
        reason=note,
        reference_type="return",
        reference_id=reference_id,
    )
    if after is None:  # cannot happen: adding on-hand never breaks reserved <= on_hand
        raise ValidationFailed("quantity", "the return could not be recorded")
    return _level(session, item_id)


def adjust_stock_batch(
    session: Session, *, ctx: RequestContext, adjustments: Sequence[StockAdjustment]
) -> list[StockLevelDTO]:
    """Apply many adjustments in the caller's transaction: all or nothing, rows locked in key
    order. Needs ADJUST_STOCK. Results follow the input order."""
    ctx.require(Permission.ADJUST_STOCK)
    if not adjustments:
        raise ValidationFailed("adjustments", "must not be empty")
    reference = str(new_id())
    with session.begin_nested():
        keyed = [
            (items.ensure_item(session, ctx, a.variant_id, a.location_id), index, a)
            for index, a in enumerate(adjustments)
        ]
        results: dict[int, StockLevelDTO] = {}
        for _item_id, index, adjustment in sorted(keyed, key=lambda k: (k[0], k[1])):
            try:
                results[index] = adjust_stock(
                    session,
                    ctx=ctx,
                    variant_id=adjustment.variant_id,
                    location_id=adjustment.location_id,
                    delta=adjustment.delta,
                    reason=adjustment.reason,
                    reference_type="batch",
                    reference_id=reference,
                )
            except AppError as error:
                error.details["line"] = index + 1
                raise
    return [results[index] for index in range(len(adjustments))]


def get_available(
    session: Session,
    *,
    ctx: RequestContext,
    variant_id: uuid.UUID,
    location_id: uuid.UUID | None = None,
) -> int:
    """Available (on-hand minus reserved) at one location, or summed over all."""
    ctx.require(Permission.READ)
    query = sa.select(sa.func.coalesce(sa.func.sum(ITEMS.c.on_hand - ITEMS.c.reserved), 0)).where(
        ITEMS.c.organization_id == ctx.organization_id, ITEMS.c.variant_id == variant_id
    )
    if location_id is not None:
        query = query.where(ITEMS.c.location_id == location_id)
    return int(session.execute(query).scalar_one())


def stock_levels(
    session: Session, *, ctx: RequestContext, variant_ids: Sequence[uuid.UUID]
) -> list[StockLevelDTO]:
    """Stock rows of these variants at every location."""
    ctx.require(Permission.READ)
    rows = session.execute(
        sa.select(ITEMS)
        .where(
            ITEMS.c.organization_id == ctx.organization_id,
            ITEMS.c.variant_id.in_(list(variant_ids)),
        )
        .order_by(ITEMS.c.variant_id, ITEMS.c.location_id)
    ).all()
    return [_level_dto(row) for row in rows]


def list_low_stock(
    session: Session, *, ctx: RequestContext, limit: int = 50, cursor: str | None = None
) -> Page[StockLevelDTO]:
    """Items whose available is at or below their reorder point, lowest first, keyset-paginated."""
    ctx.require(Permission.READ)
    size = clamp_limit(limit)
    available = ITEMS.c.on_hand - ITEMS.c.reserved
    query = sa.select(ITEMS).where(
        ITEMS.c.organization_id == ctx.organization_id, available <= ITEMS.c.reorder_point
    )
    if cursor:
        last_available, last_id = decode_typed(cursor, int, uuid.UUID)
        query = query.where(sa.tuple_(available, ITEMS.c.id) > sa.tuple_(last_available, last_id))
    rows = session.execute(query.order_by(available, ITEMS.c.id).limit(size + 1)).all()
    page = [_level_dto(row) for row in rows[:size]]
    following = None
    if len(rows) > size:
        following = encode_cursor(page[-1].available, page[-1].inventory_item_id)
    return Page(items=page, next_cursor=following)


def stock_history(
    session: Session,
    *,
    ctx: RequestContext,
    inventory_item_id: uuid.UUID,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[LedgerEntryDTO]:
    """Ledger rows of one item, newest first, keyset-paginated."""
    ctx.require(Permission.READ)
    size = clamp_limit(limit)
    table = ledger.LEDGER
    query = sa.select(table).where(
        table.c.organization_id == ctx.organization_id,
        table.c.inventory_item_id == inventory_item_id,
    )
    if cursor:
        (last_id,) = decode_typed(cursor, uuid.UUID)
        query = query.where(table.c.id < last_id)
    rows = session.execute(query.order_by(table.c.id.desc()).limit(size + 1)).all()
    page = [LedgerEntryDTO.model_validate(row, from_attributes=True) for row in rows[:size]]
    following = encode_cursor(page[-1].id) if len(rows) > size else None
    return Page(items=page, next_cursor=following)


def check_ledger(session: Session, *, organization_id: uuid.UUID) -> list[LedgerMismatch]:
    """Items whose ledger sums differ from their on-hand / reserved (empty when all is well).
    The session must be scoped to `organization_id` (row-level security on PostgreSQL)."""
    return ledger.mismatches(session, organization_id=organization_id)
