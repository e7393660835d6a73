"""TikTokShopAdapter fulfilment against the TikTok Shop sandbox over real HTTP on 127.0.0.1:
shipping options, Ship Package, tracking, labels, cancellation and returns, and every refusal."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from storesync.channels.schemas import (
    ChannelPackage,
    ChannelReturn,
    ChannelReturnLine,
    PickupAddress,
    PickupSlot,
    Shipment,
    ShippingAddress,
    ShipRequest,
)
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType
from storesync.sandbox.state import Order
from storesync.sandbox.tiktok.fulfillment import offered_slots
from tests.channels.test_tiktok_adapter import calls, connect, run, tiktok_shop
from tests.sandbox.conftest import RunningSandbox

WIB = timezone(timedelta(hours=7))


def place(sandbox: RunningSandbox, quantity: int = 1, *, buyer: str = "Ahmad Fauzi") -> Order:
    """An order of `quantity` units of one in-stock SKU of the sandbox's TikTok shop."""
    shop = tiktok_shop(sandbox)
    item, model = next(
        (i, m) for i in shop.items.values() for m in i.models if m.stock >= quantity + 2
    )
    return sandbox.state.place_order(
        "tiktok", shop.id, [(item.id, model.id, quantity)], buyer=buyer
    )


def stock_of(sandbox: RunningSandbox, order: Order) -> int:
    line = order.lines[0]
    return tiktok_shop(sandbox).find_model(line.item_id, line.model_id)[1].stock


def refusal(error: pytest.ExceptionInfo[AppError]) -> tuple[ErrorType, str, bool, Any]:
    value = error.value
    return value.type, value.code, value.retryable, value.details.get("platform_code")


# -- orders ------------------------------------------------------------------------------------


def test_order_mapping_fills_the_masked_address_carrier_and_packages(
    running_sandbox: RunningSandbox,
) -> None:
    order = place(running_sandbox, 2)

    async def scenario() -> tuple[Any, Any]:
        adapter = await connect(running_sandbox)
        [before] = await adapter.fetch_order_details([order.id])
        await adapter.arrange_shipment(order.id, ShipRequest(method="dropoff"))
        [after] = await adapter.fetch_order_details([order.id])
        return before, after

    before, after = run(scenario)

    assert before.shipping_address == ShippingAddress(
        name="A*** F***i",
        phone="(+62)807******20",
        address="Jl**********************",
        district="Setiabudi",
        city="Jakarta Selatan",
        state="DKI Jakarta",
        postcode="12***",
        country="ID",
    )
    assert before.customer_name == "A*** F***i"
    assert (before.carrier, before.tracking_number) == ("", "")
    assert before.packages == [ChannelPackage(package_id=order.package_id, status="TO_FULFILL")]
    assert after.carrier == "J&T Express"
    assert after.packages == [
        ChannelPackage(
            package_id=order.package_id,
            tracking_number=order.tracking_number,
            carrier="J&T Express",
            status="PROCESSING",
        )
    ]
    assert [(line.quantity, line.platform_model_id) for line in after.lines] == [
        (2, order.lines[0].model_id)
    ]


# -- shipping options and arranging ------------------------------------------------------------


def test_shipping_options_offer_pickup_slots_at_the_shop_address_and_dropoff(
    running_sandbox: RunningSandbox,
) -> None:
    order = place(running_sandbox)

    async def scenario() -> Any:
        adapter = await connect(running_sandbox)
        return await adapter.shipping_options(order.id)

    options = run(scenario)

    expected_slots = []
    for start, end in offered_slots(running_sandbox.state, tiktok_shop(running_sandbox)):
        local_start = datetime.fromtimestamp(start, WIB)
        local_end = datetime.fromtimestamp(end, WIB)
        label = (
            f"{local_start:%a} {local_start.day} {local_start:%b}, "
            f"{local_start:%H:%M} - {local_end:%H:%M}"
        )
        expected_slots.append(
            PickupSlot(
                slot_id=f"{start}-{end}",
                label=label,
                starts_at=datetime.fromtimestamp(start, UTC),
                ends_at=datetime.fromtimestamp(end, UTC),
            )
        )
    assert options.platform_order_id == order.id
    assert options.package_id == order.package_id
    assert options.methods == ["pickup", "dropoff"]
    assert options.branches == []
    assert options.addresses == [
        PickupAddress(
            address_id="shop",
            label="Jl. Gudang Raya No. 7, Cakung, Jakarta Timur, DKI Jakarta, Indonesia",
            slots=expected_slots,
        )
    ]
    assert len(expected_slots) == 6
    assert [s.label[-13:] for s in expected_slots[:2]] == ["09:00 - 12:00", "13:00 - 17:00"]


def test_arrange_pickup_in_an_offered_slot(running_sandbox: RunningSandbox) -> None:
    order = place(running_sandbox)
    since = time.time()

    async def scenario() -> tuple[Shipment, str, str, Any]:
        adapter = await connect(running_sandbox)
        options = await adapter.shipping_options(order.id)
        slot = options.addresses[0].slots[2]
        request = ShipRequest(method="pickup", address_id="shop", slot_id=slot.slot_id)
        shipment = await adapter.arrange_shipment(order.id, request)
        with pytest.raises(AppError) as twice:
            await adapter.arrange_shipment(order.id, request)
        return shipment, slot.slot_id, await adapter.tracking_number(order.id), twice

    shipment, slot_id, tracking, twice = run(scenario)

    assert shipment == Shipment(
        platform_order_id=order.id,
        package_id=order.package_id,
        method="pickup",
        tracking_number=order.tracking_number,
        carrier="J&T Express",
    )
    assert tracking == order.tracking_number != ""
    assert (order.status, order.handover_method, order.pickup_slot) == (
        "AWAITING_COLLECTION",
        "pickup",
        slot_id,
    )
    assert refusal(twice) == (ErrorType.VALIDATION, "invalid_parameter", False, 36009004)
    assert twice.value.message == (
        f"TikTok Shop: The package of order {order.id} cannot be shipped: it has already been "
        "shipped or is not ready (order status AWAITING_COLLECTION, package status PROCESSING)."
    )
    assert order.pickup_slot == slot_id  # the refused second call changed nothing
    assert [(c["method"], c["status"]) for c in calls(running_sandbox, "/ship", since)] == [
        ("POST", 200),
        ("POST", 200),
    ]


def test_arrange_dropoff_needs_no_slot(running_sandbox: RunningSandbox) -> None:
    order = place(running_sandbox)

    async def scenario() -> Shipment:
        adapter = await connect(running_sandbox)
        return await adapter.arrange_shipment(order.id, ShipRequest(method="dropoff"))

    shipment = run(scenario)

    assert (shipment.method, shipment.tracking_number) == ("dropoff", order.tracking_number)
    assert (order.status, order.handover_method, order.pickup_slot) == (
        "AWAITING_COLLECTION",
        "dropoff",
        "",
    )


def test_a_slot_not_offered_is_refused_and_nothing_changes(
    running_sandbox: RunningSandbox,
) -> None:
    order = place(running_sandbox)
    start, end = offered_slots(running_sandbox.state, tiktok_shop(running_sandbox))[0]

    async def scenario() -> tuple[Any, Any]:
        adapter = await connect(running_sandbox)
        with pytest.raises(AppError) as moved:
            await adapter.arrange_shipment(
                order.id, ShipRequest(method="pickup", slot_id=f"{start + 3600}-{end}")
            )
        with pytest.raises(AppError) as garbled:
            await adapter.arrange_shipment(order.id, ShipRequest(method="pickup", slot_id="soon"))
        return moved, garbled

    moved, garbled = run(scenario)

    assert refusal(moved) == (ErrorType.VALIDATION, "invalid_parameter", False, 36009004)
    assert moved.value.message == (
        "TikTok Shop: The pickup slot is not available. Choose one of the slots from Get "
        "Package Handover Time Slots."
    )
    assert (garbled.value.type, garbled.value.code) == (ErrorType.VALIDATION, "invalid_field")
    assert (order.status, order.tracking_number, order.handover_method) == (
        "AWAITING_SHIPMENT",
        "",
        "",
    )


def test_a_cancelled_order_cannot_be_shipped(running_sandbox: RunningSandbox) -> None:
    order = place(running_sandbox)
    httpx.post(
        f"{running_sandbox.base_url}/sandbox/orders/cancel",
        json={"platform": "tiktok", "order_id": order.id},
    ).raise_for_status()

    async def scenario() -> Any:
        adapter = await connect(running_sandbox)
        with pytest.raises(AppError) as refused:
            await adapter.arrange_shipment(order.id, ShipRequest(method="dropoff"))
        return refused

    refused = run(scenario)

    assert refusal(refused) == (ErrorType.VALIDATION, "invalid_parameter", False, 36009004)
    assert refused.value.message == (
        f"TikTok Shop: The order {order.id} has been cancelled. The package cannot be shipped."
    )
    assert (order.status, order.tracking_number) == ("CANCELLED", "")


def test_an_unknown_order_is_not_found(running_sandbox: RunningSandbox) -> None:
    async def scenario() -> Any:
        adapter = await connect(running_sandbox)
        with pytest.raises(AppError) as missing:
            await adapter.tracking_number("576000000000000001")
        return missing

    missing = run(scenario)

    assert (missing.value.type, missing.value.code) == (ErrorType.NOT_FOUND, "order_not_found")


# -- tracking and labels -----------------------------------------------------------------------


def test_the_label_is_a_pdf_page_with_the_tracking_number(running_sandbox: RunningSandbox) -> None:
    order = place(running_sandbox, 2)
    since = time.time()

    async def scenario() -> tuple[str, Any]:
        adapter = await connect(running_sandbox)
        before = await adapter.tracking_number(order.id)
        await adapter.arrange_shipment(order.id, ShipRequest(method="pickup"))
        return before, await adapter.shipping_label(order.id)

    before, label = run(scenario)

    pages = PdfReader(io.BytesIO(label.pdf)).pages
    assert before == ""
    assert (label.platform_order_id, label.package_id, label.tracking_number) == (
        order.id,
        order.package_id,
        order.tracking_number,
    )
    assert len(pages) == 1
    text = pages[0].extract_text()
    assert f"Tracking: {order.tracking_number}" in text and "A*** F***i" in text
    [download] = calls(running_sandbox, ".pdf", since)
    assert (download["method"], download["status"]) == ("GET", 200)


def test_a_label_before_shipping_is_refused(running_sandbox: RunningSandbox) -> None:
    order = place(running_sandbox)

    async def scenario() -> Any:
        adapter = await connect(running_sandbox)
        with pytest.raises(AppError) as refused:
            await adapter.shipping_label(order.id)
        return refused

    refused = run(scenario)

    assert refusal(refused) == (ErrorType.VALIDATION, "invalid_parameter", False, 36009004)
    assert refused.value.message == (
        f"TikTok Shop: The shipping document of order {order.id} is not ready: ship the "
        "package first."
    )


# -- cancellation ------------------------------------------------------------------------------


def test_cancel_order_uses_tiktoks_reason_and_puts_the_units_back(
    running_sandbox: RunningSandbox,
) -> None:
    order = place(running_sandbox, 2)
    before = stock_of(running_sandbox, order)

    async def scenario() -> Any:
        adapter = await connect(running_sandbox)
        await adapter.cancel_order(order.id, "undeliverable_area")
        [detail] = await adapter.fetch_order_details([order.id])
        return detail

    detail = run(scenario)

    assert (order.status, order.cancel_by, order.cancel_reason) == (
        "CANCELLED",
        "seller",
        "seller_cancel_paid_reason_address_not_deliver",
    )
    assert stock_of(running_sandbox, order) == before + 2
    assert (detail.status, detail.platform_status) == ("cancelled", "CANCELLED")


def test_cancel_after_shipping_is_refused_and_nothing_changes(
    running_sandbox: RunningSandbox,
) -> None:
    order = place(running_sandbox)

    async def scenario() -> tuple[int, Any, Any]:
        adapter = await connect(running_sandbox)
        await adapter.arrange_shipment(order.id, ShipRequest(method="dropoff"))
        stock = stock_of(running_sandbox, order)
        with pytest.raises(AppError) as refused:
            await adapter.cancel_order(order.id, "out_of_stock")
        with pytest.raises(AppError) as unknown:
            await adapter.cancel_order(order.id, "changed_my_mind")
        return stock, refused, unknown

    stock, refused, unknown = run(scenario)

    assert refusal(refused) == (ErrorType.VALIDATION, "invalid_parameter", False, 36009004)
    assert refused.value.message == (
        f"TikTok Shop: The order {order.id} cannot be cancelled in its current status "
        "AWAITING_COLLECTION."
    )
    assert (unknown.value.type, unknown.value.code) == (ErrorType.VALIDATION, "invalid_field")
    assert (order.status, order.cancel_by) == ("AWAITING_COLLECTION", "")
    assert stock_of(running_sandbox, order) == stock


def test_cancelling_twice_is_refused(running_sandbox: RunningSandbox) -> None:
    order = place(running_sandbox)

    async def scenario() -> Any:
        adapter = await connect(running_sandbox)
        await adapter.cancel_order(order.id, "customer_request")
        with pytest.raises(AppError) as again:
            await adapter.cancel_order(order.id, "customer_request")
        return again

    again = run(scenario)

    assert refusal(again) == (ErrorType.VALIDATION, "invalid_parameter", False, 36009004)
    assert again.value.message == f"TikTok Shop: The order {order.id} has already been cancelled."
    assert order.cancel_reason == "seller_cancel_paid_reason_buyer_requested_cancellation"


# -- returns -----------------------------------------------------------------------------------


def shipped(sandbox: RunningSandbox, quantity: int, *, steps: int = 1) -> Order:
    """An order arranged and moved on `steps` times (1: IN_TRANSIT, 2: DELIVERED)."""
    order = place(sandbox, quantity)
    state = sandbox.state
    state.arrange_order("tiktok", order.id, to_status="AWAITING_COLLECTION", method="dropoff")
    for _ in range(steps):
        state.advance_order("tiktok", order.id)
    return order


def test_returns_are_listed_with_their_lines_and_states(running_sandbox: RunningSandbox) -> None:
    state = running_sandbox.state
    start = utcnow() - timedelta(seconds=5)
    whole = shipped(running_sandbox, 2)
    partial = shipped(running_sandbox, 3, steps=2)
    refund = shipped(running_sandbox, 1)
    line = partial.lines[0]
    returned = state.open_return("tiktok", whole.id, reason="Wrong size")
    part = state.open_return("tiktok", partial.id, lines=[(line.item_id, line.model_id, 2)])
    money_back = state.open_return("tiktok", refund.id, refund_only=True, reason="Not received")
    state.move_return("tiktok", returned.id, "accepted")
    state.move_return("tiktok", money_back.id, "completed")
    state.move_return("tiktok", part.id, "rejected")

    async def scenario() -> list[ChannelReturn]:
        adapter = await connect(running_sandbox)
        return [r async for r in adapter.fetch_returns(since=start)]

    found = {r.platform_return_id: r for r in run(scenario)}

    def expected(
        source: Any, order: Order, status: str, state_: str, quantity: int, refund_only: bool
    ) -> ChannelReturn:
        line = order.lines[0]
        return ChannelReturn(
            platform_return_id=source.id,
            platform_order_id=order.id,
            platform_status=status,
            state=state_,  # type: ignore[arg-type]
            reason=source.reason,
            refund_only=refund_only,
            lines=[
                ChannelReturnLine(
                    platform_item_id=line.item_id,
                    platform_model_id=line.model_id,
                    sku=line.sku,
                    quantity=quantity,
                )
            ],
            refund_amount=line.price * quantity,
            currency="IDR",
            created_at=datetime.fromtimestamp(source.create_time, UTC),
            updated_at=datetime.fromtimestamp(source.update_time, UTC),
        )

    assert found == {
        returned.id: expected(returned, whole, "AWAITING_BUYER_SHIP", "in_progress", 2, False),
        part.id: expected(part, partial, "REFUND_OR_RETURN_REQUEST_REJECT", "rejected", 2, False),
        money_back.id: expected(
            money_back, refund, "RETURN_OR_REFUND_REQUEST_COMPLETE", "completed", 1, True
        ),
    }
    assert found[part.id].refund_amount == line.price * 2 and isinstance(
        found[part.id].refund_amount, Decimal
    )


def test_returns_page_to_the_end_within_the_window(running_sandbox: RunningSandbox) -> None:
    state = running_sandbox.state
    orders = [shipped(running_sandbox, 1) for _ in range(62)]
    opened = [state.open_return("tiktok", o.id) for o in orders]
    now = int(utcnow().timestamp())
    with state.lock:
        for n, found in enumerate(opened):
            found.create_time = found.update_time = now - 3600 + n * 10
    window = (
        datetime.fromtimestamp(now - 3600 + 100, UTC),
        datetime.fromtimestamp(now - 3600 + 300, UTC),
    )
    since = time.time()

    async def scenario() -> tuple[list[ChannelReturn], list[ChannelReturn]]:
        adapter = await connect(running_sandbox)
        everything = [r async for r in adapter.fetch_returns(since=utcnow() - timedelta(hours=2))]
        part = [r async for r in adapter.fetch_returns(since=window[0], until=window[1])]
        return everything, part

    everything, part = run(scenario)

    assert [r.platform_return_id for r in everything] == [r.id for r in opened]
    assert [r.platform_return_id for r in part] == [r.id for r in opened[10:30]]
    assert all(r.state == "requested" and r.lines[0].quantity == 1 for r in everything)
    assert len(calls(running_sandbox, "/returns/search", since)) == 2 + 1


def test_an_expired_document_link_is_a_clear_error(running_sandbox: RunningSandbox) -> None:
    order = place(running_sandbox)
    documents = running_sandbox.sandbox.sims["tiktok"].documents  # type: ignore[attr-defined]
    documents.lifetime = 0  # the link is dead before it is fetched

    async def scenario() -> Any:
        adapter = await connect(running_sandbox)
        await adapter.arrange_shipment(order.id, ShipRequest(method="dropoff"))
        with pytest.raises(AppError) as dead:
            await adapter.shipping_label(order.id)
        return dead

    dead = run(scenario)

    assert (dead.value.type, dead.value.code, dead.value.retryable) == (
        ErrorType.PLATFORM_API,
        "document_unavailable",
        False,
    )
    assert dead.value.details == {"http_status": 404}
