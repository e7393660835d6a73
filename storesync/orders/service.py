"""Orders: intake (idempotent per store and platform order id), the status machine with its stock
effects, and the order inbox.

Stock: an order reserves each mapped line at the default location when it is created unpaid or
to_ship (marketplaces hold stock from checkout, so an unpaid order already counts); cancelling
releases, shipping deducts on-hand. An order first seen after it shipped (e.g. placed while a
store's token had expired) is reserved and deducted at once, because its parcel has left the
warehouse. A line that cannot be reserved is recorded as oversold (timeline event and
notification) and shown on the line; the order itself is always kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from storesync.catalog.models import ProductVariant
from storesync.channels.models import ChannelListing, Store
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, NotFound, ValidationFailed
from storesync.core.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from storesync.inventory import service as inventory
from storesync.inventory.errors import InsufficientStock
from storesync.inventory.models import Reservation
from storesync.notifications.models import Notification
from storesync.orders.models import Order, OrderEvent, OrderItem
from storesync.orders.schemas import (
    BulkStatusResult,
    ItemStockStatus,
    NewOrder,
    NewOrderItem,
    OrderDetailDTO,
    OrderDTO,
    OrderEventDTO,
    OrderItemDTO,
    OrderSummaryDTO,
)
from storesync.orders.status import (
    HOLDS_STOCK,
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
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

_REASON_MAX = 255


# --- intake -------------------------------------------------------------------------------------


def create_order(
    session: Session, *, ctx: RequestContext, order: NewOrder, source: str = "platform"
) -> OrderDTO:
    """Record an order a channel reported. Idempotent per store and platform order id: the same
    order again (a repeated webhook, a poll overlapping a webhook, two workers at once) returns
    the existing order unchanged. Lines are linked to variants through the store's matched
    listings, else by exact SKU; unlinked lines are kept with `is_mapped=False`. Stock is
    reserved (or deducted, if the order already shipped) for mapped lines; a line short of stock
    is recorded as oversold, never dropped. Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    store = _get_store(session, ctx=ctx, store_id=order.store_id)
    row = _find_order(
        session, ctx=ctx, store_id=store.id, platform_order_id=order.platform_order_id
    )
    if row is not None:
        return _order_dto(session, ctx=ctx, row=row)
    row, created = _insert_order(session, ctx=ctx, store=store, order=order)
    if not created:
        return _order_dto(session, ctx=ctx, row=row)
    items = _insert_items(session, ctx=ctx, row=row, lines=order.items)
    _add_event(session, ctx=ctx, row=row, from_status="", source=source, reason="created")
    _apply_initial_stock(session, ctx=ctx, row=row, items=items)
    session.flush()
    return _order_dto(session, ctx=ctx, row=row)


def _get_store(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> Store:
    store = session.exec(
        select(Store).where(Store.id == store_id, Store.organization_id == ctx.organization_id)
    ).first()
    if store is None:
        raise NotFound("store", store_id)
    return store


def _find_order(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, platform_order_id: str
) -> Order | None:
    return session.exec(
        select(Order).where(
            Order.organization_id == ctx.organization_id,
            Order.store_id == store_id,
            Order.platform_order_id == platform_order_id,
        )
    ).first()


def _insert_order(
    session: Session, *, ctx: RequestContext, store: Store, order: NewOrder
) -> tuple[Order, bool]:
    """Insert the order row, or return the one a concurrent transaction committed first (the
    unique key on store and platform order id decides; the savepoint keeps our transaction)."""
    status = order.status
    row = Order(
        organization_id=ctx.organization_id,
        store_id=store.id,
        platform=store.platform,
        platform_order_id=order.platform_order_id,
        order_number=order.order_number or order.platform_order_id,
        status=status.value,
        platform_status=order.platform_status,
        financial_status=financial_status_for(status, was_paid=order.paid_at is not None).value,
        fulfillment_status=fulfillment_status_for(status).value,
        customer_name=order.customer_name,
        currency=order.currency,
        subtotal=order.subtotal,
        shipping_fee=order.shipping_fee,
        discount=order.discount,
        total=order.total,
        ordered_at=order.ordered_at,
        paid_at=order.paid_at,
        shipped_at=utcnow() if status in LEFT_WAREHOUSE else None,
    )
    try:
        with _savepoint(session):
            session.add(row)
            session.flush()
    except IntegrityError:
        existing = _find_order(
            session, ctx=ctx, store_id=store.id, platform_order_id=order.platform_order_id
        )
        if existing is None:
            raise
        return existing, False
    return row, True


def _insert_items(
    session: Session, *, ctx: RequestContext, row: Order, lines: Sequence[NewOrderItem]
) -> list[OrderItem]:
    links = _link_lines(session, ctx=ctx, store_id=row.store_id, lines=lines)
    items = [
        OrderItem(
            organization_id=ctx.organization_id,
            order_id=row.id,
            listing_id=listing_id,
            variant_id=variant_id,
            platform_item_id=line.platform_item_id,
            platform_model_id=line.platform_model_id,
            sku=line.sku,
            title=line.title,
            quantity=line.quantity,
            unit_price=line.unit_price,
            currency=row.currency,
            is_mapped=variant_id is not None,
        )
        for line, (listing_id, variant_id) in zip(lines, links, strict=True)
    ]
    session.add_all(items)
    row.has_unmapped_items = not all(item.is_mapped for item in items)
    session.flush()
    return items


def _link_lines(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, lines: Sequence[NewOrderItem]
) -> list[tuple[uuid.UUID | None, uuid.UUID | None]]:
    """(listing_id, variant_id) per line: the store's listing for the item/model, its variant when
    matched, else the organization's variant with exactly the line's SKU. A listing the merchant
    marked ignored stays unmapped."""
    listings = _listings_by_key(session, ctx=ctx, store_id=store_id, lines=lines)
    variants = _variants_by_sku(session, ctx=ctx, skus={line.sku for line in lines if line.sku})
    links: list[tuple[uuid.UUID | None, uuid.UUID | None]] = []
    for line in lines:
        listing = listings.get((line.platform_item_id, line.platform_model_id))
        variant_id: uuid.UUID | None = None
        if listing is not None and listing.match_status == "matched":
            variant_id = listing.variant_id
        if variant_id is None and (listing is None or listing.match_status != "ignored"):
            variant_id = variants.get(line.sku)
        links.append((listing.id if listing else None, variant_id))
    return links


def _listings_by_key(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, lines: Sequence[NewOrderItem]
) -> dict[tuple[str, str], ChannelListing]:
    item_ids = {line.platform_item_id for line in lines if line.platform_item_id}
    if not item_ids:
        return {}
    rows = session.exec(
        select(ChannelListing).where(
            ChannelListing.organization_id == ctx.organization_id,
            ChannelListing.store_id == store_id,
            col(ChannelListing.platform_item_id).in_(item_ids),
        )
    ).all()
    return {(r.platform_item_id, r.platform_model_id): r for r in rows}


def _variants_by_sku(
    session: Session, *, ctx: RequestContext, skus: set[str]
) -> dict[str, uuid.UUID]:
    if not skus:
        return {}
    rows = session.exec(
        select(ProductVariant.variant_sku, ProductVariant.id).where(
            ProductVariant.organization_id == ctx.organization_id,
            col(ProductVariant.variant_sku).in_(skus),
            col(ProductVariant.deleted_at).is_(None),
        )
    ).all()
    return {sku: variant_id for sku, variant_id in rows}


def _apply_initial_stock(
    session: Session, *, ctx: RequestContext, row: Order, items: Sequence[OrderItem]
) -> None:
    status = OrderStatus(row.status)
    if status not in HOLDS_STOCK | LEFT_WAREHOUSE:
        return  # arrived cancelled or returned: nothing to hold
    location = inventory.default_location(session, ctx=ctx)
    # Lock stock rows in a fixed order, so two orders for the same variants cannot deadlock.
    mapped = sorted((i for i in items if i.variant_id is not None), key=lambda i: str(i.variant_id))
    for item in mapped:
        _reserve_line(session, ctx=ctx, row=row, item=item, location_id=location.id)
    if status in LEFT_WAREHOUSE:
        inventory.fulfil_order(session, ctx=ctx, order_id=row.id)


def _reserve_line(
    session: Session, *, ctx: RequestContext, row: Order, item: OrderItem, location_id: uuid.UUID
) -> None:
    assert item.variant_id is not None
    try:
        with _savepoint(session):
            inventory.reserve_stock(
                session,
                ctx=ctx,
                order_item_id=item.id,
                variant_id=item.variant_id,
                location_id=location_id,
                quantity=item.quantity,
            )
    except InsufficientStock as short:
        _record_oversell(session, ctx=ctx, row=row, item=item, short=short)


def _record_oversell(
    session: Session, *, ctx: RequestContext, row: Order, item: OrderItem, short: InsufficientStock
) -> None:
    """An oversold line stays on the order; the timeline and a notification say so."""
    label = item.sku or item.title or item.platform_item_id
    reason = f"oversold: {label} needs {short.requested}, only {short.available} available"
    _add_event(session, ctx=ctx, row=row, from_status=row.status, source="inventory", reason=reason)
    session.add(
        Notification(
            organization_id=ctx.organization_id,
            kind="order.oversold",
            severity="error",
            title=f"Oversold: order {row.order_number}"[:200],
            body=reason,
            data={
                "order_id": str(row.id),
                "order_item_id": str(item.id),
                "variant_id": str(item.variant_id),
                "requested": short.requested,
                "available": short.available,
            },
        )
    )


# --- status changes -----------------------------------------------------------------------------


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
    row = _lock_order(session, ctx=ctx, order_id=order_id)
    _transition(session, ctx=ctx, row=row, target=target, reason=reason, source=source)
    return _order_dto(session, ctx=ctx, row=row)


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
    row = _lock_order(session, ctx=ctx, order_id=order_id)
    _transition(session, ctx=ctx, row=row, target=OrderStatus.SHIPPED, reason=reason, source=source)
    if tracking and tracking != row.tracking_number:
        row.tracking_number = tracking
        row.updated_at = utcnow()
        session.flush()
    return _order_dto(session, ctx=ctx, row=row)


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
            with _savepoint(session):
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


def _lock_order(session: Session, *, ctx: RequestContext, order_id: uuid.UUID) -> Order:
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
    _add_event(session, ctx=ctx, row=row, from_status=current.value, source=source, reason=reason)
    session.flush()


def _add_event(
    session: Session, *, ctx: RequestContext, row: Order, from_status: str, source: str, reason: str
) -> None:
    """Append to the timeline; `to_status` is the order's status after the change."""
    session.add(
        OrderEvent(
            organization_id=ctx.organization_id,
            order_id=row.id,
            from_status=from_status,
            to_status=row.status,
            actor_user_id=ctx.user_id,
            source=source[:32],
            reason=reason.strip()[:_REASON_MAX],
        )
    )


# --- reads --------------------------------------------------------------------------------------


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
    order = _order_dto(session, ctx=ctx, row=row)
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
) -> Page[OrderSummaryDTO]:
    """The order inbox, newest first, keyset-paginated on (ordered_at, id). `ordered_from` is
    inclusive, `ordered_to` exclusive; `search` matches order number, customer name or platform
    order id, case-insensitively. Needs READ."""
    ctx.require(Permission.READ)
    size = clamp_limit(limit)
    query = select(Order).where(Order.organization_id == ctx.organization_id)
    query = _filter_orders(query, status, store_id, platform, ordered_from, ordered_to, search)
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
    search: str | None,
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
    if search and search.strip():
        pattern = "%" + _escape_like(search.strip()) + "%"
        query = query.where(
            sa.or_(
                col(Order.order_number).ilike(pattern, escape="\\"),
                col(Order.customer_name).ilike(pattern, escape="\\"),
                col(Order.platform_order_id).ilike(pattern, escape="\\"),
            )
        )
    return query


def _after_cursor(cursor: str) -> sa.ColumnElement[bool]:
    raw_at, raw_id = decode_cursor(cursor, parts=2)
    try:
        ordered_at = datetime.fromisoformat(str(raw_at))
        last_id = uuid.UUID(str(raw_id))
    except ValueError:
        raise ValidationFailed("cursor", "is not a valid page cursor") from None
    return sa.or_(
        col(Order.ordered_at) < _aware(ordered_at, "cursor"),
        sa.and_(col(Order.ordered_at) == ordered_at, col(Order.id) < last_id),
    )


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise ValidationFailed(field, "must be a timezone-aware datetime")
    return value


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _order_dto(session: Session, *, ctx: RequestContext, row: Order) -> OrderDTO:
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


# --- transactions -------------------------------------------------------------------------------


@contextmanager
def _savepoint(session: Session) -> Iterator[None]:
    """A SAVEPOINT inside the caller's transaction: an error inside undoes only what happened
    inside. On SQLite the driver opens transactions lazily, and a SAVEPOINT outside one would
    start (and its RELEASE commit) a transaction of its own, so begin one first."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        dbapi = connection.connection.dbapi_connection
        if not getattr(dbapi, "in_transaction", True):
            connection.exec_driver_sql("BEGIN")
    with session.begin_nested():
        yield
