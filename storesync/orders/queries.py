"""Order reads: one order with its lines and timeline, the keyset-paginated inbox, and the DTO
every order service returns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from storesync.core.errors import NotFound, ValidationFailed
from storesync.core.pagination import (
    Page,
    clamp_limit,
    decode_cursor,
    encode_cursor,
)
from storesync.inventory.models import Reservation
from storesync.orders.models import Order, OrderEvent, OrderItem
from storesync.orders.schemas import (
    ItemStockStatus,
    OrderDetailDTO,
    OrderDTO,
    OrderEventDTO,
    OrderItemDTO,
    OrderSummaryDTO,
)
from storesync.orders.search import index as search_index
from storesync.orders.status import (
    HOLDS_STOCK,
    LEFT_WAREHOUSE,
    OrderStatus,
    ShippingStage,
    parse_stage,
    parse_status,
)
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission


def get_order(session: Session, *, ctx: RequestContext, order_id: uuid.UUID) -> OrderDetailDTO:
    """One order with its lines (and what happened to their stock) and its timeline, oldest
    event first. Needs READ."""
    ctx.require(Permission.READ)
    row = session.exec(
        select(Order).where(Order.id == order_id, Order.organization_id == ctx.organization_id)
    ).first()
    if row is None:
        raise NotFound("order", order_id)
    events = session.exec(
        select(OrderEvent)
        .where(OrderEvent.organization_id == ctx.organization_id, OrderEvent.order_id == row.id)
        .order_by(col(OrderEvent.created_at), col(OrderEvent.id))
    ).all()
    order = order_dto(session, ctx=ctx, row=row)
    return OrderDetailDTO(
        **order.model_dump(exclude={"items"}),
        items=order.items,
        events=[OrderEventDTO.model_validate(event) for event in events],
    )


def list_orders(
    session: Session,
    *,
    ctx: RequestContext,
    status: str | Sequence[str] | None = None,
    store_id: uuid.UUID | None = None,
    platform: str | None = None,
    ordered_from: datetime | None = None,
    ordered_to: datetime | None = None,
    search: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    stage: str | None = None,
) -> Page[OrderSummaryDTO]:
    """The order inbox, newest first, keyset-paginated on (ordered_at, id). `ordered_from` is
    inclusive, `ordered_to` exclusive. A search that is a whole order number (one word with a
    digit, as pasted from a chat) shows just that order when it exists; otherwise, and for
    anything else, the orders in which each word of the search starts or ends the order number
    or platform order id, or starts a word of the customer name or of a line's SKU or title, or
    a part of any of these after punctuation (`orders.search.tokens`), case-insensitively. Both
    are index lookups: a search that finds few orders reads few. Needs READ."""
    ctx.require(Permission.READ)
    size = clamp_limit(limit)
    query = _filtered(ctx, status, store_id, platform, ordered_from, ordered_to, stage)
    numbers = _whole_order_number(search)
    if numbers:
        exact = _page(session, _numbered(query, numbers), size, cursor)
        if exact.items:
            return exact
    return _page(session, _matching(session, ctx, query, search), size, cursor)


def inbox_query(
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
) -> SelectOfScalar[Order]:
    """The orders `list_orders` shows for these filters, as an unordered query (for walking all
    of them: order by (ordered_at, id) descending and page with `after_in_inbox`). A search
    that is a whole, existing order number selects just that order, as in the inbox. Filters
    are checked before anything is read. Needs READ."""
    ctx.require(Permission.READ)
    query = _filtered(ctx, status, store_id, platform, ordered_from, ordered_to, stage)
    numbers = _whole_order_number(search)
    if numbers:
        exact = _numbered(query, numbers)
        if session.exec(exact.limit(1)).first() is not None:
            return exact
    return _matching(session, ctx, query, search)


def _filtered(
    ctx: RequestContext,
    status: str | Sequence[str] | None,
    store_id: uuid.UUID | None,
    platform: str | None,
    ordered_from: datetime | None,
    ordered_to: datetime | None,
    stage: str | None,
) -> SelectOfScalar[Order]:
    query = select(Order).where(Order.organization_id == ctx.organization_id)
    query = _filter_orders(query, status, store_id, platform, ordered_from, ordered_to)
    return filter_stage(query, stage)


def _numbered(query: SelectOfScalar[Order], numbers: list[str]) -> SelectOfScalar[Order]:
    return query.where(
        sa.or_(
            col(Order.platform_order_id).in_(numbers),
            col(Order.order_number).in_(numbers),
        )
    )


def _matching(
    session: Session, ctx: RequestContext, query: SelectOfScalar[Order], search: str | None
) -> SelectOfScalar[Order]:
    return query.where(*search_index.matching(session, ctx.organization_id, search))


def _whole_order_number(search: str | None) -> list[str]:
    """The ways `search` may be written as an order number (as typed, upper case), or none when
    it does not look like one. Equality is what PostgreSQL may check through an index under
    row-level security (ILIKE is not leakproof, so it is checked row by row after the policy)."""
    term = (search or "").strip()
    if len(term) < 4 or len(term) > 64 or any(c.isspace() for c in term):
        return []
    if not any(c.isdigit() for c in term):
        return []
    return sorted({term, term.upper()})


def _page(
    session: Session, query: SelectOfScalar[Order], size: int, cursor: str | None
) -> Page[OrderSummaryDTO]:
    if cursor is not None:
        query = query.where(_after_cursor(cursor))
    query = query.order_by(col(Order.ordered_at).desc(), col(Order.id).desc()).limit(size + 1)
    rows = session.exec(query).all()
    page = rows[:size]
    next_cursor = None
    if len(rows) > size:
        next_cursor = encode_cursor(page[-1].ordered_at.isoformat(), page[-1].id)
    return Page[OrderSummaryDTO](
        items=[OrderSummaryDTO.model_validate(row) for row in page], next_cursor=next_cursor
    )


def _filter_orders(
    query: SelectOfScalar[Order],
    status: str | Sequence[str] | None,
    store_id: uuid.UUID | None,
    platform: str | None,
    ordered_from: datetime | None,
    ordered_to: datetime | None,
) -> SelectOfScalar[Order]:
    if status:
        wanted = [status] if isinstance(status, str) else list(status)
        values = [parse_status(value).value for value in wanted]
        query = query.where(col(Order.status).in_(values))
    if store_id is not None:
        query = query.where(col(Order.store_id) == store_id)
    if platform:
        query = query.where(col(Order.platform) == platform)
    if ordered_from is not None:
        query = query.where(col(Order.ordered_at) >= _aware(ordered_from, "ordered_from"))
    if ordered_to is not None:
        query = query.where(col(Order.ordered_at) < _aware(ordered_to, "ordered_to"))
    return query


def filter_stage(query: SelectOfScalar[Order], stage: str | None) -> SelectOfScalar[Order]:
    """Only the orders waiting to ship at `stage` (to_arrange / to_print / to_hand_over)."""
    if not stage:
        return query
    wanted = parse_stage(stage)
    query = query.where(col(Order.status) == OrderStatus.TO_SHIP.value)
    if wanted is ShippingStage.TO_ARRANGE:
        return query.where(col(Order.arranged_at).is_(None))
    query = query.where(col(Order.arranged_at).is_not(None))
    if wanted is ShippingStage.TO_PRINT:
        return query.where(col(Order.label_printed_at).is_(None))
    return query.where(col(Order.label_printed_at).is_not(None))


def _after_cursor(cursor: str) -> sa.ColumnElement[bool]:
    raw_at, raw_id = decode_cursor(cursor, parts=2)
    try:
        ordered_at = datetime.fromisoformat(str(raw_at))
        last_id = uuid.UUID(str(raw_id))
    except ValueError:
        raise ValidationFailed("cursor", "is not a valid page cursor") from None
    return after_in_inbox(_aware(ordered_at, "cursor"), last_id)


def after_in_inbox(ordered_at: datetime, order_id: uuid.UUID) -> sa.ColumnElement[bool]:
    """The orders after (`ordered_at`, `order_id`) in the inbox's order, newest first."""
    return sa.or_(
        col(Order.ordered_at) < ordered_at,
        sa.and_(col(Order.ordered_at) == ordered_at, col(Order.id) < order_id),
    )


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise ValidationFailed(field, "must be a timezone-aware datetime")
    return value


def order_dto(session: Session, *, ctx: RequestContext, row: Order) -> OrderDTO:
    """The order with its lines and what happened to their stock: what every order service
    returns. No permission check: callers check their own."""
    items = session.exec(
        select(OrderItem)
        .where(OrderItem.organization_id == ctx.organization_id, OrderItem.order_id == row.id)
        .order_by(col(OrderItem.created_at), col(OrderItem.id))
    ).all()
    held = _reservations_by_item(session, ctx=ctx, item_ids=[item.id for item in items])
    expected_stock = False
    if any(item.is_mapped and item.id not in held for item in items):
        arrived_as = _creation_status(session, ctx=ctx, row=row)
        expected_stock = arrived_as in HOLDS_STOCK | LEFT_WAREHOUSE
    lines = [_item_dto(item, held.get(item.id, []), expected_stock) for item in items]
    return OrderDTO(
        **{name: getattr(row, name) for name in _ORDER_FIELDS},
        has_oversold_items=any(line.stock_status == ItemStockStatus.OVERSOLD for line in lines),
        items=lines,
    )


_ORDER_FIELDS = tuple(
    name for name in OrderDTO.model_fields if name not in {"items", "has_oversold_items"}
)


def _reservations_by_item(
    session: Session, *, ctx: RequestContext, item_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, int]]]:
    if not item_ids:
        return {}
    rows = session.exec(
        select(Reservation.order_item_id, Reservation.status, Reservation.quantity).where(
            Reservation.organization_id == ctx.organization_id,
            col(Reservation.order_item_id).in_(item_ids),
        )
    ).all()
    held: dict[uuid.UUID, list[tuple[str, int]]] = {}
    for item_id, status, quantity in rows:
        held.setdefault(item_id, []).append((status, quantity))
    return held


def _creation_status(session: Session, *, ctx: RequestContext, row: Order) -> str:
    """The status the order arrived in (its first timeline event)."""
    first = session.exec(
        select(OrderEvent.to_status)
        .where(
            OrderEvent.organization_id == ctx.organization_id,
            OrderEvent.order_id == row.id,
            OrderEvent.from_status == "",
        )
        .order_by(col(OrderEvent.created_at))
        .limit(1)
    ).first()
    return first or row.status


def _item_dto(item: OrderItem, held: list[tuple[str, int]], expected_stock: bool) -> OrderItemDTO:
    """A line and what happened to its stock: a mapped line that was due stock but holds no
    reservation at all could not be reserved, i.e. it was oversold."""
    statuses = {status for status, _ in held}
    if not item.is_mapped:
        stock = ItemStockStatus.UNMAPPED
    elif "active" in statuses:
        stock = ItemStockStatus.RESERVED
    elif "fulfilled" in statuses:
        stock = ItemStockStatus.FULFILLED
    elif "released" in statuses:
        stock = ItemStockStatus.RELEASED
    else:
        stock = ItemStockStatus.OVERSOLD if expected_stock else ItemStockStatus.NONE
    return OrderItemDTO(
        **{name: getattr(item, name) for name in _ITEM_FIELDS},
        stock_status=stock,
        reserved_quantity=sum(quantity for status, quantity in held if status == "active"),
    )


_ITEM_FIELDS = tuple(
    name for name in OrderItemDTO.model_fields if name not in {"stock_status", "reserved_quantity"}
)
