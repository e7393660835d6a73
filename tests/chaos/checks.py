"""After the chaos: StoreSync's end state against the truth, which comes from outside StoreSync
(the orders the sandbox accepted and the opening count), and the sandbox's call log against the
platform's rate limit. Each check lists what differed (which order, which SKU, expected vs got).

Read as the database's administrator (no row-level security: one organization in the database).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.catalog.models import ProductVariant
from storesync.channels.models import ChannelListing, Store
from storesync.core.models import table_of
from storesync.inventory.models import InventoryItem, InventoryTransaction, Reservation
from storesync.orders.models import Order, OrderItem
from storesync.sync.models import StockOutbox, WebhookEvent
from tests.chaos.traffic import STALL, CallLog, Placed, seconds_over
from tests.chaos.world import Merchant, channel_stock

ORDERS = table_of(Order)
ORDER_ITEMS = table_of(OrderItem)
STORES = table_of(Store)
RESERVATIONS = table_of(Reservation)
ITEMS = table_of(InventoryItem)
LEDGER = table_of(InventoryTransaction)
VARIANTS = table_of(ProductVariant)
LISTINGS = table_of(ChannelListing)
OUTBOX = table_of(StockOutbox)
EVENTS = table_of(WebhookEvent)
SHOWN = 20  # problems listed per check; the rest are counted


@dataclass
class Check:
    name: str
    problems: list[str] = field(default_factory=list)
    known: str = ""  # a known bug its failure shows (reported, not raised)

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        if self.passed:
            return "passed"
        return f"FAILED ({len(self.problems)}{', known bug' if self.known else ''})"

    def report(self) -> str:
        more = len(self.problems) - SHOWN
        lines = self.problems[:SHOWN] + ([f"... and {more} more"] if more > 0 else [])
        return f"{self.name}: " + ("ok" if self.passed else "\n  " + "\n  ".join(lines))


@dataclass(frozen=True)
class Truth:
    """What must be true: every accepted order reserved once, nothing else moved stock."""

    opening: int
    placed: list[Placed]

    def ordered(self) -> Counter[str]:
        units: Counter[str] = Counter()
        for order in self.placed:
            for sku, quantity in order.lines:
                units[sku] += quantity
        return units

    def available(self, sku: str) -> int:
        return self.opening - self.ordered()[sku]


def _rows(engine: Engine, statement: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(statement).all())


def order_keys(engine: Engine) -> list[Any]:
    return _rows(
        engine,
        sa.select(STORES.c.platform, ORDERS.c.platform_order_id, ORDERS.c.id).join(
            STORES, STORES.c.id == ORDERS.c.store_id
        ),
    )


def orders_once(engine: Engine, truth: Truth) -> Check:
    check = Check("every order exactly once")
    held = Counter((r.platform, r.platform_order_id) for r in order_keys(engine))
    placed = {(o.platform, o.order_id): o for o in truth.placed}
    for key, order in placed.items():
        if held[key] != 1:
            check.problems.append(
                f"{key[0]} order {key[1]} {list(order.lines)}: "
                f"{'missing' if not held[key] else f'{held[key]} copies'} in StoreSync"
            )
    unknown = held.keys() - placed.keys()
    check.problems += [f"{p} order {o}: in StoreSync, never placed" for p, o in unknown]
    return check


def order_lines(engine: Engine, truth: Truth) -> Check:
    check = Check("order lines as placed, each linked to its variant")
    rows = _rows(
        engine,
        sa.select(
            STORES.c.platform,
            ORDERS.c.platform_order_id,
            ORDER_ITEMS.c.sku,
            ORDER_ITEMS.c.quantity,
            ORDER_ITEMS.c.variant_id,
        )
        .join(ORDERS, ORDERS.c.id == ORDER_ITEMS.c.order_id)
        .join(STORES, STORES.c.id == ORDERS.c.store_id),
    )
    held: dict[tuple[str, str], Counter[tuple[str, int]]] = defaultdict(Counter)
    for row in rows:
        held[(row.platform, row.platform_order_id)][(row.sku, row.quantity)] += 1
        if row.variant_id is None:
            check.problems.append(
                f"{row.platform} order {row.platform_order_id}: {row.sku} unmapped"
            )
    for order in truth.placed:
        got = held.get((order.platform, order.order_id))
        if got is not None and got != Counter(order.lines):
            check.problems.append(
                f"{order.platform} order {order.order_id}: placed {sorted(order.lines)}, "
                f"StoreSync has {sorted(got.elements())}"
            )
    return check


def reservations(engine: Engine, truth: Truth) -> Check:
    """One active reservation per order line, of the line's quantity, on its variant's stock
    row; each variant's reserved units the sum of its placed lines; on-hand untouched."""
    check = Check("each order line reserved exactly once (none lost, none doubled)")
    lines = _rows(
        engine,
        sa.select(
            ORDER_ITEMS.c.id,
            ORDER_ITEMS.c.sku,
            ORDER_ITEMS.c.quantity,
            ORDER_ITEMS.c.variant_id,
            ORDERS.c.platform_order_id,
        ).join(ORDERS, ORDERS.c.id == ORDER_ITEMS.c.order_id),
    )
    held: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in _rows(
        engine,
        sa.select(
            RESERVATIONS.c.order_item_id,
            RESERVATIONS.c.quantity,
            RESERVATIONS.c.status,
            ITEMS.c.variant_id,
        ).join(ITEMS, ITEMS.c.id == RESERVATIONS.c.inventory_item_id),
    ):
        held[row.order_item_id].append(row)
    for line in lines:
        found = held.get(line.id, [])
        wanted = [(line.quantity, "active", line.variant_id)]
        if [(r.quantity, r.status, r.variant_id) for r in found] != wanted:
            check.problems.append(
                f"order {line.platform_order_id} line {line.sku} x{line.quantity}: "
                f"reservations {[(r.quantity, r.status) for r in found]}, expected one active "
                f"of {line.quantity}"
            )
    ordered = truth.ordered()
    for row in _stock_rows(engine):
        if (row.on_hand, row.reserved) != (truth.opening, ordered[row.sku]):
            check.problems.append(
                f"SKU {row.sku}: on hand {row.on_hand}, reserved {row.reserved}; expected "
                f"{truth.opening} on hand and {ordered[row.sku]} reserved (the units of its "
                "placed orders)"
            )
    return check


def _stock_rows(engine: Engine) -> list[Any]:
    return _rows(
        engine,
        sa.select(
            ITEMS.c.id, VARIANTS.c.variant_sku.label("sku"), ITEMS.c.on_hand, ITEMS.c.reserved
        )
        .join(VARIANTS, VARIANTS.c.id == ITEMS.c.variant_id)
        .order_by(VARIANTS.c.variant_sku),
    )


def ledger(engine: Engine) -> Check:
    """Each stock row's ledger adds up to its on-hand and reserved; one reserve entry per line."""
    check = Check("the ledger balances to on-hand and reserved")
    sums = {
        r.inventory_item_id: r
        for r in _rows(
            engine,
            sa.select(
                LEDGER.c.inventory_item_id,
                sa.func.sum(LEDGER.c.on_hand_delta).label("on_hand"),
                sa.func.sum(LEDGER.c.reserved_delta).label("reserved"),
            ).group_by(LEDGER.c.inventory_item_id),
        )
    }
    for row in _stock_rows(engine):
        total = sums.get(row.id)
        got = (total.on_hand, total.reserved) if total is not None else (0, 0)
        if got != (row.on_hand, row.reserved):
            check.problems.append(
                f"SKU {row.sku}: the ledger adds up to {got[0]} on hand and {got[1]} reserved, "
                f"the stock row holds {row.on_hand} and {row.reserved}"
            )
    entries = Counter(
        r.reference_id
        for r in _rows(engine, sa.select(LEDGER.c.reference_id).where(LEDGER.c.kind == "reserve"))
    )
    lines = _rows(engine, sa.select(ORDER_ITEMS.c.id, ORDER_ITEMS.c.sku))
    for line in lines:
        if entries[str(line.id)] != 1:
            check.problems.append(
                f"order line {line.id} ({line.sku}): {entries[str(line.id)]} reserve entries"
            )
    return check


def listings(engine: Engine, base: str, merchant: Merchant, truth: Truth) -> list[Check]:
    """Every model on both channels shows its variant's available units, and StoreSync
    recorded pushing exactly that. Two checks: a listing wrong on the channel or in StoreSync's
    record with nothing left to push is what two claims of one listing in flight at once left
    behind before a re-queued row waited for its claim to end (tests/chaos/test_stale_push.py);
    a listing missing on either side, or still waiting, is the first's."""
    check = Check("every listing on both channels equal to the truth")
    stale = Check("no two pushes of one listing in flight at once")
    recorded = {
        (r.platform, r.platform_sku): r.last_pushed_quantity
        for r in _rows(
            engine,
            sa.select(
                STORES.c.platform, LISTINGS.c.platform_sku, LISTINGS.c.last_pushed_quantity
            ).join(STORES, STORES.c.id == LISTINGS.c.store_id),
        )
    }
    shown = {
        (platform, model["sku"]): model
        for platform, shop_id in merchant.shops.items()
        for model in channel_stock(base, platform, shop_id)
    }
    waiting = {(r.platform, r.platform_sku) for r in _waiting_pushes(engine)}
    for key in sorted(shown.keys() | recorded.keys()):
        wanted = truth.available(key[1])
        model = shown.get(key, {})
        on_channel, pushed = model.get("stock"), recorded.get(key)
        if on_channel == pushed == wanted:
            continue
        problem = (
            f"{key[0]} {key[1]} (item {model.get('item_id')} model {model.get('model_id')}): "
            f"the channel shows {on_channel}, StoreSync last pushed {pushed}, truth {wanted}"
        )
        known = key in shown and key in recorded and key not in waiting
        (stale if known else check).problems.append(problem)
    return [check, stale]


def _waiting_pushes(engine: Engine) -> list[Any]:
    return _rows(
        engine,
        sa.select(
            STORES.c.platform,
            LISTINGS.c.platform_sku,
            OUTBOX.c.status,
            OUTBOX.c.quantity,
            OUTBOX.c.attempts,
            OUTBOX.c.last_error,
        )
        .join(LISTINGS, LISTINGS.c.id == OUTBOX.c.listing_id)
        .join(STORES, STORES.c.id == OUTBOX.c.store_id)
        .where(OUTBOX.c.status != "done"),
    )


def outbox(engine: Engine) -> Check:
    check = Check("no stock push left pending, in flight or failed")
    for row in _waiting_pushes(engine):
        check.problems.append(
            f"{row.platform} {row.platform_sku}: push of {row.quantity} {row.status} after "
            f"{row.attempts} attempts {row.last_error!r}"
        )
    return check


def rate(log: CallLog, limit: float, stalls: list[tuple[float, float]]) -> tuple[Check, int]:
    """No shop was called more than the platform's `limit` times in any one second (sliding
    windows over the sandbox's call log, by arrival). A second over the limit that holds the
    end of a stall of the sandbox (`traffic.StallWatch`) is not StoreSync's: the calls that
    reached it while it stalled are stamped together. Returns the check and how many seconds
    over the limit a stall explains."""
    check = Check(f"never over the platform's {limit:g} calls per second per shop")
    check.problems += log.overflowed
    explained = 0
    for (platform, shop), calls in log.by_store().items():
        for start, count in seconds_over(calls, limit):
            if any(start - STALL <= end < start + 1.0 for _sent, end in stalls):
                explained += 1
                continue
            check.problems.append(
                f"{platform} shop {shop}: {count} calls in the second from {start:.3f}, "
                f"limit {limit:g}"
            )
    return check, explained


def refused_for_rate(log: CallLog, throttled: Iterable[tuple[str, float, float]]) -> list[str]:
    """Calls the platform refused for its rate outside the throttle windows the run injected:
    a burst over its bucket (calls StoreSync spaced in time that arrived together, after either
    process stalled for a moment), retried by StoreSync."""
    windows = list(throttled)
    return [
        f"{c['platform']} {c['method']} {c['path']} at {c['at']:.3f}"
        for calls in log.by_store().values()
        for c in calls
        if c["outcome"] == "rate_limited" and not injected(c, windows)
    ]


def injected(call: dict[str, Any], windows: list[tuple[str, float, float]]) -> bool:
    return any(p == call["platform"] and a <= call["at"] <= b for p, a, b in windows)


def webhook_events(engine: Engine) -> dict[str, int]:
    """StoreSync's stored pushes by status."""
    return {
        r.status: int(r.count)
        for r in _rows(
            engine,
            sa.select(EVENTS.c.status, sa.func.count().label("count")).group_by(EVENTS.c.status),
        )
    }


@dataclass(frozen=True)
class Progress:
    """Where a settling run stands."""

    missing: int  # orders placed but not in StoreSync
    waiting: int  # stock pushes pending or in flight
    shown: tuple[tuple[str, str, int], ...]  # every model's stock on both channels
    wrong: int  # of them, not the truth

    def describe(self) -> str:
        return (
            f"{self.missing} orders missing, {self.waiting} pushes waiting, {self.wrong} "
            "listings wrong"
        )


def progress(engine: Engine, base: str, merchant: Merchant, truth: Truth) -> Progress:
    held = {(r.platform, r.platform_order_id) for r in order_keys(engine)}
    waiting = _rows(
        engine,
        sa.select(sa.func.count()).where(OUTBOX.c.status.in_(("pending", "in_progress"))),
    )[0][0]
    shown = tuple(
        (platform, model["sku"], model["stock"])
        for platform, shop_id in merchant.shops.items()
        for model in channel_stock(base, platform, shop_id)
    )
    return Progress(
        missing=sum((o.platform, o.order_id) not in held for o in truth.placed),
        waiting=waiting,
        shown=shown,
        wrong=sum(stock != truth.available(sku) for _p, sku, stock in shown),
    )
