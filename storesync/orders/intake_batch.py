"""Order intake for many new orders of one store at once (the webhook batch path).

The same outcome as `intake.record_order` once per order (lines linked, stock reserved or
deducted, oversells recorded, one `created` timeline event each), in a fixed number of set-based
statements plus one stock update per mapped line: at 50 sales a second the per-order ORM flushes
and savepoints cost more CPU than the sales themselves.

- The orders go in with one INSERT .. ON CONFLICT DO NOTHING on (store, platform order id): an
  order another transaction recorded meanwhile is not inserted and not returned, and the caller
  treats it as a known order.
- The orders' search tokens (`orders.search`) go in with one INSERT for the whole batch.
- Lines are new in this transaction, so no reservation of them can exist: each line's stock row
  is updated first (the conditional UPDATE keeps reserved <= on hand) and its reservation written
  only when that succeeded, which needs no savepoint. Stock rows are updated in id order, so two
  batches touching the same rows cannot deadlock on them; lines of one stock row are served in
  the callers' order (the first sale gets the last unit).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storesync.channels.models import Store
from storesync.core.clock import utcnow
from storesync.core.errors import NotFound
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.inventory import items as stock_rows
from storesync.inventory import ledger
from storesync.inventory import service as inventory
from storesync.inventory.errors import InsufficientStock
from storesync.inventory.models import Reservation
from storesync.orders import intake
from storesync.orders.models import Order, OrderEvent, OrderItem
from storesync.orders.schemas import NewOrder
from storesync.orders.search import index as search_index
from storesync.orders.status import (
    HOLDS_STOCK,
    LEFT_WAREHOUSE,
    OrderStatus,
)
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

ORDERS: Any = table_of(Order)
ORDER_ITEMS: Any = table_of(OrderItem)
ORDER_EVENTS: Any = table_of(OrderEvent)
RESERVATIONS: Any = table_of(Reservation)
STORES: Any = table_of(Store)
_STORE = sa.select(STORES.c.id, STORES.c.platform).where(
    STORES.c.id == sa.bindparam("id"), STORES.c.organization_id == sa.bindparam("org")
)


def record_new_orders(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    orders: Sequence[NewOrder],
    source: str = "platform",
) -> dict[str, Order]:
    """Record `orders` of one store (distinct platform order ids, in the order their stock is to
    be served), which the caller found absent. Returns platform order id → row for each order
    this call inserted; an order another transaction committed first is left out. The rows are
    plain objects, not attached to the session. Needs PROCESS_ORDERS."""
    ctx.require(Permission.PROCESS_ORDERS)
    if not orders:
        return {}
    store = session.execute(_STORE, {"id": store_id, "org": ctx.organization_id}).first()
    if store is None:
        raise NotFound("store", store_id)
    lines = [line for order in orders for line in order.items]
    links = iter(intake._link_lines(session, ctx=ctx, store_id=store.id, lines=lines))
    built: list[tuple[Order, list[OrderItem]]] = []
    for order in orders:  # `links` runs over every order's lines in turn
        row = intake.order_row(ctx, store.id, store.platform, order)
        built.append((row, intake.item_rows(ctx, row, order.items, links)))
    # In key order, so two intakes inserting the same orders wait on each other, never deadlock.
    keyed = sorted((row for row, _ in built), key=lambda row: row.platform_order_id)
    inserted = _insert_orders(session, keyed)
    built = [(row, row_items) for row, row_items in built if row.id in inserted]
    if not built:
        return {}
    session.execute(
        sa.insert(ORDER_ITEMS), [_values(ORDER_ITEMS, i) for _, its in built for i in its]
    )
    session.execute(sa.insert(ORDER_EVENTS), [_created_event(ctx, row, source) for row, _ in built])
    search_index.write_tokens(session, ctx=ctx, orders=built)
    _apply_initial_stock(session, ctx, built)
    return {row.platform_order_id: row for row, _ in built}


def _values(table: sa.Table, model: Any) -> dict[str, Any]:
    return {column.key: getattr(model, column.key) for column in table.columns}


def _insert_orders(session: Session, rows: list[Order]) -> set[uuid.UUID]:
    """Insert what no other transaction holds yet; the ids actually inserted."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Many parameter sets, not a multi-row VALUES: the statement compiles once per process
    # (SQLAlchemy still sends one INSERT .. VALUES (..), (..) RETURNING per batch).
    statement = (
        insert(ORDERS)
        .on_conflict_do_nothing(index_elements=["store_id", "platform_order_id"])
        .returning(ORDERS.c.id)
    )
    return set(session.execute(statement, [_values(ORDERS, row) for row in rows]).scalars())


def _created_event(ctx: RequestContext, row: Order, source: str) -> dict[str, Any]:
    return {
        "id": new_id(),
        "organization_id": ctx.organization_id,
        "created_at": utcnow(),
        "order_id": row.id,
        "from_status": "",
        "to_status": row.status,
        "actor_user_id": ctx.user_id,
        "source": source[:32],
        "reason": "created",
    }


def _apply_initial_stock(
    session: Session, ctx: RequestContext, built: list[tuple[Order, list[OrderItem]]]
) -> None:
    holding = [
        (position, row, item, item.variant_id)
        for position, (row, row_items) in enumerate(built)
        if OrderStatus(row.status) in HOLDS_STOCK | LEFT_WAREHOUSE
        for item in row_items
        if item.variant_id is not None
    ]
    if not holding:
        return
    location = inventory.default_location(session, ctx=ctx)
    item_ids = _stock_rows(session, ctx, {variant for *_, variant in holding}, location.id)
    holding.sort(key=lambda entry: (str(item_ids[entry[3]]), entry[0]))
    reservations: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for _, row, item, variant_id in holding:
        item_id = item_ids[variant_id]
        applied = stock_rows.apply_delta(
            session,
            ctx,
            item_id,
            on_hand_delta=0,
            reserved_delta=item.quantity,
            kind="reserve",
            reason="order line reserved",
            reference_type="order_item",
            reference_id=str(item.id),
        )
        if applied is None:
            short = InsufficientStock(
                variant_id=variant_id,
                requested=item.quantity,
                available=stock_rows.available(session, item_id),
            )
            intake._record_oversell(session, ctx=ctx, row=row, item=item, short=short)
            continue
        entries.append(applied)
        reservations.append(
            {
                "id": new_id(),
                "organization_id": ctx.organization_id,
                "created_at": utcnow(),
                "order_item_id": item.id,
                "inventory_item_id": item_id,
                "quantity": item.quantity,
                "status": "active",
            }
        )
    if reservations:
        session.execute(sa.insert(RESERVATIONS), reservations)
        ledger.write(session, entries)
    for row, _ in built:
        if OrderStatus(row.status) in LEFT_WAREHOUSE:
            inventory.fulfil_order(session, ctx=ctx, order_id=row.id)


def _stock_rows(
    session: Session, ctx: RequestContext, variant_ids: set[uuid.UUID], location_id: uuid.UUID
) -> dict[uuid.UUID, uuid.UUID]:
    """Variant id → its stock row at the location, created empty where missing."""
    ITEMS = stock_rows.ITEMS
    found = dict(
        session.execute(
            sa.select(ITEMS.c.variant_id, ITEMS.c.id).where(
                ITEMS.c.organization_id == ctx.organization_id,
                ITEMS.c.location_id == location_id,
                ITEMS.c.variant_id.in_(variant_ids),
            )
        ).all()
    )
    for variant_id in sorted(variant_ids - found.keys(), key=str):
        found[variant_id] = stock_rows.ensure_item(session, ctx, variant_id, location_id)
    return found
