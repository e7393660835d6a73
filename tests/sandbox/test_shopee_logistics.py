"""Shopee fulfilment in the simulator, called as a client generated from the official specs
calls it: signed raw HTTP with the documented paths, parameter names and body shapes
(arranging shipment, shipping documents, cancellation, returns and their pushes)."""

from __future__ import annotations

import hmac
import io
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from pypdf import PdfReader

from storesync.core.clock import set_clock, utcnow
from storesync.sandbox.generator import OrderGenerator
from storesync.sandbox.shopee.sim import ShopeeSim
from storesync.sandbox.state import App, Order, SandboxEvent
from tests.sandbox.conftest import Receiver
from tests.sandbox.test_shopee import Client, World, fails, hmac_hex, models_of, ok, world

__all__ = ["world"]  # the fixture, shared with test_shopee

LOGISTICS = "/api/v2/logistics"
PARAMETER = f"{LOGISTICS}/get_shipping_parameter"
SHIP = f"{LOGISTICS}/ship_order"
TRACKING = f"{LOGISTICS}/get_tracking_number"
DOC_PARAMETER = f"{LOGISTICS}/get_shipping_document_parameter"
CREATE = f"{LOGISTICS}/create_shipping_document"
RESULT = f"{LOGISTICS}/get_shipping_document_result"
DOWNLOAD = f"{LOGISTICS}/download_shipping_document"
CANCEL = "/api/v2/order/cancel_order"
BUYER_CANCEL = "/api/v2/order/handle_buyer_cancellation"
RETURNS = "/api/v2/returns/get_return_list"
RETURN_DETAIL = "/api/v2/returns/get_return_detail"
JAKARTA = 7 * 3600


def place(world: World, quantity: int = 1) -> Order:
    """A READY_TO_SHIP order for `quantity` units of an item without models."""
    item, (model,) = models_of(world.shop, with_models=False)
    world.state.set_stock("shopee", world.shop.id, item.id, model.id, model.stock + quantity)
    return world.state.place_order("shopee", world.shop.id, [(item.id, "0", quantity)])


def pickup_of(client: Client, order: Order) -> dict[str, Any]:
    address = ok(client.get(PARAMETER, order_sn=order.id))["response"]["pickup"]["address_list"][0]
    return {
        "address_id": address["address_id"],
        "pickup_time_id": address["time_slot_list"][0]["pickup_time_id"],
    }


def arrange(client: Client, order: Order) -> None:
    ok(client.post(SHIP, {"order_sn": order.id, "pickup": pickup_of(client, order)}))


def shipped(world: World, client: Client) -> Order:
    """An order the courier has collected (SHIPPED)."""
    order = place(world)
    arrange(client, order)
    world.state.advance_order("shopee", order.id)
    return order


# -- shipping parameters -----------------------------------------------------------------------


def test_shipping_parameter_offers_pickup_slots_and_dropoff_branches(world: World) -> None:
    client = world.client()
    order = place(world)
    answer = ok(client.get(PARAMETER, order_sn=order.id))["response"]
    assert answer["info_needed"] == {"dropoff": [], "pickup": ["address_id", "pickup_time_id"]}
    (address,) = answer["pickup"]["address_list"]
    assert address["address_id"] == 200_001 and "pickup_address" in address["address_flag"]
    slots = address["time_slot_list"]
    today = (world.state.now() + JAKARTA) // 86400 * 86400 - JAKARTA  # Jakarta midnight
    assert [s["date"] for s in slots] == [today + d * 86400 for d in (1, 2, 3)]
    assert [s["pickup_time_id"] for s in slots] == [str(s["date"] + 9 * 3600) for s in slots]
    assert {s["time_text"] for s in slots} == {"09:00 - 12:00"}
    assert [s["flags"] for s in slots] == [["recommended"], [], []]
    branches = answer["dropoff"]["branch_list"]
    assert [b["branch_id"] for b in branches] == [300_101, 300_102]
    assert all(b["region"] == "ID" and b["address"] for b in branches)

    package = ok(
        client.get(
            "/api/v2/order/get_order_detail",
            order_sn_list=order.id,
            response_optional_fields="package_list",
        )
    )
    number = package["response"]["order_list"][0]["package_list"][0]["package_number"]
    ok(client.get(PARAMETER, order_sn=order.id, package_number=number))
    fails(
        client.get(PARAMETER, order_sn=order.id, package_number="OFG1"),
        400,
        "logistics.package_not_exist",
    )
    body = fails(client.get(PARAMETER, order_sn="201214JASXYXY6"), 400, "error_not_found")
    assert body["message"] == "Wrong parameters, detail: the order is not found."


def test_shipping_parameter_only_while_the_package_waits(world: World) -> None:
    client = world.client()
    arranged, cancelled = place(world), place(world)
    arrange(client, arranged)
    world.state.cancel_order("shopee", cancelled.id, by="buyer", reason="Change of mind")
    body = fails(client.get(PARAMETER, order_sn=arranged.id), 400, "error_param")
    assert body["message"] == (
        "Shipping parameters can only be obtained when package is ready to be shipped"
    )
    body = fails(client.get(PARAMETER, order_sn=cancelled.id), 400, "error_status")
    assert body["message"] == "The order has been cancelled."


# -- ship_order --------------------------------------------------------------------------------


def test_ship_order_takes_the_documented_sample_body(world: World) -> None:
    client = world.client()
    order = place(world)
    before = ok(client.get(TRACKING, order_sn=order.id))["response"]
    assert before["tracking_number"] == "" and before["hint"]
    pickup = pickup_of(client, order)
    # The spec's request sample: package_number "" and an empty tracking_number in pickup.
    body = {"order_sn": order.id, "package_number": "", "pickup": {**pickup, "tracking_number": ""}}
    answer = ok(client.post(SHIP, body))
    assert set(answer) == {"request_id", "error", "message"}
    assert order.status == "PROCESSED" and order.handover_method == "pickup"
    assert order.pickup_slot == pickup["pickup_time_id"]
    assert order.arranged_time > 0 and order.tracking_number.startswith("SPXID0")

    tracking = ok(
        client.get(
            TRACKING,
            order_sn=order.id,
            response_optional_fields="first_mile_tracking_number,last_mile_tracking_number",
        )
    )["response"]
    assert tracking == {
        "tracking_number": order.tracking_number,
        "first_mile_tracking_number": "",
        "last_mile_tracking_number": "",
    }
    detail = ok(
        client.get(
            "/api/v2/order/get_order_detail",
            order_sn_list=order.id,
            response_optional_fields="package_list",
        )
    )["response"]["order_list"][0]
    assert detail["order_status"] == "PROCESSED"
    assert detail["package_list"][0]["logistics_status"] == "LOGISTICS_REQUEST_CREATED"


def test_ship_order_drops_off_at_any_or_an_offered_branch(world: World) -> None:
    client = world.client()
    anywhere, branch, unknown = place(world), place(world), place(world)
    ok(client.post(SHIP, {"order_sn": anywhere.id, "dropoff": {}}))
    ok(client.post(SHIP, {"order_sn": branch.id, "dropoff": {"branch_id": 300_102}}))
    assert (anywhere.handover_method, anywhere.pickup_slot) == ("dropoff", "")
    assert (branch.status, branch.pickup_slot) == ("PROCESSED", "300102")
    body = fails(
        client.post(SHIP, {"order_sn": unknown.id, "dropoff": {"branch_id": 999}}),
        400,
        "logistics.error_store_not_found",
    )
    assert body["message"] == "Store is not found."
    assert unknown.status == "READY_TO_SHIP" and unknown.tracking_number == ""


REFUSALS = [
    ("both modes", lambda p: {"pickup": p, "dropoff": {}},
     "logistics.ship_order_only_support_one_type",
     "Please select just one way to ship order: pickup or dropoff or non_integrated."),
    ("no mode", lambda p: {}, "logistics.ship_order_only_support_one_type",
     "Please select just one way to ship order: pickup or dropoff or non_integrated."),
    ("non-integrated", lambda p: {"non_integrated": {}},
     "logistics.ship_order_unsupport_non_integrated",
     "This order does not support ship with non_integrated."),
    ("no slot", lambda p: {"pickup": {"address_id": p["address_id"]}},
     "logistics.ship_order_need_address_pickup_time",
     "Parameter address_id and pickup_time_id are required."),
    ("unknown address", lambda p: {"pickup": {**p, "address_id": 12345}},
     "logistics.address_not_found", "Address is not found."),
    ("slot not offered", lambda p: {"pickup": {**p, "pickup_time_id": "1608103685"}},
     "logistics.ship_order_pickup_time_invalid",
     "Invalid pickup time id. Please check the pick up time id."),
    ("package of an unsplit order", lambda p: {"pickup": p, "package_number": "OFG1"},
     "logistics.ship_order_not_need_pacakge_number",
     "Please don\u2019t request with package_number for this unsplit order."),
    ("own tracking number", lambda p: {"pickup": {**p, "tracking_number": "JX1"}},
     "error_param", "Please do not request with tracking_no for this channel which does not "
     "require tracking_no."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "body", "error", "message"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_ship_order_refuses_what_shopee_refuses(
    world: World, case: str, body: Any, error: str, message: str
) -> None:
    client = world.client()
    order = place(world)
    answer = fails(
        client.post(SHIP, {"order_sn": order.id, **body(pickup_of(client, order))}), 400, error
    )
    assert answer["message"] == message
    assert order.status == "READY_TO_SHIP" and order.tracking_number == ""


def test_ship_order_refuses_a_second_arrange_and_a_cancelled_order(world: World) -> None:
    client = world.client()
    order, cancelled = place(world), place(world)
    pickup = pickup_of(client, order)
    ok(client.post(SHIP, {"order_sn": order.id, "pickup": pickup}))
    tracking = order.tracking_number
    again = fails(
        client.post(SHIP, {"order_sn": order.id, "pickup": pickup}),
        400,
        "logistics.ship_order_not_ready_to_ship",
    )
    assert again["message"] == "The order is not ready to ship."
    assert order.tracking_number == tracking and order.status == "PROCESSED"
    world.state.cancel_order("shopee", cancelled.id, by="buyer", reason="Change of mind")
    fails(
        client.post(SHIP, {"order_sn": cancelled.id, "pickup": pickup}),
        400,
        "logistics.ship_order_not_ready_to_ship",
    )
    assert cancelled.status == "CANCELLED" and cancelled.tracking_number == ""
    fails(
        client.post(SHIP, {"order_sn": "201212DCXHJUIKJ", "pickup": pickup}), 400, "error_not_found"
    )
    fails(client.post(SHIP, {"pickup": pickup}), 400, "error_param")


def test_tracking_number_of_an_unknown_order_or_package(world: World) -> None:
    client = world.client()
    order = place(world)
    body = fails(client.get(TRACKING, order_sn="201214JASXYXY6"), 400, "logistics.invalid_error")
    assert body["message"] == "The order is not exist."
    fails(
        client.get(TRACKING, order_sn=order.id, package_number="OFG1"),
        400,
        "logistics.package_not_exist",
    )


# -- shipping documents ------------------------------------------------------------------------


def test_shipping_documents_from_parameter_to_pdf(world: World) -> None:
    client = world.client()
    first, second = place(world), place(world, 2)
    arrange(client, first)
    arrange(client, second)
    orders = [{"order_sn": first.id}, {"order_sn": second.id}]

    parameter = ok(client.post(DOC_PARAMETER, {"order_list": [*orders, {"order_sn": "X1"}]}))
    results = parameter["response"]["result_list"]
    assert results[0] == {
        "order_sn": first.id,
        "package_number": first.package_id,
        "suggest_shipping_document_type": "THERMAL_AIR_WAYBILL",
        "selectable_shipping_document_type": ["THERMAL_AIR_WAYBILL", "NORMAL_AIR_WAYBILL"],
    }
    assert results[2] == {
        "order_sn": "X1",
        "fail_error": "logistics.order_not_exist",
        "fail_message": "The order_sn X1 you provided is not exist. Please check",
    }
    assert parameter["warning"] == [{"order_sn": "X1"}]

    create = [
        {**o, "tracking_number": t, "shipping_document_type": "THERMAL_AIR_WAYBILL"}
        for o, t in zip(orders, (first.tracking_number, second.tracking_number), strict=True)
    ]
    created = ok(client.post(CREATE, {"order_list": create}))["response"]["result_list"]
    assert [r["package_number"] for r in created] == [first.package_id, second.package_id]
    body = fails(client.post(DOWNLOAD, {"order_list": orders}), 400, "logistics.download_later")
    assert body["message"] == f"Processing, please download later. Detail: {first.id},{second.id}"
    polled = ok(client.post(RESULT, {"order_list": orders}))["response"]["result_list"]
    assert [r["status"] for r in polled] == ["PROCESSING", "PROCESSING"]
    polled = ok(client.post(RESULT, {"order_list": orders}))["response"]["result_list"]
    assert [r["status"] for r in polled] == ["READY", "READY"]

    answer = client.post(
        DOWNLOAD, {"shipping_document_type": "THERMAL_AIR_WAYBILL", "order_list": orders}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(answer.content)).pages
    assert len(pages) == 2
    for page, order in zip(pages, (first, second), strict=True):
        text = page.extract_text()
        assert order.tracking_number in text and order.id in text


def test_shipping_documents_refuse_what_shopee_refuses(world: World) -> None:
    client = world.client()
    waiting, arranged = place(world), place(world)
    arrange(client, arranged)
    body = fails(
        client.post(CREATE, {"order_list": [{"order_sn": waiting.id}]}),
        400,
        "common.batch_api_all_failed",
    )
    assert body["message"] == "Failed, please check result_list for more details."
    assert body["response"]["result_list"] == [
        {
            "order_sn": waiting.id,
            "fail_error": "logistics.package_can_not_print",
            "fail_message": "The package can not print now.",
        }
    ]
    mixed = ok(
        client.post(CREATE, {"order_list": [{"order_sn": arranged.id}, {"order_sn": waiting.id}]})
    )
    assert "fail_error" not in mixed["response"]["result_list"][0]
    assert mixed["warning"] == [{"order_sn": waiting.id}]

    fails(
        client.post(DOWNLOAD, {"order_list": [{"order_sn": waiting.id}]}),
        400,
        "logistics.shipping_document_should_print_first",
    )
    never = fails(
        client.post(RESULT, {"order_list": [{"order_sn": waiting.id}]}),
        400,
        "common.batch_api_all_failed",
    )
    entry = never["response"]["result_list"][0]
    assert entry["fail_error"] == "logistics.shipping_document_should_print_first"

    wrong = [{"order_sn": arranged.id, "tracking_number": "SPXID0000000000"}]
    entry = fails(client.post(CREATE, {"order_list": wrong}), 400, "common.batch_api_all_failed")[
        "response"
    ]["result_list"][0]
    assert entry["fail_error"] == "logistics.tracking_number_invalid"
    bad_type = [{"order_sn": arranged.id, "shipping_document_type": "A4"}]
    entry = fails(
        client.post(CREATE, {"order_list": bad_type}), 400, "common.batch_api_all_failed"
    )["response"]["result_list"][0]
    assert entry["fail_error"] == "logistics.shipping_document_type_invalid"

    body = fails(client.post(CREATE, {}), 400, "error_param")
    assert body["message"] == "Wrong parameters, detail: order_list is a required field."
    fails(client.post(CREATE, {"order_list": [{"order_sn": arranged.id}] * 51}), 400, "error_param")
    fails(client.post(CREATE, {"order_list": []}), 400, "error_param")


def test_a_document_is_ready_after_a_while_and_fails_when_the_order_is_cancelled(
    world: World,
) -> None:
    client = world.client()
    order, dropped = place(world), place(world)
    arrange(client, order)
    arrange(client, dropped)
    ok(client.post(CREATE, {"order_list": [{"order_sn": order.id}, {"order_sn": dropped.id}]}))
    later = utcnow() + timedelta(seconds=5)
    set_clock(lambda: later)
    try:
        answer = client.post(DOWNLOAD, {"order_list": [{"order_sn": order.id}]})
        assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
    finally:
        set_clock(None)
    world.state.set_order_status("shopee", dropped.id, "CANCELLED")
    answer = ok(client.post(RESULT, {"order_list": [{"order_sn": dropped.id}]}))
    entry = answer["response"]["result_list"][0]
    assert entry["status"] == "FAILED" and entry["fail_error"] == "logistics.package_can_not_print"
    fails(
        client.post(DOWNLOAD, {"order_list": [{"order_sn": dropped.id}]}),
        400,
        "logistics.package_print_failed",
    )


# -- cancellation ------------------------------------------------------------------------------


def test_seller_cancels_with_a_documented_reason(world: World) -> None:
    client = world.client()
    order = place(world, 2)
    item, (model,) = models_of(world.shop, with_models=False)
    stock = model.stock
    answer = ok(client.post(CANCEL, {"order_sn": order.id, "cancel_reason": "CUSTOMER_REQUEST"}))
    assert answer["response"] == {"update_time": order.update_time}
    assert (order.status, order.cancel_by, order.cancel_reason) == (
        "CANCELLED",
        "seller",
        "CUSTOMER_REQUEST",
    )
    assert model.stock == stock + 2
    detail = ok(
        client.get(
            "/api/v2/order/get_order_detail",
            order_sn_list=order.id,
            response_optional_fields="cancel_by,cancel_reason,buyer_cancel_reason",
        )
    )["response"]["order_list"][0]
    assert (detail["cancel_by"], detail["cancel_reason"]) == ("seller", "Customer Request")
    again = fails(
        client.post(CANCEL, {"order_sn": order.id, "cancel_reason": "CUSTOMER_REQUEST"}),
        400,
        "order.error_limit",
    )
    assert again["message"] == "Can not cancel this order"

    out = place(world)
    body = {"order_sn": out.id, "cancel_reason": "OUT_OF_STOCK"}
    missing = fails(client.post(CANCEL, body), 400, "error_param")
    assert "item_list" in missing["message"]
    fails(
        client.post(CANCEL, {**body, "item_list": [{"item_id": 1, "model_id": 0}]}),
        400,
        "error_param",
    )
    ok(client.post(CANCEL, {**body, "item_list": [{"item_id": int(item.id), "model_id": 0}]}))
    assert out.status == "CANCELLED" and out.cancel_reason == "OUT_OF_STOCK"


def test_seller_cancel_is_refused_once_arranged_and_for_other_regions_reasons(
    world: World,
) -> None:
    client = world.client()
    arranged, elsewhere = place(world), place(world)
    arrange(client, arranged)
    _, (model,) = models_of(world.shop, with_models=False)
    stock = model.stock
    fails(
        client.post(CANCEL, {"order_sn": arranged.id, "cancel_reason": "CUSTOMER_REQUEST"}),
        400,
        "order.error_limit",
    )
    world.state.advance_order("shopee", arranged.id)
    fails(
        client.post(CANCEL, {"order_sn": arranged.id, "cancel_reason": "CUSTOMER_REQUEST"}),
        400,
        "order.error_limit",
    )
    assert arranged.status == "SHIPPED" and model.stock == stock
    body = fails(
        client.post(CANCEL, {"order_sn": elsewhere.id, "cancel_reason": "UNDELIVERABLE_AREA"}),
        400,
        "error_param",
    )
    assert "TW and MY" in body["message"]
    fails(
        client.post(CANCEL, {"order_sn": elsewhere.id, "cancel_reason": "CHANGED_MIND"}),
        400,
        "error_param",
    )
    fails(
        client.post(CANCEL, {"order_sn": "201020SQQ5K2EP", "cancel_reason": "OUT_OF_STOCK"}),
        400,
        "error_not_found",
    )
    assert elsewhere.status == "READY_TO_SHIP"


def test_seller_answers_a_buyer_cancellation(world: World) -> None:
    client = world.client()
    accepted, rejected = place(world, 2), place(world)
    _, (model,) = models_of(world.shop, with_models=False)
    stock = model.stock
    for order in (accepted, rejected):
        world.state.set_order_status("shopee", order.id, "IN_CANCEL")
    answer = ok(client.post(BUYER_CANCEL, {"order_sn": accepted.id, "operation": "ACCEPT"}))
    assert answer["response"] == {"update_time": accepted.update_time}
    assert (accepted.status, accepted.cancel_by, model.stock) == ("CANCELLED", "buyer", stock + 2)
    ok(client.post(BUYER_CANCEL, {"order_sn": rejected.id, "operation": "REJECT"}))
    assert rejected.status == "READY_TO_SHIP"
    body = fails(
        client.post(BUYER_CANCEL, {"order_sn": rejected.id, "operation": "ACCEPT"}),
        400,
        "order.cancel_order_invalid_status",
    )
    assert body["message"] == "Invalid order_status.The order status should be IN_CANCEL."
    fails(
        client.post(BUYER_CANCEL, {"order_sn": rejected.id, "operation": "MAYBE"}),
        400,
        "error_param",
    )


# -- returns -----------------------------------------------------------------------------------


def test_return_list_pages_from_page_0_with_items(world: World) -> None:
    client = world.client()
    returns = [world.state.open_return("shopee", shipped(world, client).id) for _ in range(5)]
    now = world.state.now()
    window = {"create_time_from": now - 3600, "create_time_to": now + 60}
    seen: list[str] = []
    page_no = 0
    while True:
        page = ok(client.get(RETURNS, page_no=page_no, page_size=2, **window))["response"]
        seen += [r["return_sn"] for r in page["return"]]
        if not page["more"]:
            break
        page_no += 1
    assert page_no == 2 and sorted(seen) == sorted(r.id for r in returns)
    assert len(set(seen)) == 5

    first = ok(client.get(RETURNS, page_no=0, page_size=100))["response"]["return"][0]
    found = next(r for r in returns if r.id == first["return_sn"])
    line = found.lines[0]
    assert first["order_sn"] == found.order_id and first["status"] == "REQUESTED"
    assert first["item"] == [
        {
            "model_id": 0,
            "name": first["item"][0]["name"],
            "images": first["item"][0]["images"],
            "amount": 1,
            "item_price": int(line.price),
            "is_add_on_deal": False,
            "is_main_item": False,
            "add_on_deal_id": 0,
            "item_id": int(line.item_id),
            "item_sku": line.sku,
            "variation_sku": "",
        }
    ]
    assert first["refund_amount"] == int(found.refund_amount) and first["currency"] == "IDR"
    assert (first["return_solution"], first["needs_logistics"]) == (0, True)
    assert first["reason"] == "PHYSICAL_DMG" and first["text_reason"] == "Damaged item"


def test_return_list_filters_and_refuses_wide_windows(world: World) -> None:
    client = world.client()
    kept = world.state.open_return("shopee", shipped(world, client).id)
    gone = world.state.open_return("shopee", shipped(world, client).id, refund_only=True)
    world.state.move_return("shopee", gone.id, "cancelled")
    page = {"page_no": 0, "page_size": 10}
    by_status = ok(client.get(RETURNS, status="CANCELLED", **page))["response"]["return"]
    assert [r["return_sn"] for r in by_status] == [gone.id]
    assert by_status[0]["return_solution"] == 1 and by_status[0]["needs_logistics"] is False
    now = world.state.now()
    updated = ok(client.get(RETURNS, update_time_from=now - 60, update_time_to=now + 60, **page))
    assert {r["return_sn"] for r in updated["response"]["return"]} == {kept.id, gone.id}
    early = ok(client.get(RETURNS, update_time_from=now - 7200, update_time_to=now - 3600, **page))
    assert early["response"] == {"more": False, "return": []}

    wide = fails(
        client.get(RETURNS, create_time_from=now - 16 * 86400, create_time_to=now, **page),
        400,
        "error_param",
    )
    assert wide["message"] == (
        "The period between create_time_from and created_time_of must not more than 15 days."
    )
    body = fails(
        client.get(RETURNS, update_time_from=now, update_time_to=now - 1, **page),
        400,
        "error_param",
    )
    assert body["message"] == "The update_time_to should be later than update_time_from."
    body = fails(
        client.get(RETURNS, create_time_from=now, update_time_from=now - 1, **page),
        400,
        "error_param",
    )
    assert body["message"] == "The update_time_from must be after create_time_from."
    fails(client.get(RETURNS, status="LOST", **page), 400, "error_param")
    fails(client.get(RETURNS, page_size=10), 400, "error_param")
    fails(client.get(RETURNS, page_no=0, page_size=101), 400, "error_param")


def test_return_detail_shows_shopee_statuses_for_every_stage(world: World) -> None:
    client = world.client()
    stages = {
        "requested": "REQUESTED",
        "accepted": "ACCEPTED",
        "completed": "REFUND_PAID",
        "cancelled": "CANCELLED",
        "rejected": "CLOSED",
    }
    for stage, status in stages.items():
        found = world.state.open_return("shopee", shipped(world, client).id)
        world.state.move_return("shopee", found.id, stage)
        detail = ok(client.get(RETURN_DETAIL, return_sn=found.id))["response"]
        assert (detail["return_sn"], detail["status"]) == (found.id, status)
        assert detail["order_sn"] == found.order_id and detail["update_time"] == found.update_time
        assert detail["negotiation"]["negotiation_status"] in ("PENDING_RESPOND", "TERMINATED")
        assert detail["item"][0]["amount"] == found.lines[0].quantity
    body = fails(client.get(RETURN_DETAIL, return_sn="2206150VT13E3MQ"), 400, "error_data")
    assert body["message"] == "The return you queried doesn't exist."


# -- pushes ------------------------------------------------------------------------------------


def pushes_of(receiver: Receiver, code: int, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [json.loads(b) for _, b in receiver.received if json.loads(b)["code"] == code]
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"expected {count} pushes of code {code}, got {receiver.received}")


def test_fulfilment_pushes_status_tracking_and_return_updates(
    world: World, receiver: Receiver
) -> None:
    client = world.client()
    config = {"callback_url": receiver.url, "set_push_config_on": [3, 4, 29]}
    ok(client.public("/api/v2/push/set_app_push_config", config))
    order = place(world)
    arrange(client, order)
    world.state.advance_order("shopee", order.id)
    found = world.state.open_return("shopee", order.id)
    world.state.move_return("shopee", found.id, "accepted")

    (tracking,) = pushes_of(receiver, 4, 1)
    assert tracking["shop_id"] == int(world.shop.id)
    assert tracking["data"] == {
        "ordersn": order.id,
        "package_number": order.package_id,
        "tracking_no": order.tracking_number,
    }
    # Pushes are delivered concurrently, like Shopee's: their order is not guaranteed.
    statuses = sorted(p["data"]["status"] for p in pushes_of(receiver, 3, 3))
    assert statuses == ["PROCESSED", "READY_TO_SHIP", "SHIPPED"]
    returns = sorted(pushes_of(receiver, 29, 2), key=lambda r: r["data"]["status"])
    assert [r["data"] for r in returns] == [
        {
            "return_sn": found.id,
            "order_sn": order.id,
            "status": status,
            "update_time": r["timestamp"],
        }
        for status, r in zip(("ACCEPTED", "REQUESTED"), returns, strict=True)
    ]
    headers, body = next((h, b) for h, b in receiver.received if b'"code":29' in b)
    expected = hmac_hex(client.partner_key, receiver.url.encode() + b"|" + body)
    assert hmac.compare_digest(headers["authorization"], expected)


def test_return_pushes_can_be_switched_off() -> None:
    sim = ShopeeSim()
    app = App("shopee", "1", "key")
    data = {"return_id": "2206150VT13E3MQ", "order_id": "220614T9XV8JTN", "stage": "completed"}
    event = SandboxEvent("shopee", "600000", "return.status", data, timestamp=1655219544)
    body, _ = sim.webhook(app, "https://erp.test/hook", event) or (b"", {})
    assert json.loads(body) == {
        "shop_id": 600000,
        "code": 29,
        "timestamp": 1655219544,
        "data": {
            "return_sn": "2206150VT13E3MQ",
            "order_sn": "220614T9XV8JTN",
            "status": "REFUND_PAID",
            "update_time": 1655219544,
        },
    }
    sim.push_off.add(29)
    assert sim.webhook(app, "https://erp.test/hook", event) is None


# -- the demo generator ------------------------------------------------------------------------


def test_generated_orders_go_through_fulfilment(world: World) -> None:
    client = world.client()
    generator = OrderGenerator(world.state, seed=5)
    assert generator.place_one_on("shopee", world.shop.id)
    order = max(world.state.orders_of("shopee", world.shop.id), key=lambda o: o.create_time)
    arrange(client, order)
    ok(client.post(CREATE, {"order_list": [{"order_sn": order.id}]}))
    ok(client.post(RESULT, {"order_list": [{"order_sn": order.id}]}))
    ok(client.post(RESULT, {"order_list": [{"order_sn": order.id}]}))
    pdf = client.post(DOWNLOAD, {"order_list": [{"order_sn": order.id}]})
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) == 1
    assert order.status == "PROCESSED" and order.arranged_time > 0
