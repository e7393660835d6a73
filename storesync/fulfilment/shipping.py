"""Shipping an order through its marketplace: the hand-over options the platform offers,
arranging the shipment (pickup with a slot, or drop-off), its label, and cancelling as the seller.

Every marketplace call is made outside any database transaction (SQLite holds one writer; a
platform may take seconds): read what the call needs, call, then record the outcome in a short
transaction of its own. What the platform refuses changes nothing in StoreSync and is reported
with the platform's own message. In bulk, each order succeeds or fails on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storesync.channels.adapter import PlatformAdapter
from storesync.channels.models import ChannelListing
from storesync.channels.schemas import CANCEL_REASONS, ShippingOptions, ShipRequest
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, ValidationFailed
from storesync.db import session_scope
from storesync.fulfilment import labels, refs
from storesync.fulfilment.schemas import OrderOutcome
from storesync.inventory.items import push_again, touch
from storesync.orders import service as orders
from storesync.orders.models import Order, OrderItem
from storesync.orders.schemas import OrderDTO
from storesync.orders.status import OrderStatus, ShippingStage, check_transition
from storesync.settings import Settings
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

log = logging.getLogger(__name__)

Progress = Callable[[int, int, int], None]  # done, total, failed
TRACKING_POLLS = 3  # a tracking number the platform has not assigned yet: ask again, briefly
TRACKING_WAIT = 0.5


# -- options and arranging -----------------------------------------------------------------------


async def shipping_options(
    ctx: RequestContext,
    *,
    order_id: uuid.UUID,
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> ShippingOptions:
    """How the platform lets this order be handed over now (pickup slots, drop-off branches).
    Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    with session_scope(ctx, engine=engine) as session:
        ref = refs.one_ref(session, ctx, order_id)
    _require_to_arrange(ref)
    async with refs.store_adapter(ctx, ref.store_id, settings, engine) as adapter:
        return await adapter.shipping_options(ref.platform_order_id)


def _require_to_arrange(ref: refs.OrderRef) -> None:
    if ref.status != OrderStatus.TO_SHIP:
        raise AppError(
            ErrorType.CONFLICT,
            "not_ready_to_ship",
            f"order {ref.order_number} is {ref.status}: only an order waiting to ship can be "
            "arranged",
        )
    if ref.arranged_at is not None:
        raise AppError(
            ErrorType.CONFLICT,
            "already_arranged",
            f"order {ref.order_number}: shipment is already arranged",
        )


async def arrange_shipments(
    ctx: RequestContext,
    *,
    order_ids: Sequence[uuid.UUID],
    requests: Mapping[uuid.UUID, ShipRequest],
    settings: Settings | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> list[OrderOutcome]:
    """Arrange the shipment of many orders, each with its store's request (`requests` by store
    id: pickup with a slot the platform offered, or drop-off), then fetch each label so printing
    is immediate. Each order succeeds or fails on its own with the platform's reason; results
    follow `order_ids`. Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    unique = refs.unique_ids(order_ids)
    with session_scope(ctx, engine=engine) as session:
        found = refs.order_refs(session, ctx, unique)
    results: dict[uuid.UUID, OrderOutcome] = {i: refs.not_found(i) for i in unique}
    by_store: dict[uuid.UUID, list[refs.OrderRef]] = defaultdict(list)
    for ref in found:
        by_store[ref.store_id].append(ref)
    done = failed = 0
    for store_id, store_refs in by_store.items():
        request = requests.get(store_id)
        try:
            if request is None:
                raise ValidationFailed("requests", "choose how this store's orders are handed over")
            async with refs.store_adapter(ctx, store_id, settings, engine) as adapter:
                for ref in store_refs:
                    results[ref.id] = await _arrange_one(ctx, adapter, ref, request, engine)
                    done += 1
                    failed += 0 if results[ref.id].ok else 1
                    if progress:
                        progress(done, len(unique), failed)
        except AppError as error:  # the store itself failed (disconnected, no request)
            for ref in store_refs:
                if results[ref.id].error_code == "not_found":
                    results[ref.id] = refs.failed(ref, error)
                    done, failed = done + 1, failed + 1
            if progress:
                progress(done, len(unique), failed)
    return [results[i] for i in unique]


async def arrange_shipment(
    ctx: RequestContext,
    *,
    order_id: uuid.UUID,
    request: ShipRequest,
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> OrderOutcome:
    """One order's shipment; the platform's refusal raises `AppError` with its message."""
    with session_scope(ctx, engine=engine) as session:
        ref = refs.one_ref(session, ctx, order_id)
    outcome = (
        await arrange_shipments(
            ctx,
            order_ids=[order_id],
            requests={ref.store_id: request},
            settings=settings,
            engine=engine,
        )
    )[0]
    if not outcome.ok:
        raise AppError(
            ErrorType.CONFLICT
            if outcome.error_code in ("already_arranged", "not_ready_to_ship")
            else ErrorType.VALIDATION,
            outcome.error_code,
            outcome.error_message,
            retryable=False,
        )
    return outcome


async def _arrange_one(
    ctx: RequestContext,
    adapter: PlatformAdapter,
    ref: refs.OrderRef,
    request: ShipRequest,
    engine: Engine | None,
) -> OrderOutcome:
    try:
        _require_to_arrange(ref)
        shipment = await adapter.arrange_shipment(ref.platform_order_id, request)
    except AppError as error:
        return refs.failed(ref, error)
    tracking = shipment.tracking_number
    for _ in range(TRACKING_POLLS if not tracking else 0):
        await asyncio.sleep(TRACKING_WAIT)
        with contextlib.suppress(AppError):
            tracking = await adapter.tracking_number(ref.platform_order_id)
        if tracking:
            break
    with session_scope(ctx, engine=engine, write_lock=True) as session:
        row = orders.lock_order(session, ctx=ctx, order_id=ref.id)
        before = {"arranged_at": row.arranged_at, "tracking_number": row.tracking_number}
        row.arranged_at = utcnow()
        row.handover_method = shipment.method
        row.tracking_number = (tracking or row.tracking_number)[:64]
        row.carrier = (shipment.carrier or row.carrier)[:64]
        row.package_id = (shipment.package_id or row.package_id)[:64]
        row.updated_at = row.arranged_at
        how = "pickup" if shipment.method == "pickup" else "drop-off"
        refs.note(session, ctx, row, f"shipment arranged on {row.platform} ({how})")
        record(
            session,
            ctx=ctx,
            action="order.arrange",
            entity_type="order",
            entity_id=row.id,
            before=before,
            after={
                "arranged_at": row.arranged_at,
                "tracking_number": row.tracking_number,
                "handover_method": row.handover_method,
                "carrier": row.carrier,
                "order": ref.order_number,
            },
        )
    label = await labels.fetch_label(ctx, adapter, ref, engine)
    return OrderOutcome(
        order_id=ref.id,
        order_number=ref.order_number,
        ok=True,
        tracking_number=tracking or (label or ""),
    )


# -- cancelling ----------------------------------------------------------------------------------


async def cancel_order(
    ctx: RequestContext,
    *,
    order_id: uuid.UUID,
    reason: str,
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> OrderDTO:
    """Cancel on the marketplace as the seller (`reason`: a key of CANCEL_REASONS), then in
    StoreSync, which releases the order's reservations. The platform's refusal (already shipped,
    ...) raises with its message and changes nothing. Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    if reason not in CANCEL_REASONS:
        raise ValidationFailed("reason", f"must be one of {', '.join(CANCEL_REASONS)}")
    with session_scope(ctx, engine=engine) as session:
        ref = refs.one_ref(session, ctx, order_id)
    check_transition(OrderStatus(ref.status), OrderStatus.CANCELLED)
    if ref.status != OrderStatus.CANCELLED:
        async with refs.store_adapter(ctx, ref.store_id, settings, engine) as adapter:
            await adapter.cancel_order(ref.platform_order_id, reason)
    with session_scope(ctx, engine=engine, write_lock=True) as session:
        cancelled = orders.change_status(
            session,
            ctx=ctx,
            order_id=order_id,
            to_status=OrderStatus.CANCELLED.value,
            reason=f"cancelled on {ref.platform}: {CANCEL_REASONS[reason]}",
        )
        _push_listings_again(session, ctx, order_id)
        return cancelled


def _push_listings_again(session: Session, ctx: RequestContext, order_id: uuid.UUID) -> None:
    """The platform put the cancelled units back on its own count: StoreSync's quantity is
    pushed to the order's listings again (an oversold line released nothing, so nothing else
    would correct that channel)."""
    items = session.exec(
        select(OrderItem.listing_id, OrderItem.variant_id).where(
            OrderItem.organization_id == ctx.organization_id, OrderItem.order_id == order_id
        )
    ).all()
    listing_ids = [listing_id for listing_id, _ in items if listing_id]
    if listing_ids:
        session.execute(
            sa.update(ChannelListing)
            .where(
                col(ChannelListing.organization_id) == ctx.organization_id,
                col(ChannelListing.id).in_(listing_ids),
            )
            .values(last_pushed_quantity=None)
        )
        push_again(session, listing_ids)  # a push in flight may have left before the restock
    touch(session, [variant_id for _, variant_id in items if variant_id])


# -- the to-ship queue ---------------------------------------------------------------------------


def stage_counts(session: Session, *, ctx: RequestContext) -> dict[str, int]:
    """How many orders wait at each shipping stage. Needs READ."""
    ctx.require(Permission.READ)
    orders_table = Order.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        sa.select(
            orders_table.c.arranged_at.is_(None).label("unarranged"),
            orders_table.c.label_printed_at.is_(None).label("unprinted"),
            sa.func.count(),
        )
        .where(
            orders_table.c.organization_id == ctx.organization_id,
            orders_table.c.status == OrderStatus.TO_SHIP.value,
        )
        .group_by("unarranged", "unprinted")
    ).all()
    counts = {stage.value: 0 for stage in ShippingStage}
    for unarranged, unprinted, count in rows:
        if unarranged:
            stage = ShippingStage.TO_ARRANGE
        else:
            stage = ShippingStage.TO_PRINT if unprinted else ShippingStage.TO_HAND_OVER
        counts[stage.value] += int(count)
    return counts
