"""ShopeeAdapter fulfilment against the Shopee simulator over real HTTP on 127.0.0.1: shipping
options, arranging shipment, tracking numbers, labels, seller cancellation and returns, and
Shopee's refusals of each."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from storesync.channels.schemas import ChannelReturn, ShipRequest
from storesync.channels.shopee.adapter import ShopeeAdapter
from storesync.core.errors import AppError, ErrorType
from storesync.sandbox.shopee.order import package_number
from storesync.sandbox.state import Model, Order, Return
from tests.channels.test_shopee_adapter import (
    adapter_for,
    authorize,
    calls,
    place_orders,
    record_requests,
    run,
    the_shop,
)
from tests.sandbox.conftest import RunningSandbox

JAKARTA = timezone(timedelta(hours=7))
SLOT_TEXT = "09:00 - 12:00"


def model_of(sandbox: RunningSandbox, order: Order) -> Model:
    line = order.lines[0]
    return the_shop(sandbox).find_model(line.item_id, line.model_id)[1]


def shipped(sandbox: RunningSandbox, count: int) -> list[Order]:
    """`count` orders the courier has collected (SHIPPED)."""
    orders = place_orders(sandbox, count)
    for order in orders:
        sandbox.state.arrange_order("shopee", order.id, to_status="PROCESSED", method="dropoff")
        sandbox.state.advance_order("shopee", order.id)
    return orders


def refusal(error: AppError) -> tuple[ErrorType, bool, str]:
    return error.type, error.retryable, error.details.get("platform_error", "")


# -- orders and shipping options ---------------------------------------------------------------


def test_order_detail_carries_the_masked_address_carrier_and_package(
    running_sandbox: RunningSandbox,
) -> None:
    (order,) = place_orders(running_sandbox, 1)

    async def scenario(adapter: ShopeeAdapter) -> Any:
        await authorize(adapter)
        (detail,) = await adapter.fetch_order_details([order.id])
        return detail

    detail = run(adapter_for(running_sandbox), scenario)
    assert detail.carrier == "SPX Express"
    assert detail.shipping_address is not None
    assert detail.shipping_address.model_dump() == {
        "name": "B****i",
        "phone": "******78",
        "address": "Jl. S******** No. **, Kebayoran Baru, Jakarta Selatan",
        "district": "Kebayoran Baru",
        "city": "Kota Jakarta Selatan",
        "state": "DKI Jakarta",
        "postcode": "12190",
        "country": "ID",
    }
    assert [p.model_dump() for p in detail.packages] == [
        {
            "package_id": package_number(order),
            "tracking_number": "",
            "carrier": "SPX Express",
            "status": "LOGISTICS_READY",
        }
    ]


def test_shipping_options_list_pickup_slots_and_dropoff_branches(
    running_sandbox: RunningSandbox,
) -> None:
    (order,) = place_orders(running_sandbox, 1)

    async def scenario(adapter: ShopeeAdapter) -> Any:
        await authorize(adapter)
        return await adapter.shipping_options(order.id)

    options = run(adapter_for(running_sandbox), scenario)
    assert (options.platform_order_id, options.package_id) == (order.id, package_number(order))
    assert options.methods == ["pickup", "dropoff"] and options.carrier == "SPX Express"
    (address,) = options.addresses
    assert address.address_id == "200001"
    assert address.label.startswith("Jl. Panjang No. 5") and address.label.endswith("11530")
    today = datetime.fromtimestamp(running_sandbox.state.now(), JAKARTA).date()
    days = [today + timedelta(days=n) for n in (1, 2, 3)]
    assert [s.label for s in address.slots] == [f"{d:%a %d %b} {SLOT_TEXT}" for d in days]
    starts = [datetime(d.year, d.month, d.day, 9, tzinfo=JAKARTA) for d in days]
    assert [s.starts_at for s in address.slots] == starts
    assert [s.ends_at for s in address.slots] == [s + timedelta(hours=3) for s in starts]
    assert [s.slot_id for s in address.slots] == [str(int(s.timestamp())) for s in starts]
    assert [b.branch_id for b in options.branches] == ["300101", "300102"]
    assert options.branches[1].label == (
        "Jl. Palmerah Barat 3, SPX Palmerah, Palmerah, Kota Jakarta Barat, DKI Jakarta, 11480"
    )


# -- arranging shipment ------------------------------------------------------------------------


def test_arrange_dropoff_anywhere_or_at_a_branch(running_sandbox: RunningSandbox) -> None:
    anywhere, branch = place_orders(running_sandbox, 2)

    async def scenario(adapter: ShopeeAdapter) -> list[Any]:
        await authorize(adapter)
        return [
            await adapter.arrange_shipment(anywhere.id, ShipRequest(method="dropoff")),
            await adapter.arrange_shipment(
                branch.id, ShipRequest(method="dropoff", branch_id="300101")
            ),
        ]

    adapter = adapter_for(running_sandbox)
    requests = record_requests(adapter)
    first, second = run(adapter, scenario)
    assert first.model_dump() == {
        "platform_order_id": anywhere.id,
        "package_id": package_number(anywhere),
        "method": "dropoff",
        "tracking_number": anywhere.tracking_number,
        "carrier": "SPX Express",
    }
    assert second.tracking_number == branch.tracking_number != ""
    assert (branch.status, branch.handover_method, branch.pickup_slot) == (
        "PROCESSED",
        "dropoff",
        "300101",
    )
    bodies = [json.loads(r.content) for r in requests if r.url.path.endswith("/ship_order")]
    assert bodies == [
        {"order_sn": anywhere.id, "dropoff": {}},
        {"order_sn": branch.id, "dropoff": {"branch_id": 300101}},
    ]


def test_arrange_is_refused_for_a_slot_not_offered_an_unknown_address_or_a_cancelled_order(
    running_sandbox: RunningSandbox,
) -> None:
    order, cancelled = place_orders(running_sandbox, 2)
    running_sandbox.state.cancel_order("shopee", cancelled.id, by="buyer", reason="Wrong size")

    async def scenario(adapter: ShopeeAdapter) -> list[AppError]:
        await authorize(adapter)
        options = await adapter.shipping_options(order.id)
        slot = options.addresses[0].slots[0].slot_id
        requests = [
            (order.id, ShipRequest(method="pickup", address_id="200001", slot_id="1608103685")),
            (order.id, ShipRequest(method="pickup", address_id="12345", slot_id=slot)),
            (order.id, ShipRequest(method="pickup", address_id="200001")),
            (order.id, ShipRequest(method="dropoff", branch_id="999")),
            (cancelled.id, ShipRequest(method="pickup", address_id="200001", slot_id=slot)),
        ]
        refused = []
        for order_id, request in requests:
            with pytest.raises(AppError) as error:
                await adapter.arrange_shipment(order_id, request)
            refused.append(error.value)
        return refused

    refused = run(adapter_for(running_sandbox), scenario)
    assert [refusal(e) for e in refused] == [
        (ErrorType.VALIDATION, False, "logistics.ship_order_pickup_time_invalid"),
        (ErrorType.VALIDATION, False, "logistics.address_not_found"),
        (ErrorType.VALIDATION, False, "logistics.ship_order_need_address_pickup_time"),
        (ErrorType.VALIDATION, False, "logistics.error_store_not_found"),
        (ErrorType.VALIDATION, False, "logistics.ship_order_not_ready_to_ship"),
    ]
    assert "Invalid pickup time id" in refused[0].message
    assert refused[4].message.endswith("The order is not ready to ship.")
    assert (order.status, order.tracking_number) == ("READY_TO_SHIP", "")
    assert (cancelled.status, cancelled.tracking_number) == ("CANCELLED", "")


def test_tracking_number_is_empty_until_shipment_is_arranged(
    running_sandbox: RunningSandbox,
) -> None:
    (order,) = place_orders(running_sandbox, 1)

    async def scenario(adapter: ShopeeAdapter) -> tuple[str, str]:
        await authorize(adapter)
        before = await adapter.tracking_number(order.id)
        running_sandbox.state.arrange_order(
            "shopee", order.id, to_status="PROCESSED", method="dropoff"
        )
        return before, await adapter.tracking_number(order.id)

    before, after = run(adapter_for(running_sandbox), scenario)
    assert before == "" and after == order.tracking_number and after.startswith("SPXID0")


# -- labels ------------------------------------------------------------------------------------


def test_shipping_label_is_a_pdf_page_with_the_tracking_number(
    running_sandbox: RunningSandbox,
) -> None:
    (order,) = place_orders(running_sandbox, 1)
    since = datetime.now(UTC).timestamp()

    async def scenario(adapter: ShopeeAdapter) -> Any:
        await authorize(adapter)
        adapter.fulfilment.label_poll_seconds = 0.01
        await adapter.arrange_shipment(order.id, ShipRequest(method="dropoff"))
        return await adapter.shipping_label(order.id)

    label = run(adapter_for(running_sandbox), scenario)
    assert (label.platform_order_id, label.package_id) == (order.id, package_number(order))
    assert label.tracking_number == order.tracking_number != ""
    (page,) = PdfReader(io.BytesIO(label.pdf)).pages
    text = page.extract_text()
    assert f"Tracking: {order.tracking_number}" in text and order.id in text
    assert calls(running_sandbox, "/get_shipping_document_result", since)["ok"] == 2
    assert calls(running_sandbox, "/download_shipping_document", since)["ok"] == 1


def test_label_before_arrange_is_refused(running_sandbox: RunningSandbox) -> None:
    (order,) = place_orders(running_sandbox, 1)

    async def scenario(adapter: ShopeeAdapter) -> AppError:
        await authorize(adapter)
        with pytest.raises(AppError) as error:
            await adapter.shipping_label(order.id)
        return error.value

    error = run(adapter_for(running_sandbox), scenario)
    assert refusal(error) == (ErrorType.VALIDATION, False, "logistics.package_can_not_print")
    assert error.message.endswith("The package can not print now.")


def test_a_failed_or_slow_document_is_reported(running_sandbox: RunningSandbox) -> None:
    failing, slow = place_orders(running_sandbox, 2)
    for order in (failing, slow):
        running_sandbox.state.arrange_order(
            "shopee", order.id, to_status="PROCESSED", method="dropoff"
        )

    async def cancel_while_printing(request: httpx.Request) -> None:
        if request.url.path.endswith("/get_shipping_document_result"):
            running_sandbox.state.set_order_status("shopee", failing.id, "CANCELLED")

    async def scenario(adapter: ShopeeAdapter) -> list[AppError]:
        await authorize(adapter)
        adapter.fulfilment.label_polls = 1
        with pytest.raises(AppError) as too_slow:
            await adapter.shipping_label(slow.id)
        adapter.connection.http.client.event_hooks["request"].append(cancel_while_printing)
        with pytest.raises(AppError) as failed:
            await adapter.shipping_label(failing.id)
        return [too_slow.value, failed.value]

    too_slow, failed = run(adapter_for(running_sandbox), scenario)
    assert (too_slow.code, too_slow.retryable) == ("label_not_ready", True)
    assert (failed.code, failed.retryable) == ("label_failed", False)
    assert failed.details["platform_error"] == "logistics.package_can_not_print"
    assert failed.message.endswith("The package can not print now.")


# -- cancellation ------------------------------------------------------------------------------


def test_cancel_reasons_reach_shopee_as_its_own_values(running_sandbox: RunningSandbox) -> None:
    asked, empty = place_orders(running_sandbox, 2)
    stock = model_of(running_sandbox, empty).stock

    async def scenario(adapter: ShopeeAdapter) -> None:
        await authorize(adapter)
        await adapter.cancel_order(asked.id, "customer_request")
        await adapter.cancel_order(empty.id, "out_of_stock")

    adapter = adapter_for(running_sandbox)
    requests = record_requests(adapter)
    run(adapter, scenario)
    line = empty.lines[0]
    bodies = [json.loads(r.content) for r in requests if r.url.path.endswith("/cancel_order")]
    assert bodies == [
        {"order_sn": asked.id, "cancel_reason": "CUSTOMER_REQUEST"},
        {
            "order_sn": empty.id,
            "cancel_reason": "OUT_OF_STOCK",
            "item_list": [{"item_id": int(line.item_id), "model_id": int(line.model_id)}],
        },
    ]
    assert (asked.status, asked.cancel_by, asked.cancel_reason) == (
        "CANCELLED",
        "seller",
        "CUSTOMER_REQUEST",
    )
    assert (empty.status, empty.cancel_reason) == ("CANCELLED", "OUT_OF_STOCK")
    assert model_of(running_sandbox, empty).stock == stock + 1


def test_cancel_is_refused_once_arranged_or_shipped_and_nothing_changes(
    running_sandbox: RunningSandbox,
) -> None:
    arranged, gone = place_orders(running_sandbox, 2)
    running_sandbox.state.arrange_order(
        "shopee", arranged.id, to_status="PROCESSED", method="dropoff"
    )
    (gone,) = shipped(running_sandbox, 1)
    stocks = [model_of(running_sandbox, o).stock for o in (arranged, gone)]

    async def scenario(adapter: ShopeeAdapter) -> list[AppError]:
        await authorize(adapter)
        refused = []
        for order in (arranged, gone):
            with pytest.raises(AppError) as error:
                await adapter.cancel_order(order.id, "customer_request")
            refused.append(error.value)
        return refused

    refused = run(adapter_for(running_sandbox), scenario)
    assert [refusal(e) for e in refused] == [(ErrorType.VALIDATION, False, "order.error_limit")] * 2
    assert refused[0].message.endswith("Can not cancel this order")
    assert (arranged.status, gone.status) == ("PROCESSED", "SHIPPED")
    assert [model_of(running_sandbox, o).stock for o in (arranged, gone)] == stocks
    assert arranged.cancel_by == gone.cancel_by == ""


def test_cancel_reasons_shopee_does_not_take_here(running_sandbox: RunningSandbox) -> None:
    (order,) = place_orders(running_sandbox, 1)
    since = datetime.now(UTC).timestamp()

    async def scenario(adapter: ShopeeAdapter) -> list[AppError]:
        await authorize(adapter)
        refused = []
        for reason in ("undeliverable_area", "bored"):
            with pytest.raises(AppError) as error:
                await adapter.cancel_order(order.id, reason)
            refused.append(error.value)
        return refused

    area, unknown = run(adapter_for(running_sandbox), scenario)
    assert refusal(area) == (ErrorType.VALIDATION, False, "error_param")  # ID shop: TW, MY only
    assert "TW and MY" in area.message
    assert (unknown.code, unknown.details["field"]) == ("invalid_field", "reason")
    assert calls(running_sandbox, "/cancel_order", since)["total"] == 1
    assert order.status == "READY_TO_SHIP"


# -- returns -----------------------------------------------------------------------------------


def test_returns_come_with_their_lines_and_states(running_sandbox: RunningSandbox) -> None:
    state = running_sandbox.state
    orders = shipped(running_sandbox, 6)
    stages = ["requested", "accepted", "completed", "cancelled", "rejected"]
    opened = [state.open_return("shopee", o.id, reason="Wrong colour") for o in orders[:5]]
    for found, stage in zip(opened, stages, strict=True):
        state.move_return("shopee", found.id, stage)
    refund = state.open_return("shopee", orders[5].id, refund_only=True)
    since = datetime.now(UTC) - timedelta(hours=1)

    async def scenario(adapter: ShopeeAdapter) -> list[ChannelReturn]:
        await authorize(adapter)
        return [r async for r in adapter.fetch_returns(since=since)]

    fetched = {r.platform_return_id: r for r in run(adapter_for(running_sandbox), scenario)}
    assert set(fetched) == {r.id for r in [*opened, refund]}
    readings = [(fetched[r.id].platform_status, fetched[r.id].state) for r in opened]
    assert readings == [
        ("REQUESTED", "requested"),
        ("ACCEPTED", "in_progress"),
        ("REFUND_PAID", "completed"),
        ("CANCELLED", "cancelled"),
        ("CLOSED", "rejected"),
    ]
    first, order = fetched[opened[0].id], orders[0]
    line = order.lines[0]
    assert first.model_dump(exclude={"lines"}) == {
        "platform_return_id": opened[0].id,
        "platform_order_id": order.id,
        "platform_status": "REQUESTED",
        "state": "requested",
        "reason": "Wrong colour",
        "refund_only": False,
        "refund_amount": line.price,
        "currency": "IDR",
        "created_at": datetime.fromtimestamp(opened[0].create_time, UTC),
        "updated_at": datetime.fromtimestamp(opened[0].update_time, UTC),
    }
    assert [ln.model_dump() for ln in first.lines] == [
        {
            "platform_item_id": line.item_id,
            "platform_model_id": "" if line.model_id == "0" else line.model_id,
            "sku": line.sku,
            "quantity": 1,
        }
    ]
    assert fetched[refund.id].refund_only and fetched[refund.id].state == "requested"


def test_returns_of_20_days_come_in_2_windows_and_pages_each_once(
    running_sandbox: RunningSandbox,
) -> None:
    state = running_sandbox.state
    until = datetime.fromtimestamp(state.now() - 60, UTC)
    since = until - timedelta(days=20)
    start, end = int(since.timestamp()), int(until.timestamp())
    opened: list[Return] = [
        state.open_return("shopee", o.id) for o in shipped(running_sandbox, 130)
    ]
    with state.lock:
        for n, found in enumerate(opened[:125]):
            # 105 in the first day need a second page of the first window.
            spread = (end - start - 86400 - 60) // 20
            offset = n * 60 if n < 105 else 86400 + (n - 105) * spread
            found.create_time = found.update_time = start + offset
        opened[125].update_time = start - 1  # before the range
        opened[126].update_time = end  # `until` is excluded
        for found in opened[127:]:
            found.update_time = end + 3600
    expected = {r.id for r in opened[:125]}

    async def scenario(adapter: ShopeeAdapter) -> list[ChannelReturn]:
        await authorize(adapter)
        return [r async for r in adapter.fetch_returns(since=since, until=until)]

    adapter = adapter_for(running_sandbox)
    requests = record_requests(adapter)
    fetched = run(adapter, scenario)
    ids = [r.platform_return_id for r in fetched]
    assert len(ids) == len(expected) and set(ids) == expected
    listing = [r.url.params for r in requests if r.url.path.endswith("/get_return_list")]
    windows = sorted({(int(p["update_time_from"]), int(p["update_time_to"])) for p in listing})
    assert windows == [(start, start + 15 * 86400 - 1), (start + 15 * 86400, end - 1)]
    pages = [(int(p["update_time_from"]), p["page_no"], p["page_size"]) for p in listing]
    second = start + 15 * 86400
    assert sorted(pages) == [(start, "0", "100"), (start, "1", "100"), (second, "0", "100")]
    assert not any(r.url.path.endswith("/get_return_detail") for r in requests)


def test_a_return_listed_without_items_is_read_from_its_detail(
    running_sandbox: RunningSandbox,
) -> None:
    (order,) = shipped(running_sandbox, 1)
    found = running_sandbox.state.open_return("shopee", order.id)

    class WithoutItems(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if not request.url.path.endswith("/get_return_list"):
                return response
            data = json.loads(await response.aread())
            for row in data["response"]["return"]:
                row.pop("item")
            return httpx.Response(response.status_code, json=data)

    async def scenario(adapter: ShopeeAdapter) -> list[ChannelReturn]:
        await authorize(adapter)
        client = adapter.connection.http.client
        client._transport = WithoutItems(client._transport)
        return [r async for r in adapter.fetch_returns(since=datetime.now(UTC) - timedelta(1))]

    adapter = adapter_for(running_sandbox)
    requests = record_requests(adapter)
    (fetched,) = run(adapter, scenario)
    details = [r for r in requests if r.url.path.endswith("/get_return_detail")]
    assert [r.url.params["return_sn"] for r in details] == [found.id]
    assert fetched.platform_return_id == found.id
    assert [(ln.sku, ln.quantity) for ln in fetched.lines] == [(order.lines[0].sku, 1)]
    assert fetched.refund_amount == Decimal(order.lines[0].price)
