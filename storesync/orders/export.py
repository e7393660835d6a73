"""Orders as CSV: every order of the inbox's current filter, streamed in keyset batches so an
export of any size never holds more than one batch in memory, nor a transaction open while the
client reads."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Row
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from storesync.channels.models import Store
from storesync.core.errors import ValidationFailed
from storesync.core.money import Money
from storesync.orders.models import Order, OrderItem
from storesync.orders.queries import after_in_inbox, inbox_query
from storesync.tenancy.context import RequestContext

COLUMNS = (
    "order_number",
    "platform_order_id",
    "platform",
    "store",
    "status",
    "platform_status",
    "ordered_at",
    "customer_name",
    "recipient",
    "carrier",
    "tracking_number",
    "items",
    "quantity",
    "currency",
    "total",
)
# The parts of `Order.shipping_address` (channels' ShippingAddress) in the recipient cell.
ADDRESS_PARTS = ("name", "phone", "address", "district", "city", "state", "postcode", "country")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_BATCH = 5000

_ORDER_COLUMNS = (
    col(Order.id),
    col(Order.ordered_at),
    col(Order.order_number),
    col(Order.platform_order_id),
    col(Order.platform),
    col(Order.store_id),
    col(Order.status),
    col(Order.platform_status),
    col(Order.customer_name),
    col(Order.shipping_address),
    col(Order.carrier),
    col(Order.tracking_number),
    col(Order.currency),
    col(Order.total),
)


def export_rows(
    session: Session,
    *,
    ctx: RequestContext,
    status: str | Sequence[str] | None = None,
    store_id: uuid.UUID | None = None,
    platform: str | None = None,
    ordered_from: datetime | None = None,
    ordered_to: datetime | None = None,
    search: str | None = None,
    stage: str | None = None,
    batch: int = 1000,
) -> Iterator[str]:
    """The orders `list_orders` shows for these filters, newest first, as CSV text: the header
    (`COLUMNS`), then one chunk per batch of `batch` orders, each batch's lines read in one
    query. Cells a spreadsheet would run as a formula are prefixed with a single quote.

    Each batch is read in its own short transaction: after a batch the session's transaction
    ends (the export writes nothing), so a long download holds no snapshot or lock and no
    pooled connection while the client reads, and batches continue after the last order seen
    (keyset on ordered_at, id): an order is never listed twice. Pass a session with nothing
    pending. Needs READ. The permission and the filters are checked when the first chunk (the
    header) is taken: take it before starting a response, so a bad filter is still an error
    response rather than a broken download."""
    if batch < 1 or batch > MAX_BATCH:
        raise ValidationFailed("batch", f"must be between 1 and {MAX_BATCH}")
    query = inbox_query(
        session,
        ctx=ctx,
        status=status,
        store_id=store_id,
        platform=platform,
        ordered_from=ordered_from,
        ordered_to=ordered_to,
        search=search,
        stage=stage,
    )
    session.commit()
    yield "\ufeff" + _csv([COLUMNS])  # the BOM: Excel then reads the file as UTF-8
    stores: dict[uuid.UUID, str] = {}
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        orders = _batch(session, query, after, batch)
        if not orders:
            session.commit()
            return
        items = _items(session, ctx, [order.id for order in orders])
        _learn_stores(session, ctx, stores, {order.store_id for order in orders})
        chunk = _csv(_row(order, stores, items.get(order.id, [])) for order in orders)
        after = (orders[-1].ordered_at, orders[-1].id)
        session.commit()
        yield chunk
        if len(orders) < batch:
            return


def export_filename(at: datetime) -> str:
    """The download's file name: `orders-YYYYMMDD-HHMM.csv` at `at`."""
    return f"orders-{at:%Y%m%d-%H%M}.csv"


def _batch(
    session: Session,
    query: SelectOfScalar[Order],
    after: tuple[datetime, uuid.UUID] | None,
    size: int,
) -> list[Row[Any]]:
    page = query.with_only_columns(*_ORDER_COLUMNS)
    if after is not None:
        at, order_id = after
        # The redundant bound lets the (organization_id, ordered_at) index start at the cursor;
        # the OR alone is a filter, and every batch would scan all newer orders again.
        page = page.where(col(Order.ordered_at) <= at, after_in_inbox(at, order_id))
    page = page.order_by(col(Order.ordered_at).desc(), col(Order.id).desc()).limit(size)
    return list(session.execute(page))


def _items(
    session: Session, ctx: RequestContext, order_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, str, int]]]:
    rows = session.execute(
        select(OrderItem.order_id, OrderItem.sku, OrderItem.title, OrderItem.quantity)
        .where(
            OrderItem.organization_id == ctx.organization_id,
            col(OrderItem.order_id).in_(order_ids),
        )
        .order_by(col(OrderItem.order_id), col(OrderItem.created_at), col(OrderItem.id))
    )
    lines: dict[uuid.UUID, list[tuple[str, str, int]]] = {}
    for order_id, sku, title, quantity in rows:
        lines.setdefault(order_id, []).append((sku, title, quantity))
    return lines


def _learn_stores(
    session: Session, ctx: RequestContext, names: dict[uuid.UUID, str], wanted: set[uuid.UUID]
) -> None:
    unknown = wanted - names.keys()
    if not unknown:
        return
    rows = session.execute(
        select(Store.id, Store.name).where(
            Store.organization_id == ctx.organization_id, col(Store.id).in_(unknown)
        )
    )
    names.update({store_id: name for store_id, name in rows})


def _row(
    order: Row[Any], stores: dict[uuid.UUID, str], lines: list[tuple[str, str, int]]
) -> list[str]:
    return [
        order.order_number,
        order.platform_order_id,
        order.platform,
        stores.get(order.store_id, ""),
        order.status,
        order.platform_status,
        order.ordered_at.isoformat(),
        order.customer_name,
        recipient(order.shipping_address),
        order.carrier,
        order.tracking_number,
        "; ".join(f"{sku or title} x{quantity}" for sku, title, quantity in lines),
        str(sum(quantity for _, _, quantity in lines)),
        order.currency,
        _amount(order.total, order.currency),
    ]


def recipient(address: dict[str, Any] | None) -> str:
    """The recipient on one line: name, phone and address parts that are present."""
    given = address or {}
    parts = (str(given.get(part) or "").strip() for part in ADDRESS_PARTS)
    return ", ".join(part for part in parts if part)


def _amount(total: Decimal | None, currency: str) -> str:
    if total is None:
        return ""
    try:
        return format(Money.of(total, currency).amount, "f")
    except ValueError:
        return format(total, "f")


def neutralise(value: str) -> str:
    """`value` safe to open in a spreadsheet: one that would start a formula gets a leading
    single quote (shown as text, the quote hidden)."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _csv(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return out.getvalue()
