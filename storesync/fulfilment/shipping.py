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
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storesync.channels.adapter import PlatformAdapter
from storesync.channels.connections import open_adapter
from storesync.channels.models import ChannelListing
from storesync.channels.schemas import CANCEL_REASONS, ShippingOptions, ShipRequest
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, NotFound, ValidationFailed
from storesync.db import session_scope
from storesync.fulfilment import documents
from storesync.fulfilment.models import ShippingLabel
from storesync.fulfilment.schemas import OrderOutcome, PrintedLabels
from storesync.inventory.items import touch
from storesync.orders import service as orders
from storesync.orders.models import Order, OrderItem
from storesync.orders.schemas import OrderDTO
from storesync.orders.status import OrderStatus, ShippingStage, check_transition, shipping_stage
from storesync.settings import Settings
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

log = logging.getLogger(__name__)

Progress = Callable[[int, int, int], None]  # done, total, failed
MAX_ORDERS = 500  # one bulk action; a merchant's busiest morning fits
TRACKING_POLLS = 3  # a tracking number the platform has not assigned yet: ask again, briefly
TRACKING_WAIT = 0.5


@dataclass(frozen=True)
class _Ref:
    """What a marketplace call needs of an order, read in a short transaction."""

    id: uuid.UUID
    store_id: uuid.UUID
    platform: str
    platform_order_id: str
    order_number: str
    status: str
    arranged_at: object


def _refs(session: Session, ctx: RequestContext, order_ids: Sequence[uuid.UUID]) -> list[_Ref]:
    rows = session.exec(
        select(Order).where(
            Order.organization_id == ctx.organization_id, col(Order.id).in_(list(order_ids))
        )
    ).all()
    found = {
        row.id: _Ref(
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


def _one(session: Session, ctx: RequestContext, order_id: uuid.UUID) -> _Ref:
    refs = _refs(session, ctx, [order_id])
    if not refs:
        raise NotFound("order", order_id)
    return refs[0]


def _unique(order_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    unique = list(dict.fromkeys(order_ids))
    if not unique:
        raise ValidationFailed("order_ids", "choose at least one order")
    if len(unique) > MAX_ORDERS:
        raise ValidationFailed("order_ids", f"at most {MAX_ORDERS} orders at once")
    return unique


@contextlib.asynccontextmanager
async def _adapter(
    ctx: RequestContext, store_id: uuid.UUID, settings: Settings | None, engine: Engine | None
) -> AsyncIterator[PlatformAdapter]:
    with session_scope(ctx, engine=engine) as session:
        adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
    try:
        yield adapter
    finally:
        with contextlib.suppress(Exception):  # closing must never hide the real outcome
            await adapter.connection.http.client.aclose()


def _failed(ref: _Ref, error: AppError) -> OrderOutcome:
    return OrderOutcome(
        order_id=ref.id,
        order_number=ref.order_number,
        ok=False,
        error_code=error.code,
        error_message=error.message,
    )


def _not_found(order_id: uuid.UUID) -> OrderOutcome:
    return OrderOutcome(
        order_id=order_id,
        order_number="",
        ok=False,
        error_code="not_found",
        error_message="order not found",
    )


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
        ref = _one(session, ctx, order_id)
    _require_to_arrange(ref)
    async with _adapter(ctx, ref.store_id, settings, engine) as adapter:
        return await adapter.shipping_options(ref.platform_order_id)


def _require_to_arrange(ref: _Ref) -> None:
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
    unique = _unique(order_ids)
    with session_scope(ctx, engine=engine) as session:
        refs = _refs(session, ctx, unique)
    results: dict[uuid.UUID, OrderOutcome] = {i: _not_found(i) for i in unique}
    by_store: dict[uuid.UUID, list[_Ref]] = defaultdict(list)
    for ref in refs:
        by_store[ref.store_id].append(ref)
    done = failed = 0
    for store_id, store_refs in by_store.items():
        request = requests.get(store_id)
        try:
            if request is None:
                raise ValidationFailed("requests", "choose how this store's orders are handed over")
            async with _adapter(ctx, store_id, settings, engine) as adapter:
                for ref in store_refs:
                    results[ref.id] = await _arrange_one(ctx, adapter, ref, request, engine)
                    done += 1
                    failed += 0 if results[ref.id].ok else 1
                    if progress:
                        progress(done, len(unique), failed)
        except AppError as error:  # the store itself failed (disconnected, no request)
            for ref in store_refs:
                if results[ref.id].error_code == "not_found":
                    results[ref.id] = _failed(ref, error)
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
        ref = _one(session, ctx, order_id)
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
    ref: _Ref,
    request: ShipRequest,
    engine: Engine | None,
) -> OrderOutcome:
    try:
        _require_to_arrange(ref)
        shipment = await adapter.arrange_shipment(ref.platform_order_id, request)
    except AppError as error:
        return _failed(ref, error)
    tracking = shipment.tracking_number
    for _ in range(TRACKING_POLLS if not tracking else 0):
        await asyncio.sleep(TRACKING_WAIT)
        with contextlib.suppress(AppError):
            tracking = await adapter.tracking_number(ref.platform_order_id)
        if tracking:
            break
    with session_scope(ctx, engine=engine, write_lock=True) as session:
        row = _lock(session, ctx, ref.id)
        row.arranged_at = utcnow()
        row.handover_method = shipment.method
        row.tracking_number = (tracking or row.tracking_number)[:64]
        row.carrier = (shipment.carrier or row.carrier)[:64]
        row.package_id = (shipment.package_id or row.package_id)[:64]
        row.updated_at = row.arranged_at
        how = "pickup" if shipment.method == "pickup" else "drop-off"
        _note(session, ctx, row, f"shipment arranged on {row.platform} ({how})")
    label = await _fetch_label(ctx, adapter, ref, engine)
    return OrderOutcome(
        order_id=ref.id,
        order_number=ref.order_number,
        ok=True,
        tracking_number=tracking or (label or ""),
    )


def _lock(session: Session, ctx: RequestContext, order_id: uuid.UUID) -> Order:
    row = session.exec(
        select(Order)
        .where(Order.id == order_id, Order.organization_id == ctx.organization_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("order", order_id)
    return row


def _note(session: Session, ctx: RequestContext, row: Order, reason: str) -> None:
    """A timeline entry that does not change the status, and the live inbox update."""
    orders.add_event(
        session, ctx=ctx, row=row, from_status=row.status, source="user", reason=reason
    )
    session.flush()
    orders.announce(session, ctx, "order.updated", row)


# -- labels --------------------------------------------------------------------------------------


async def _fetch_label(
    ctx: RequestContext, adapter: PlatformAdapter, ref: _Ref, engine: Engine | None
) -> str | None:
    """Fetch and keep the order's label; its tracking number, or None when the platform could
    not give it now (printing asks again)."""
    try:
        return await _label_or_raise(ctx, adapter, ref, engine)
    except AppError as error:
        log.info("order %s: label not fetched yet: %s", ref.order_number, error.message)
        return None


async def _label_or_raise(
    ctx: RequestContext, adapter: PlatformAdapter, ref: _Ref, engine: Engine | None
) -> str:
    """Fetch the order's label from the platform and keep it (replacing one kept before)."""
    label = await adapter.shipping_label(ref.platform_order_id)
    with session_scope(ctx, engine=engine, write_lock=True) as session:
        row = _stored_labels(session, ctx, [ref.id]).get(ref.id) or ShippingLabel(
            organization_id=ctx.organization_id, order_id=ref.id, pdf=b""
        )
        row.package_id = label.package_id[:64]
        row.tracking_number = label.tracking_number[:64]
        row.pdf = label.pdf
        row.pages = documents.page_count(label.pdf)
        session.add(row)
        order = _lock(session, ctx, ref.id)
        if label.tracking_number and not order.tracking_number:
            order.tracking_number = label.tracking_number[:64]
    return label.tracking_number


async def print_labels(
    ctx: RequestContext,
    *,
    order_ids: Sequence[uuid.UUID],
    settings: Settings | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> PrintedLabels:
    """The labels of these orders merged into one PDF, in the order given; a label not fetched
    yet is fetched from the platform first. Orders included are marked printed (they move to
    "to hand over"); an order not arranged, or whose label the platform refuses, is reported and
    left out. Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    unique = _unique(order_ids)
    with session_scope(ctx, engine=engine) as session:
        refs = _refs(session, ctx, unique)
        stored = _stored_labels(session, ctx, unique)
    failed: dict[uuid.UUID, OrderOutcome] = {i: _not_found(i) for i in unique}
    for ref in refs:
        failed.pop(ref.id)
    missing: dict[uuid.UUID, list[_Ref]] = defaultdict(list)
    for ref in refs:
        if ref.arranged_at is None:
            failed[ref.id] = _failed(
                ref,
                AppError(ErrorType.CONFLICT, "not_arranged", "arrange the shipment first"),
            )
        elif ref.id not in stored:
            missing[ref.store_id].append(ref)
    done = len(stored)
    for store_id, store_refs in missing.items():
        try:
            async with _adapter(ctx, store_id, settings, engine) as adapter:
                for ref in store_refs:
                    try:
                        await _label_or_raise(ctx, adapter, ref, engine)
                    except AppError as error:
                        failed[ref.id] = _failed(ref, error)
                    done += 1
                    if progress:
                        progress(done, len(unique), len(failed))
        except AppError as error:
            for ref in store_refs:
                failed.setdefault(ref.id, _failed(ref, error))
    return _merge_and_mark(ctx, [r for r in refs if r.id not in failed], failed, unique, engine)


def _stored_labels(
    session: Session, ctx: RequestContext, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ShippingLabel]:
    rows = session.exec(
        select(ShippingLabel).where(
            ShippingLabel.organization_id == ctx.organization_id,
            col(ShippingLabel.order_id).in_(list(order_ids)),
        )
    ).all()
    return {row.order_id: row for row in rows}


def _merge_and_mark(
    ctx: RequestContext,
    ready: list[_Ref],
    failed: dict[uuid.UUID, OrderOutcome],
    unique: list[uuid.UUID],
    engine: Engine | None,
) -> PrintedLabels:
    printed: list[OrderOutcome] = []
    pdf: bytes | None = None
    pages = 0
    with session_scope(ctx, engine=engine, write_lock=True) as session:
        labels = _stored_labels(session, ctx, [r.id for r in ready])
        in_order = [r for r in ready if r.id in labels]
        if in_order:
            pdf = documents.merge_pdfs([labels[r.id].pdf for r in in_order])
            pages = sum(labels[r.id].pages for r in in_order)
            now = utcnow()
            for ref in in_order:
                row = _lock(session, ctx, ref.id)
                if row.label_printed_at is None:
                    row.label_printed_at = now
                    row.updated_at = now
                    _note(session, ctx, row, "shipping label printed")
                printed.append(
                    OrderOutcome(
                        order_id=ref.id,
                        order_number=ref.order_number,
                        ok=True,
                        tracking_number=labels[ref.id].tracking_number,
                    )
                )
    return PrintedLabels(
        pdf=pdf,
        pages=pages,
        printed=printed,
        failed=[failed[i] for i in unique if i in failed],
    )


def order_label(session: Session, *, ctx: RequestContext, order_id: uuid.UUID) -> bytes:
    """The stored label PDF of one order (`NotFound` when none was fetched). Needs READ."""
    ctx.require(Permission.READ)
    label = _stored_labels(session, ctx, [order_id]).get(order_id)
    if label is None:
        raise NotFound("shipping label", order_id)
    return label.pdf


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
        ref = _one(session, ctx, order_id)
    check_transition(OrderStatus(ref.status), OrderStatus.CANCELLED)
    if ref.status != OrderStatus.CANCELLED:
        async with _adapter(ctx, ref.store_id, settings, engine) as adapter:
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
        arranged_at = None if unarranged else utcnow()
        printed_at = None if unprinted else utcnow()
        counts[shipping_stage(OrderStatus.TO_SHIP.value, arranged_at, printed_at)] += int(count)
    return counts
