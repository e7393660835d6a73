"""The order inbox (filters, search, keyset pagination) and the order detail."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.engine import Engine

from storesync.core.errors import NotFound, ValidationFailed
from storesync.core.pagination import encode_cursor
from storesync.db import session_scope
from storesync.orders import service as orders
from storesync.orders.schemas import OrderDTO, OrderSummaryDTO
from storesync.orders.status import OrderStatus
from tests.orders.conftest import BASE_TIME, Shop, build_shop, minutes


def _list(shop: Shop, **filters: object) -> list[OrderSummaryDTO]:
    with session_scope(shop.ctx, engine=shop.engine) as session:
        return orders.list_orders(session, ctx=shop.ctx, **filters).items  # type: ignore[arg-type]


def _all_pages(shop: Shop, limit: int, **filters: object) -> list[list[uuid.UUID]]:
    pages: list[list[uuid.UUID]] = []
    cursor = None
    while True:
        with session_scope(shop.ctx, engine=shop.engine) as session:
            page = orders.list_orders(
                session,
                ctx=shop.ctx,
                limit=limit,
                cursor=cursor,
                **filters,  # type: ignore[arg-type]
            )
        pages.append([o.id for o in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_keyset_pages_have_no_duplicates_or_gaps_even_with_equal_timestamps(shop: Shop) -> None:
    # 25 orders, three per minute: ties on ordered_at are broken by id.
    created = [
        shop.create(shop.new_order(shop.line_unmapped(), ordered_at=BASE_TIME + minutes(i // 3)))
        for i in range(25)
    ]
    expected = [o.id for o in sorted(created, key=lambda o: (o.ordered_at, o.id), reverse=True)]

    pages = _all_pages(shop, limit=10)

    assert [len(page) for page in pages] == [10, 10, 5]
    assert [order_id for page in pages for order_id in page] == expected


def test_an_exact_page_leaves_no_dangling_cursor(shop: Shop) -> None:
    for i in range(4):
        shop.create(shop.new_order(shop.line_unmapped(), ordered_at=BASE_TIME + minutes(i)))

    assert [len(page) for page in _all_pages(shop, limit=2)] == [2, 2]
    assert [len(page) for page in _all_pages(shop, limit=4)] == [4]


def test_filters_and_search(shop: Shop) -> None:
    def make(**kw: object) -> OrderDTO:
        return shop.create(shop.new_order(shop.line_unmapped(), **kw))  # type: ignore[arg-type]

    siti = make(customer_name="Siti Nurhaliza", ordered_at=BASE_TIME, order_number="SG-777")
    budi = make(customer_name="Budi", ordered_at=BASE_TIME + minutes(10), status="unpaid")
    tok = make(
        customer_name="Andi",
        ordered_at=BASE_TIME + minutes(20),
        store_id=shop.tiktok_store_id,
        platform_order_id="TT-5790001",
    )
    odd = make(customer_name="100% Cotton_Fan", ordered_at=BASE_TIME + minutes(30))
    shipped = shop.change(budi.id, "to_ship")
    shipped = shop.change(budi.id, "shipped")

    def ids(**filters: object) -> list[uuid.UUID]:
        return [o.id for o in _list(shop, **filters)]

    assert ids() == [odd.id, tok.id, shipped.id, siti.id]
    assert ids(status="shipped") == [budi.id]
    assert ids(status=["shipped", "to_ship"]) == [odd.id, tok.id, budi.id, siti.id]
    assert ids(status="cancelled") == []
    assert ids(store_id=shop.tiktok_store_id) == [tok.id]
    assert ids(platform="tiktok") == [tok.id]
    assert ids(platform="shopee") == [odd.id, budi.id, siti.id]
    assert ids(ordered_from=BASE_TIME + minutes(10)) == [odd.id, tok.id, budi.id]
    assert ids(ordered_to=BASE_TIME + minutes(10)) == [siti.id]
    assert ids(ordered_from=BASE_TIME, ordered_to=BASE_TIME + minutes(30)) == [
        tok.id,
        budi.id,
        siti.id,
    ]
    assert ids(search="siti") == [siti.id]
    assert ids(search="  NURHALIZA ") == [siti.id]
    assert ids(search="sg-777") == [siti.id]
    assert ids(search="tt-579") == [tok.id]
    # A search word starts a word of the order (orders.search): "%" alone starts none.
    assert ids(search="100%") == [odd.id]
    assert ids(search="%") == []
    assert ids(search="cotto__fan") == []  # "_" is literal, not a wildcard
    assert ids(search="Cotton_F") == [odd.id]
    assert ids(search="nobody") == []
    assert ids(search="siti", platform="tiktok") == []

    summary = _list(shop, search="siti")[0]
    assert (summary.status, summary.customer_name, summary.platform) == (
        OrderStatus.TO_SHIP,
        "Siti Nurhaliza",
        "shopee",
    )


def test_a_whole_order_number_finds_just_that_order_and_a_part_finds_every_match(
    shop: Shop,
) -> None:
    def make(number: str, at: int, **kw: object) -> OrderDTO:
        return shop.create(
            shop.new_order(
                shop.line_unmapped(),
                platform_order_id=number,
                ordered_at=BASE_TIME + minutes(at),
                **kw,  # type: ignore[arg-type]
            )
        )

    pasted = make("2611264CDA9533", 0)
    longer = make("2611264CDA95330", 10)  # contains the pasted number
    numbered = make("PO-X1", 20, order_number="INV-2611264CDA9533")
    other = make("2611269999", 30, customer_name="Siti 2611264")

    def ids(**filters: object) -> list[uuid.UUID]:
        return [o.id for o in _list(shop, **filters)]

    # Pasted whole, in any case: that order only (found by equality, through an index).
    assert ids(search="2611264CDA9533") == [pasted.id]
    assert ids(search=" 2611264cda9533 ") == [pasted.id]
    assert ids(search="INV-2611264CDA9533") == [numbered.id]
    # Not a whole order number: every order with a number (or a part of it after punctuation)
    # or a word that starts with it, or a number that ends with it (orders.search.tokens).
    assert ids(search="2611264CDA") == [numbered.id, longer.id, pasted.id]
    assert ids(search="2611264") == [other.id, numbered.id, longer.id, pasted.id]
    assert ids(search="CDA9533") == [numbered.id, pasted.id]  # inside `longer`'s: not found
    assert ids(search="CDA95330") == [longer.id]
    # Other filters still apply; when they leave the whole number out, the search goes on as
    # a "contains" search under the same filters.
    assert ids(search="2611264CDA9533", status="cancelled") == []
    assert ids(search="2611264CDA9533", ordered_from=BASE_TIME + minutes(5)) == [
        numbered.id,
        longer.id,
    ]


def test_another_organizations_order_with_the_same_number_is_not_found(engine: Engine) -> None:
    mine, theirs = build_shop(engine), build_shop(engine)
    theirs.create(theirs.new_order(platform_order_id="2611260000AA"))

    assert _list(mine, search="2611260000AA") == []
    assert [o.platform_order_id for o in _list(theirs, search="2611260000aa")] == ["2611260000AA"]


def test_bad_list_arguments_are_validation_errors(shop: Shop) -> None:
    for filters, field in [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": encode_cursor("yesterday", "x")}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"status": "READY_TO_SHIP"}, "status"),
        ({"ordered_from": BASE_TIME.replace(tzinfo=None)}, "ordered_from"),
    ]:
        with pytest.raises(ValidationFailed) as raised:
            _list(shop, **filters)
        assert raised.value.details["field"] == field


def test_orders_of_another_organization_are_invisible(engine: Engine) -> None:
    mine, theirs = build_shop(engine), build_shop(engine)
    their_order = theirs.create(theirs.new_order())
    mine.create(mine.new_order())

    with session_scope(mine.ctx, engine=engine) as session:
        with pytest.raises(NotFound) as raised:
            orders.get_order(session, ctx=mine.ctx, order_id=their_order.id)
        with pytest.raises(NotFound):
            orders.change_status(
                session, ctx=mine.ctx, order_id=their_order.id, to_status="cancelled"
            )
        listed = orders.list_orders(session, ctx=mine.ctx).items

    assert raised.value.code == "order_not_found"
    assert their_order.id not in {o.id for o in listed}
    assert len(listed) == 1
    assert theirs.stock(theirs.variant_a) == (10, 1)


def test_detail_has_items_and_the_timeline_oldest_first(shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(1), status="unpaid"))
    shop.change(order.id, "to_ship", reason="paid")
    shop.change(order.id, "shipped")

    with session_scope(shop.ctx, engine=shop.engine) as session:
        detail = orders.get_order(session, ctx=shop.ctx, order_id=order.id)

    assert [(e.from_status, e.to_status, e.reason) for e in detail.events] == [
        ("", "unpaid", "created"),
        ("unpaid", "to_ship", "paid"),
        ("to_ship", "shipped", ""),
    ]
    assert [e.created_at for e in detail.events] == sorted(e.created_at for e in detail.events)
    assert all(e.actor_user_id == shop.ctx.user_id for e in detail.events)
    assert [i.variant_id for i in detail.items] == [shop.variant_a]
    assert detail.status == OrderStatus.SHIPPED
