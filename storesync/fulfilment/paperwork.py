"""The papers StoreSync prints for a batch of orders: a pick list (every SKU and its total
across the orders, by the location its stock is reserved at) and packing slips (one per order).
Read from the database here; drawn by `documents`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import Session, col, select

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import Store
from storesync.core.clock import utcnow
from storesync.core.errors import ValidationFailed
from storesync.fulfilment import documents, refs, slips
from storesync.inventory.models import InventoryItem, Location, Reservation
from storesync.orders.models import Order, OrderItem
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

UNASSIGNED = "Not reserved"  # lines with no reservation: unmapped SKUs, or stock ran short


def _orders(session: Session, ctx: RequestContext, order_ids: Sequence[uuid.UUID]) -> list[Order]:
    unique = refs.unique_ids(order_ids)
    rows = session.exec(
        select(Order).where(Order.organization_id == ctx.organization_id, col(Order.id).in_(unique))
    ).all()
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in unique if i in by_id]


def _items(session: Session, ctx: RequestContext, order_ids: list[uuid.UUID]) -> list[OrderItem]:
    return list(
        session.exec(
            select(OrderItem)
            .where(
                OrderItem.organization_id == ctx.organization_id,
                col(OrderItem.order_id).in_(order_ids),
            )
            .order_by(col(OrderItem.created_at), col(OrderItem.id))
        ).all()
    )


def _master_names(
    session: Session, ctx: RequestContext, variant_ids: set[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str]]:
    """Variant id → (master SKU, product title with the variant's name)."""
    if not variant_ids:
        return {}
    rows = session.exec(
        select(ProductVariant.id, ProductVariant.variant_sku, ProductVariant.name, Product.title)
        .join(Product, col(Product.id) == col(ProductVariant.product_id))
        .where(
            ProductVariant.organization_id == ctx.organization_id,
            col(ProductVariant.id).in_(list(variant_ids)),
        )
    ).all()
    return {
        vid: (sku, f"{title} ({name})" if name and name != title else title)
        for vid, sku, name, title in rows
    }


def _locations(
    session: Session, ctx: RequestContext, item_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, int]]]:
    """Order item id → [(location name, reserved quantity)] from its reservations."""
    if not item_ids:
        return {}
    rows = session.exec(
        select(Reservation.order_item_id, Location.name, Reservation.quantity)
        .join(InventoryItem, col(InventoryItem.id) == col(Reservation.inventory_item_id))
        .join(Location, col(Location.id) == col(InventoryItem.location_id))
        .where(
            Reservation.organization_id == ctx.organization_id,
            col(Reservation.order_item_id).in_(item_ids),
            col(Reservation.status).in_(["active", "fulfilled"]),
        )
    ).all()
    found: dict[uuid.UUID, list[tuple[str, int]]] = {}
    for item_id, name, quantity in rows:
        found.setdefault(item_id, []).append((name, int(quantity)))
    return found


def pick_items(
    session: Session, *, ctx: RequestContext, order_ids: Sequence[uuid.UUID]
) -> list[documents.PickItem]:
    """Every unit to pick for these orders: master SKU and title where the line is linked, by
    the location its stock is reserved at. Needs READ."""
    ctx.require(Permission.READ)
    orders = _orders(session, ctx, order_ids)
    items = _items(session, ctx, [o.id for o in orders])
    names = _master_names(session, ctx, {i.variant_id for i in items if i.variant_id})
    where = _locations(session, ctx, [i.id for i in items])
    picks = []
    for item in items:
        sku, title = (
            names.get(item.variant_id, (item.sku, item.title))
            if item.variant_id
            else (
                item.sku,
                item.title,
            )
        )
        placed = where.get(item.id) or [(UNASSIGNED, item.quantity)]
        left = item.quantity
        for location, quantity in placed:
            take = min(quantity, left)
            if take > 0:
                picks.append(documents.PickItem(str(item.order_id), location, sku, title, take))
                left -= take
        if left > 0:
            picks.append(documents.PickItem(str(item.order_id), UNASSIGNED, sku, title, left))
    return picks


def pick_list(session: Session, *, ctx: RequestContext, order_ids: Sequence[uuid.UUID]) -> bytes:
    """The pick list PDF of these orders. Needs READ."""
    picks = pick_items(session, ctx=ctx, order_ids=order_ids)
    if not picks:
        raise ValidationFailed("order_ids", "none of these orders has anything to pick")
    orders = len({p.order_id for p in picks})
    return documents.pick_list_pdf(
        documents.pick_lines(picks), title="Pick list", generated_at=utcnow(), orders=orders
    )


def packing_slips(
    session: Session, *, ctx: RequestContext, order_ids: Sequence[uuid.UUID]
) -> bytes:
    """One packing slip per order, in the order given. Needs READ."""
    ctx.require(Permission.READ)
    orders = _orders(session, ctx, order_ids)
    items = _items(session, ctx, [o.id for o in orders])
    stores = {
        s.id: s.name
        for s in session.exec(
            select(Store).where(
                Store.organization_id == ctx.organization_id,
                col(Store.id).in_(list({o.store_id for o in orders})),
            )
        ).all()
    }
    by_order: dict[uuid.UUID, list[OrderItem]] = {}
    for item in items:
        by_order.setdefault(item.order_id, []).append(item)
    pages = [
        slips.PackingSlip(
            order_number=order.order_number or order.platform_order_id,
            platform=order.platform,
            store=stores.get(order.store_id, ""),
            ordered_at=order.ordered_at,
            recipient=recipient_lines(order.shipping_address, order.customer_name),
            tracking_number=order.tracking_number,
            carrier=order.carrier,
            lines=[(i.sku, i.title, i.quantity) for i in by_order.get(order.id, [])],
        )
        for order in orders
    ]
    return slips.packing_slips_pdf(pages)


def recipient_lines(address: dict[str, str], fallback_name: str = "") -> list[str]:
    """The recipient as printed: name, phone, address, then district, city, state, postcode."""
    place = ", ".join(
        part
        for part in (
            address.get("district", ""),
            address.get("city", ""),
            address.get("state", ""),
            address.get("postcode", ""),
        )
        if part
    )
    lines = [
        address.get("name") or fallback_name,
        address.get("phone", ""),
        address.get("address", ""),
        place,
    ]
    return [line for line in lines if line]
