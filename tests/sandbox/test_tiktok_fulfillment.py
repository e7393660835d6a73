"""The TikTok Shop simulator's fulfillment, cancellation and return endpoints over real HTTP,
called as a client generated from TikTok's documentation calls them: signed with the published
algorithm (`Client` of test_tiktok), no sandbox code on the client side."""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from storesync.core.clock import set_clock, utcnow
from storesync.sandbox.state import Order, SandboxState
from tests.sandbox.conftest import Receiver, RunningSandbox
from tests.sandbox.test_tiktok import Client, tts_push_signature

PACKAGES = "/fulfillment/202309/packages"


@pytest.fixture
def client(running_sandbox: RunningSandbox) -> Client:
    """A client authorized for the sandbox's TikTok shop (code from the control API)."""
    base = running_sandbox.base_url
    app = httpx.get(f"{base}/sandbox/apps").json()["tiktok"]
    code = httpx.post(f"{base}/sandbox/authorize", json={"platform": "tiktok"}).json()["code"]
    token = httpx.get(
        f"{base}/tiktok-auth/api/v2/token/get",
        params={
            "app_key": app["app_key"],
            "app_secret": app["app_secret"],
            "auth_code": code,
            "grant_type": "authorized_code",
        },
    ).json()["data"]
    signed = Client(base + "/tiktok", app["app_key"], app["app_secret"])
    signed.access_token = token["access_token"]
    shops = signed.ok("GET", "/authorization/202309/shops", shop=False)["shops"]
    signed.cipher = shops[0]["cipher"]
    return signed


def place(sandbox: RunningSandbox, quantity: int = 1, *, buyer: str = "Ahmad Fauzi") -> Order:
    state = sandbox.state
    shop = state.shops_of("tiktok")[0]
    item, model = next(
        (i, m) for i in shop.items.values() for m in i.models if m.stock >= quantity + 2
    )
    return state.place_order("tiktok", shop.id, [(item.id, model.id, quantity)], buyer=buyer)


def refused(response: httpx.Response) -> tuple[int, int, str]:
    payload = response.json()
    assert set(payload) == {"code", "message", "request_id", "data"} and payload["data"] is None
    return response.status_code, payload["code"], payload["message"]


def package_of(client: Client, order: Order) -> str:
    detail = client.ok("GET", "/order/202309/orders", query={"ids": order.id})
    return str(detail["orders"][0]["packages"][0]["id"])


def slots(client: Client, package_id: str) -> list[dict[str, Any]]:
    data = client.ok("GET", f"{PACKAGES}/{package_id}/handover_time_slots")
    return list(data["pickup_slots"])


# -- orders ------------------------------------------------------------------------------------


def test_order_detail_answers_alike_at_202309_and_202507(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    order = place(running_sandbox, 2)

    def both() -> tuple[dict[str, Any], dict[str, Any]]:
        old = client.ok("GET", "/order/202309/orders", query={"ids": order.id})["orders"]
        new = client.ok("GET", "/order/202507/orders", query={"ids": f"{order.id},1"})["orders"]
        assert len(old) == len(new) == 1
        return old[0], new[0]

    before, before_new = both()
    package_id = before["packages"][0]["id"]
    client.ok("POST", f"{PACKAGES}/{package_id}/ship", body={"handover_method": "DROP_OFF"})
    after, after_new = both()

    assert before == before_new and after == after_new
    assert before["recipient_address"] == {
        "name": "A*** F***i",
        "phone_number": "(+62)807******20",
        "full_address": (
            "Indonesia, DKI Jakarta, Jakarta Selatan, Setiabudi,Jl**********************"
        ),
        "address_detail": "Jl**********************",
        "postal_code": "12***",
        "region_code": "ID",
        "district_info": [
            {
                "address_level": "L0",
                "address_level_name": "Country",
                "address_name": "Indonesia",
                "iso_code": "ID",
            },
            {
                "address_level": "L1",
                "address_level_name": "Province",
                "address_name": "DKI Jakarta",
            },
            {
                "address_level": "L2",
                "address_level_name": "City",
                "address_name": "Jakarta Selatan",
            },
            {"address_level": "L3", "address_level_name": "District", "address_name": "Setiabudi"},
        ],
    }
    assert before["packages"] == [{"id": package_id}]
    assert (before["tracking_number"], before["shipping_provider"]) == ("", "")
    assert "rts_time" not in before
    assert after["status"] == "AWAITING_COLLECTION"
    assert after["tracking_number"] == order.tracking_number != ""
    assert (after["shipping_provider"], after["rts_time"]) == ("J&T Express", order.arranged_time)
    assert [
        (i["package_id"], i["package_status"], i["tracking_number"], i["shipping_provider_name"])
        for i in after["line_items"]
    ] == [(package_id, "PROCESSING", order.tracking_number, "J&T Express")] * 2


# -- handover and Ship Package -----------------------------------------------------------------


def test_ship_in_an_offered_pickup_slot(running_sandbox: RunningSandbox, client: Client) -> None:
    order = place(running_sandbox)
    package_id = package_of(client, order)
    handover = client.ok("GET", f"{PACKAGES}/{package_id}/handover_time_slots")
    chosen = handover["pickup_slots"][3]

    shipped = client.ok(
        "POST",
        f"{PACKAGES}/{package_id}/ship",
        body={
            "handover_method": "PICKUP",
            "pickup_slot": {"start_time": chosen["start_time"], "end_time": chosen["end_time"]},
        },
    )
    detail = client.ok("GET", f"{PACKAGES}/{package_id}")
    again = client.call("GET", f"{PACKAGES}/{package_id}/handover_time_slots")

    assert set(handover) == {
        "can_pickup",
        "can_drop_off",
        "can_van_collection",
        "drop_off_point_url",
        "pickup_slots",
    }
    assert (handover["can_pickup"], handover["can_drop_off"]) == (True, True)
    assert len(handover["pickup_slots"]) == 6
    assert all(
        s["avaliable"] is True and 3 * 3600 <= s["end_time"] - s["start_time"] <= 4 * 3600
        for s in handover["pickup_slots"]
    )
    assert shipped == {}
    assert (detail["package_id"], detail["package_status"], detail["handover_method"]) == (
        package_id,
        "PROCESSING",
        "PICKUP",
    )
    assert detail["pickup_slot"] == {
        "start_time": chosen["start_time"],
        "end_time": chosen["end_time"],
    }
    assert detail["tracking_number"] == order.tracking_number
    assert detail["shipping_provider_name"] == "J&T Express"
    assert detail["orders"][0]["id"] == order.id
    assert detail["recipient_address"]["name"] == "A*** F***i"
    assert detail["sender_address"]["address_detail"] == "Jl. Gudang Raya No. 7"
    assert order.status == "AWAITING_COLLECTION"
    assert refused(again)[:2] == (200, 36009004)


def test_ship_refuses_what_tiktok_refuses(running_sandbox: RunningSandbox, client: Client) -> None:
    order, cancelled = place(running_sandbox), place(running_sandbox)
    running_sandbox.state.cancel_order("tiktok", cancelled.id, by="buyer", reason="Change of mind")
    package_id, cancelled_package = package_of(client, order), package_of(client, cancelled)
    offered = slots(client, package_id)[0]
    ship = f"{PACKAGES}/{package_id}/ship"

    moved = client.call(
        "POST",
        ship,
        body={
            "handover_method": "PICKUP",
            "pickup_slot": {"start_time": offered["start_time"] - 3600, "end_time": 1},
        },
    )
    wrong_method = client.call("POST", ship, body={"handover_method": "COURIER"})
    client.ok("POST", ship, body={"handover_method": "DROP_OFF"})
    twice = client.call("POST", ship, body={"handover_method": "DROP_OFF"})
    of_cancelled = client.call("POST", f"{PACKAGES}/{cancelled_package}/ship", body={})
    unknown = client.call("POST", f"{PACKAGES}/1152000000000000001/ship", body={})

    assert refused(moved) == (
        200,
        36009004,
        "The pickup slot is not available. Choose one of the slots from Get Package Handover "
        "Time Slots.",
    )
    assert refused(wrong_method) == (200, 36009004, "handover_method must be PICKUP or DROP_OFF")
    assert refused(twice) == (
        200,
        36009004,
        f"The package of order {order.id} cannot be shipped: it has already been shipped or is "
        "not ready (order status AWAITING_COLLECTION, package status PROCESSING).",
    )
    assert refused(of_cancelled) == (
        200,
        36009004,
        f"The order {cancelled.id} has been cancelled. The package cannot be shipped.",
    )
    assert refused(unknown)[:2] == (200, 36009004)
    assert (cancelled.status, cancelled.tracking_number) == ("CANCELLED", "")
    assert (order.handover_method, order.pickup_slot) == ("dropoff", "")


def test_ship_takes_the_empty_arrays_a_generated_php_client_sends(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    """EcomPHP's shipPackage sends `pickup_slot: []` and `self_shipment: []` by default:
    PICKUP then takes the first offered slot."""
    order = place(running_sandbox)
    package_id = package_of(client, order)
    first = slots(client, package_id)[0]

    client.ok(
        "POST",
        f"{PACKAGES}/{package_id}/ship",
        body={"handover_method": "PICKUP", "pickup_slot": [], "self_shipment": []},
    )

    assert order.pickup_slot == f"{first['start_time']}-{first['end_time']}"
    assert order.status == "AWAITING_COLLECTION"


def test_search_packages_by_status_with_pages(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    waiting = [place(running_sandbox) for _ in range(3)]
    client.ok("POST", f"{PACKAGES}/{package_of(client, waiting[0])}/ship", body={})
    ids: list[str] = []
    token = ""
    while True:
        query = {"page_size": "1", **({"page_token": token} if token else {})}
        data = client.ok(
            "POST", f"{PACKAGES}/search", query=query, body={"package_status": "TO_FULFILL"}
        )
        ids += [p["id"] for p in data["packages"]]
        token = data["next_page_token"]
        if not token:
            break
    processing = client.ok(
        "POST",
        f"{PACKAGES}/search",
        query={"page_size": "50"},
        body={"package_status": "PROCESSING"},
    )
    too_big = client.call("POST", f"{PACKAGES}/search", query={"page_size": "51"}, body={})

    assert sorted(ids) == sorted(o.package_id for o in waiting[1:])
    assert data["total_count"] == 2
    [shipped] = processing["packages"]
    assert (shipped["id"], shipped["status"], shipped["tracking_number"]) == (
        waiting[0].package_id,
        "PROCESSING",
        waiting[0].tracking_number,
    )
    assert shipped["orders"][0]["id"] == waiting[0].id
    assert refused(too_big)[:2] == (200, 36009004)


# -- shipping documents and tracking -----------------------------------------------------------


def test_the_shipping_document_is_an_unsigned_pdf_link_once_shipped(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    order = place(running_sandbox, 2)
    package_id = package_of(client, order)
    documents = f"{PACKAGES}/{package_id}/shipping_documents"
    label = {"document_type": "SHIPPING_LABEL", "document_size": "A6"}

    early = client.call("GET", documents, query=label)
    client.ok("POST", f"{PACKAGES}/{package_id}/ship", body={})
    no_type = client.call("GET", documents)
    zpl = client.call("GET", documents, query={**label, "document_format": "ZPL"})
    data = client.ok("GET", documents, query=label)
    pdf = httpx.get(data["doc_url"])  # no signature, no token header: a CDN link
    pages = PdfReader(io.BytesIO(pdf.content)).pages

    assert refused(early) == (
        200,
        36009004,
        f"The shipping document of order {order.id} is not ready: ship the package first.",
    )
    assert refused(no_type)[:2] == (200, 36009004)
    assert refused(zpl) == (200, 36009004, "SHIPPING_LABEL as ZPL is not available in this region")
    assert data["doc_url"].startswith(f"{running_sandbox.base_url}/tiktok/cdn/shipping_documents/")
    assert data["tracking_number"] == order.tracking_number
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert len(pages) == 1 and f"Tracking: {order.tracking_number}" in pages[0].extract_text()


def test_a_document_link_expires(running_sandbox: RunningSandbox, client: Client) -> None:
    order = place(running_sandbox)
    package_id = package_of(client, order)
    client.ok("POST", f"{PACKAGES}/{package_id}/ship", body={})
    url = client.ok(
        "GET",
        f"{PACKAGES}/{package_id}/shipping_documents",
        query={"document_type": "SHIPPING_LABEL"},
    )["doc_url"]
    later = utcnow() + timedelta(hours=25)
    set_clock(lambda: later)
    try:
        expired = httpx.get(url)
    finally:
        set_clock(None)
    unknown = httpx.get(url.replace("shipping_documents/", "shipping_documents/x"))

    assert httpx.get(url).status_code == 200
    assert expired.status_code == 404 and unknown.status_code == 404


def test_tracking_follows_the_parcel_newest_first(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    state = running_sandbox.state
    order = place(running_sandbox)
    tracking = f"/fulfillment/202309/orders/{order.id}/tracking"
    before = client.ok("GET", tracking)
    client.ok("POST", f"{PACKAGES}/{package_of(client, order)}/ship", body={})
    arranged = client.ok("GET", tracking)
    state.advance_order("tiktok", order.id)
    state.advance_order("tiktok", order.id)
    delivered = client.ok("GET", tracking)
    unknown = client.call("GET", "/fulfillment/202309/orders/576000000000000001/tracking")

    assert before == {"tracking": []}
    assert arranged == {
        "tracking": [
            {
                "description": "Shipping label created; waiting for J&T Express to collect the "
                "package",
                "update_time_millis": order.arranged_time * 1000,
            }
        ]
    }
    assert [e["description"] for e in delivered["tracking"]] == [
        "Package delivered",
        "Package collected by J&T Express; in transit",
        "Shipping label created; waiting for J&T Express to collect the package",
    ]
    assert delivered["tracking"][0]["update_time_millis"] == order.delivered_time * 1000
    assert order.status == "DELIVERED"
    assert refused(unknown)[:2] == (200, 36009004)


# -- cancellations -----------------------------------------------------------------------------


def test_cancel_order_takes_tiktoks_reasons_and_refuses_after_shipping(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    state = running_sandbox.state
    order, shipped = place(running_sandbox, 2), place(running_sandbox)
    client.ok("POST", f"{PACKAGES}/{package_of(client, shipped)}/ship", body={})
    cancel = "/return_refund/202309/cancellations"

    vague = client.call("POST", cancel, body={"order_id": order.id, "cancel_reason": "bored"})
    unpaid = client.call(
        "POST",
        cancel,
        body={"order_id": order.id, "cancel_reason": "seller_cancel_unpaid_reason_out_of_stock"},
    )
    partial = client.call(
        "POST",
        cancel,
        body={
            "order_id": order.id,
            "cancel_reason": "seller_cancel_reason_out_of_stock",
            "order_line_item_ids": ["1"],
        },
    )
    done = client.ok(
        "POST",
        cancel,
        body={"order_id": order.id, "cancel_reason": "seller_cancel_reason_out_of_stock"},
    )
    again = client.call(
        "POST",
        cancel,
        body={"order_id": order.id, "cancel_reason": "seller_cancel_reason_out_of_stock"},
    )
    late = client.call(
        "POST",
        cancel,
        body={"order_id": shipped.id, "cancel_reason": "seller_cancel_reason_out_of_stock"},
    )
    detail = client.ok("GET", "/order/202309/orders", query={"ids": order.id})["orders"][0]

    paid_reasons = (
        "use one of seller_cancel_reason_out_of_stock, seller_cancel_reason_wrong_price, "
        "seller_cancel_paid_reason_address_not_deliver, "
        "seller_cancel_paid_reason_buyer_requested_cancellation"
    )
    assert refused(vague) == (
        200,
        36009004,
        "cancel_reason 'bored' cannot be used for an order in status AWAITING_SHIPMENT; "
        + paid_reasons,
    )
    assert refused(unpaid) == (
        200,
        36009004,
        "cancel_reason 'seller_cancel_unpaid_reason_out_of_stock' cannot be used for an order "
        "in status AWAITING_SHIPMENT; " + paid_reasons,
    )
    assert refused(partial) == (
        200,
        36009004,
        "Partial cancellation is not supported for this order; cancel the order",
    )
    assert set(done) == {"cancel_id", "cancel_status"} and done["cancel_id"].isdigit()
    assert done["cancel_status"] == "CANCELLATION_REQUEST_COMPLETE"
    assert refused(again) == (200, 36009004, f"The order {order.id} has already been cancelled.")
    assert refused(late) == (
        200,
        36009004,
        f"The order {shipped.id} cannot be cancelled in its current status AWAITING_COLLECTION.",
    )
    assert (order.status, order.cancel_by) == ("CANCELLED", "seller")
    assert (shipped.status, shipped.cancel_by) == ("AWAITING_COLLECTION", "")
    assert (detail["status"], detail["cancel_reason"], detail["cancellation_initiator"]) == (
        "CANCELLED",
        "Out of stock",
        "SELLER",
    )
    assert state.orders[("tiktok", order.id)].status == "CANCELLED"


def test_search_cancellations_lists_buyer_and_seller_cancellations(
    running_sandbox: RunningSandbox, client: Client
) -> None:
    by_seller, by_buyer, kept = (place(running_sandbox) for _ in range(3))
    client.ok(
        "POST",
        "/return_refund/202309/cancellations",
        body={"order_id": by_seller.id, "cancel_reason": "seller_cancel_reason_wrong_price"},
    )
    httpx.post(
        f"{running_sandbox.base_url}/sandbox/orders/cancel",
        json={"platform": "tiktok", "order_id": by_buyer.id, "reason": "Change of mind"},
    ).raise_for_status()
    search = "/return_refund/202309/cancellations/search"

    everything = client.ok("POST", search, query={"page_size": "10"}, body={})
    buyers = client.ok(
        "POST", search, query={"page_size": "10"}, body={"cancel_types": ["BUYER_CANCEL"]}
    )
    of_kept = client.ok("POST", search, query={"page_size": "10"}, body={"order_ids": [kept.id]})
    bad_type = client.call("POST", search, query={"page_size": "10"}, body={"cancel_types": ["X"]})

    found = {c["order_id"]: c for c in everything["cancellations"]}
    assert set(found) == {by_seller.id, by_buyer.id} and everything["total_count"] == 2
    seller, buyer = found[by_seller.id], found[by_buyer.id]
    assert {k: seller[k] for k in ("cancel_type", "role", "cancel_status", "cancel_reason")} == {
        "cancel_type": "SELLER_CANCEL",
        "role": "SELLER",
        "cancel_status": "CANCELLATION_REQUEST_COMPLETE",
        "cancel_reason": "seller_cancel_reason_wrong_price",
    }
    assert (seller["cancel_reason_text"], seller["refund_amount"]["refund_total"]) == (
        "Pricing error",
        str(by_seller.total),
    )
    assert {k: buyer[k] for k in ("cancel_type", "role", "cancel_reason_text")} == {
        "cancel_type": "BUYER_CANCEL",
        "role": "BUYER",
        "cancel_reason_text": "Change of mind",
    }
    assert buyer["cancel_line_items"][0]["sku_id"] == by_buyer.lines[0].model_id
    assert [c["order_id"] for c in buyers["cancellations"]] == [by_buyer.id]
    assert of_kept == {"cancellations": [], "total_count": 0, "next_page_token": ""}
    assert refused(bad_type)[:2] == (200, 36009004)


# -- returns -----------------------------------------------------------------------------------


def shipped_order(sandbox: RunningSandbox, quantity: int = 1) -> Order:
    order = place(sandbox, quantity)
    state = sandbox.state
    state.arrange_order("tiktok", order.id, to_status="AWAITING_COLLECTION", method="dropoff")
    state.advance_order("tiktok", order.id)
    return order


@pytest.mark.parametrize(
    ("stages", "refund_only", "status"),
    [
        ((), False, "RETURN_OR_REFUND_REQUEST_PENDING"),
        (("accepted",), False, "AWAITING_BUYER_SHIP"),
        (("accepted",), True, "RETURN_OR_REFUND_REQUEST_SUCCESS"),
        (("accepted", "completed"), False, "RETURN_OR_REFUND_REQUEST_COMPLETE"),
        (("completed",), True, "RETURN_OR_REFUND_REQUEST_COMPLETE"),
        (("cancelled",), False, "RETURN_OR_REFUND_REQUEST_CANCEL"),
        (("rejected",), True, "REFUND_OR_RETURN_REQUEST_REJECT"),
    ],
)
def test_a_returns_stage_is_tiktoks_return_status(
    running_sandbox: RunningSandbox,
    client: Client,
    stages: tuple[str, ...],
    refund_only: bool,
    status: str,
) -> None:
    state = running_sandbox.state
    order = shipped_order(running_sandbox, 2)
    opened = state.open_return("tiktok", order.id, refund_only=refund_only, reason="Wrong size")
    for stage in stages:
        state.move_return("tiktok", opened.id, stage)

    [found] = client.ok(
        "POST",
        "/return_refund/202309/returns/search",
        query={"page_size": "50"},
        body={"order_ids": [order.id]},
    )["return_orders"]

    assert (found["return_id"], found["order_id"], found["return_status"]) == (
        opened.id,
        order.id,
        status,
    )
    assert found["return_type"] == ("REFUND" if refund_only else "RETURN_AND_REFUND")
    assert (found["return_reason_text"], found["role"]) == ("Wrong size", "BUYER")
    assert found["refund_amount"]["refund_total"] == str(order.total)
    line = order.lines[0]
    assert [
        (i["sku_id"], i["seller_sku"], i["refund_amount"]["refund_total"])
        for i in found["return_line_items"]
    ] == [(line.model_id, line.sku, str(line.price))] * 2
    assert len({i["order_line_item_id"] for i in found["return_line_items"]}) == 2


def test_search_returns_filters_and_pages(running_sandbox: RunningSandbox, client: Client) -> None:
    state: SandboxState = running_sandbox.state
    orders = [shipped_order(running_sandbox) for _ in range(4)]
    opened = [state.open_return("tiktok", o.id, refund_only=n == 3) for n, o in enumerate(orders)]
    state.move_return("tiktok", opened[0].id, "rejected")
    now = int(utcnow().timestamp())
    with state.lock:
        for n, found in enumerate(opened):
            found.update_time = now - 1000 + n * 100
    search = "/return_refund/202309/returns/search"

    def ids(body: dict[str, Any], **query: str) -> list[str]:
        data = client.ok("POST", search, query={"page_size": "50", **query}, body=body)
        return [r["return_id"] for r in data["return_orders"]]

    pages: list[str] = []
    token = ""
    while True:
        query = {"page_size": "1", "sort_field": "update_time", "sort_order": "ASC"}
        data = client.ok("POST", search, query=query | ({"page_token": token} if token else {}))
        pages += [r["return_id"] for r in data["return_orders"]]
        token = data["next_page_token"]
        if not token:
            break
    first = client.ok("POST", search, query={"page_size": "1"}, body={})
    other_filter = client.call(
        "POST",
        search,
        query={"page_size": "1", "page_token": first["next_page_token"]},
        body={"return_types": ["REFUND"]},
    )

    assert pages == [r.id for r in opened]
    assert ids({"order_ids": [orders[2].id]}) == [opened[2].id]
    assert ids({"return_status": ["REFUND_OR_RETURN_REQUEST_REJECT"]}) == [opened[0].id]
    assert ids({"return_types": ["REFUND"]}) == [opened[3].id]
    window = {"update_time_ge": now - 900, "update_time_lt": now - 700}
    assert ids(window, sort_field="update_time", sort_order="ASC") == [opened[1].id, opened[2].id]
    assert ids({"return_ids": [opened[1].id]}, sort_order="ASC") == [opened[1].id]
    assert refused(other_filter)[:2] == (200, 36009004)
    too_big = client.call("POST", search, query={"page_size": "51"}, body={})
    bad_status = client.call(
        "POST", search, query={"page_size": "5"}, body={"return_status": ["X"]}
    )
    assert refused(too_big)[:2] == refused(bad_status)[:2] == (200, 36009004)


# -- webhooks ----------------------------------------------------------------------------------


def pushes(receiver: Receiver, count: int) -> list[tuple[dict[str, str], dict[str, Any], bytes]]:
    deadline = time.monotonic() + 5
    while len(receiver.received) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return [(h, json.loads(b), b) for h, b in receiver.received]


def test_cancellation_return_and_order_pushes_are_signed_with_the_documented_data(
    running_sandbox: RunningSandbox, client: Client, receiver: Receiver
) -> None:
    state = running_sandbox.state
    app = httpx.get(f"{running_sandbox.base_url}/sandbox/apps").json()["tiktok"]
    for event_type in ("CANCELLATION_STATUS_CHANGE", "RETURN_STATUS_CHANGE"):
        client.ok(
            "PUT",
            "/event/202309/webhooks",
            body={"address": receiver.url, "event_type": event_type},
        )
    order, returned = place(running_sandbox), shipped_order(running_sandbox)

    httpx.post(
        f"{running_sandbox.base_url}/sandbox/orders/cancel",
        json={"platform": "tiktok", "order_id": order.id},
    ).raise_for_status()
    opened = state.open_return("tiktok", returned.id, refund_only=True)
    state.move_return("tiktok", opened.id, "accepted")
    received = pushes(receiver, 3)
    moved = next(
        e for e in state.events if e.kind == "return.status" and e.data["stage"] == "accepted"
    )
    [cancel] = client.ok(
        "POST", "/return_refund/202309/cancellations/search", query={"page_size": "5"}, body={}
    )["cancellations"]

    shop_id = state.shops_of("tiktok")[0].id
    for headers, _payload, body in received:
        assert headers["authorization"] == tts_push_signature(
            app["app_key"], app["app_secret"], body
        )
    bodies = {(p["type"], p["data"].get("return_status", "")): p for _h, p, _b in received}
    assert set(bodies) == {
        (11, ""),
        (12, "RETURN_OR_REFUND_REQUEST_PENDING"),
        (12, "RETURN_OR_REFUND_REQUEST_SUCCESS"),
    }
    cancelled = bodies[(11, "")]
    assert set(cancelled) == {"type", "tts_notification_id", "shop_id", "timestamp", "data"}
    assert cancelled["shop_id"] == shop_id
    assert cancelled["data"] == {
        "order_id": order.id,
        "cancel_id": cancel["cancel_id"],
        "cancellations_role": "BUYER",
        "cancel_status": "CANCELLATION_REQUEST_COMPLETE",
        "create_time": order.update_time,
    }
    accepted = bodies[(12, "RETURN_OR_REFUND_REQUEST_SUCCESS")]
    assert accepted["data"] == {
        "order_id": returned.id,
        "return_id": opened.id,
        "return_role": "BUYER",
        "return_type": "REFUND",
        "return_status": "RETURN_OR_REFUND_REQUEST_SUCCESS",
        "create_time": opened.create_time,
        "update_time": moved.timestamp,
    }


def test_shipping_still_pushes_the_order_status(
    running_sandbox: RunningSandbox, client: Client, receiver: Receiver
) -> None:
    order = place(running_sandbox)
    package_id = package_of(client, order)
    client.ok(
        "PUT",
        "/event/202309/webhooks",
        body={"address": receiver.url, "event_type": "ORDER_STATUS_CHANGE"},
    )

    client.ok("POST", f"{PACKAGES}/{package_id}/ship", body={"handover_method": "DROP_OFF"})
    [(_headers, payload, _body)] = pushes(receiver, 1)
    arranged = running_sandbox.state.events[-1]

    assert payload["type"] == 1
    assert payload["data"] == {
        "order_id": order.id,
        "order_status": "AWAITING_COLLECTION",
        "is_on_hold_order": False,
        "update_time": arranged.timestamp,
    }
    assert (arranged.kind, arranged.data["order_id"]) == ("order.status", order.id)
