"""Channel orders into StoreSync orders: stored webhook events and single orders (the polling
safety net is `storesync.sync.intake.poll`).

What each push does (`process_webhook_event`):
- An order push (Shopee code 3, TikTok type 1) only says "this order changed": its details are
  fetched through the store's adapter and ingested, so the order always lands in the state the
  platform reports NOW, whatever order the pushes arrived in.
- Stock and product pushes (Shopee code 8, TikTok types 27 and 5) are marked `ignored`: StoreSync's
  stock is the truth and is pushed to the channels; a channel's own figure is compared and
  repaired by reconciliation, never copied back.
- Every other push is marked `ignored` too (nothing uses it yet); the raw event is kept.

SQLite note: each transaction here writes before it reads what it is about to change, and does
its HTTP calls before its first write, reading what it needs in a short side transaction. A
SQLite transaction that reads, then writes after another connection committed, fails at once
(SQLITE_BUSY_SNAPSHOT); one that holds the write lock across HTTP calls blocks the webhook
routes and the adapter's token persistence.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from contextlib import AbstractContextManager
from datetime import timedelta
from decimal import Decimal

import pydantic
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storesync.channels.adapter import PlatformAdapter
from storesync.channels.models import ChannelListing, Store
from storesync.channels.schemas import ChannelOrder
from storesync.core.clock import utcnow
from storesync.core.errors import ValidationFailed
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.orders import service as orders
from storesync.orders.errors import IllegalTransition
from storesync.orders.intake import find_order
from storesync.orders.models import Order
from storesync.orders.queries import order_dto
from storesync.orders.schemas import NewOrder, NewOrderItem, OrderDTO
from storesync.orders.status import OrderStatus, can_transition, parse_status
from storesync.sync.intake.schemas import EventOutcome, IngestOutcome
from storesync.sync.models import WebhookEvent
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

log = logging.getLogger(__name__)

EVENTS = table_of(WebhookEvent)
STORES = table_of(Store)
CLAIMABLE = ("received", "failed")  # a failed event may be retried
SOURCE = "platform"
# The first sync of a store (no cursor, no `since`) looks this far back.
MAX_ERROR = 2000


# -- webhook events ------------------------------------------------------------------------------


def _finish(
    session: Session,
    ctx: RequestContext,
    event_id: uuid.UUID | Collection[uuid.UUID],
    outcome: EventOutcome,
    error: str,
) -> None:
    """Settle one event, or several with the same outcome in one statement."""
    ids = [event_id] if isinstance(event_id, uuid.UUID) else list(event_id)
    if not ids:
        return
    session.execute(
        sa.update(EVENTS)
        .where(EVENTS.c.id.in_(ids), EVENTS.c.organization_id == ctx.organization_id)
        .values(status=outcome.value, error=error[:MAX_ERROR], processed_at=utcnow())
    )


# -- one order -----------------------------------------------------------------------------------


def ingest_channel_order(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, order: ChannelOrder
) -> OrderDTO:
    """Bring StoreSync's copy of a channel order in step with what the channel reports. A new
    order is created (`orders.create_order`: lines linked, stock reserved, oversells recorded);
    a known one moves to the reported status through `orders.change_status` (cancelling
    releases, shipping deducts) when the lifecycle allows it. A regressive or illegal move (an
    old push arriving late, a poll overlapping a push) is logged and ignored, not an error.
    Publishes `order.created` / `order.updated` after commit. `ValidationFailed` when the
    order cannot be read (no lines, unknown status). Needs PROCESS_ORDERS."""
    row, _ = _ingest(session, ctx=ctx, store_id=store_id, order=order)
    return order_dto(session, ctx=ctx, row=row)


def _ingest(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, order: ChannelOrder
) -> tuple[Order, IngestOutcome]:
    ctx.require(Permission.PROCESS_ORDERS)
    new = to_new_order(store_id, order)
    row = find_order(session, ctx=ctx, store_id=store_id, platform_order_id=new.platform_order_id)
    if row is None:
        row = orders.record_order(session, ctx=ctx, order=new, source=SOURCE, known_absent=True)
        if new.status not in (OrderStatus.CANCELLED, OrderStatus.RETURNED):
            _note_channel_sale(session, store_id, order)
        _announce(session, ctx, "order.created", row)
        if row.status == new.status.value:
            return row, IngestOutcome.CREATED
        # Another intake created it a moment earlier, in another status: follow the channel.
    return _follow(session, ctx, row, new)


def _note_channel_sale(session: Session, store_id: uuid.UUID, order: ChannelOrder) -> None:
    """The selling channel already took the units off its own stock: count them as pushed, so
    the outbox pushes only to the OTHER channels (and to this one only to correct drift).
    Only where StoreSync's last push of the listing reached the channel before the sale: a push
    recorded after it was worked out before StoreSync knew of the sale and replaced the
    channel's stock, its own decrement included, so that listing is pushed the truth too."""
    if not order.lines:
        return
    sold_at = order.ordered_at - OWN_SALE_MARGIN
    session.execute(
        _NOTE_SALE,
        [
            {
                "store": store_id,
                "item": line.platform_item_id,
                "model": line.platform_model_id,
                # Shopee says model "0" for an item without models; the listing stores "".
                "or_model": "" if line.platform_model_id == "0" else line.platform_model_id,
                "sold": line.quantity,
                "sold_at": sold_at,
            }
            for line in order.lines
        ],
    )


_LISTINGS = table_of(ChannelListing)
# The platforms' order times are whole seconds of their own clock: a push recorded this close
# before the sale may have reached the channel after it.
OWN_SALE_MARGIN = timedelta(seconds=1)
_NOTE_SALE = (
    sa.update(_LISTINGS)
    .where(
        _LISTINGS.c.store_id == sa.bindparam("store"),
        _LISTINGS.c.platform_item_id == sa.bindparam("item"),
        _LISTINGS.c.platform_model_id.in_([sa.bindparam("model"), sa.bindparam("or_model")]),
        _LISTINGS.c.last_pushed_quantity.is_not(None),
        _LISTINGS.c.last_pushed_at < sa.bindparam("sold_at"),
    )
    .values(
        last_pushed_quantity=sa.case(
            (
                _LISTINGS.c.last_pushed_quantity > sa.bindparam("sold"),
                _LISTINGS.c.last_pushed_quantity - sa.bindparam("sold"),
            ),
            else_=0,
        )
    )
)


def to_new_order(store_id: uuid.UUID, order: ChannelOrder) -> NewOrder:
    """A channel order in the terms `orders.create_order` takes; `ValidationFailed` naming the
    order and field when it does not fit."""
    items = [
        NewOrderItem(
            platform_item_id=line.platform_item_id[:64],
            platform_model_id=line.platform_model_id[:64],
            sku=line.sku[:100],
            title=(f"{line.title} ({line.model_name})" if line.model_name else line.title)[:255],
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in order.lines
        if line.quantity > 0
    ]
    subtotal = sum((item.unit_price * item.quantity for item in items), Decimal(0))
    try:
        return NewOrder(
            store_id=store_id,
            platform_order_id=order.platform_order_id,
            order_number=order.order_number[:64],
            status=parse_status(order.status, field=f"order {order.platform_order_id} status"),
            platform_status=order.platform_status[:40],
            customer_name=order.customer_name[:200],
            currency=order.currency or "IDR",
            subtotal=subtotal,
            total=order.total,
            ordered_at=order.ordered_at,
            items=items,
            tracking_number=order.tracking_number[:64],
            carrier=order.carrier[:64],
            package_id=(order.packages[0].package_id if order.packages else "")[:64],
            shipping_address=_address(order),
        )
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "order"
        raise ValidationFailed(
            f"order {order.platform_order_id} {where}", first["msg"], order=order.platform_order_id
        ) from None


def _address(order: ChannelOrder) -> dict[str, str]:
    """The recipient as stored: non-empty fields, each cut to 255 characters."""
    if order.shipping_address is None:
        return {}
    fields = order.shipping_address.model_dump()
    return {name: str(value)[:255] for name, value in fields.items() if value}


def _follow(
    session: Session, ctx: RequestContext, row: Order, new: NewOrder
) -> tuple[Order, IngestOutcome]:
    """Move a known order to the channel's status, if that is a legal step forward."""
    current, target = OrderStatus(row.status), new.status
    refreshed = _refresh_platform_fields(session, row, new)
    outcome = IngestOutcome.UPDATED if refreshed else IngestOutcome.UNCHANGED
    moved = False  # a status change announces itself (orders.transitions)
    if current != target and not can_transition(current, target):
        log.info(
            "order %s: ignoring %s → %s reported by the channel (%s): stale or out of order",
            row.platform_order_id,
            current.value,
            target.value,
            new.platform_status,
        )
        outcome = IngestOutcome.STALE
    elif current != target:
        try:
            with session.begin_nested():
                orders.change_status(
                    session,
                    ctx=ctx,
                    order_id=row.id,
                    to_status=target.value,
                    reason=f"{row.platform} reports {new.platform_status or target.value}",
                    source=SOURCE,
                )
            outcome, moved = IngestOutcome.UPDATED, True
        except IllegalTransition:  # moved by a concurrent intake since we read it
            session.refresh(row)
            log.info("order %s moved meanwhile; %s ignored", row.platform_order_id, target.value)
            outcome = IngestOutcome.STALE
    if outcome is IngestOutcome.UPDATED and not moved:
        _announce(session, ctx, "order.updated", row)
    return row, outcome


def _refresh_platform_fields(session: Session, row: Order, new: NewOrder) -> bool:
    """Keep the channel's own status, tracking number, carrier, package and recipient current
    (no stock effect); a value the channel stops sending is kept."""
    changed = False
    for name in ("platform_status", "tracking_number", "carrier", "package_id"):
        value = getattr(new, name)
        if value and getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if new.shipping_address and row.shipping_address != new.shipping_address:
        row.shipping_address = dict(new.shipping_address)
        changed = True
    if changed:
        row.updated_at = utcnow()
        session.flush()
    return changed


def _announce(session: Session, ctx: RequestContext, kind: str, row: Order) -> None:
    orders.announce(session, ctx, kind, row)


# -- helpers -------------------------------------------------------------------------------------


def _side_session(session: Session, ctx: RequestContext) -> AbstractContextManager[Session]:
    """A short transaction of its own on the same database (reads before HTTP calls)."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return session_scope(ctx, engine=engine)


async def _close(adapter: PlatformAdapter) -> None:
    try:
        await adapter.connection.http.client.aclose()
    except Exception:  # closing must never hide the real outcome
        log.debug("closing the adapter's HTTP client failed", exc_info=True)
