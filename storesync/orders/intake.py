"""Order intake: record an order a channel reported, idempotent per store and platform order id.

Stock: an order reserves each mapped line at the default location when it is created unpaid or
to_ship (marketplaces hold stock from checkout, so an unpaid order already counts). An order first
seen after it shipped (e.g. placed while a store's token had expired) is reserved and deducted at
once, because its parcel has left the warehouse. A line that cannot be reserved is recorded as
oversold (timeline event and notification) and shown on the line; the order itself is always kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storesync.catalog.models import ProductVariant
from storesync.channels.models import ChannelListing, Store
from storesync.core.clock import utcnow
from storesync.core.errors import NotFound
from storesync.core.models import table_of
from storesync.inventory import service as inventory
from storesync.inventory.errors import InsufficientStock
from storesync.notifications.service import notify
from storesync.orders._common import add_event
from storesync.orders.models import Order, OrderItem
from storesync.orders.queries import order_dto
from storesync.orders.schemas import NewOrder, NewOrderItem, OrderDTO
from storesync.orders.search import index as search_index
from storesync.orders.status import (
    HOLDS_STOCK,
    LEFT_WAREHOUSE,
    OrderStatus,
    financial_status_for,
    fulfillment_status_for,
)
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

_LISTINGS = table_of(ChannelListing)
_LISTINGS_OF_ITEMS = sa.select(
    _LISTINGS.c.id,
    _LISTINGS.c.platform_item_id,
    _LISTINGS.c.platform_model_id,
    _LISTINGS.c.match_status,
    _LISTINGS.c.variant_id,
).where(
    _LISTINGS.c.organization_id == sa.bindparam("org"),
    _LISTINGS.c.store_id == sa.bindparam("store"),
    _LISTINGS.c.platform_item_id.in_(sa.bindparam("items", expanding=True)),
)


def create_order(
    session: Session,
    *,
    ctx: RequestContext,
    order: NewOrder,
    source: str = "platform",
    known_absent: bool = False,
) -> OrderDTO:
    """Record an order a channel reported. Idempotent per store and platform order id: the same
    order again (a repeated webhook, a poll overlapping a webhook, two workers at once) returns
    the existing order unchanged. Lines are linked to variants through the store's matched
    listings, else by exact SKU; unlinked lines are kept with `is_mapped=False`. Stock is
    reserved (or deducted, if the order already shipped) for mapped lines; a line short of stock
    is recorded as oversold, never dropped. `known_absent`: the caller just looked the order up
    in this transaction and found nothing, so the lookup is not repeated (the unique key still
    decides between concurrent intakes). Needs PROCESS_ORDERS."""
    row = record_order(session, ctx=ctx, order=order, source=source, known_absent=known_absent)
    return order_dto(session, ctx=ctx, row=row)


def record_order(
    session: Session,
    *,
    ctx: RequestContext,
    order: NewOrder,
    source: str = "platform",
    known_absent: bool = False,
) -> Order:
    """`create_order` without reading the order back as a DTO (order intake announces the new
    order from the row; building the DTO was a few statements more per sale). Returns the
    created row, or the existing one. Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    store = _get_store(session, ctx=ctx, store_id=order.store_id)
    row = (
        None
        if known_absent
        else find_order(
            session, ctx=ctx, store_id=store.id, platform_order_id=order.platform_order_id
        )
    )
    if row is not None:
        return row
    row, created = _insert_order(session, ctx=ctx, store=store, order=order)
    if not created:
        return row
    items = _insert_items(session, ctx=ctx, row=row, lines=order.items)
    search_index.write_tokens(session, ctx=ctx, orders=[(row, items)])
    add_event(session, ctx=ctx, row=row, from_status="", source=source, reason="created")
    _apply_initial_stock(session, ctx=ctx, row=row, items=items)
    session.flush()
    return row


def _get_store(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> Store:
    store = session.exec(
        select(Store).where(Store.id == store_id, Store.organization_id == ctx.organization_id)
    ).first()
    if store is None:
        raise NotFound("store", store_id)
    return store


def find_order(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, platform_order_id: str
) -> Order | None:
    """The organization's order of a store with this platform order id, if recorded."""
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
    row = order_row(ctx, store.id, store.platform, order)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        existing = find_order(
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
    items = item_rows(ctx, row, lines, links)
    session.add_all(items)
    session.flush()
    return items


def order_row(ctx: RequestContext, store_id: uuid.UUID, platform: str, order: NewOrder) -> Order:
    """The order's row as intake first writes it (not added to any session)."""
    status = order.status
    return Order(
        organization_id=ctx.organization_id,
        store_id=store_id,
        platform=platform,
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
        tracking_number=order.tracking_number,
        carrier=order.carrier,
        package_id=order.package_id,
        shipping_address=dict(order.shipping_address),
    )


def item_rows(
    ctx: RequestContext,
    row: Order,
    lines: Sequence[NewOrderItem],
    links: Iterable[tuple[uuid.UUID | None, uuid.UUID | None]],
) -> list[OrderItem]:
    """The order's line rows, linked as `_link_lines` decided (one (listing, variant) per line);
    sets the order's `has_unmapped_items`. Not added to any session."""
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
        for line, (listing_id, variant_id) in zip(lines, links, strict=False)
    ]
    row.has_unmapped_items = not all(item.is_mapped for item in items)
    return items


def _link_lines(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, lines: Sequence[NewOrderItem]
) -> list[tuple[uuid.UUID | None, uuid.UUID | None]]:
    """(listing_id, variant_id) per line: the store's listing for the item/model, its variant when
    matched, else the organization's variant with exactly the line's SKU. A listing the merchant
    marked ignored stays unmapped."""
    listings = _listings_by_key(session, ctx=ctx, store_id=store_id, lines=lines)

    def linked(line: NewOrderItem) -> bool:
        listing = listings.get((line.platform_item_id, line.platform_model_id))
        return (
            listing is not None
            and listing.match_status == "matched"
            and listing.variant_id is not None
        )

    # Only lines no matched listing links need the SKU lookup (usually none).
    skus = {line.sku for line in lines if line.sku and not linked(line)}
    variants = _variants_by_sku(session, ctx=ctx, skus=skus)
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
) -> dict[tuple[str, str], Any]:
    """(item, model) → the store's listing (id, match_status, variant_id), as plain rows."""
    item_ids = {line.platform_item_id for line in lines if line.platform_item_id}
    if not item_ids:
        return {}
    rows = session.execute(
        _LISTINGS_OF_ITEMS, {"org": ctx.organization_id, "store": store_id, "items": list(item_ids)}
    )
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
    try:  # reserve_stock writes its reservation in a savepoint of its own: a short line changes
        inventory.reserve_stock(  # nothing but the (empty) stock row it may have created
            session,
            ctx=ctx,
            order_item_id=item.id,
            variant_id=item.variant_id,
            location_id=location_id,
            quantity=item.quantity,
            new_line=True,
        )
    except InsufficientStock as short:
        _record_oversell(session, ctx=ctx, row=row, item=item, short=short)


def _record_oversell(
    session: Session, *, ctx: RequestContext, row: Order, item: OrderItem, short: InsufficientStock
) -> None:
    """An oversold line stays on the order; the timeline and a notification say so."""
    label = item.sku or item.title or item.platform_item_id
    reason = f"oversold: {label} needs {short.requested}, only {short.available} available"
    add_event(session, ctx=ctx, row=row, from_status=row.status, source="inventory", reason=reason)
    notify(
        session,
        organization_id=ctx.organization_id,
        kind="order.oversold",
        severity="error",
        title=f"Oversold: order {row.order_number}",
        body=reason,
        data={
            "order_id": str(row.id),
            "order_item_id": str(item.id),
            "variant_id": str(item.variant_id),
            "requested": short.requested,
            "available": short.available,
        },
    )
