"""Per-store allocation: the share of available stock a store is offered, minus a safety
buffer. Changing it re-pushes the store's listings whose channel quantity changes."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storesync.channels.models import ChannelListing
from storesync.core.clock import utcnow
from storesync.core.errors import NotFound, ValidationFailed
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.core.schemas import DTO
from storesync.inventory.items import touch
from storesync.inventory.models import ChannelAllocation
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

ALLOCATIONS = table_of(ChannelAllocation)
LISTINGS = table_of(ChannelListing)
MAX_BUFFER = 1_000_000


class AllocationDTO(DTO):
    store_id: uuid.UUID
    share_percent: Decimal
    buffer: int


def get_allocation(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> AllocationDTO:
    """The store's allocation (100 % and no buffer when none was set). Needs READ."""
    ctx.require(Permission.READ)
    row = session.execute(
        sa.select(ALLOCATIONS.c.share_percent, ALLOCATIONS.c.buffer).where(
            ALLOCATIONS.c.organization_id == ctx.organization_id,
            ALLOCATIONS.c.store_id == store_id,
        )
    ).first()
    if row is None:
        return AllocationDTO(store_id=store_id, share_percent=Decimal(100), buffer=0)
    return AllocationDTO(store_id=store_id, share_percent=Decimal(row[0]), buffer=int(row[1]))


def set_allocation(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    share_percent: str | Decimal,
    buffer: str | int,
) -> AllocationDTO:
    """Offer the store `share_percent` (above 0, at most 100) of available stock minus `buffer`
    units (0 or more); its listings are pushed again where that changes their quantity. Needs
    MANAGE_STORES."""
    ctx.require(Permission.MANAGE_STORES)
    share = _share(share_percent)
    units = _buffer(buffer)
    _require_store(session, ctx, store_id)
    before = get_allocation(session, ctx=ctx, store_id=store_id)
    # One statement (an upsert on the store's unique row): two first settings of a store at
    # once both land, the later one winning, instead of one failing on the unique key.
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ALLOCATIONS)
    session.execute(
        insert.values(
            id=new_id(),
            organization_id=ctx.organization_id,
            created_at=utcnow(),
            store_id=store_id,
            share_percent=share,
            buffer=units,
        ).on_conflict_do_update(
            index_elements=[ALLOCATIONS.c.store_id],
            set_={"share_percent": insert.excluded.share_percent, "buffer": insert.excluded.buffer},
        )
    )
    variants = session.execute(
        sa.select(LISTINGS.c.variant_id)
        .where(
            LISTINGS.c.organization_id == ctx.organization_id,
            LISTINGS.c.store_id == store_id,
            LISTINGS.c.variant_id.is_not(None),
        )
        .distinct()
    ).scalars()
    touch(session, list(variants))
    record(
        session,
        ctx=ctx,
        action="store.allocation",
        entity_type="store",
        entity_id=store_id,
        before={"share_percent": _share(before.share_percent), "buffer": before.buffer},
        after={"share_percent": share, "buffer": units},
    )
    session.flush()
    return AllocationDTO(store_id=store_id, share_percent=share, buffer=units)


def _share(value: str | Decimal) -> Decimal:
    try:
        share = Decimal(str(value).strip().rstrip("%").strip())
    except InvalidOperation:
        raise ValidationFailed("share_percent", "must be a number from 1 to 100") from None
    if not share.is_finite() or share <= 0 or share > 100:
        raise ValidationFailed("share_percent", "must be above 0 and at most 100")
    return share.quantize(Decimal("0.01"))


def _buffer(value: str | int) -> int:
    try:
        units = int(str(value).strip())
    except ValueError:
        raise ValidationFailed("buffer", "must be a whole number of units, 0 or more") from None
    if units < 0 or units > MAX_BUFFER:
        raise ValidationFailed("buffer", f"must be from 0 to {MAX_BUFFER}")
    return units


def _require_store(session: Session, ctx: RequestContext, store_id: uuid.UUID) -> None:
    from storesync.channels.models import Store

    stores = table_of(Store)
    found = session.execute(
        sa.select(stores.c.id).where(
            stores.c.id == store_id, stores.c.organization_id == ctx.organization_id
        )
    ).first()
    if found is None:
        raise NotFound("store", store_id)
