"""Drift records: what reconciliation found (`reconcile`), closed once the right
quantity reached the channel, and listed for the UI."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storesync.core.clock import utcnow
from storesync.core.errors import ValidationFailed
from storesync.core.models import table_of
from storesync.core.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from storesync.sync.health.schemas import DriftDTO
from storesync.sync.models import StockDrift
from storesync.sync.push.outbox import LISTINGS
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

DRIFT = table_of(StockDrift)


def mark_repaired(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> list[uuid.UUID]:
    """Mark the store's open drift rows repaired whose listing received a push after the drift
    was found (by this run or, for a push that was deferred, by the dispatcher later). Returns
    the ids marked. Needs RUN_SYNC; flushes, never commits."""
    ctx.require(Permission.RUN_SYNC)
    pushed_after = sa.exists().where(
        LISTINGS.c.id == DRIFT.c.listing_id, LISTINGS.c.last_pushed_at >= DRIFT.c.created_at
    )
    return list(
        session.execute(
            sa.update(DRIFT)
            .where(
                DRIFT.c.organization_id == ctx.organization_id,
                DRIFT.c.store_id == store_id,
                DRIFT.c.repaired.is_(False),
                pushed_after,
            )
            .values(repaired=True, repaired_at=utcnow())
            .returning(DRIFT.c.id)
        )
        .scalars()
        .all()
    )


def list_drift(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID | None = None,
    job_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[DriftDTO]:
    """Drift records, newest first, keyset-paginated, with the listing's SKU and title;
    optionally of one store or one reconciliation job. Needs READ."""
    ctx.require(Permission.READ)
    size = clamp_limit(limit)
    query = (
        sa.select(
            DRIFT,
            LISTINGS.c.platform_item_id,
            LISTINGS.c.platform_model_id,
            LISTINGS.c.platform_sku,
            LISTINGS.c.title,
            LISTINGS.c.model_name,
        )
        .join(LISTINGS, LISTINGS.c.id == DRIFT.c.listing_id)
        .where(DRIFT.c.organization_id == ctx.organization_id)
    )
    if store_id is not None:
        query = query.where(DRIFT.c.store_id == store_id)
    if job_id is not None:
        query = query.where(DRIFT.c.job_id == job_id)
    if cursor:
        query = query.where(_before(cursor))
    rows = session.execute(
        query.order_by(DRIFT.c.created_at.desc(), DRIFT.c.id.desc()).limit(size + 1)
    ).all()
    items = [DriftDTO.model_validate(dict(row._mapping)) for row in rows[:size]]
    last = items[-1] if items and len(rows) > size else None
    return Page[DriftDTO](
        items=items,
        next_cursor=encode_cursor(last.created_at.isoformat(), last.id) if last else None,
    )


def _before(cursor: str) -> sa.ColumnElement[bool]:
    raw_at, raw_id = decode_cursor(cursor, parts=2)
    try:
        at: Any = datetime.fromisoformat(str(raw_at))
        last_id = uuid.UUID(str(raw_id))
    except ValueError:
        raise ValidationFailed("cursor", "is not a valid page cursor") from None
    if at.tzinfo is None:
        raise ValidationFailed("cursor", "is not a valid page cursor")
    return sa.or_(DRIFT.c.created_at < at, sa.and_(DRIFT.c.created_at == at, DRIFT.c.id < last_id))
