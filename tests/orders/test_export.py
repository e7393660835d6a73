"""The order CSV export: the inbox's filter, every order once in the inbox's order, one row per
order with its lines, formulas neutralised, and batches read in short transactions."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.core.errors import ValidationFailed
from storesync.core.models import table_of
from storesync.db import make_engine, session_scope
from storesync.orders import service as orders
from storesync.orders.export import COLUMNS, export_rows
from storesync.orders.models import Order, OrderItem
from storesync.orders.schemas import NewOrderItem, OrderDTO
from tests.orders.conftest import BASE_TIME, Shop, build_shop, minutes

ADDRESS = {
    "name": "Budi Santoso",
    "phone": "+62 812 ****78",
    "address": "Jl. Merdeka No. 1",
    "district": "Menteng",
    "city": "Jakarta Pusat",
    "state": "DKI Jakarta",
    "postcode": "10110",
    "country": "ID",
}


def _chunks(shop: Shop, **filters: Any) -> list[str]:
    with session_scope(shop.ctx, engine=shop.engine) as session:
        return list(export_rows(session, ctx=shop.ctx, **filters))


def _rows(shop: Shop, **filters: Any) -> list[dict[str, str]]:
    text = "".join(_chunks(shop, **filters))
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with the byte-order mark
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def _exported(shop: Shop, **filters: Any) -> list[str]:
    return [row["platform_order_id"] for row in _rows(shop, **filters)]


def _listed(shop: Shop, **filters: Any) -> list[str]:
    """What the inbox shows for the same filter, every page."""
    found: list[str] = []
    cursor = None
    while True:
        with session_scope(shop.ctx, engine=shop.engine) as session:
            page = orders.list_orders(session, ctx=shop.ctx, limit=2, cursor=cursor, **filters)
        found += [order.platform_order_id for order in page.items]
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _create(shop: Shop, *items: NewOrderItem, **fields: Any) -> OrderDTO:
    extra = {
        k: fields.pop(k) for k in ("shipping_address", "tracking_number", "carrier") if k in fields
    }
    order = shop.new_order(*items, **fields)
    return shop.create(order.model_copy(update=extra))


def test_an_order_is_one_row_with_its_recipient_lines_and_total(shop: Shop) -> None:
    gift = NewOrderItem(platform_item_id="G-ITEM", title="Gift wrap", quantity=1)
    made = _create(
        shop,
        shop.line_a(2),
        shop.line_b(3),
        gift,
        order_number="SO-1001",
        customer_name="Budi Santoso",
        ordered_at=BASE_TIME,
        shipping_address={**ADDRESS, "district": ""},
        tracking_number="SPXID0123456789",
        carrier="SPX Express",
    )

    rows = _rows(shop)

    assert rows == [
        {
            "order_number": "SO-1001",
            "platform_order_id": made.platform_order_id,
            "platform": "shopee",
            "store": "Shopee",
            "status": "to_ship",
            "platform_status": "",
            "ordered_at": "2026-03-01T09:00:00+00:00",
            "customer_name": "Budi Santoso",
            "recipient": "Budi Santoso, +62 812 ****78, Jl. Merdeka No. 1, Jakarta Pusat, "
            "DKI Jakarta, 10110, ID",
            "carrier": "SPX Express",
            "tracking_number": "SPXID0123456789",
            "items": f"seller-typed-sku x2; {shop.sku_b} x3; Gift wrap x1",
            "quantity": "6",
            "currency": "IDR",
            "total": "69000",
        }
    ]


def test_the_export_walks_the_inbox_filter(shop: Shop) -> None:
    made = {
        "budi": _create(shop, shop.line_unmapped(), order_number="SO-1001"),
        "siti": _create(
            shop,
            shop.line_unmapped(),
            status="unpaid",
            customer_name="Siti Aminah",
            ordered_at=BASE_TIME + minutes(60),
        ),
        "tiktok": _create(
            shop,
            shop.line_unmapped(),
            store_id=shop.tiktok_store_id,
            customer_name="Agus",
            ordered_at=BASE_TIME + minutes(120),
        ),
        "gone": _create(
            shop, shop.line_unmapped(), status="cancelled", ordered_at=BASE_TIME + minutes(1440)
        ),
        "arranged": _create(shop, shop.line_unmapped(), ordered_at=BASE_TIME + minutes(30)),
    }
    with session_scope(shop.ctx, engine=shop.engine) as session:
        session.execute(
            sa.update(table_of(Order))
            .where(table_of(Order).c.id == made["arranged"].id)
            .values(arranged_at=BASE_TIME + minutes(40))
        )
    ids = {name: order.platform_order_id for name, order in made.items()}
    filters: list[dict[str, Any]] = [
        {},
        {"status": "to_ship"},
        {"status": ["unpaid", "cancelled"]},
        {"store_id": shop.tiktok_store_id},
        {"platform": "shopee", "status": "to_ship"},
        {"ordered_from": BASE_TIME + minutes(60), "ordered_to": BASE_TIME + minutes(1440)},
        {"search": "siti"},
        {"search": "SO-1001"},
        {"search": "so-1001"},
        {"search": ids["tiktok"]},
        {"search": "nobody"},
        {"stage": "to_arrange"},
        {"stage": "to_print"},
        {"stage": "to_hand_over"},
    ]

    for given in filters:
        assert _exported(shop, **given) == _listed(shop, **given), given

    order = ["gone", "tiktok", "siti", "arranged", "budi"]
    assert _exported(shop) == [ids[name] for name in order]
    assert _exported(shop, status=["unpaid", "cancelled"]) == [ids["gone"], ids["siti"]]
    assert _exported(shop, search="SO-1001") == [ids["budi"]]
    assert _exported(shop, stage="to_print") == [ids["arranged"]]
    assert _exported(shop, stage="to_arrange") == [ids["tiktok"], ids["budi"]]


def test_cells_that_would_run_as_formulas_are_neutralised(shop: Shop) -> None:
    odd = NewOrderItem(platform_item_id="X", sku="-SKU-1", title="Minus", quantity=1)
    _create(
        shop,
        odd,
        order_number="+SO-1",
        customer_name='=HYPERLINK("http://evil.example","click")',
        shipping_address={"name": "@SUM(A1:A9)", "phone": "+62 812"},
        tracking_number="-1+1",
        carrier="\tSPX",
    )

    (row,) = _rows(shop)

    assert row["order_number"] == "'+SO-1"
    assert row["customer_name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["recipient"] == "'@SUM(A1:A9), +62 812"
    assert row["items"] == "'-SKU-1 x1"
    assert row["tracking_number"] == "'-1+1"
    assert row["carrier"] == "'\tSPX"
    assert row["quantity"] == "1" and row["currency"] == "IDR"


def _bulk_orders(shop: Shop, count: int) -> list[tuple[datetime, uuid.UUID, str, int]]:
    """`count` orders (one line each) written straight to the tables; seven share each
    minute, so ties on ordered_at straddle the batch boundaries."""
    made = []
    order_rows, item_rows = [], []
    for i in range(count):
        order_id, at, quantity = uuid.uuid4(), BASE_TIME + timedelta(minutes=i // 7), i % 3 + 1
        number = f"BULK-{i:05d}"
        made.append((at, order_id, number, quantity))
        order_rows.append(
            {
                "id": order_id,
                "organization_id": shop.ctx.organization_id,
                "created_at": BASE_TIME,
                "store_id": shop.store_id,
                "platform": "shopee",
                "platform_order_id": number,
                "order_number": number,
                "status": "to_ship",
                "ordered_at": at,
                "currency": "IDR",
                "total": Decimal(1000 * quantity),
                "shipping_address": {},
                "raw": {},
            }
        )
        item_rows.append(
            {
                "id": uuid.uuid4(),
                "organization_id": shop.ctx.organization_id,
                "created_at": BASE_TIME,
                "order_id": order_id,
                "sku": f"SKU-{i % 11}",
                "quantity": quantity,
            }
        )
    with session_scope(shop.ctx, engine=shop.engine) as session:
        session.execute(sa.insert(table_of(Order)), order_rows)
        session.execute(sa.insert(table_of(OrderItem)), item_rows)
    return sorted(made, key=lambda row: (row[0], row[1]), reverse=True)


def test_thousands_of_orders_come_in_batches_each_exactly_once_newest_first(shop: Shop) -> None:
    made = _bulk_orders(shop, 2500)

    chunks = _chunks(shop, batch=1000)
    rows = list(csv.DictReader(io.StringIO("".join(chunks).removeprefix("\ufeff"))))

    assert [chunk.count("\n") for chunk in chunks] == [1, 1000, 1000, 500]
    assert [row["order_number"] for row in rows] == [number for _, _, number, _ in made]
    assert len({row["order_number"] for row in rows}) == 2500
    for row, (at, _, number, quantity) in zip(rows, made, strict=True):
        assert row["ordered_at"] == at.isoformat()
        assert row["items"] == f"SKU-{int(number[5:]) % 11} x{quantity}"
        assert (row["quantity"], row["total"]) == (str(quantity), str(1000 * quantity))


def test_an_exact_batch_ends_without_an_empty_chunk(shop: Shop) -> None:
    _bulk_orders(shop, 20)

    chunks = _chunks(shop, batch=10)

    assert [chunk.count("\n") for chunk in chunks] == [1, 10, 10]


def test_no_orders_is_just_the_header(shop: Shop) -> None:
    assert _chunks(shop) == ["\ufeff" + ",".join(COLUMNS) + "\n"]


def test_bad_filters_are_refused_before_anything_is_exported(shop: Shop) -> None:
    shop.create(shop.new_order(shop.line_unmapped()))
    with session_scope(shop.ctx, engine=shop.engine) as session:
        for filters, field in (
            ({"status": "lost"}, "status"),
            ({"stage": "packed"}, "stage"),
            ({"ordered_from": datetime(2026, 3, 1)}, "ordered_from"),
            ({"batch": 0}, "batch"),
        ):
            chunks = export_rows(session, ctx=shop.ctx, **filters)
            with pytest.raises(ValidationFailed) as caught:
                next(chunks)
            assert caught.value.details["field"] == field


def test_no_transaction_stays_open_between_batches(shop: Shop) -> None:
    _bulk_orders(shop, 30)
    with session_scope(shop.ctx, engine=shop.engine) as session:
        chunks = export_rows(session, ctx=shop.ctx, batch=10)
        next(chunks)
        assert not session.in_transaction()
        next(chunks)
        assert not session.in_transaction()
        rest = list(chunks)
    assert len(rest) == 2


def test_on_sqlite_a_writer_and_a_checkpoint_go_ahead_mid_export(
    sqlite_shop: Shop, sqlite_url: str
) -> None:
    """A read transaction held while the client reads would pin SQLite's WAL: the checkpoint
    below could not reset it until the whole download ended."""
    shop = sqlite_shop
    _bulk_orders(shop, 30)
    other = make_engine(sqlite_url, busy_timeout_ms=200)
    try:
        with session_scope(shop.ctx, engine=shop.engine) as session:
            chunks = export_rows(session, ctx=shop.ctx, batch=10)
            next(chunks), next(chunks)  # the header and the first batch, read
            shop.create(shop.new_order(shop.line_unmapped(), ordered_at=BASE_TIME - minutes(1)))
            with other.connect() as conn:
                busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            rest = "".join(chunks)
    finally:
        other.dispose()
    assert busy == 0
    assert rest.count("\n") == 21  # the 20 left, and the order placed mid-export (oldest)


def test_another_organizations_orders_are_never_exported(engine: Engine, shop: Shop) -> None:
    other = build_shop(engine)
    other.create(other.new_order(other.line_unmapped(), customer_name="Not yours"))
    mine = shop.create(shop.new_order(shop.line_unmapped()))

    assert _exported(shop) == [mine.platform_order_id]
