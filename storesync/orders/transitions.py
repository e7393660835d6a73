"""Order status changes: the lifecycle's stock effects (cancelling releases, shipping deducts)
and the timeline entry every change leaves."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import Session, select

from storesync.core.clock import utcnow
from storesync.core.errors import AppError, NotFound, ValidationFailed
from storesync.inventory import service as inventory
from storesync.orders._common import add_event, announce
from storesync.orders.models import Order
from storesync.orders.queries import order_dto
from storesync.orders.schemas import BulkStatusResult, OrderDTO
from storesync.orders.status import (
    LEFT_WAREHOUSE,
    PAID_STATUSES,
    OrderStatus,
    check_transition,
    deducts_stock,
    financial_status_for,
    fulfillment_status_for,
    parse_status,
    releases_stock,
)
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

# The audit log's action for a person moving an order to a status ("order.status" otherwise).
_ACTIONS = {OrderStatus.CANCELLED: "order.cancel", OrderStatus.SHIPPED: "order.ship"}


def change_status(
    session: Session,
    *,
    ctx: RequestContext,
    order_id: uuid.UUID,
    to_status: str,
    reason: str = "",
    source: str = "user",
) -> OrderDTO:
    """Move an order to `to_status` if the lifecycle allows it (`IllegalTransition` otherwise,
    changing nothing); the same status again is a no-op. Cancelling releases the order's stock,
    shipping deducts it; every change lands on the timeline with who, when and why.
    Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    target = parse_status(to_status, field="to_status")
    row = lock_order(session, ctx=ctx, order_id=order_id)
    _transition(session, ctx=ctx, row=row, target=target, reason=reason, source=source)
    return order_dto(session, ctx=ctx, row=row)


def ship_order(
    session: Session,
    *,
    ctx: RequestContext,
    order_id: uuid.UUID,
    tracking_number: str = "",
    reason: str = "",
    source: str = "user",
) -> OrderDTO:
    """Mark an order shipped (deducting its stock) and record its tracking number.
    Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    tracking = tracking_number.strip()
    if len(tracking) > 64:
        raise ValidationFailed("tracking_number", "must be at most 64 characters")
    row = lock_order(session, ctx=ctx, order_id=order_id)
    _transition(session, ctx=ctx, row=row, target=OrderStatus.SHIPPED, reason=reason, source=source)
    if tracking and tracking != row.tracking_number:
        record(
            session,
            ctx=ctx,
            action="order.tracking",
            entity_type="order",
            entity_id=row.id,
            before={"tracking_number": row.tracking_number},
            after={"tracking_number": tracking, **_named(row, reason)},
        )
        row.tracking_number = tracking
        row.updated_at = utcnow()
        session.flush()
    return order_dto(session, ctx=ctx, row=row)


def bulk_change_status(
    session: Session,
    *,
    ctx: RequestContext,
    order_ids: Sequence[uuid.UUID],
    to_status: str,
    reason: str = "",
    source: str = "user",
) -> list[BulkStatusResult]:
    """Move many orders at once. Each order succeeds or fails on its own (in its own savepoint):
    an illegal transition or a missing order is reported in its result, the others go ahead.
    Results follow `order_ids` (duplicates once). Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    target = parse_status(to_status, field="to_status")
    unique = list(dict.fromkeys(order_ids))
    results: dict[uuid.UUID, BulkStatusResult] = {}
    for order_id in sorted(unique):  # key order: concurrent bulk changes cannot deadlock
        try:
            with session.begin_nested():
                dto = change_status(
                    session,
                    ctx=ctx,
                    order_id=order_id,
                    to_status=target,
                    reason=reason,
                    source=source,
                )
            results[order_id] = BulkStatusResult(order_id=order_id, ok=True, status=dto.status)
        except AppError as error:
            results[order_id] = BulkStatusResult(
                order_id=order_id, ok=False, error_code=error.code, error_message=error.message
            )
    return [results[order_id] for order_id in unique]


def lock_order(session: Session, *, ctx: RequestContext, order_id: uuid.UUID) -> Order:
    """The order's row, locked for the rest of the transaction (`NotFound` when it is not
    the organization's)."""
    row = session.exec(
        select(Order)
        .where(Order.id == order_id, Order.organization_id == ctx.organization_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("order", order_id)
    return row


def _transition(
    session: Session,
    *,
    ctx: RequestContext,
    row: Order,
    target: OrderStatus,
    reason: str,
    source: str,
) -> None:
    current = OrderStatus(row.status)
    check_transition(current, target)
    if current == target:
        return
    if releases_stock(current, target):
        inventory.release_order(session, ctx=ctx, order_id=row.id)
    if deducts_stock(current, target):
        inventory.fulfil_order(session, ctx=ctx, order_id=row.id)
    now = utcnow()
    was_paid = row.paid_at is not None or current in PAID_STATUSES
    row.status = target.value
    row.financial_status = financial_status_for(target, was_paid=was_paid).value
    row.fulfillment_status = fulfillment_status_for(target).value
    if target in PAID_STATUSES and row.paid_at is None:
        row.paid_at = now
    if target in LEFT_WAREHOUSE and row.shipped_at is None:
        row.shipped_at = now
    row.updated_at = now
    add_event(session, ctx=ctx, row=row, from_status=current.value, source=source, reason=reason)
    record(
        session,
        ctx=ctx,
        action=_ACTIONS.get(target, "order.status"),
        entity_type="order",
        entity_id=row.id,
        before={"status": current.value},
        after={"status": target.value, **_named(row, reason)},
    )
    session.flush()
    announce(session, ctx, "order.updated", row)


def _named(row: Order, reason: str) -> dict[str, str]:
    """What an audit row of an order adds to its changed fields: the order's number, and the
    reason given."""
    named = {"order": row.order_number or row.platform_order_id}
    if reason.strip():
        named["reason"] = reason.strip()[:255]
    return named
