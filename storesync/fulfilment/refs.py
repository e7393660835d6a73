"""What the fulfilment actions share: an order as a marketplace call needs it (read in a short
transaction), the store's adapter opened and closed around the calls, per-order outcomes, and
the timeline note an action leaves."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storesync.channels.adapter import PlatformAdapter
from storesync.channels.connections import open_adapter
from storesync.core.errors import AppError, NotFound, ValidationFailed
from storesync.db import session_scope
from storesync.fulfilment.schemas import OrderOutcome
from storesync.orders import service as orders
from storesync.orders.models import Order
from storesync.settings import Settings
from storesync.tenancy.context import RequestContext

log = logging.getLogger(__name__)

Progress = Callable[[int, int, int], None]  # done, total, failed
MAX_ORDERS = 500  # one bulk action; a merchant's busiest morning fits


@dataclass(frozen=True)
class OrderRef:
    """What a marketplace call needs of an order, read in a short transaction."""

    id: uuid.UUID
    store_id: uuid.UUID
    platform: str
    platform_order_id: str
    order_number: str
    status: str
    arranged_at: object


def order_refs(
    session: Session, ctx: RequestContext, order_ids: Sequence[uuid.UUID]
) -> list[OrderRef]:
    rows = session.exec(
        select(Order).where(
            Order.organization_id == ctx.organization_id, col(Order.id).in_(list(order_ids))
        )
    ).all()
    found = {
        row.id: OrderRef(
            row.id,
            row.store_id,
            row.platform,
            row.platform_order_id,
            row.order_number or row.platform_order_id,
            row.status,
            row.arranged_at,
        )
        for row in rows
    }
    return [found[i] for i in order_ids if i in found]


def one_ref(session: Session, ctx: RequestContext, order_id: uuid.UUID) -> OrderRef:
    refs = order_refs(session, ctx, [order_id])
    if not refs:
        raise NotFound("order", order_id)
    return refs[0]


def unique_ids(order_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    unique = list(dict.fromkeys(order_ids))
    if not unique:
        raise ValidationFailed("order_ids", "choose at least one order")
    if len(unique) > MAX_ORDERS:
        raise ValidationFailed("order_ids", f"at most {MAX_ORDERS} orders at once")
    return unique


@contextlib.asynccontextmanager
async def store_adapter(
    ctx: RequestContext, store_id: uuid.UUID, settings: Settings | None, engine: Engine | None
) -> AsyncIterator[PlatformAdapter]:
    with session_scope(ctx, engine=engine) as session:
        adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
    try:
        yield adapter
    finally:
        with contextlib.suppress(Exception):  # closing must never hide the real outcome
            await adapter.connection.http.client.aclose()


def failed(ref: OrderRef, error: AppError) -> OrderOutcome:
    return OrderOutcome(
        order_id=ref.id,
        order_number=ref.order_number,
        ok=False,
        error_code=error.code,
        error_message=error.message,
    )


def not_found(order_id: uuid.UUID) -> OrderOutcome:
    return OrderOutcome(
        order_id=order_id,
        order_number="",
        ok=False,
        error_code="not_found",
        error_message="order not found",
    )


def note(session: Session, ctx: RequestContext, row: Order, reason: str) -> None:
    """A timeline entry that does not change the status, and the live inbox update."""
    orders.add_event(
        session, ctx=ctx, row=row, from_status=row.status, source="user", reason=reason
    )
    session.flush()
    orders.announce(session, ctx, "order.updated", row)
