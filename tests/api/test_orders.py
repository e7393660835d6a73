"""Orders through the API: the same order services as the inbox, their stock effects, their rules
and their errors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from storesync.core.pagination import encode_cursor
from tests.api.conftest import ApiWorld
from tests.orders.conftest import BASE_TIME, Shop, build_shop, minutes


@pytest.fixture
def shop(world: ApiWorld) -> Shop:
    """The order tests' shop on the world's engine; the client's key belongs to it."""
    made = build_shop(world.engine)
    world.api.key = world.key("read", "write", ctx=made.ctx)
    return made


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [order["id"] for order in response.json()["items"]]


def _at(moment: datetime) -> str:
    return moment.isoformat()


def _events(world: ApiWorld, order_id: uuid.UUID | str) -> list[tuple[str, str, str, str]]:
    detail = world.api.get(f"/orders/{order_id}")
    assert detail.status_code == 200, detail.text
    return [
        (e["from_status"], e["to_status"], e["source"], e["reason"])
        for e in detail.json()["events"]
    ]


def test_the_inbox_filters_by_status_store_platform_dates_and_search(
    world: ApiWorld, shop: Shop
) -> None:
    budi = shop.create(
        shop.new_order(shop.line_unmapped(), order_number="SO-1001", ordered_at=BASE_TIME)
    )
    siti = shop.create(
        shop.new_order(
            shop.line_unmapped(),
            status="unpaid",
            customer_name="Siti Aminah",
            ordered_at=BASE_TIME + minutes(60),
        )
    )
    tiktok = shop.create(
        shop.new_order(
            shop.line_unmapped(),
            store_id=shop.tiktok_store_id,
            customer_name="Agus",
            ordered_at=BASE_TIME + minutes(120),
        )
    )
    gone = shop.create(
        shop.new_order(
            shop.line_unmapped(), status="cancelled", ordered_at=BASE_TIME + minutes(24 * 60)
        )
    )
    b, s, t, g = (str(o.id) for o in (budi, siti, tiktok, gone))

    def listed(**params: Any) -> list[str]:
        return _ids(world.api.get("/orders", params=params))

    assert listed() == [g, t, s, b]  # newest first
    assert listed(status="to_ship") == [t, b]
    assert listed(status=["unpaid", "cancelled"]) == [g, s]
    assert listed(store_id=str(shop.tiktok_store_id)) == [t]
    assert listed(store_id=str(shop.store_id)) == [g, s, b]
    assert listed(platform="tiktok") == [t]
    assert listed(platform="shopee", status="to_ship") == [b]
    # `ordered_from` is inclusive, `ordered_to` exclusive.
    assert listed(
        ordered_from=_at(BASE_TIME + minutes(60)), ordered_to=_at(BASE_TIME + minutes(24 * 60))
    ) == [t, s]
    assert listed(ordered_to=_at(BASE_TIME + minutes(60))) == [b]
    assert listed(search="siti") == [s]
    assert listed(search="SO-1001") == [b]
    assert listed(search="so-1001") == [b]
    assert listed(search=tiktok.platform_order_id) == [t]
    assert listed(search="nobody") == []

    row = world.api.get("/orders", params={"platform": "tiktok"}).json()["items"][0]
    assert (row["platform"], row["status"], row["customer_name"]) == ("tiktok", "to_ship", "Agus")
    assert (row["financial_status"], row["fulfillment_status"]) == ("paid", "unfulfilled")
    assert row["store_id"] == str(shop.tiktok_store_id) and row["has_unmapped_items"] is True


def test_keyset_pages_walk_every_order_once_newest_first(world: ApiWorld, shop: Shop) -> None:
    made = [
        shop.create(
            shop.new_order(
                shop.line_unmapped(),
                status="unpaid" if i % 2 else "to_ship",
                ordered_at=BASE_TIME + minutes(i // 2),  # pairs share a timestamp
            )
        )
        for i in range(7)
    ]
    newest_first = [str(o.id) for o in sorted(made, key=lambda o: (o.ordered_at, o.id))][::-1]

    def walk(**params: Any) -> list[list[str]]:
        pages, cursor = [], None
        while True:
            query = {**params, "limit": 3, **({"cursor": cursor} if cursor else {})}
            page = world.api.get("/orders", params=query)
            pages.append(_ids(page))
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return pages

    pages = walk()
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [order for page in pages for order in page] == newest_first
    unpaid = [str(o.id) for o in made if o.status == "unpaid"]
    walked = [order for page in walk(status="unpaid") for order in page]
    assert sorted(walked) == sorted(unpaid) and len(walked) == 3


def test_get_an_order_with_its_lines_and_timeline(world: ApiWorld, shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(2), shop.line_unmapped(1)))

    got = world.api.get(f"/orders/{order.id}")

    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["id"], body["status"], body["platform"]) == (str(order.id), "to_ship", "shopee")
    assert [
        (i["variant_id"], i["stock_status"], i["reserved_quantity"], i["reserved"])
        for i in body["items"]
    ] == [(str(shop.variant_a), "reserved", 2, True), (None, "unmapped", 0, False)]
    assert [(e["from_status"], e["to_status"], e["source"]) for e in body["events"]] == [
        ("", "to_ship", "platform")
    ]


def test_cancelling_releases_the_reservation_and_lands_on_the_timeline(
    world: ApiWorld, shop: Shop
) -> None:
    order = shop.create(shop.new_order(shop.line_a(2), shop.line_b(1)))
    assert (shop.stock(shop.variant_a), shop.stock(shop.variant_b)) == ((10, 2), (5, 1))

    cancelled = world.api.post(
        f"/orders/{order.id}/status", json={"to_status": "cancelled", "reason": "buyer asked"}
    )

    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["financial_status"], body["fulfillment_status"]) == (
        "cancelled",
        "refunded",  # it was paid (to_ship)
        "cancelled",
    )
    assert [i["stock_status"] for i in body["items"]] == ["released", "released"]
    assert (shop.stock(shop.variant_a), shop.stock(shop.variant_b)) == ((10, 0), (5, 0))
    assert _events(world, order.id)[-1] == ("to_ship", "cancelled", "api", "buyer asked")
    detail = world.api.get(f"/orders/{order.id}").json()
    assert detail["events"][-1]["actor_user_id"] is None  # a key, not a member


def test_paying_keeps_the_reservation_and_the_same_status_again_is_a_no_op(
    world: ApiWorld, shop: Shop
) -> None:
    order = shop.create(shop.new_order(shop.line_a(3), status="unpaid"))

    paid = world.api.post(f"/orders/{order.id}/status", json={"to_status": "to_ship"})
    again = world.api.post(f"/orders/{order.id}/status", json={"to_status": "to_ship"})

    assert paid.status_code == 200 and again.status_code == 200
    assert (paid.json()["status"], paid.json()["financial_status"]) == ("to_ship", "paid")
    assert paid.json()["paid_at"] is not None
    assert shop.stock(shop.variant_a) == (10, 3)
    assert [e[:2] for e in _events(world, order.id)] == [("", "unpaid"), ("unpaid", "to_ship")]


def test_an_illegal_transition_is_a_409_and_changes_nothing(world: ApiWorld, shop: Shop) -> None:
    cancelled = shop.create(shop.new_order(shop.line_a(1)))
    shop.change(cancelled.id, "cancelled")
    shipped = shop.create(shop.new_order(shop.line_b(1)))
    shop.change(shipped.id, "shipped")
    before = shop.snapshot()

    revive = world.api.post(f"/orders/{cancelled.id}/status", json={"to_status": "to_ship"})
    cancel_shipped = world.api.post(f"/orders/{shipped.id}/status", json={"to_status": "cancelled"})
    ship_cancelled = world.api.post(f"/orders/{cancelled.id}/fulfil", json={})

    assert (revive.status_code, revive.json()["code"]) == (409, "illegal_transition")
    assert revive.json()["type"] == "conflict" and revive.json()["retryable"] is False
    assert revive.json()["details"] == {"from": "cancelled", "to": "to_ship", "allowed": []}
    assert (cancel_shipped.status_code, cancel_shipped.json()["details"]["allowed"]) == (
        409,
        ["delivered", "completed", "returned"],
    )
    assert (ship_cancelled.status_code, ship_cancelled.json()["code"]) == (
        409,
        "illegal_transition",
    )
    assert shop.snapshot() == before


def test_fulfil_ships_deducts_stock_and_records_the_tracking_number(
    world: ApiWorld, shop: Shop
) -> None:
    order = shop.create(shop.new_order(shop.line_a(2), shop.line_b(3)))

    shipped = world.api.post(
        f"/orders/{order.id}/fulfil", json={"tracking_number": " JNE-123 ", "reason": "packed"}
    )

    assert shipped.status_code == 200, shipped.text
    body = shipped.json()
    assert (body["status"], body["fulfillment_status"], body["tracking_number"]) == (
        "shipped",
        "fulfilled",
        "JNE-123",
    )
    assert body["shipped_at"] is not None
    assert [i["stock_status"] for i in body["items"]] == ["fulfilled", "fulfilled"]
    assert (shop.stock(shop.variant_a), shop.stock(shop.variant_b)) == ((8, 0), (2, 0))
    assert _events(world, order.id)[-1] == ("to_ship", "shipped", "api", "packed")


def test_fulfil_without_a_body_ships_the_order(world: ApiWorld, shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(1)))

    shipped = world.api.post(f"/orders/{order.id}/fulfil")

    assert (shipped.status_code, shipped.json()["status"]) == (200, "shipped")
    assert shipped.json()["tracking_number"] == ""
    assert shop.stock(shop.variant_a) == (9, 0)


def test_bulk_status_reports_each_order_and_the_others_go_ahead(
    world: ApiWorld, shop: Shop
) -> None:
    open_a = shop.create(shop.new_order(shop.line_a(1)))
    open_b = shop.create(shop.new_order(shop.line_b(2), status="unpaid"))
    shipped = shop.create(shop.new_order(shop.line_a(1)))
    shop.change(shipped.id, "shipped")
    missing = uuid.uuid4()
    assert (shop.stock(shop.variant_a), shop.stock(shop.variant_b)) == ((9, 1), (5, 2))

    result = world.api.post(
        "/orders/bulk-status",
        json={
            "order_ids": [str(i) for i in (open_a.id, shipped.id, missing, open_b.id, open_a.id)],
            "to_status": "cancelled",
            "reason": "out of stock",
        },
    )

    assert result.status_code == 200, result.text
    assert [(r["order_id"], r["ok"], r["status"], r["error_code"]) for r in result.json()] == [
        (str(open_a.id), True, "cancelled", None),
        (str(shipped.id), False, None, "illegal_transition"),
        (str(missing), False, None, "order_not_found"),
        (str(open_b.id), True, "cancelled", None),
    ]
    assert (shop.stock(shop.variant_a), shop.stock(shop.variant_b)) == ((9, 0), (5, 0))
    assert _events(world, open_a.id)[-1] == ("to_ship", "cancelled", "api", "out of stock")
    assert world.api.get(f"/orders/{shipped.id}").json()["status"] == "shipped"


def test_bad_input_names_the_field_and_changes_nothing(world: ApiWorld, shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(2)))
    before = shop.snapshot()
    path = f"/orders/{order.id}"
    cases: dict[str, Any] = {
        "status": world.api.get("/orders", params={"status": "sold"}),
        "ordered_from": world.api.get("/orders", params={"ordered_from": "yesterday"}),
        "ordered_to": world.api.get("/orders", params={"ordered_to": "2026-03-01T09:00:00"}),
        "store_id": world.api.get("/orders", params={"store_id": "shopee-1"}),
        "limit": world.api.get("/orders", params={"limit": 201}),
        "cursor": world.api.get("/orders", params={"cursor": "not-a-cursor"}),
        "order_id": world.api.get("/orders/not-a-uuid"),
        "to_status": world.api.post(f"{path}/status", json={"to_status": "lost"}),
        "reason": world.api.post(
            f"{path}/status", json={"to_status": "cancelled", "reason": "x" * 256}
        ),
        "colour": world.api.post(
            f"{path}/status", json={"to_status": "cancelled", "colour": "red"}
        ),
        "tracking_number": world.api.post(f"{path}/fulfil", json={"tracking_number": "9" * 65}),
        "order_ids.1": world.api.post(
            "/orders/bulk-status",
            json={"order_ids": [str(order.id), "nope"], "to_status": "cancelled"},
        ),
    }
    bad_path = world.api.post("/orders/nope/status", json={"to_status": "cancelled"})
    tampered = encode_cursor("not a time", uuid.uuid4())
    bad_cursor = world.api.get("/orders", params={"cursor": tampered})
    broken = world.api.post(
        f"{path}/status", content=b'{"to_status": ', headers={"Content-Type": "application/json"}
    )

    for field, answer in cases.items():
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["details"]["field"] == field, (field, answer.text)
        assert answer.json()["type"] == "validation"
    assert (bad_path.status_code, bad_path.json()["details"]["field"]) == (422, "order_id")
    assert (bad_cursor.status_code, bad_cursor.json()["details"]["field"]) == (422, "cursor")
    assert (broken.status_code, broken.json()["code"]) == (400, "malformed_json")
    assert shop.snapshot() == before


def test_an_unknown_order_is_a_404(world: ApiWorld, shop: Shop) -> None:
    shop.create(shop.new_order(shop.line_a(1)))
    before = shop.snapshot()
    unknown = uuid.uuid4()

    answers = [
        world.api.get(f"/orders/{unknown}"),
        world.api.post(f"/orders/{unknown}/status", json={"to_status": "cancelled"}),
        world.api.post(f"/orders/{unknown}/fulfil", json={"tracking_number": "X1"}),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404]
    assert {a.json()["code"] for a in answers} == {"order_not_found"}
    assert answers[0].json()["details"] == {"entity": "order", "id": str(unknown)}
    assert shop.snapshot() == before


def test_another_organizations_order_is_a_404(world: ApiWorld, shop: Shop) -> None:
    theirs = build_shop(world.engine)
    order = theirs.create(theirs.new_order(theirs.line_a(1)))
    before = theirs.snapshot()

    got = world.api.get(f"/orders/{order.id}")
    cancel = world.api.post(f"/orders/{order.id}/status", json={"to_status": "cancelled"})
    bulk = world.api.post(
        "/orders/bulk-status", json={"order_ids": [str(order.id)], "to_status": "cancelled"}
    )

    assert (got.status_code, cancel.status_code) == (404, 404)
    assert bulk.json()[0]["error_code"] == "order_not_found"
    assert _ids(world.api.get("/orders")) == []
    assert theirs.snapshot() == before


def test_a_key_without_orders_write_is_403_and_changes_nothing(world: ApiWorld, shop: Shop) -> None:
    order = shop.create(shop.new_order(shop.line_a(2)))
    before = shop.snapshot()
    read_only = world.key("orders:read", ctx=shop.ctx)
    products_writer = world.key("products:write", ctx=shop.ctx)
    viewer = world.key("write", role="viewer", ctx=shop.ctx)
    writes = [
        ("POST", f"/orders/{order.id}/status", {"to_status": "cancelled"}),
        ("POST", f"/orders/{order.id}/fulfil", {"tracking_number": "X1"}),
        ("POST", "/orders/bulk-status", {"order_ids": [str(order.id)], "to_status": "cancelled"}),
    ]

    for method, path, body in writes:
        for key in (read_only, products_writer):
            refused = world.api.request(method, path, json=body, key=key)
            assert (refused.status_code, refused.json()["code"]) == (403, "scope_missing"), path
            assert refused.json()["details"] == {"scope": "orders:write"}
        by_role = world.api.request(method, path, json=body, key=viewer)
        assert (by_role.status_code, by_role.json()["code"]) == (403, "permission_denied"), path
    listing = world.api.get("/orders", key=products_writer)

    assert (listing.status_code, listing.json()["details"]) == (403, {"scope": "orders:read"})
    assert _ids(world.api.get("/orders", key=read_only)) == [str(order.id)]
    assert world.api.get(f"/orders/{order.id}", key=viewer).status_code == 200
    assert shop.snapshot() == before


def test_a_repeated_status_change_with_its_idempotency_key_is_applied_once(
    world: ApiWorld, shop: Shop
) -> None:
    order = shop.create(shop.new_order(shop.line_a(2)))
    body = {"to_status": "cancelled", "reason": "duplicate"}
    headers = {"Idempotency-Key": "cancel-1"}

    first = world.api.post(f"/orders/{order.id}/status", json=body, headers=headers)
    again = world.api.post(f"/orders/{order.id}/status", json=body, headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert [e[:2] for e in _events(world, order.id)] == [("", "to_ship"), ("to_ship", "cancelled")]
    assert shop.stock(shop.variant_a) == (10, 0)
