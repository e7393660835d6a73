"""Reservations: hold stock for order lines; release on cancel; deduct on shipping.

Each is idempotent per order line: the reservation row (unique per order line and stock row) is
written first, so the same line reserved twice, even at the same instant, reserves once.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storesync.core.clock import utcnow
from storesync.core.errors import ValidationFailed
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.inventory import items
from storesync.inventory.errors import InsufficientStock
from storesync.inventory.models import Reservation
from storesync.inventory.schemas import ReservationDTO
from storesync.orders.models import OrderItem
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

RESERVATIONS: Any = table_of(Reservation)
ORDER_ITEMS: Any = table_of(OrderItem)


def _existing(session: Session, ctx: RequestContext, order_item_id: uuid.UUID) -> Any:
    return session.execute(
        sa.select(RESERVATIONS).where(
            RESERVATIONS.c.organization_id == ctx.organization_id,
            RESERVATIONS.c.order_item_id == order_item_id,
        )
    ).first()


def _dto(row: Any) -> ReservationDTO:
    return ReservationDTO(
        id=row.id,
        order_item_id=row.order_item_id,
        inventory_item_id=row.inventory_item_id,
        quantity=row.quantity,
        status=row.status,
    )


def reserve_stock(
    session: Session,
    *,
    ctx: RequestContext,
    order_item_id: uuid.UUID,
    variant_id: uuid.UUID,
    location_id: uuid.UUID,
    quantity: int,
    new_line: bool = False,
) -> ReservationDTO:
    """Reserve `quantity` for an order line. Idempotent per order line: a second call returns the
    existing reservation. Raises `InsufficientStock(variant_id, requested, available)` and
    changes nothing when not enough is available. `new_line`: the line was inserted by this
    transaction, so no reservation can exist yet and the lookup is skipped (the unique key
    still decides). Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    if quantity < 1:
        raise ValidationFailed("quantity", "must be at least 1")
    existing = None if new_line else _existing(session, ctx, order_item_id)
    if existing is not None:
        return _dto(existing)
    item_id = items.ensure_item(session, ctx, variant_id, location_id)
    reservation_id = new_id()
    try:
        with session.begin_nested():
            session.execute(
                sa.insert(RESERVATIONS).values(
                    id=reservation_id,
                    organization_id=ctx.organization_id,
                    created_at=utcnow(),
                    order_item_id=order_item_id,
                    inventory_item_id=item_id,
                    quantity=quantity,
                    status="active",
                )
            )
            after = items.change(
                session,
                ctx,
                item_id,
                on_hand_delta=0,
                reserved_delta=quantity,
                kind="reserve",
                reason="order line reserved",
                reference_type="order_item",
                reference_id=str(order_item_id),
            )
            if after is None:
                raise InsufficientStock(
                    variant_id=variant_id,
                    requested=quantity,
                    available=items.available(session, item_id),
                )
    except IntegrityError:
        # The same line was reserved concurrently and committed first.
        existing = _existing(session, ctx, order_item_id)
        if existing is None:
            raise
        return _dto(existing)
    return ReservationDTO(
        id=reservation_id,
        order_item_id=order_item_id,
        inventory_item_id=item_id,
        quantity=quantity,
        status="active",
    )


def release_order(
    session: Session, *, ctx: RequestContext, order_id: uuid.UUID
) -> list[ReservationDTO]:
    """Release the order's active reservations (cancellation). Idempotent. Needs PROCESS_ORDERS."""
    return _settle(session, ctx, order_id, status="released", kind="release", deduct=False)


def fulfil_order(
    session: Session, *, ctx: RequestContext, order_id: uuid.UUID
) -> list[ReservationDTO]:
    """Turn the order's active reservations into on-hand deductions (shipping). Idempotent.
    Needs PROCESS_ORDERS."""
    return _settle(session, ctx, order_id, status="fulfilled", kind="fulfil", deduct=True)


def _settle(
    session: Session,
    ctx: RequestContext,
    order_id: uuid.UUID,
    *,
    status: str,
    kind: str,
    deduct: bool,
) -> list[ReservationDTO]:
    ctx.require(Permission.PROCESS_ORDERS)
    active = session.execute(
        sa.select(RESERVATIONS)
        .join(ORDER_ITEMS, ORDER_ITEMS.c.id == RESERVATIONS.c.order_item_id)
        .where(
            RESERVATIONS.c.organization_id == ctx.organization_id,
            ORDER_ITEMS.c.order_id == order_id,
            RESERVATIONS.c.status == "active",
        )
        .order_by(RESERVATIONS.c.inventory_item_id, RESERVATIONS.c.id)
    ).all()
    settled = []
    for row in active:
        # Claim the reservation first: a concurrent settle of the same order finds it taken.
        claimed = session.execute(
            sa.update(RESERVATIONS)
            .where(RESERVATIONS.c.id == row.id, RESERVATIONS.c.status == "active")
            .values(status=status, updated_at=utcnow())
            .returning(RESERVATIONS.c.id)
        ).first()
        if claimed is None:
            continue
        after = items.change(
            session,
            ctx,
            row.inventory_item_id,
            on_hand_delta=-row.quantity if deduct else 0,
            reserved_delta=-row.quantity,
            kind=kind,
            reason=f"order {status}",
            reference_type="order",
            reference_id=str(order_id),
        )
        if after is None:  # pragma: no cover - the CHECKs make this unreachable
            raise RuntimeError(f"reservation {row.id} exceeds its stock row")
        settled.append(_dto(row).model_copy(update={"status": status}))
    return settled
