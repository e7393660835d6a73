"""Stock through the API: the same inventory service as the Inventory page, its rules (a reason
for every change, never below reserved) and its errors, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from storesync.channels.models import Store
from storesync.core.pagination import encode_cursor
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.inventory.models import InventoryItem, InventoryTransaction
from storesync.orders.models import Order, OrderItem
from tests.api.conftest import ApiWorld, make_world


def _variant(world: ApiWorld, sku: str, title: str | None = None) -> str:
    """A new product with one variant (no stock row yet); its variant's id."""
    made = world.api.post(
        "/products", json={"handle": sku.lower(), "title": title or sku.title(), "sku": sku}
    )
    assert made.status_code == 201, made.text
    return str(made.json()["variants"][0]["id"])


def _adjust(world: ApiWorld, variant_id: str, **fields: Any) -> dict[str, Any]:
    answer = world.api.post("/inventory/adjustments", json={"variant_id": variant_id, **fields})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _stock(world: ApiWorld, variant_id: str) -> list[tuple[int, int]]:
    """(on hand, reserved) of the variant's stock rows, read through the service."""
    with session_scope(world.ctx, engine=world.engine) as session:
        levels = inventory.stock_levels(session, ctx=world.ctx, variant_ids=[uuid.UUID(variant_id)])
    return [(level.on_hand, level.reserved) for level in levels]


def _ledger_rows(world: ApiWorld) -> int:
    return world.count(InventoryTransaction)


def _reserve(world: ApiWorld, variant_id: str, quantity: int) -> None:
    """Reserve `quantity` at the default location for a new order line (as order intake does)."""
    org, variant = world.ctx.organization_id, uuid.UUID(variant_id)
    with session_scope(world.ctx, engine=world.engine) as session:
        store = Store(organization_id=org, platform="shopee", platform_store_id="s1", name="Shop")
        session.add(store)
        session.flush()
        order = Order(
            organization_id=org,
            store_id=store.id,
            platform="shopee",
            platform_order_id=uuid.uuid4().hex,
            ordered_at=datetime.now(UTC),
        )
        session.add(order)
        session.flush()
        line = OrderItem(
            organization_id=org,
            order_id=order.id,
            variant_id=variant,
            quantity=quantity,
            is_mapped=True,
        )
        session.add(line)
        session.flush()
        inventory.reserve_stock(
            session,
            ctx=world.ctx,
            order_item_id=line.id,
            variant_id=variant,
            location_id=inventory.default_location(session, ctx=world.ctx).id,
            quantity=quantity,
        )


def test_adjust_count_and_read_levels_and_the_ledger(world: ApiWorld) -> None:
    kaos = _variant(world, "KAOS-M", "Kaos Polos")
    (main,) = world.api.get("/inventory/locations").json()
    assert (main["code"], main["is_default"]) == ("MAIN", True)
    assert world.api.get(f"/inventory/variants/{kaos}").json() == []  # no stock row yet

    received = _adjust(world, kaos, delta=10, reason="received PO-7")
    damaged = _adjust(world, kaos, location_id=main["id"], delta=-3, reason="damaged")
    counted = _adjust(world, kaos, on_hand=12, reason="cycle count")
    recounted = _adjust(world, kaos, on_hand=12, reason="cycle count again")

    assert received["location_id"] == main["id"]  # the default location
    assert [(r["on_hand"], r["reserved"], r["available"]) for r in (received, damaged)] == [
        (10, 0, 10),
        (7, 0, 7),
    ]
    assert (counted["on_hand"], counted["available"]) == (12, 12)
    assert recounted == counted
    levels = world.api.get(f"/inventory/variants/{kaos}").json()
    assert [(lv["location_id"], lv["on_hand"], lv["available"]) for lv in levels] == [
        (main["id"], 12, 12)
    ]
    history = world.api.get(f"/inventory/variants/{kaos}/history").json()
    assert history["next_cursor"] is None
    assert [
        (e["kind"], e["on_hand_delta"], e["on_hand_after"], e["reason"]) for e in history["items"]
    ] == [  # newest first; the repeated count changed nothing, so it is not in the ledger
        ("count", 5, 12, "cycle count"),
        ("adjust", -3, 7, "damaged"),
        ("adjust", 10, 10, "received PO-7"),
    ]
    at_main = world.api.get(
        f"/inventory/variants/{kaos}/history", params={"location_id": main["id"]}
    )
    assert at_main.json() == history
    listed = world.api.get("/inventory/levels", params={"search": "polos"}).json()
    assert [
        (r["sku"], r["title"], r["location"], r["on_hand"], r["available"]) for r in listed["items"]
    ] == [("KAOS-M", "Kaos Polos", "Main warehouse", 12, 12)]


def test_levels_are_searchable_and_keyset_paged_and_low_stock_is_listed(
    world: ApiWorld,
) -> None:
    skus = [f"SKU-{n}" for n in range(5)]
    variants = {sku: _variant(world, sku) for sku in skus}
    for n, sku in enumerate(skus):
        # SKU-0 is counted at 0: it gets a stock row (at or below its reorder point, 0)
        _adjust(world, variants[sku], on_hand=n * 2, reason="opening count")

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = world.api.get("/inventory/levels", params=params).json()
        seen += [(row["sku"], row["on_hand"]) for row in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    searched = world.api.get("/inventory/levels", params={"search": "sku-3"}).json()
    low_rows = world.api.get("/inventory/levels", params={"low_only": True}).json()
    low = world.api.get("/inventory/low-stock").json()

    assert seen == [(sku, n * 2) for n, sku in enumerate(skus)]
    assert [row["sku"] for row in searched["items"]] == ["SKU-3"]
    assert [row["sku"] for row in low_rows["items"]] == ["SKU-0"]
    assert [(lv["variant_id"], lv["available"]) for lv in low["items"]] == [(variants["SKU-0"], 0)]
    assert low["next_cursor"] is None


def test_low_stock_and_history_are_keyset_paged(world: ApiWorld) -> None:
    first, second = _variant(world, "A-1"), _variant(world, "B-1")
    for variant in (first, second):
        _adjust(world, variant, on_hand=0, reason="new row")  # both at their reorder point
    for n in range(1, 4):
        _adjust(world, first, delta=n, reason=f"in {n}")
        _adjust(world, first, delta=-n, reason=f"out {n}")

    low_one = world.api.get("/inventory/low-stock", params={"limit": 1}).json()
    low_two = world.api.get(
        "/inventory/low-stock", params={"limit": 1, "cursor": low_one["next_cursor"]}
    ).json()
    reasons, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = world.api.get(f"/inventory/variants/{first}/history", params=params).json()
        reasons.append([e["reason"] for e in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert {low_one["items"][0]["variant_id"], low_two["items"][0]["variant_id"]} == {
        first,
        second,
    }
    assert low_two["next_cursor"] is None
    assert reasons == [["out 3", "in 3", "out 2", "in 2"], ["out 1", "in 1"]]


def test_bad_input_names_the_field_and_changes_nothing(world: ApiWorld) -> None:
    kaos = _variant(world, "KAOS-M")
    _adjust(world, kaos, on_hand=5, reason="opening count")
    rows, ledger = world.count(InventoryItem), _ledger_rows(world)
    other_location = str(uuid.uuid4())

    def adjust(**fields: Any) -> tuple[int, str, str]:
        answer = world.api.post("/inventory/adjustments", json=fields)
        body = answer.json()
        return answer.status_code, body["code"], body["details"].get("field", "")

    answers = {
        "no reason": adjust(variant_id=kaos, delta=1),
        "blank reason": adjust(variant_id=kaos, delta=1, reason="   "),
        "long reason": adjust(variant_id=kaos, delta=1, reason="x" * 256),
        "zero": adjust(variant_id=kaos, delta=0, reason="nothing"),
        "below zero": adjust(variant_id=kaos, delta=-6, reason="lost"),
        "negative count": adjust(variant_id=kaos, on_hand=-1, reason="count"),
        "fractional": adjust(variant_id=kaos, delta=1.5, reason="half"),
        "neither": adjust(variant_id=kaos, reason="why"),
        "both": adjust(variant_id=kaos, delta=1, on_hand=6, reason="why"),
        "huge": adjust(variant_id=kaos, delta=10**12, reason="many"),
        "bad uuid": adjust(variant_id="not-a-uuid", delta=1, reason="x"),
        "no variant": adjust(delta=1, reason="x"),
        "unknown field": adjust(variant_id=kaos, delta=1, reason="x", sku="KAOS-M"),
        "unknown variant": adjust(variant_id=str(uuid.uuid4()), delta=1, reason="x"),
        "unknown location": adjust(
            variant_id=kaos, location_id=other_location, delta=1, reason="x"
        ),
    }
    broken = world.api.post(
        "/inventory/adjustments",
        content=b'{"variant_id": ',
        headers={"Content-Type": "application/json"},
    )

    assert answers == {
        "no reason": (422, "invalid_field", "reason"),
        "blank reason": (422, "invalid_field", "reason"),
        "long reason": (422, "invalid_field", "reason"),
        "zero": (422, "invalid_field", "delta"),
        "below zero": (422, "below_reserved", "delta"),
        "negative count": (422, "invalid_field", "on_hand"),
        "fractional": (422, "invalid_field", "delta"),
        "neither": (422, "invalid_field", "delta"),
        "both": (422, "invalid_field", "on_hand"),
        "huge": (422, "invalid_field", "delta"),
        "bad uuid": (422, "invalid_field", "variant_id"),
        "no variant": (422, "invalid_field", "variant_id"),
        "unknown field": (422, "invalid_field", "sku"),
        "unknown variant": (404, "variant_not_found", ""),
        "unknown location": (404, "location_not_found", ""),
    }
    assert (broken.status_code, broken.json()["code"]) == (400, "malformed_json")
    assert _stock(world, kaos) == [(5, 0)]
    assert (world.count(InventoryItem), _ledger_rows(world)) == (rows, ledger)


def test_bad_query_and_path_values_name_the_field(world: ApiWorld) -> None:
    kaos = _variant(world, "KAOS-M")
    _adjust(world, kaos, delta=1, reason="in")
    tampered = {
        "/inventory/levels": encode_cursor("KAOS-M", "not-a-uuid"),
        "/inventory/low-stock": encode_cursor("few", uuid.uuid4()),
        f"/inventory/variants/{kaos}/history": encode_cursor("not-a-uuid"),
    }

    answers = [
        world.api.get("/inventory/variants/not-a-uuid"),
        world.api.get("/inventory/variants/not-a-uuid/history"),
        world.api.get(f"/inventory/variants/{kaos}/history", params={"location_id": "main"}),
        world.api.get("/inventory/levels", params={"limit": 0}),
        world.api.get("/inventory/low-stock", params={"limit": 1000}),
        world.api.get("/inventory/levels", params={"low_only": "maybe"}),
        *(world.api.get(path, params={"cursor": "%%garbage"}) for path in tampered),
        *(world.api.get(path, params={"cursor": cursor}) for path, cursor in tampered.items()),
    ]

    assert [(a.status_code, a.json()["details"]["field"]) for a in answers] == [
        (422, "variant_id"),
        (422, "variant_id"),
        (422, "location_id"),
        (422, "limit"),
        (422, "limit"),
        (422, "low_only"),
        *[(422, "cursor")] * 6,
    ]


def test_on_hand_never_goes_below_what_orders_reserved(world: ApiWorld) -> None:
    kaos = _variant(world, "KAOS-M")
    _adjust(world, kaos, on_hand=10, reason="opening count")
    _reserve(world, kaos, 4)
    ledger = _ledger_rows(world)

    too_far = world.api.post(
        "/inventory/adjustments", json={"variant_id": kaos, "delta": -7, "reason": "damaged"}
    )
    too_low = world.api.post(
        "/inventory/adjustments", json={"variant_id": kaos, "on_hand": 3, "reason": "count"}
    )

    for answer, field in ((too_far, "delta"), (too_low, "on_hand")):
        body = answer.json()
        assert (answer.status_code, body["code"], body["details"]["field"]) == (
            422,
            "below_reserved",
            field,
        )
        assert body["message"].startswith(f"{field}: on-hand ")
        assert body["details"]["reserved"] == 4
    assert _stock(world, kaos) == [(10, 4)]
    assert _ledger_rows(world) == ledger
    to_reserved = _adjust(world, kaos, delta=-6, reason="damaged")
    assert (to_reserved["on_hand"], to_reserved["reserved"], to_reserved["available"]) == (4, 4, 0)


def test_a_read_only_key_may_read_but_not_adjust(world: ApiWorld) -> None:
    kaos = _variant(world, "KAOS-M")
    _adjust(world, kaos, on_hand=5, reason="opening count")
    ledger = _ledger_rows(world)
    read_only = world.key("inventory:read")
    products_only = world.key("products:write")

    refused = world.api.post(
        "/inventory/adjustments",
        json={"variant_id": kaos, "delta": 1, "reason": "x"},
        key=read_only,
    )
    listing = world.api.get("/inventory/levels", key=read_only)
    other_resource = world.api.get("/inventory/levels", key=products_only)

    assert (refused.status_code, refused.json()["code"]) == (403, "scope_missing")
    assert refused.json()["details"] == {"scope": "inventory:write"}
    assert listing.status_code == 200 and len(listing.json()["items"]) == 1
    assert (other_resource.status_code, other_resource.json()["details"]["scope"]) == (
        403,
        "inventory:read",
    )
    assert _stock(world, kaos) == [(5, 0)]
    assert _ledger_rows(world) == ledger


def test_a_viewer_key_with_write_scope_is_refused_by_the_role(world: ApiWorld) -> None:
    kaos = _variant(world, "KAOS-M")
    _adjust(world, kaos, on_hand=5, reason="opening count")
    ledger = _ledger_rows(world)
    viewer = world.key("write", role="viewer")

    by_delta = world.api.post(
        "/inventory/adjustments", json={"variant_id": kaos, "delta": 1, "reason": "x"}, key=viewer
    )
    by_count = world.api.post(
        "/inventory/adjustments",
        json={"variant_id": kaos, "on_hand": 9, "reason": "x"},
        key=viewer,
    )
    reading = world.api.get(f"/inventory/variants/{kaos}", key=viewer)

    assert [(a.status_code, a.json()["code"]) for a in (by_delta, by_count)] == [
        (403, "permission_denied"),
        (403, "permission_denied"),
    ]
    assert reading.status_code == 200 and reading.json()[0]["on_hand"] == 5
    assert _stock(world, kaos) == [(5, 0)]
    assert _ledger_rows(world) == ledger


def test_an_idempotent_adjustment_is_applied_once(world: ApiWorld) -> None:
    kaos = _variant(world, "KAOS-M")
    body = {"variant_id": kaos, "delta": 3, "reason": "received"}

    first = world.api.post("/inventory/adjustments", json=body, headers={"Idempotency-Key": "a"})
    again = world.api.post("/inventory/adjustments", json=body, headers={"Idempotency-Key": "a"})

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json() and first.json()["on_hand"] == 3
    assert again.headers["idempotent-replayed"] == "true"
    assert _stock(world, kaos) == [(3, 0)]
    assert _ledger_rows(world) == 1


def test_another_organizations_variant_is_unknown(world: ApiWorld) -> None:
    theirs = make_world(world.engine)
    their_variant = _variant(theirs, "SECRET")
    _adjust(theirs, their_variant, on_hand=7, reason="theirs")

    adjusted = world.api.post(
        "/inventory/adjustments", json={"variant_id": their_variant, "delta": 1, "reason": "x"}
    )
    levels = world.api.get(f"/inventory/variants/{their_variant}")
    history = world.api.get(f"/inventory/variants/{their_variant}/history")
    listed = world.api.get("/inventory/levels")

    assert (adjusted.status_code, adjusted.json()["code"]) == (404, "variant_not_found")
    assert levels.json() == [] and history.json()["items"] == []
    assert listed.json()["items"] == []
    assert _stock(theirs, their_variant) == [(7, 0)]


def test_a_result_past_the_stock_columns_is_refused(world: ApiWorld) -> None:
    kaos = _variant(world, "KAOS-M")
    _adjust(world, kaos, on_hand=1_000_000_000, reason="count")
    _adjust(world, kaos, delta=1_000_000_000, reason="more")
    ledger = _ledger_rows(world)

    past = world.api.post(
        "/inventory/adjustments",
        json={"variant_id": kaos, "delta": 1_000_000_000, "reason": "even more"},
    )

    if world.engine.dialect.name == "postgresql":  # 32-bit integer columns
        assert (past.status_code, past.json()["details"]["field"]) == (422, "delta")
        assert _stock(world, kaos) == [(2_000_000_000, 0)]
        assert _ledger_rows(world) == ledger
    else:  # SQLite's integers are 64-bit
        assert (past.status_code, past.json()["on_hand"]) == (200, 3_000_000_000)
