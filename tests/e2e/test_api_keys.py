"""An owner makes an API key under Settings, sees it once, calls the API with it on the app's own
port, and revokes it: the same key is refused from then on."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.browsing import new_page, no_horizontal_scroll, sign_up, wait_text

pytestmark = pytest.mark.browser


def test_an_owner_creates_uses_and_revokes_an_api_key(
    running_app: str, browser: Any, screenshots: Path
) -> None:
    base = running_app
    page = new_page(browser)
    sign_up(
        page,
        base,
        f"Toko API {uuid.uuid4().hex[:6]}",
        f"api-{uuid.uuid4().hex[:8]}@e.com",
        "a strong pass",
    )
    page.goto(f"{base}/settings")
    page.wait_for_selector("#api-key-create")

    page.fill("#api-key-name", "ERP sync")
    page.fill("#api-key-scopes", "products:write")
    page.click("#api-key-create")
    page.wait_for_selector("#api-key-secret")
    key = page.inner_text("#api-key-secret").strip()
    wait_text(page, ".api-key-name", "ERP sync")
    page.screenshot(path=str(screenshots / "settings-api-keys-1280.png"), full_page=True)

    headers = {"Authorization": f"Bearer {key}"}
    created = httpx.post(
        f"{base}/api/v1/products", json={"handle": "kopi", "title": "Kopi"}, headers=headers
    )
    listed = httpx.get(f"{base}/api/v1/products", headers=headers)
    orders = httpx.get(f"{base}/api/v1/orders", headers=headers)  # not in its scopes

    assert key.startswith("ssk_")
    assert created.status_code == 201, created.text
    assert [p["handle"] for p in listed.json()["items"]] == ["kopi"]
    assert (orders.status_code, orders.json()["code"]) == (403, "scope_missing")

    page.goto(f"{base}/products")  # the product made through the API is on the page
    wait_text(page, "body", "Kopi")
    page.goto(f"{base}/settings")
    page.wait_for_selector(".api-key-revoke")
    assert page.query_selector("#api-key-secret") is None  # shown once: gone after a reload
    page.click(".api-key-revoke")
    page.wait_for_selector(".api-key-revoked")

    refused = httpx.get(f"{base}/api/v1/products", headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")

    page.fill("#webhook-url", "https://erp.example.com/storesync")
    page.fill("#webhook-events", "order.created stock.changed")
    page.click("#webhook-subscribe")
    page.wait_for_selector("#webhook-secret")
    assert page.inner_text("#webhook-secret").startswith("whsec_")
    wait_text(page, ".webhook-row", "order.created, stock.changed")
    page.screenshot(path=str(screenshots / "settings-webhooks-1280.png"), full_page=True)

    page.set_viewport_size({"width": 375, "height": 900})
    page.reload()
    page.wait_for_selector("#api-keys")
    page.screenshot(path=str(screenshots / "settings-api-keys-375.png"), full_page=True)
    assert no_horizontal_scroll(page)


def test_the_api_docs_and_document_are_served_on_the_app_port(running_app: str) -> None:
    document = httpx.get(f"{running_app}/api/v1/openapi.json")
    docs = httpx.get(f"{running_app}/api/v1/docs")
    anonymous = httpx.get(f"{running_app}/api/v1/products")

    assert document.status_code == 200 and document.json()["openapi"].startswith("3.1")
    assert docs.status_code == 200 and "/api/v1/products" in docs.text
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "invalid_api_key")
