"""The inbox search through the order search tokens: what a search finds on SQLite and PostgreSQL
alike, that PostgreSQL answers a rare term through the token index under row-level security, that
the SQL tokenizer (back-fills) equals the Python one (intake), and the migration's back-fill."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync import migrate
from storesync.core.models import table_of
from storesync.db import make_engine, session_scope
from storesync.orders import service as orders
from storesync.orders.export import export_rows
from storesync.orders.models import Order, OrderItem, OrderSearchToken
from storesync.orders.schemas import NewOrderItem
from storesync.orders.search import index as search_index
from storesync.orders.search.tokens import (
    prefix_range,
    search_words,
    tail_tokens,
    text_tokens,
)
from tests.conftest import PgDatabase
from tests.orders.conftest import BASE_TIME, Shop, build_shop, minutes

ORDERS: Any = table_of(Order)
ITEMS: Any = table_of(OrderItem)
TOKENS: Any = table_of(OrderSearchToken)

# Tricky texts for the tokenizer twins: case, runs, punctuation, LIKE wildcards, non-ASCII
# letters and whitespace, a word longer than a token.
SAMPLES = [
    "INV-2611264CDA9533",
    "Siti  Nurhaliza\tbinti\u00a0Ahmad",
    "100% Cotton_Fan",
    "a\\b_c 50%off (XL)",
    "Kaos Polos Hitam Cotton Combed 30s [READY] \u2013 Size:M",
    "ÉLISE Çağlar Müller straße 12b",
    "【预售】 连衣裙 2024新款",
    "x" * 70 + "9" * 5,
    "---",
    "",
]


# -- tokens (pure) ------------------------------------------------------------------------------


def test_a_token_starts_each_word_and_each_part_after_punctuation() -> None:
    assert text_tokens("INV-2611264CDA9533") == {"inv-2611264cda9533", "2611264cda9533"}
    assert text_tokens("Siti Nurhaliza", "budi_santoso88") == {
        "siti",
        "nurhaliza",
        "budi_santoso88",
        "santoso88",
    }
    assert text_tokens("(XL) café a\\b_c") == {"(xl)", "xl)", "café", "a\\b_c", "b_c", "c"}
    assert text_tokens("  ", "") == set()
    assert max(len(token) for token in text_tokens("k" * 100 + "1")) == 64
    assert tail_tokens("576000000000004242", "INV-12 ab") == {"242400000000000675", "21-vni", "ba"}


def test_search_words_and_their_prefix_ranges() -> None:
    assert search_words("  Siti   NURHALIZA siti ") == ["siti", "nurhaliza"]
    assert search_words(" ") == []
    assert len(search_words(" ".join(f"w{i}" for i in range(20)))) == 8
    assert prefix_range("budi") == ("budi", "budj")
    assert prefix_range("100%") == ("100%", "100&")
    assert prefix_range("a\U0010ffff") == ("a\U0010ffff", "b")
    assert prefix_range("\U0010ffff") == ("\U0010ffff", None)
    assert prefix_range("a\ud7ff") == ("a\ud7ff", "a\ue000")


# -- what a search finds, on both backends ------------------------------------------------------


def _line(sku: str, title: str) -> NewOrderItem:
    return NewOrderItem(platform_item_id="X-ITEM", sku=sku, title=title, quantity=1)


def _seed(shop: Shop) -> dict[str, uuid.UUID]:
    """Four orders, one each minute from BASE_TIME: two created one by one, two in a batch."""
    siti = shop.create(
        shop.new_order(
            _line("KAOS-HTM-M", "Kaos Polos Hitam (M)"),
            platform_order_id="2611264CDA9533",
            customer_name="Siti Nurhaliza",
            ordered_at=BASE_TIME,
        )
    )
    budi = shop.create(
        shop.new_order(
            _line("TOPI-01", "Topi Baseball"),
            platform_order_id="576000000000004242",
            store_id=shop.tiktok_store_id,
            customer_name="Budi Santoso",
            ordered_at=BASE_TIME + minutes(1),
        )
    )
    batch = [
        shop.new_order(
            _line("a\\b_c", "Sarung 50% off"),
            platform_order_id="PO-X1",
            order_number="INV-2611264CDA9533",
            customer_name="100% Cotton_Fan",
            ordered_at=BASE_TIME + minutes(2),
        ),
        shop.new_order(
            _line("SKU-KAOS", "kaos kaki"),
            platform_order_id="PO-X2",
            customer_name="budiman",
            ordered_at=BASE_TIME + minutes(3),
        ),
    ]
    with session_scope(shop.ctx, engine=shop.engine) as session:
        made = orders.record_new_orders(session, ctx=shop.ctx, store_id=shop.store_id, orders=batch)
    return {"siti": siti.id, "budi": budi.id, "cotton": made["PO-X1"].id, "kaki": made["PO-X2"].id}


def _found(shop: Shop, **filters: Any) -> list[uuid.UUID]:
    with session_scope(shop.ctx, engine=shop.engine) as session:
        return [o.id for o in orders.list_orders(session, ctx=shop.ctx, **filters).items]


# Search → the seeded orders it finds, newest first. The old search (ILIKE '%term%' on order
# number, platform order id and customer name) found the same, except where marked.
SEARCHES: list[tuple[str, list[str]]] = [
    ("2611264CDA9533", ["siti"]),  # a whole order number: just that order
    (" 2611264cda9533 ", ["siti"]),
    ("INV-2611264CDA9533", ["cotton"]),
    ("576000000000004242", ["budi"]),
    ("2611264cda", ["cotton", "siti"]),  # the start of an order number (or of a part)
    ("inv-26", ["cotton"]),
    ("5760000", ["budi"]),
    ("CDA9533", ["cotton", "siti"]),  # its end
    ("9533", ["cotton", "siti"]),
    ("4242", ["budi"]),
    ("264cda", []),  # was found: neither its start nor its end
    ("siti", ["siti"]),
    ("  NURHALIZA ", ["siti"]),
    ("siti nurhaliza", ["siti"]),
    ("nurhaliza siti", ["siti"]),  # was not found: each word on its own
    ("budi", ["kaki", "budi"]),
    ("santo", ["budi"]),
    ("anto", []),  # was found: inside a word
    ("kaos-htm", ["siti"]),  # SKUs and titles: new
    ("htm", ["siti"]),
    ("HITAM", ["siti"]),
    ("kaos", ["kaki", "siti"]),
    ("topi baseball", ["budi"]),
    ("siti kaos", ["siti"]),
    ("100%", ["cotton"]),  # LIKE wildcards are literal
    ("%", []),  # was found: "%" alone starts no word
    ("50%", ["cotton"]),
    ("5%", []),
    ("cotton_f", ["cotton"]),
    ("cotto__fan", []),
    ("a\\b_", ["cotton"]),
    ("a\\b%", []),
    ("a\\\\b", []),
    ("zzqxj", []),
]


@pytest.fixture(params=["few", "many"])
def strategy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a search is read: its orders first (few matches), or the inbox walked and
    each order's tokens probed (many: here, any match at all)."""
    if request.param == "many":
        monkeypatch.setattr(search_index, "FEW_MATCHES", 0)
    return str(request.param)


def test_searches_find_the_same_orders_on_both_backends(shop: Shop, strategy: str) -> None:
    made = _seed(shop)
    other = build_shop(shop.engine)
    theirs = other.create(
        other.new_order(
            _line("KAOS-HTM-M", "Kaos Polos Hitam (M)"),
            platform_order_id="2611264CDA9533",
            customer_name="Siti Nurhaliza",
        )
    )

    found = {term: _found(shop, search=term) for term, _ in SEARCHES}

    assert found == {term: [made[name] for name in names] for term, names in SEARCHES}
    assert _found(other, search="siti") == [theirs.id]
    assert _found(other, search="kaos") == [theirs.id]
    assert _found(other, search="budi") == []


def test_a_search_keeps_the_filters_pages_and_export(shop: Shop, strategy: str) -> None:
    made = _seed(shop)

    assert _found(shop, search="kaos", platform="tiktok") == []
    assert _found(shop, search="budi", platform="tiktok") == [made["budi"]]
    assert _found(shop, search="kaos", ordered_to=BASE_TIME + minutes(3)) == [made["siti"]]
    with session_scope(shop.ctx, engine=shop.engine) as session:
        first = orders.list_orders(session, ctx=shop.ctx, search="kaos", limit=1)
        second = orders.list_orders(
            session, ctx=shop.ctx, search="kaos", limit=1, cursor=first.next_cursor
        )
    assert [o.id for o in first.items + second.items] == [made["kaki"], made["siti"]]
    assert second.next_cursor is None
    with session_scope(shop.ctx, engine=shop.engine) as session:
        csv = "".join(export_rows(session, ctx=shop.ctx, search="cda9533"))
    assert [line.split(",")[0] for line in csv.splitlines()[1:]] == [
        "INV-2611264CDA9533",
        "2611264CDA9533",
    ]


# -- PostgreSQL: the plan, the SQL twin, the back-fill -------------------------------------------

# 20,000 orders in one statement, two names each, a rare one every 5,000; then their tokens
# through the SQL tokenizer (as the migration back-fills).
_BULK_ORDERS = """
INSERT INTO sales_order (id, organization_id, created_at, store_id, platform, platform_order_id,
    order_number, status, platform_status, financial_status, fulfillment_status, customer_name,
    currency, subtotal, shipping_fee, discount, total, ordered_at, tracking_number, carrier,
    package_id, shipping_address, handover_method, has_unmapped_items, raw)
SELECT gen_random_uuid(), :org, :at, :store, 'shopee', 'SO' || lpad(CAST(i AS text), 6, '0') || 'Z',
    'SO' || lpad(CAST(i AS text), 6, '0') || 'Z', 'completed', '',
    'paid', 'delivered',
    CASE WHEN i % 5000 = 7 THEN 'Ratna Tanoesoedibjo'
         ELSE (ARRAY['Budi', 'Siti', 'Agus', 'Dewi'])[1 + i % 4] || ' '
              || (ARRAY['Santoso', 'Wijaya', 'Lim', 'Tan', 'Halim'])[1 + i % 5] END,
    'IDR', 0, 0, 0, 0, CAST(:at AS timestamptz) - make_interval(mins => i), '', '', '', '{}', '',
    false, '{}'
FROM generate_series(1, 20000) AS i
"""
_BULK_TOKENS = """
INSERT INTO order_search_token (organization_id, tail, token, order_id)
SELECT DISTINCT o.organization_id, false, t.token, o.id
FROM sales_order AS o
CROSS JOIN LATERAL storesync_search_tokens(concat_ws(' ', o.order_number, o.customer_name))
    AS t(token)
WHERE o.organization_id = :org
UNION ALL
SELECT o.organization_id, true, t.token, o.id
FROM sales_order AS o CROSS JOIN LATERAL storesync_search_tails(o.order_number) AS t(token)
WHERE o.organization_id = :org
"""


@pytest.fixture(scope="module")
def crowded(pg: PgDatabase, app_engine: Engine) -> Shop:
    """A PostgreSQL shop with 20,000 orders, analyzed."""
    shop = build_shop(app_engine)
    values = {"org": shop.ctx.organization_id, "store": shop.store_id, "at": BASE_TIME}
    with session_scope(shop.ctx, engine=app_engine) as session:
        session.execute(sa.text(_BULK_ORDERS), values)
        session.execute(sa.text(_BULK_TOKENS), values)
    owner = sa.create_engine(pg.owner_url, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(sa.text("ANALYZE sales_order, order_search_token"))
    owner.dispose()
    return shop


def _plan(shop: Shop, **filters: Any) -> str:
    """EXPLAIN ANALYZE of the statement `list_orders` sends, as the app role under RLS."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM sales_order" in statement:
            sent.append((statement, parameters))

    sa.event.listen(shop.engine, "before_cursor_execute", capture)
    try:
        _found(shop, **filters)
    finally:
        sa.event.remove(shop.engine, "before_cursor_execute", capture)
    statement, parameters = sent[-1]
    with session_scope(shop.ctx, engine=shop.engine) as session:
        rows = session.connection().exec_driver_sql("EXPLAIN ANALYZE " + statement, parameters)
        return "\n".join(row[0] for row in rows)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("term", "found", "index"),
    [
        ("tanoesoedibjo", 4, "pk_order_search_token"),
        ("ratna tanoe", 4, "pk_order_search_token"),
        ("zzqxj", 0, "pk_order_search_token"),
        ("so00123", 10, "pk_order_search_token"),  # parts of order numbers
        ("001234Z", 1, "pk_order_search_token"),
        ("SO001234Z", 1, "ix_sales_order_organization_id_order_number"),  # a whole one
    ],
)
def test_a_rare_term_is_read_through_an_index_under_rls(
    crowded: Shop, term: str, found: int, index: str
) -> None:
    plan = _plan(crowded, search=term)

    assert index in plan, plan
    assert "Seq Scan" not in plan, plan
    assert "ix_sales_order_organization_id_ordered_at" not in plan, plan  # no walk of the inbox
    assert len(_found(crowded, search=term)) == found


@pytest.mark.postgres
def test_a_common_word_walks_the_inbox_and_probes_each_orders_tokens(crowded: Shop) -> None:
    plan = _plan(crowded, search="so0")  # every order number: more than FEW_MATCHES

    walked = re.search(
        r"Index Scan Backward using ix_sales_order_organization_id_ordered_at "
        r"on sales_order .*rows=(\d+) loops=1",
        plan,
    )
    assert walked is not None, plan
    assert int(walked.group(1)) < 1000, plan  # a page of 50, not the organization's 20,000
    assert "Index Only Scan using ix_order_search_token_order_id_tail_token" in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.postgres
def test_the_sql_tokenizers_give_the_python_tokens(app_engine: Engine) -> None:
    with app_engine.connect() as conn:
        for text in SAMPLES:
            tokens = conn.execute(sa.text("SELECT storesync_search_tokens(:t)"), {"t": text})
            tails = conn.execute(sa.text("SELECT storesync_search_tails(:t)"), {"t": text})
            assert set(tokens.scalars()) == text_tokens(text), text
            assert set(tails.scalars()) == tail_tokens(text), text


def _old_orders(shop: Shop, texts: list[str]) -> dict[uuid.UUID, set[tuple[bool, str]]]:
    """Orders with two lines each, written in bulk with no tokens (as before revision 0017);
    returns each one's (tail, token) by the Python tokenizer."""
    orders_, lines, expected = [], [], {}
    for i, text in enumerate(texts):
        order_id, numbers = uuid.uuid4(), (f"OLD-{i}", f"OLD-{i} {text}"[:64])
        orders_.append(
            {
                "id": order_id,
                "organization_id": shop.ctx.organization_id,
                "created_at": BASE_TIME,
                "store_id": shop.store_id,
                "platform": "shopee",
                "order_number": numbers[0],
                "platform_order_id": numbers[1],
                "status": "completed",
                "customer_name": text,
                "ordered_at": BASE_TIME - timedelta(days=i),
                "currency": "IDR",
                "total": Decimal(1),
                "shipping_address": {},
                "raw": {},
            }
        )
        skus_and_titles = [(f"SKU-{i}", text[::-1]), ("", text.upper())]
        lines += [
            {
                "id": uuid.uuid4(),
                "organization_id": shop.ctx.organization_id,
                "created_at": BASE_TIME,
                "order_id": order_id,
                "sku": sku,
                "title": title,
                "quantity": 1,
            }
            for sku, title in skus_and_titles
        ]
        words = text_tokens(*numbers, text, *(t for line in skus_and_titles for t in line))
        expected[order_id] = {(False, t) for t in words} | {
            (True, t) for t in tail_tokens(*numbers)
        }
    with session_scope(shop.ctx, engine=shop.engine) as session:
        session.execute(sa.insert(ORDERS), orders_)
        session.execute(sa.insert(ITEMS), lines)
    return expected


def _backfilled(engine: Engine, upgrade: Callable[[], None]) -> None:
    """Orders and lines of two organizations written before revision 0017 have their tokens,
    in their organization, after it."""
    shops = [build_shop(engine), build_shop(engine)]
    expected = [_old_orders(shop, SAMPLES[i::2]) for i, shop in enumerate(shops)]

    upgrade()

    for shop, theirs in zip(shops, expected, strict=True):
        with session_scope(shop.ctx, engine=engine) as session:
            written = session.execute(
                sa.select(TOKENS.c.order_id, TOKENS.c.tail, TOKENS.c.token).where(
                    TOKENS.c.organization_id == shop.ctx.organization_id
                )
            ).all()
        assert {(o, tail, token) for o, tail, token in written} == {
            (order_id, tail, token) for order_id, tokens in theirs.items() for tail, token in tokens
        }


def test_the_migration_back_fills_the_tokens_on_sqlite(sqlite_url: str) -> None:
    migrate.upgrade("0016", url=sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        _backfilled(engine, lambda: migrate.upgrade(url=sqlite_url))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_migration_back_fills_the_tokens_on_postgres(empty_pg: PgDatabase) -> None:
    migrate.upgrade("0016", url=empty_pg.owner_url)
    engine = make_engine(empty_pg.app_url)
    try:
        _backfilled(engine, lambda: migrate.upgrade(url=empty_pg.owner_url))
    finally:
        engine.dispose()
