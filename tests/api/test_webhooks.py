"""Outbound webhook subscriptions through the API."""

from __future__ import annotations

from tests.api.conftest import ApiWorld


def test_subscribe_list_see_deliveries_and_delete(world: ApiWorld) -> None:
    made = world.api.post(
        "/webhooks/subscriptions",
        json={"url": "https://erp.example.com/hook", "events": ["product.none", "order.created"]},
    )
    assert (made.status_code, made.json()["details"]["field"]) == (422, "events")

    made = world.api.post(
        "/webhooks/subscriptions",
        json={"url": "https://erp.example.com/hook", "events": ["order.created", "stock.changed"]},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"].startswith("whsec_")
    sub = body["subscription"]
    assert (sub["events"], sub["status"]) == (["order.created", "stock.changed"], "active")

    listed = world.api.get("/webhooks/subscriptions").json()
    assert [s["id"] for s in listed] == [sub["id"]]
    assert "secret" not in listed[0] and "secret_sealed" not in listed[0]

    world.api.post("/products", json={"handle": "teh", "title": "Teh"})  # a variant: stock row
    page = world.api.get("/webhooks/deliveries", params={"subscription_id": sub["id"]}).json()
    assert page["items"] == []  # a new product with no stock changes nothing yet

    resumed = world.api.post(f"/webhooks/subscriptions/{sub['id']}/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    gone = world.api.delete(f"/webhooks/subscriptions/{sub['id']}")
    assert gone.status_code == 200
    assert world.api.get("/webhooks/subscriptions").json() == []
    assert world.api.delete(f"/webhooks/subscriptions/{sub['id']}").status_code == 404


def test_a_key_without_the_webhooks_scope_cannot_subscribe(world: ApiWorld) -> None:
    products_only = world.key("products:write")

    refused = world.api.post(
        "/webhooks/subscriptions",
        json={"url": "https://erp.example.com/hook", "events": ["order.created"]},
        key=products_only,
    )
    bad_status = world.api.get("/webhooks/deliveries", params={"status": "lost"})

    assert (refused.status_code, refused.json()["details"]["scope"]) == (403, "webhooks:write")
    assert (bad_status.status_code, bad_status.json()["details"]["field"]) == (422, "status")
    assert world.api.get("/webhooks/subscriptions").json() == []
