"""The search tokens table: written with each new order in the intake's transaction (one INSERT
per batch of orders), read by the inbox as index ranges, two per search word."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storesync.core.models import table_of
from storesync.orders.models import Order, OrderItem, OrderSearchToken
from storesync.orders.search.tokens import prefix_range, search_words, tail_tokens, text_tokens
from storesync.tenancy.context import RequestContext

TOKENS: Any = table_of(OrderSearchToken)
ORDER_IDS: Any = table_of(Order).c.id
# Up to this many orders with every word of a search are read first; more, and the inbox is
# walked (see `matching`): about 40 ms either way at the edge, with a million orders.
FEW_MATCHES = 5000
# One statement whatever the number of tokens (a multi-row VALUES would compile per row count).
_INSERT_ARRAYS = (
    "INSERT INTO order_search_token (organization_id, tail, token, order_id) "
    "SELECT %(org)s, tail, token, order_id FROM unnest("
    "%(tails)s::boolean[], %(tokens)s::text[], %(orders)s::uuid[]) AS t(tail, token, order_id)"
)
_INSERT_ROW = (
    "INSERT INTO order_search_token (organization_id, tail, token, order_id) VALUES (?, ?, ?, ?)"
)


def order_tokens(row: Order, items: Iterable[OrderItem]) -> list[tuple[bool, str]]:
    """(tail, token) for everything an order is found by: its numbers (also backwards), its
    customer's name, its lines' SKUs and titles."""
    lines = [text for item in items for text in (item.sku, item.title)]
    numbers = (row.order_number, row.platform_order_id)
    words = text_tokens(*numbers, row.customer_name, *lines)
    return [(False, token) for token in words] + [(True, tail) for tail in tail_tokens(*numbers)]


def write_tokens(
    session: Session, *, ctx: RequestContext, orders: Iterable[tuple[Order, Sequence[OrderItem]]]
) -> None:
    """Write the search tokens of orders new in this transaction (rows and lines flushed), in
    one statement. An order's numbers, customer and lines do not change afterwards, so its
    tokens are written once."""
    rows = [
        (tail, token, row.id) for row, items in orders for tail, token in order_tokens(row, items)
    ]
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        tails, tokens, order_ids = (list(column) for column in zip(*rows, strict=True))
        values = {"org": ctx.organization_id, "tails": tails, "tokens": tokens, "orders": order_ids}
        session.connection().exec_driver_sql(_INSERT_ARRAYS, values)
        return
    # SQLite: the driver's executemany, with the values as SQLAlchemy stores them (a UUID as
    # 32 hex digits, a boolean as 0 or 1): a tenth of the cost of an ORM-typed executemany.
    org = ctx.organization_id.hex
    session.connection().exec_driver_sql(
        _INSERT_ROW, [(org, int(tail), token, order_id.hex) for tail, token, order_id in rows]
    )


def matching(
    session: Session, organization_id: uuid.UUID, search: str | None
) -> list[sa.ColumnElement[bool]]:
    """Conditions on orders: every word of `search` starts one of the order's tokens or, written
    backwards, one of its tails; none for a blank search. Each word is two ranges of the tokens'
    keys, comparisons PostgreSQL lets into an index under row-level security.

    The orders having every word are counted first, up to `FEW_MATCHES`, in the tokens' primary
    key alone (one statement). When they are few, the condition is that set, read first: its
    orders are then fetched by id, however old. When they are many, the condition is one EXISTS
    per word, so the inbox is walked newest first and each order's tokens probed (one index
    lookup) until the page is full: at least one order in `orders / FEW_MATCHES` matches.
    PostgreSQL's planner cannot tell the two cases apart from its statistics (how many orders
    two common words share, for one)."""
    words = search_words(search)
    if not words:
        return []
    having_all = _orders_with_all(organization_id, words)
    counted = sa.select(sa.func.count()).select_from(having_all.limit(FEW_MATCHES + 1).subquery())
    if session.execute(counted).scalar_one() <= FEW_MATCHES:
        return [ORDER_IDS.in_(having_all)]
    return [_has(organization_id, word) for word in words]


def _orders_with_all(organization_id: uuid.UUID, words: list[str]) -> sa.Select[Any]:
    """The ids of the orders with every word (an order with a word twice, twice), joined in
    the tokens table."""
    sets = [
        sa.union_all(
            _in_range(organization_id, tail=False, prefix=word),
            _in_range(organization_id, tail=True, prefix=word[::-1]),
        ).subquery()
        for word in words
    ]
    found = sa.select(sets[0].c.order_id)
    for other in sets[1:]:
        found = found.join(other, other.c.order_id == sets[0].c.order_id)
    return found


def _in_range(organization_id: uuid.UUID, *, tail: bool, prefix: str) -> sa.Select[Any]:
    found = sa.select(TOKENS.c.order_id).where(
        TOKENS.c.organization_id == organization_id,
        TOKENS.c.tail == tail,
        *_starts_with(prefix),
    )
    return found


def _has(organization_id: uuid.UUID, word: str) -> sa.ColumnElement[bool]:
    """The order has a token starting with `word`, or a tail starting with it backwards."""
    return sa.exists().where(
        TOKENS.c.order_id == ORDER_IDS,
        TOKENS.c.organization_id == organization_id,
        sa.or_(
            sa.and_(TOKENS.c.tail.is_(False), *_starts_with(word)),
            sa.and_(TOKENS.c.tail.is_(True), *_starts_with(word[::-1])),
        ),
    )


def _starts_with(prefix: str) -> list[sa.ColumnElement[bool]]:
    low, high = prefix_range(prefix)
    bounds = [TOKENS.c.token >= low]
    if high is not None:
        bounds.append(TOKENS.c.token < high)
    return bounds
