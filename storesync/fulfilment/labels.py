"""Shipping labels: each order's label PDF as its marketplace printed it, fetched once after
arranging (or when printing asks for one not fetched yet) and kept; printing merges them into
one PDF in the order given and moves the orders to "to hand over"."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storesync.channels.adapter import PlatformAdapter
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, NotFound
from storesync.db import session_scope
from storesync.fulfilment import documents, refs
from storesync.fulfilment.models import ShippingLabel
from storesync.fulfilment.schemas import OrderOutcome, PrintedLabels
from storesync.orders import service as orders
from storesync.orders.models import Order
from storesync.settings import Settings
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

log = logging.getLogger(__name__)

Progress = Callable[[int, int, int], None]  # done, total, failed
log = logging.getLogger(__name__)


# -- labels --------------------------------------------------------------------------------------


async def fetch_label(
    ctx: RequestContext, adapter: PlatformAdapter, ref: refs.OrderRef, engine: Engine | None
) -> str | None:
    """Fetch and keep the order's label; its tracking number, or None when the platform could
    not give it now (printing asks again)."""
    try:
        return await _label_or_raise(ctx, adapter, ref, engine)
    except AppError as error:
        log.info("order %s: label not fetched yet: %s", ref.order_number, error.message)
        return None


async def _label_or_raise(
    ctx: RequestContext, adapter: PlatformAdapter, ref: refs.OrderRef, engine: Engine | None
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
        order = orders.lock_order(session, ctx=ctx, order_id=ref.id)
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
    unique = refs.unique_ids(order_ids)
    with session_scope(ctx, engine=engine) as session:
        found = refs.order_refs(session, ctx, unique)
        stored = _stored_labels(session, ctx, unique)
    failed: dict[uuid.UUID, OrderOutcome] = {i: refs.not_found(i) for i in unique}
    for ref in found:
        failed.pop(ref.id)
    missing: dict[uuid.UUID, list[refs.OrderRef]] = defaultdict(list)
    for ref in found:
        if ref.arranged_at is None:
            failed[ref.id] = refs.failed(
                ref,
                AppError(ErrorType.CONFLICT, "not_arranged", "arrange the shipment first"),
            )
        elif ref.id not in stored:
            missing[ref.store_id].append(ref)
    done = len(stored)
    for store_id, store_refs in missing.items():
        try:
            async with refs.store_adapter(ctx, store_id, settings, engine) as adapter:
                for ref in store_refs:
                    try:
                        await _label_or_raise(ctx, adapter, ref, engine)
                    except AppError as error:
                        failed[ref.id] = refs.failed(ref, error)
                    done += 1
                    if progress:
                        progress(done, len(unique), len(failed))
        except AppError as error:
            for ref in store_refs:
                failed.setdefault(ref.id, refs.failed(ref, error))
    return _merge_and_mark(ctx, [r for r in found if r.id not in failed], failed, unique, engine)


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


def _locked_orders(
    session: Session, ctx: RequestContext, order_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Order]:
    """The orders' rows, locked in one statement (key order: concurrent prints cannot
    deadlock)."""
    found = session.exec(
        select(Order)
        .where(Order.organization_id == ctx.organization_id, col(Order.id).in_(order_ids))
        .order_by(col(Order.id))
        .with_for_update()
    ).all()
    return {row.id: row for row in found}


def _merge_and_mark(
    ctx: RequestContext,
    ready: list[refs.OrderRef],
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
            rows = _locked_orders(session, ctx, [r.id for r in in_order])
            for ref in in_order:
                row = rows[ref.id]
                if row.label_printed_at is None:
                    row.label_printed_at = now
                    row.updated_at = now
                    refs.note(session, ctx, row, "shipping label printed")
                    record(
                        session,
                        ctx=ctx,
                        action="order.label_print",
                        entity_type="order",
                        entity_id=row.id,
                        before={"label_printed_at": None},
                        after={"label_printed_at": now, "order": ref.order_number},
                    )
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
