"""Stock: levels per variant and location (searchable, keyset pages), locations, low stock,
adjustments with a reason (a signed change or a new count), and the ledger of a variant's
stock at a location."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError

from storesync.api.auth import reader, writer
from storesync.api.errors import documented
from storesync.core.errors import AppError, ValidationFailed
from storesync.core.pagination import MAX_PAGE_SIZE, Page
from storesync.db import session_scope, writing
from storesync.inventory import service as inventory
from storesync.inventory.queries import StockRowDTO, list_stock
from storesync.inventory.schemas import LedgerEntryDTO, LocationDTO, StockLevelDTO
from storesync.tenancy.api_keys import ApiCaller

router = APIRouter(prefix="/inventory", tags=["inventory"])
Read = Annotated[ApiCaller, reader("inventory")]
Write = Annotated[ApiCaller, writer("inventory")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
MAX_QUANTITY = 1_000_000_000  # one change or count; the stock columns are 32-bit on PostgreSQL


class StockChange(BaseModel):
    """A stock change with its reason, recorded in the ledger: `delta` changes on-hand by a
    signed amount, `on_hand` sets it to a counted value (nothing is recorded when it already
    is). Exactly one of the two. On-hand never goes below what orders have reserved."""

    model_config = ConfigDict(extra="forbid")

    variant_id: uuid.UUID
    location_id: uuid.UUID | None = Field(
        default=None, description="The stock location; the organization's default when absent"
    )
    delta: int | None = Field(
        default=None, ge=-MAX_QUANTITY, le=MAX_QUANTITY, description="e.g. 5 or -3; not 0"
    )
    on_hand: int | None = Field(
        default=None, ge=0, le=MAX_QUANTITY, description="The counted on-hand, e.g. 12"
    )
    reason: str = Field(max_length=255, description="Why, e.g. 'damaged' or 'cycle count'")


@router.get("/levels", response_model=Page[StockRowDTO], responses=documented(422))
def list_levels(
    caller: Read,
    search: str | None = None,
    low_only: bool = False,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[StockRowDTO]:
    """Stock per variant and location (on hand, reserved, available), ordered by SKU; `search`
    matches SKU or product title; `low_only` keeps rows at or below their reorder point. A
    variant has a row at a location once its stock there was first set or changed."""
    with session_scope(caller.ctx) as session:
        return list_stock(
            session, ctx=caller.ctx, search=search, low_only=low_only, limit=limit, cursor=cursor
        )


@router.get("/locations", response_model=list[LocationDTO], responses=documented())
def list_locations(caller: Read) -> list[LocationDTO]:
    """Active stock locations, the default first."""
    with session_scope(caller.ctx) as session:
        return inventory.list_locations(session, ctx=caller.ctx)


@router.get("/low-stock", response_model=Page[StockLevelDTO], responses=documented(422))
def list_low_stock(
    caller: Read, cursor: str | None = None, limit: Limit = 50
) -> Page[StockLevelDTO]:
    """Stock rows whose available is at or below their reorder point, lowest first."""
    with session_scope(caller.ctx) as session:
        return inventory.list_low_stock(session, ctx=caller.ctx, limit=limit, cursor=cursor)


@router.get("/variants/{variant_id}", response_model=list[StockLevelDTO], responses=documented())
def variant_levels(caller: Read, variant_id: uuid.UUID) -> list[StockLevelDTO]:
    """A variant's stock at every location where it has a row (empty: none yet)."""
    with session_scope(caller.ctx) as session:
        return inventory.stock_levels(session, ctx=caller.ctx, variant_ids=[variant_id])


@router.get(
    "/variants/{variant_id}/history",
    response_model=Page[LedgerEntryDTO],
    responses=documented(422),
)
def variant_history(
    caller: Read,
    variant_id: uuid.UUID,
    location_id: Annotated[
        uuid.UUID | None, Query(description="The organization's default location when absent")
    ] = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[LedgerEntryDTO]:
    """The ledger of a variant's stock at a location, newest first: every change with its kind,
    deltas, the values after, its reason and who made it (empty: no stock row there)."""
    with session_scope(caller.ctx) as session:
        where = location_id or inventory.default_location(session, ctx=caller.ctx).id
        levels = inventory.stock_levels(session, ctx=caller.ctx, variant_ids=[variant_id])
        item = next((lv.inventory_item_id for lv in levels if lv.location_id == where), None)
        if item is None:
            return Page(items=[])
        return inventory.stock_history(
            session, ctx=caller.ctx, inventory_item_id=item, limit=limit, cursor=cursor
        )


@router.post(
    "/adjustments", response_model=StockLevelDTO, responses=documented(400, 404, 409, 413, 422)
)
def adjust(caller: Write, body: StockChange) -> StockLevelDTO:
    """Change a variant's on-hand at a location by `delta`, or set it to a counted `on_hand`,
    with a reason (one ledger row); answers the stock row after. Its stock row is created at
    the location if missing."""
    if (body.delta is None) == (body.on_hand is None):
        given = "not both" if body.delta is not None else "one is required"
        raise ValidationFailed(
            "delta" if body.delta is None else "on_hand",
            f"give delta (a change) or on_hand (a new count): {given}",
        )
    field = "delta" if body.delta is not None else "on_hand"
    try:
        with writing(caller.ctx) as session:
            where = body.location_id or inventory.default_location(session, ctx=caller.ctx).id
            if body.delta is not None:
                return inventory.adjust_stock(
                    session,
                    ctx=caller.ctx,
                    variant_id=body.variant_id,
                    location_id=where,
                    delta=body.delta,
                    reason=body.reason,
                )
            return inventory.set_on_hand(
                session,
                ctx=caller.ctx,
                variant_id=body.variant_id,
                location_id=where,
                quantity=body.on_hand or 0,
                reason=body.reason,
            )
    except AppError as error:
        _rename_quantity(error, field)
        raise
    except DataError:  # PostgreSQL: the result is past the 32-bit stock column
        raise ValidationFailed(field, "the resulting on-hand is out of range") from None


def _rename_quantity(error: AppError, field: str) -> None:
    """The services name the quantity they check `quantity`; the body calls it `field`."""
    if error.details.get("field") == "quantity":
        error.details["field"] = field
        error.message = f"{field}:{error.message.removeprefix('quantity:')}"
