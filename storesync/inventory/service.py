"""Inventory: locations, on-hand, reservations and the ledger.

Every change is a conditional, atomic UPDATE (never read-modify-write) plus a ledger row with its
reason and reference, so "why is this number what it is" always has an answer. Rows are locked in
primary-key order when several change together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import Session

from storesync.core.pagination import Page
from storesync.inventory.schemas import (
    LedgerEntryDTO,
    LedgerMismatch,
    LocationDTO,
    ReservationDTO,
    StockAdjustment,
    StockLevelDTO,
)
from storesync.tenancy.context import RequestContext


def create_location(
    session: Session, *, ctx: RequestContext, code: str, name: str, is_default: bool = False
) -> LocationDTO:
    """A new stock location (code unique per organization). Needs MANAGE_SETTINGS."""
    raise NotImplementedError


def list_locations(session: Session, *, ctx: RequestContext) -> list[LocationDTO]:
    """Active locations, default first."""
    raise NotImplementedError


def default_location(session: Session, *, ctx: RequestContext) -> LocationDTO:
    """The organization's default location (every organization has one)."""
    raise NotImplementedError


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
    raise NotImplementedError


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
    (100,000 lines in seconds). Returns how many rows changed. Needs ADJUST_STOCK."""
    raise NotImplementedError


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
    raise NotImplementedError


def adjust_stock_batch(
    session: Session, *, ctx: RequestContext, adjustments: Sequence[StockAdjustment]
) -> list[StockLevelDTO]:
    """Apply many adjustments in the caller's transaction: all or nothing, rows locked in key
    order. Needs ADJUST_STOCK."""
    raise NotImplementedError


def reserve_stock(
    session: Session,
    *,
    ctx: RequestContext,
    order_item_id: uuid.UUID,
    variant_id: uuid.UUID,
    location_id: uuid.UUID,
    quantity: int,
) -> ReservationDTO:
    """Reserve `quantity` for an order line. Idempotent per order line: a second call returns the
    existing reservation. Raises `InsufficientStock(variant_id, requested, available)` and
    changes nothing when not enough is available. Needs PROCESS_ORDERS."""
    raise NotImplementedError


def release_order(
    session: Session, *, ctx: RequestContext, order_id: uuid.UUID
) -> list[ReservationDTO]:
    """Release the order's active reservations (cancellation). Idempotent. Needs PROCESS_ORDERS."""
    raise NotImplementedError


def fulfil_order(
    session: Session, *, ctx: RequestContext, order_id: uuid.UUID
) -> list[ReservationDTO]:
    """Turn the order's active reservations into on-hand deductions (shipping). Idempotent.
    Needs PROCESS_ORDERS."""
    raise NotImplementedError


def get_available(
    session: Session,
    *,
    ctx: RequestContext,
    variant_id: uuid.UUID,
    location_id: uuid.UUID | None = None,
) -> int:
    """Available (on-hand minus reserved) at one location, or summed over all."""
    raise NotImplementedError


def stock_levels(
    session: Session, *, ctx: RequestContext, variant_ids: Sequence[uuid.UUID]
) -> list[StockLevelDTO]:
    """Stock rows of these variants at every location."""
    raise NotImplementedError


def list_low_stock(
    session: Session, *, ctx: RequestContext, limit: int = 50, cursor: str | None = None
) -> Page[StockLevelDTO]:
    """Items whose available is at or below their reorder point, keyset-paginated."""
    raise NotImplementedError


def stock_history(
    session: Session,
    *,
    ctx: RequestContext,
    inventory_item_id: uuid.UUID,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[LedgerEntryDTO]:
    """Ledger rows of one item, newest first, keyset-paginated."""
    raise NotImplementedError


def check_ledger(session: Session, *, organization_id: uuid.UUID) -> list[LedgerMismatch]:
    """Items whose ledger sums differ from their on-hand / reserved (empty when all is well)."""
    raise NotImplementedError
