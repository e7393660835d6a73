"""Buyers' returns: recorded as the platforms report them, and resolved by the merchant.

A return reaches StoreSync from its platform (a push, or the orders poll) and is kept in the
platform's current state. Once it is `completed` (the goods are back, the buyer refunded), the
order becomes `returned` when every unit of it came back, and the merchant decides once, per
return, what happens to the units: restocked (a `return` entry in the ledger adding them to
on-hand, pushed to every channel by the outbox) or written off (a `return` entry of 0 recording
the decision). A refund without goods coming back has nothing to restock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from storesync.channels.schemas import ChannelReturn
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, NotFound, ValidationFailed
from storesync.core.pagination import Page, clamp_limit, decode_typed, encode_cursor
from storesync.fulfilment.models import RETURN_STATES, OrderReturn
from storesync.fulfilment.schemas import (
    Resolution,
    ReturnDTO,
    ReturnLineDTO,
    ReturnsSyncReport,
    parse_resolution,
)
from storesync.inventory import service as inventory
from storesync.orders import service as orders
from storesync.orders.models import Order, OrderItem
from storesync.orders.status import OrderStatus, can_transition
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

SOURCE = "channel"


def record_returns(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    returns: Sequence[ChannelReturn],
) -> ReturnsSyncReport:
    """Create or update the store's returns as the platform reports them (the same report
    twice changes nothing). A return of an order StoreSync does not have is counted and skipped.
    Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    counts = dict.fromkeys(("fetched", "created", "updated", "unknown_orders"), 0)
    for found in returns:
        counts["fetched"] += 1
        order = session.exec(
            select(Order).where(
                Order.organization_id == ctx.organization_id,
                Order.store_id == store_id,
                Order.platform_order_id == found.platform_order_id,
            )
        ).first()
        if order is None:
            counts["unknown_orders"] += 1
            continue
        row = session.exec(
            select(OrderReturn)
            .where(
                OrderReturn.organization_id == ctx.organization_id,
                OrderReturn.store_id == store_id,
                OrderReturn.platform_return_id == found.platform_return_id,
            )
            .with_for_update()
        ).first()
        if row is None:
            row = OrderReturn(
                organization_id=ctx.organization_id,
                store_id=store_id,
                order_id=order.id,
                platform_return_id=found.platform_return_id[:64],
                lines=_lines(session, ctx, order, found),
            )
            session.add(row)
            counts["created"] += 1
        elif _same(row, found):
            continue
        else:
            counts["updated"] += 1
        completed_now = found.state == "completed" and row.state != "completed"
        row.platform_status = found.platform_status[:64]
        row.state = found.state if found.state in RETURN_STATES else "in_progress"
        row.reason = found.reason[:255]
        row.refund_only = found.refund_only
        row.refund_amount = found.refund_amount
        row.currency = found.currency[:3]
        row.platform_updated_at = found.updated_at
        row.updated_at = utcnow()
        session.flush()
        if completed_now:
            _order_returned(session, ctx, order, row)
        orders.announce(session, ctx, "order.updated", order)
    return ReturnsSyncReport(store_id=store_id, **counts)


def _same(row: OrderReturn, found: ChannelReturn) -> bool:
    return row.platform_status == found.platform_status[:64] and row.state == found.state


def _lines(
    session: Session, ctx: RequestContext, order: Order, found: ChannelReturn
) -> list[dict[str, Any]]:
    """The returned lines, each linked to the master variant its order line was sold as."""
    items = session.exec(
        select(OrderItem).where(
            OrderItem.organization_id == ctx.organization_id, OrderItem.order_id == order.id
        )
    ).all()
    by_ids = {(i.platform_item_id, i.platform_model_id): i for i in items}
    by_sku = {i.sku: i for i in items if i.sku}
    lines = []
    for line in found.lines:
        item = by_ids.get((line.platform_item_id, line.platform_model_id)) or by_sku.get(line.sku)
        lines.append(
            {
                "platform_item_id": line.platform_item_id,
                "platform_model_id": line.platform_model_id,
                "sku": line.sku or (item.sku if item else ""),
                "quantity": line.quantity,
                "variant_id": str(item.variant_id) if item and item.variant_id else None,
            }
        )
    return lines


def _order_returned(session: Session, ctx: RequestContext, order: Order, row: OrderReturn) -> None:
    """A completed return of every unit of the order makes the order `returned`."""
    if row.refund_only:
        return
    items = session.exec(
        select(OrderItem).where(
            OrderItem.organization_id == ctx.organization_id, OrderItem.order_id == order.id
        )
    ).all()
    returned = _returned_units(session, ctx, order.id)
    every_unit = sum(i.quantity for i in items) <= returned
    current = OrderStatus(order.status)
    if every_unit and can_transition(current, OrderStatus.RETURNED):
        orders.change_status(
            session,
            ctx=ctx,
            order_id=order.id,
            to_status=OrderStatus.RETURNED.value,
            reason=f"return {row.platform_return_id} completed on {order.platform}",
            source=SOURCE,
        )


def _returned_units(session: Session, ctx: RequestContext, order_id: uuid.UUID) -> int:
    rows = session.exec(
        select(OrderReturn).where(
            OrderReturn.organization_id == ctx.organization_id,
            OrderReturn.order_id == order_id,
            OrderReturn.state == "completed",
            col(OrderReturn.refund_only).is_(False),
        )
    ).all()
    return sum(int(line["quantity"]) for row in rows for line in row.lines)


def resolve_return(
    session: Session, *, ctx: RequestContext, return_id: uuid.UUID, resolution: str
) -> ReturnDTO:
    """Decide, once, what happens to a completed return's units: `restock` puts them back on
    hand (pushed to every channel), `write_off` records that they are not sellable. Needs
    PROCESS_ORDERS, and ADJUST_STOCK to restock."""
    ctx.require(Permission.PROCESS_ORDERS)
    wanted = parse_resolution(resolution)
    if wanted is Resolution.RESTOCK:
        ctx.require(Permission.ADJUST_STOCK)
    row = session.exec(
        select(OrderReturn)
        .where(OrderReturn.id == return_id, OrderReturn.organization_id == ctx.organization_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("return", return_id)
    if row.resolution:
        raise AppError(
            ErrorType.CONFLICT,
            "already_resolved",
            f"return {row.platform_return_id} was already resolved ({row.resolution})",
        )
    if row.state != "completed":
        raise AppError(
            ErrorType.CONFLICT,
            "return_not_completed",
            f"return {row.platform_return_id} is {row.state}: decide once the goods are back",
        )
    if row.refund_only:
        raise ValidationFailed("resolution", "a refund without a return brings no units back")
    unmapped = [
        line["sku"] or line["platform_item_id"] for line in row.lines if not line.get("variant_id")
    ]
    if wanted is Resolution.RESTOCK and unmapped:
        raise ValidationFailed(
            "resolution",
            f"{', '.join(unmapped)} is not linked to a master SKU: link it, or write it off",
        )
    for line in row.lines:
        if line.get("variant_id"):
            inventory.return_units(
                session,
                ctx=ctx,
                variant_id=uuid.UUID(line["variant_id"]),
                quantity=int(line["quantity"]),
                restock=wanted is Resolution.RESTOCK,
                reason=f"return {row.platform_return_id}",
                reference_id=str(row.id),
            )
    row.resolution = wanted.value
    row.resolved_by_user_id = ctx.user_id
    row.resolved_at = utcnow()
    row.updated_at = row.resolved_at
    record(
        session,
        ctx=ctx,
        action="return.resolve",
        entity_type="return",
        entity_id=row.id,
        before={"resolution": ""},
        after={
            "resolution": wanted.value,
            "units": sum(int(line["quantity"]) for line in row.lines),
            "return": row.platform_return_id,
        },
    )
    session.flush()
    return _dtos(session, ctx, [row])[0]


def list_returns(
    session: Session,
    *,
    ctx: RequestContext,
    state: str | None = None,
    unresolved: bool = False,
    order_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ReturnDTO]:
    """Returns, most recently changed first (keyset on created_at, id). `unresolved`: completed
    returns whose units still wait for the merchant's decision. Needs READ."""
    ctx.require(Permission.READ)
    size = clamp_limit(limit)
    query = select(OrderReturn).where(OrderReturn.organization_id == ctx.organization_id)
    if state:
        if state not in RETURN_STATES:
            raise ValidationFailed("state", f"must be one of {', '.join(RETURN_STATES)}")
        query = query.where(OrderReturn.state == state)
    if unresolved:
        query = query.where(
            OrderReturn.state == "completed",
            OrderReturn.resolution == "",
            col(OrderReturn.refund_only).is_(False),
        )
    if order_id is not None:
        query = query.where(OrderReturn.order_id == order_id)
    if cursor:
        created, last = decode_typed(cursor, datetime.fromisoformat, uuid.UUID)
        query = query.where(
            (col(OrderReturn.created_at) < created)
            | ((col(OrderReturn.created_at) == created) & (col(OrderReturn.id) < last))
        )
    rows = session.exec(
        query.order_by(col(OrderReturn.created_at).desc(), col(OrderReturn.id).desc()).limit(
            size + 1
        )
    ).all()
    page = list(rows[:size])
    next_cursor = (
        encode_cursor(page[-1].created_at.isoformat(), page[-1].id) if len(rows) > size else None
    )
    return Page[ReturnDTO](items=_dtos(session, ctx, page), next_cursor=next_cursor)


def _dtos(session: Session, ctx: RequestContext, rows: Sequence[OrderReturn]) -> list[ReturnDTO]:
    order_ids = list({row.order_id for row in rows})
    found = session.exec(
        select(Order.id, Order.order_number, Order.platform_order_id, Order.platform).where(
            Order.organization_id == ctx.organization_id, col(Order.id).in_(order_ids)
        )
    ).all()
    numbers = {
        oid: (number or platform_id, platform) for oid, number, platform_id, platform in found
    }
    return [
        ReturnDTO(
            id=row.id,
            store_id=row.store_id,
            order_id=row.order_id,
            order_number=numbers.get(row.order_id, ("", ""))[0],
            platform=numbers.get(row.order_id, ("", ""))[1],
            platform_return_id=row.platform_return_id,
            platform_status=row.platform_status,
            state=row.state,
            reason=row.reason,
            refund_only=row.refund_only,
            lines=[
                ReturnLineDTO(
                    platform_item_id=line["platform_item_id"],
                    platform_model_id=line["platform_model_id"],
                    sku=line["sku"],
                    quantity=int(line["quantity"]),
                    variant_id=uuid.UUID(line["variant_id"]) if line.get("variant_id") else None,
                )
                for line in row.lines
            ],
            refund_amount=row.refund_amount,
            currency=row.currency,
            resolution=row.resolution,
            resolved_by_user_id=row.resolved_by_user_id,
            resolved_at=row.resolved_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in rows
    ]
