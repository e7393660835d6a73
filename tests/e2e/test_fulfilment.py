"""The day's shipping work in the browser, against the sandbox marketplaces: three orders from
two stores arranged in one bulk action (pickup on one store, drop-off on the other), their
labels printed as one PDF (a page per order, each with its tracking number), a pick list whose
totals match the orders, and the sandbox showing each order handed to its carrier with that
tracking number. Cancelling from StoreSync cancels on the marketplace and releases the stock; a
refusal (the parcel already left) shows the platform's message and changes nothing.
Screenshots of the to-ship workflow at 375 px and 1280 px go to artifacts/screenshots/.

The sandbox has one shop per platform, and a shop belongs to one organization: this module
gives the sandbox a second shop per platform for its own organization, and puts the sandbox back
as it was afterwards (the merchant journey connects the first shops)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from tests.e2e.browsing import (
    connect_shop,
    new_page,
    no_horizontal_scroll,
    open_page,
    reset_sandbox,
    sandbox_control,
    sign_in,
    sign_up,
    wait_text,
)
from tests.e2e.conftest import sandbox_http

pytestmark = pytest.mark.browser

PASSWORD = "fulfil-pass-1"
PLATFORMS = ("shopee", "tiktok")
ARRANGED = {"shopee": "PROCESSED", "tiktok": "AWAITING_COLLECTION"}
SHIPPED = {"shopee": "SHIPPED", "tiktok": "IN_TRANSIT"}


@dataclass(frozen=True)
class Merchant:
    email: str
    shops: dict[str, str]  # platform → the sandbox shop id connected
    skus: list[str]  # SKUs both shops list, with stock to spare


def _listings(base: str, platform: str, shop_id: str) -> dict[str, int]:
    rows = sandbox_http.get(
        f"{sandbox_control(base)}/listings", params={"platform": platform, "shop_id": shop_id}
    ).json()
    return {row["sku"]: int(row["stock"]) for row in rows if row["sku"]}


@contextmanager
def connected_merchant(base: str, browser: Any, number: int) -> Iterator[Merchant]:
    """A new organization with the sandbox's `number`th Shopee and TikTok shops connected and
    their products imported (each module that needs one takes its own shops: a shop belongs to
    one organization); the sandbox is put back to one shop per platform afterwards."""
    reset_sandbox(base, number)
    try:
        shops = {
            s["platform"]: s["shop_id"]
            for s in sandbox_http.get(f"{sandbox_control(base)}/shops").json()
            if s["name"].endswith(f" {number}")
        }
        stock = {p: _listings(base, p, shops[p]) for p in PLATFORMS}
        skus = sorted(
            s for s, n in stock["shopee"].items() if n > 5 and stock["tiktok"].get(s, 0) > 5
        )
        tag = uuid.uuid4().hex[:8]
        email = f"fulfil-{tag}@journey.test"
        page = new_page(browser)
        sign_up(page, base, f"Fulfil {tag}", email, PASSWORD)
        open_page(page, base, "/stores", "Stores")
        for platform in PLATFORMS:
            connect_shop(page, platform, shops[platform])
        for platform in PLATFORMS:
            page.click(f".import-products[data-platform='{platform}']")
            wait_text(
                page, f".store-card[data-platform='{platform}'] .store-import", "succeeded", 60_000
            )
        page.context.close()
        yield Merchant(email, shops, skus[:2])
    finally:
        reset_sandbox(base, 1)


@pytest.fixture(scope="module")
def merchant(running_app: str, browser: Any) -> Iterator[Merchant]:
    """An organization with the sandbox's second Shopee and TikTok shops connected."""
    with connected_merchant(running_app, browser, 2) as connected:
        yield connected


def _place(base: str, platform: str, shop_id: str, lines: list[tuple[str, int]]) -> str:
    answer = sandbox_http.post(
        f"{sandbox_control(base)}/orders",
        json={
            "platform": platform,
            "shop_id": shop_id,
            "lines": [{"sku": sku, "quantity": n} for sku, n in lines],
        },
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


def _sandbox_order(base: str, platform: str, order_id: str) -> dict[str, Any]:
    answer = sandbox_http.get(
        f"{sandbox_control(base)}/orders/{order_id}", params={"platform": platform}
    )
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def _row(page: Any, number: str) -> Any:
    return page.locator(".order-row", has_text=number)


def _show_tab(page: Any, tab: str) -> None:
    page.click(f"#tab-{tab}")
    page.wait_for_function(
        "t => document.querySelector('#tab-' + t)?.getAttribute('aria-selected') === 'true'",
        arg=tab,
    )


def _pick(page: Any, trigger: str, option: str) -> None:
    """Choose `option` in a Radix select opened by clicking `trigger`."""
    page.click(trigger)
    page.get_by_role("option", name=option, exact=True).click()


def _pages(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def _download(page: Any, selector: str) -> bytes:
    with page.expect_download() as caught:
        page.click(selector)
    return Path(caught.value.path()).read_bytes()


def _screens(page: Any, folder: Path, name: str) -> None:
    width = page.viewport_size["width"]
    page.wait_for_timeout(300)  # fonts and the dialog's animation settle
    page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    assert no_horizontal_scroll(page), f"{name} scrolls sideways at {width} px"


def test_three_orders_of_two_stores_are_arranged_printed_and_picked_in_bulk(
    running_app: str, browser: Any, merchant: Merchant, screenshots: Path
) -> None:
    base = running_app
    first, second = merchant.skus
    # Given two orders on Shopee and one on TikTok.
    lines = {
        "shopee-1": [(first, 1), (second, 2)],
        "shopee-2": [(first, 1)],
        "tiktok-1": [(first, 2)],
    }
    placed = {
        key: _place(base, key.split("-")[0], merchant.shops[key.split("-")[0]], order_lines)
        for key, order_lines in lines.items()
    }
    platform_of = {placed[key]: key.split("-")[0] for key in placed}

    page = new_page(browser)
    sign_in(page, base, merchant.email, PASSWORD)
    open_page(page, base, "/orders", "Orders")
    _show_tab(page, "to_arrange")
    for number in placed.values():
        wait_text(page, ".order-row", number, timeout=15_000)
    wait_text(page, "#tab-to_arrange .tab-count", "3")
    brief = {key: _row(page, placed[key]).locator(".order-items").inner_text() for key in placed}
    assert brief == {
        "shopee-1": f"3 items · {first} +1",
        "shopee-2": f"{first} x1",
        "tiktok-1": f"{first} x2",
    }
    _screens(page, screenshots, "to-ship-to-arrange")

    # When the three are arranged in one action: pickup for Shopee, drop-off for TikTok.
    for number in placed.values():
        _row(page, number).locator(".order-select").click()
    wait_text(page, "#bulk-count", "3 selected")
    page.click("#bulk-arrange")
    page.wait_for_selector(".arrange-group[data-platform='shopee'] .arrange-method")
    page.wait_for_selector(".arrange-group[data-platform='tiktok'] .arrange-method")
    shopee = page.locator(".arrange-group[data-platform='shopee']")
    tiktok = page.locator(".arrange-group[data-platform='tiktok']")
    assert shopee.locator(".arrange-count").inner_text() == "2 orders"
    assert tiktok.locator(".arrange-count").inner_text() == "1 order"
    shopee.locator(".method-pickup").click()
    first_slot = _first_slot(page, shopee)
    if tiktok.locator(".method-dropoff").count():
        tiktok.locator(".method-dropoff").click()
        tiktok_method = "dropoff"
    else:
        tiktok.locator(".method-pickup").click()
        _first_slot(page, tiktok)
        tiktok_method = "pickup"
    assert first_slot
    _screens(page, screenshots, "to-ship-arrange-dialog")
    page.click("#arrange-submit")

    # Then each order gets its tracking number from its platform, live.
    page.wait_for_function(
        "() => document.querySelectorAll('#arrange-results .arrange-result').length === 3",
        timeout=60_000,
    )
    results = {
        row.get_attribute("data-number"): row for row in page.locator(".arrange-result").all()
    }
    assert set(results) == set(placed.values())
    tracking: dict[str, str] = {}
    for number, row in results.items():
        assert row.get_attribute("data-ok") == "yes", row.inner_text()
        tracking[number] = row.locator(".result-detail").inner_text().strip()
        assert tracking[number], f"{number} has no tracking number"
    assert len(set(tracking.values())) == 3
    _screens(page, screenshots, "to-ship-arrange-results")
    page.click("#arrange-close")
    page.wait_for_selector("#arrange-dialog", state="detached")
    wait_text(page, "#tab-to_print .tab-count", "3")
    _show_tab(page, "to_print")
    for number, code in tracking.items():
        wait_text(page, ".order-row", number)
        assert code in _row(page, number).locator(".order-tracking").inner_text()
    _screens(page, screenshots, "to-ship-to-print")

    # The sandbox has each order handed to its carrier, with the same tracking number.
    for number, code in tracking.items():
        platform = platform_of[number]
        order = _sandbox_order(base, platform, number)
        assert order["status"] == ARRANGED[platform]
        assert order["tracking_number"] == code
    assert tiktok_method in ("dropoff", "pickup")

    # The labels print as one PDF: a page per order, each with its own tracking number.
    labels = _pages(_download(page, "#bulk-labels"))
    wait_text(page, "[data-sonner-toast]", "3 labels printed (3 pages)")
    assert len(labels) == 3
    for code in tracking.values():
        assert sum(code in text for text in labels) == 1
    wait_text(page, "#tab-to_hand_over .tab-count", "3")
    assert page.locator("#print-failures").count() == 0

    # The pick list totals every SKU across the three orders.
    picked = "\n".join(_pages(_download(page, "#bulk-pick-list")))
    assert _picked(picked, first) == (1 + 1 + 2, 3)  # quantity, orders
    assert _picked(picked, second) == (2, 1)
    assert _total(picked, "Total, all locations") == 6
    assert "3 orders  ·  2 lines  ·  6 units" in picked
    slips = _pages(_download(page, "#bulk-packing-slips"))
    assert len(slips) == 3
    for number in placed.values():
        assert sum(number in text for text in slips) == 1

    _show_tab(page, "to_hand_over")
    for number in placed.values():
        wait_text(page, ".order-row", number)
    _screens(page, screenshots, "to-ship-to-hand-over")

    # The CSV export holds what the tab shows: the three orders, with their tracking numbers.
    assert page.get_attribute("#export-csv", "href") == "/exports/orders.csv?stage=to_hand_over"
    exported = csv.DictReader(io.StringIO(_download(page, "#export-csv").decode("utf-8-sig")))
    assert {
        row["order_number"] or row["platform_order_id"]: row["tracking_number"] for row in exported
    } == tracking
    page.context.close()

    # The same workflow on a phone: tabs, the bulk bar and the arrange dialog fit.
    phone = new_page(browser, 375)
    sign_in(phone, base, merchant.email, PASSWORD)
    open_page(phone, base, "/orders", "Orders")
    _show_tab(phone, "to_hand_over")
    for number in placed.values():
        wait_text(phone, ".order-row", number)
    phone.click("#select-page")
    wait_text(phone, "#bulk-count", "3 selected")
    _screens(phone, screenshots, "to-ship-to-hand-over")
    extra = _place(base, "shopee", merchant.shops["shopee"], [(second, 1)])
    _show_tab(phone, "to_arrange")
    wait_text(phone, ".order-row", extra, timeout=15_000)
    _screens(phone, screenshots, "to-ship-to-arrange")
    _row(phone, extra).locator(".order-select").click()
    phone.click("#bulk-arrange")
    phone.wait_for_selector(".arrange-group[data-platform='shopee'] .arrange-method")
    _screens(phone, screenshots, "to-ship-arrange-dialog")
    phone.click("#arrange-submit")
    phone.wait_for_selector(".arrange-result", timeout=60_000)
    _screens(phone, screenshots, "to-ship-arrange-results")
    phone.click("#arrange-close")
    phone.wait_for_selector("#arrange-dialog", state="detached")
    _show_tab(phone, "to_print")
    wait_text(phone, ".order-row", extra)
    _open_detail(phone, extra)
    wait_text(phone, "#detail-stage", "to print")
    _screens(phone, screenshots, "to-ship-order-detail")
    phone.context.close()


def _first_slot(page: Any, group: Any) -> str:
    """The store's pickup: its first address and the first slot offered (chosen explicitly)."""
    group.locator(".arrange-slot").click()
    options = page.get_by_role("option")
    label = options.first.inner_text().strip()
    options.first.click()
    assert group.locator(".arrange-slot").inner_text().strip() == label
    return label


def _picked(text: str, sku: str) -> tuple[int, int]:
    """The quantity and the number of orders on the pick list's line of `sku` (pypdf reads the
    columns one to a line: SKU, product, quantity, orders)."""
    lines = [line.strip() for line in text.splitlines()]
    assert sku in lines, f"{sku} not on the pick list:\n{text}"
    at = lines.index(sku)
    return int(lines[at + 2]), int(lines[at + 3])


def _total(text: str, heading: str) -> int:
    lines = [line.strip() for line in text.splitlines()]
    return int(lines[lines.index(heading) + 1])


def _available(page: Any, base: str, sku: str) -> int:
    """The SKU's available units as the Inventory page shows them now. The tab's state outlives
    a reload, so the rows of an earlier search are on screen at first: a search that matches
    nothing is answered first, then the SKU's, so its row is read fresh."""
    open_page(page, base, "/inventory", "Inventory")
    page.fill("#stock-search", "no-such-sku-anywhere")
    page.press("#stock-search", "Enter")
    page.wait_for_function("() => document.querySelectorAll('.stock-row').length === 0")
    page.fill("#stock-search", sku)
    page.press("#stock-search", "Enter")
    page.wait_for_function(
        "s => [...document.querySelectorAll('.stock-row')].length > 0 && "
        "[...document.querySelectorAll('.stock-row')].every(e => e.dataset.sku === s)",
        arg=sku,
    )
    text = page.inner_text(f".stock-row[data-sku='{sku}'] .stock-available")
    return int(text.split()[-1])


def _open_detail(page: Any, number: str) -> None:
    _row(page, number).locator(".order-number").click()
    wait_text(page, "#detail-number", number)


def test_cancelling_cancels_on_the_marketplace_and_a_refusal_changes_nothing(
    running_app: str, browser: Any, merchant: Merchant, screenshots: Path
) -> None:
    base = running_app
    first, second = merchant.skus
    page = new_page(browser)
    sign_in(page, base, merchant.email, PASSWORD)
    before = _available(page, base, second)

    # Given an order waiting to ship: it holds one unit.
    number = _place(base, "tiktok", merchant.shops["tiktok"], [(second, 1)])
    open_page(page, base, "/orders", "Orders")
    wait_text(page, ".order-row", number, timeout=15_000)
    assert _available(page, base, second) == before - 1

    # When the merchant cancels it from its detail, with a reason the platform accepts.
    open_page(page, base, "/orders", "Orders")
    wait_text(page, ".order-row", number)
    _open_detail(page, number)
    wait_text(page, ".detail-item-stock", "reserved")
    page.click("#detail-cancel")
    page.wait_for_selector("#cancel-dialog")
    assert page.is_disabled("#cancel-submit")  # no reason chosen yet
    _pick(page, "#cancel-reason", "The buyer asked to cancel")
    page.click("#cancel-submit")
    wait_text(page, ".cancel-result", number)
    result = page.locator(".cancel-result")
    assert result.get_attribute("data-ok") == "yes"
    assert result.locator(".result-detail").inner_text() == "cancelled"

    # Then the sandbox has it cancelled, StoreSync too, and the unit is free again.
    assert _sandbox_order(base, "tiktok", number)["status"] == "CANCELLED"
    page.click("#cancel-close")
    wait_text(page, "#detail-number", number)  # the detail comes back
    wait_text(page, "#detail-status", "cancelled")
    wait_text(page, ".detail-item-stock", "released")
    assert page.locator("#detail-cancel").count() == 0
    page.keyboard.press("Escape")
    page.wait_for_selector("#order-detail", state="detached")
    assert _available(page, base, second) == before

    # Given a Shopee order arranged and picked up by the courier (the parcel has left).
    shipped = _place(base, "shopee", merchant.shops["shopee"], [(first, 1)])
    open_page(page, base, "/orders", "Orders")
    wait_text(page, ".order-row", shipped, timeout=15_000)
    _open_detail(page, shipped)
    page.click("#detail-arrange")
    page.wait_for_selector(".arrange-group[data-platform='shopee'] .arrange-method")
    page.locator(".arrange-group .method-pickup").click()
    page.click("#arrange-submit")
    page.wait_for_selector(".arrange-result[data-ok='yes']", timeout=60_000)
    page.click("#arrange-close")
    wait_text(page, "#detail-number", shipped)
    wait_text(page, "#detail-stage", "to print")
    _screens(page, screenshots, "to-ship-order-detail")
    # The courier's pickup reaches StoreSync late: its push is held back for now.
    _push(base, "shopee", on=False)
    try:
        sandbox_http.post(
            f"{sandbox_control(base)}/orders/advance",
            json={"platform": "shopee", "order_id": shipped},
        ).raise_for_status()
        assert _sandbox_order(base, "shopee", shipped)["status"] == "SHIPPED"
        _refused(page, base, shipped, screenshots)
    finally:
        _push(base, "shopee", on=True)
    page.context.close()


def _push(base: str, platform: str, *, on: bool) -> None:
    url = f"{base}/webhooks/{platform}" if on else ""
    sandbox_http.post(
        f"{sandbox_control(base)}/webhooks", json={"platform": platform, "url": url}
    ).raise_for_status()


def _refused(page: Any, base: str, shipped: str, screenshots: Path) -> None:
    status_before = page.inner_text("#detail-status")
    timeline_before = page.locator(".timeline-event").count()

    # When the merchant cancels it anyway, the platform refuses with its own message.
    page.click("#detail-cancel")
    _pick(page, "#cancel-reason", "Out of stock")
    page.click("#cancel-submit")
    wait_text(page, ".cancel-result", shipped)
    refusal = page.locator(".cancel-result")
    assert refusal.get_attribute("data-ok") == ""
    message = refusal.locator(".result-detail").inner_text()
    assert message == "Shopee /api/v2/order/cancel_order: Can not cancel this order"
    wait_text(page, "[data-sonner-toast]", f"0 cancelled, 1 refused: {message}")
    _screens(page, screenshots, "to-ship-cancel-refused")

    # Then nothing changed in StoreSync or on the marketplace.
    page.click("#cancel-close")
    wait_text(page, "#detail-number", shipped)
    assert page.inner_text("#detail-status") == status_before == "to ship"
    assert page.locator(".timeline-event").count() == timeline_before
    assert _sandbox_order(base, "shopee", shipped)["status"] == "SHIPPED"


def test_a_completed_return_is_restocked_by_the_merchant(
    running_app: str, browser: Any, merchant: Merchant, screenshots: Path
) -> None:
    base = running_app
    first, _ = merchant.skus
    page = new_page(browser)
    sign_in(page, base, merchant.email, PASSWORD)

    # Given a TikTok order shipped (arranged, collected) whose buyer sent it back.
    number = _place(base, "tiktok", merchant.shops["tiktok"], [(first, 1)])
    open_page(page, base, "/orders", "Orders")
    wait_text(page, ".order-row", number, timeout=15_000)
    _open_detail(page, number)
    page.click("#detail-arrange")
    page.wait_for_selector(".arrange-group[data-platform='tiktok'] .arrange-method")
    page.click("#arrange-submit")  # as the platform suggests
    page.wait_for_selector(".arrange-result[data-ok='yes']", timeout=60_000)
    page.click("#arrange-close")
    wait_text(page, "#detail-stage", "to print")
    sandbox_http.post(
        f"{sandbox_control(base)}/orders/advance", json={"platform": "tiktok", "order_id": number}
    ).raise_for_status()
    wait_text(page, "#detail-status", "shipped", timeout=15_000)
    page.keyboard.press("Escape")
    shipped = _available(page, base, first)
    found = sandbox_http.post(
        f"{sandbox_control(base)}/returns", json={"platform": "tiktok", "order_id": number}
    ).json()
    for stage in ("accepted", "completed"):
        sandbox_http.post(
            f"{sandbox_control(base)}/returns/stage",
            json={"platform": "tiktok", "return_id": found["id"], "stage": stage},
        ).raise_for_status()

    # When it reaches the Returns tab and the merchant restocks it.
    open_page(page, base, "/orders", "Orders")
    _show_tab(page, "returns")
    row = page.locator(".return-row", has_text=number)
    page.wait_for_function(
        "n => [...document.querySelectorAll('.return-row')].some("
        "r => r.innerText.includes(n) && r.querySelector('.return-restock'))",
        arg=number,
        timeout=20_000,
    )
    assert row.locator(".return-state").inner_text() == "completed"
    assert row.locator(".return-lines").inner_text() == f"{first} x1"
    wait_text(page, "#tab-returns .tab-count", "1")
    _screens(page, screenshots, "to-ship-returns")
    row.locator(".return-restock").click()

    # Then the unit is back on hand, once: the decision is recorded and offered no more.
    wait_text(page, "[data-sonner-toast]", f"restocked: {first} x1")
    wait_text(page, ".return-row .return-resolution", "restocked")
    assert row.locator(".return-restock").count() == 0
    wait_text(page, "#tab-returns .tab-count", "0")
    assert _available(page, base, first) == shipped + 1
    page.context.close()
