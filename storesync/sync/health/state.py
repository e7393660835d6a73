"""Where every matched listing stands, in SQL: what its channel should show (the outbox formula),
whether it is out of step with what was last pushed, and since when (epoch seconds). One
statement for all of an organization's listings, or only for the suspects found through
indexes (`suspects`); `storesync.sync.health.staleness` builds its answers on it. The sweep's
due query (`storesync.sync.due`, migration 0015) repeats it in SQL: change both together.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storesync.catalog.models import ProductVariant
from storesync.core.models import table_of
from storesync.sync.push.outbox import ALLOCATIONS, ITEMS, LISTINGS, OUTBOX, STORES
from storesync.tenancy.context import RequestContext

VARIANTS = table_of(ProductVariant)
WAITING = ("pending", "in_progress", "failed")  # outbox states of a push that has not landed
UNIX_EPOCH_JULIAN_DAY = 2440587.5


def _epoch(dialect: str, column: Any) -> sa.ColumnElement[float]:
    """Seconds since 1970 of a timestamp column, so ages are plain arithmetic on both backends."""
    if dialect == "postgresql":
        return sa.cast(sa.extract("epoch", column), sa.Float)
    return (sa.func.julianday(column) - UNIX_EPOCH_JULIAN_DAY) * 86400.0


def _positive(dialect: str, value: Any) -> sa.ColumnElement[Any]:
    """max(value, 0), evaluating `value` once (a CASE would run a subquery in it twice)."""
    if dialect == "postgresql":
        return sa.func.greatest(value, 0)
    return sa.func.max(value, 0)  # SQLite's two-argument max() is a scalar function


def _desired(dialect: str, available: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
    """The outbox formula (`outbox.channel_quantity`) in SQL and in integers: the share in basis
    points, floor division of non-negative numbers (CHECKs keep available stock >= 0)."""
    basis_points = sa.cast(
        sa.func.round(sa.func.coalesce(ALLOCATIONS.c.share_percent, 100) * 100), sa.Integer
    )
    return _positive(
        dialect, available * basis_points // 10000 - sa.func.coalesce(ALLOCATIONS.c.buffer, 0)
    )


def _joined_stock(org: uuid.UUID) -> tuple[sa.ColumnElement[int], list[tuple[Any, Any]]]:
    """Available stock by joins (every variant's total, the allocation location's row): the
    cheap way for all of an organization's listings. Returns it with the joins to add."""
    totals = (
        sa.select(
            ITEMS.c.variant_id, sa.func.sum(ITEMS.c.on_hand - ITEMS.c.reserved).label("available")
        )
        .where(ITEMS.c.organization_id == org)
        .group_by(ITEMS.c.variant_id)
        .subquery("totals")
    )
    here = ITEMS.alias("at_location")
    available = sa.case(
        (ALLOCATIONS.c.location_id.is_(None), sa.func.coalesce(totals.c.available, 0)),
        else_=sa.func.coalesce(here.c.on_hand - here.c.reserved, 0),
    )
    joins = [
        (totals, totals.c.variant_id == LISTINGS.c.variant_id),
        (
            here,
            sa.and_(
                here.c.variant_id == LISTINGS.c.variant_id,
                here.c.location_id == ALLOCATIONS.c.location_id,
            ),
        ),
    ]
    return available, joins


def _looked_up_stock() -> sa.ColumnElement[int]:
    """Available stock looked up per listing through the stock rows' indexes: the cheap way for
    a few listings."""
    total = (
        sa.select(sa.func.coalesce(sa.func.sum(ITEMS.c.on_hand - ITEMS.c.reserved), 0))
        .where(ITEMS.c.variant_id == LISTINGS.c.variant_id)
        .correlate(LISTINGS)
        .scalar_subquery()
    )
    here = (
        sa.select(ITEMS.c.on_hand - ITEMS.c.reserved)
        .where(
            ITEMS.c.variant_id == LISTINGS.c.variant_id,
            ITEMS.c.location_id == ALLOCATIONS.c.location_id,
        )
        .correlate(LISTINGS, ALLOCATIONS)
        .scalar_subquery()
    )
    return sa.case((ALLOCATIONS.c.location_id.is_(None), total), else_=sa.func.coalesce(here, 0))


def suspects(
    store_ids: list[uuid.UUID], stopped: list[uuid.UUID]
) -> sa.Select[Any] | sa.CompoundSelect:
    """Listings that can be out of step, found through indexes without computing anything: a
    push waiting (outbox by store and status) or a store that is not syncing (its listings).
    A connected store's listing is out of step without a waiting push only when something
    bypassed the outbox; the dashboard's full scan shows those too."""
    waiting = sa.select(OUTBOX.c.listing_id.label("id")).where(
        OUTBOX.c.store_id.in_(store_ids), OUTBOX.c.status.in_(WAITING)
    )
    if not stopped:
        return waiting
    of_stopped = sa.select(LISTINGS.c.id).where(
        LISTINGS.c.store_id.in_(stopped), LISTINGS.c.match_status == "matched"
    )
    return sa.union(waiting, of_stopped)


def listing_state(
    session: Session,
    ctx: RequestContext,
    store_id: uuid.UUID | None = None,
    *,
    suspects: sa.Select[Any] | sa.CompoundSelect | None = None,
) -> sa.Subquery:
    """Every matched listing of the organization's stores that are not disconnected (or only
    the `suspects`), with what it should show, whether it is out of step and since when (epoch
    seconds)."""
    dialect = session.get_bind().dialect.name
    org = ctx.organization_id
    joins: list[tuple[Any, Any]] = []
    if suspects is None:
        available, joins = _joined_stock(org)
    else:
        available = _looked_up_stock()
    desired = _desired(dialect, available)
    written = _epoch(dialect, sa.func.coalesce(OUTBOX.c.updated_at, OUTBOX.c.created_at))
    backoff = _positive(dialect, _epoch(dialect, OUTBOX.c.available_at) - written)
    unhealthy_later = sa.and_(
        STORES.c.unhealthy_since.is_not(None),
        sa.or_(
            LISTINGS.c.last_pushed_at.is_(None),
            STORES.c.unhealthy_since > LISTINGS.c.last_pushed_at,
        ),
    )
    waiting = OUTBOX.c.status.in_(WAITING)
    since = sa.case(
        (sa.and_(OUTBOX.c.status == "pending", OUTBOX.c.attempts > 0), written - backoff),
        (waiting, written),
        (unhealthy_later, _epoch(dialect, STORES.c.unhealthy_since)),
        else_=_epoch(
            dialect,
            sa.func.coalesce(
                LISTINGS.c.last_pushed_at, LISTINGS.c.updated_at, LISTINGS.c.created_at
            ),
        ),
    )
    out_of_step = sa.or_(
        OUTBOX.c.status.in_(("pending", "in_progress")),
        LISTINGS.c.last_pushed_quantity.is_distinct_from(desired),
    )
    query = (
        sa.select(
            LISTINGS.c.id.label("listing_id"),
            LISTINGS.c.store_id,
            STORES.c.name.label("store_name"),
            STORES.c.platform,
            LISTINGS.c.platform_item_id,
            LISTINGS.c.platform_model_id,
            sa.func.coalesce(VARIANTS.c.variant_sku, LISTINGS.c.platform_sku).label("sku"),
            LISTINGS.c.title,
            LISTINGS.c.model_name,
            desired.label("desired_quantity"),
            LISTINGS.c.last_pushed_quantity,
            LISTINGS.c.last_pushed_at,
            sa.case((waiting, OUTBOX.c.status), else_="").label("push_status"),
            sa.case((waiting, OUTBOX.c.last_error), else_="").label("last_error"),
            sa.case((waiting, OUTBOX.c.attempts), else_=0).label("attempts"),
            since.label("since"),
            out_of_step.label("out_of_step"),
        )
        .select_from(LISTINGS)
        .join(STORES, STORES.c.id == LISTINGS.c.store_id)
        .outerjoin(VARIANTS, VARIANTS.c.id == LISTINGS.c.variant_id)
        .outerjoin(OUTBOX, OUTBOX.c.listing_id == LISTINGS.c.id)
        .outerjoin(ALLOCATIONS, ALLOCATIONS.c.store_id == LISTINGS.c.store_id)
        .where(
            LISTINGS.c.organization_id == org,
            LISTINGS.c.match_status == "matched",
            LISTINGS.c.variant_id.is_not(None),
            STORES.c.status != "disconnected",
        )
    )
    for table, on in joins:
        query = query.outerjoin(table, on)
    if store_id is not None:
        query = query.where(LISTINGS.c.store_id == store_id)
    if suspects is not None:
        query = query.where(LISTINGS.c.id.in_(suspects))
    return query.subquery("listing_state")
