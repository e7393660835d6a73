"""What a new merchant trips over (issue 18): dialogs that close with Escape and a click outside
and do not come back after a reload, a bulk cancel that asks first and names the count, an
orders list that shows what each order holds with labelled filters and nothing overlapping on a
phone, labelled organization settings with a time zone picked from a list, and sign-in that
returns to the page that asked for it.

The orders come from the sandbox marketplaces, through an organization of its own with the
sandbox's fourth shops connected and their products imported."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from tests.e2e.browsing import new_page, open_page, sign_in, wait_text
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_fulfilment import (  # merchant: its module fixture, shared
    PASSWORD,
    Merchant,
    _first_slot,
    _place,
    _row,
    _sandbox_order,
    connected_merchant,
)
from tests.e2e.walk import Listener, assert_accessible

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def merchant(running_app: str, browser: Any) -> Iterator[Merchant]:
    """An organization with the sandbox's fourth Shopee and TikTok shops connected (the journey,
    the fulfilment and the store health tests hold the first three)."""
    with connected_merchant(running_app, browser, 4) as connected:
        yield connected


def _closed(page: Any, dialog: str) -> None:
    page.wait_for_selector(dialog, state="hidden", timeout=10_000)


def _click_outside(page: Any) -> None:
    """A click on the overlay, far from the dialog (the top-left corner)."""
    page.mouse.click(4, 4)


def _check_dialog(page: Any, base: str, path: str, title: str, open_it: Any, dialog: str) -> None:
    """It passes the accessibility check; Escape closes it; a click outside closes it; a reload
    opens the page with it closed."""
    open_it()
    page.wait_for_selector(dialog)
    assert_accessible(page, f"{dialog} on {path}")
    page.keyboard.press("Escape")
    _closed(page, dialog)

    open_it()
    page.wait_for_selector(dialog)
    _click_outside(page)
    _closed(page, dialog)

    open_it()
    page.wait_for_selector(dialog)
    page.reload()
    page.wait_for_function("t => document.querySelector('#page-title')?.innerText === t", arg=title)
    page.wait_for_load_state("networkidle")
    _closed(page, dialog)
    page.wait_for_timeout(500)  # a late state update would bring it back now
    assert page.locator(dialog).count() == 0, f"{dialog} came back after a reload of {path}"


def test_dialogs_close_with_escape_a_click_outside_and_a_reload(
    running_app: str, browser: Any, merchant: Merchant
) -> None:
    base = running_app
    sku = merchant.skus[0]
    page = new_page(browser)
    sign_in(page, base, merchant.email, PASSWORD)
    number = _place(base, "shopee", merchant.shops["shopee"], [(sku, 1)])
    open_page(page, base, "/orders", "Orders")
    wait_text(page, ".order-row", number, timeout=15_000)

    def open_detail() -> None:
        _row(page, number).locator(".order-number").click()
        wait_text(page, "#detail-number", number)

    assert_accessible(page, "/orders with an order")
    open_detail()
    assert_accessible(page, "the order detail")
    page.keyboard.press("Escape")
    _closed(page, "#order-detail")

    _check_dialog(page, base, "/orders", "Orders", open_detail, "#order-detail")

    open_page(page, base, "/inventory", "Inventory")
    stock_row = page.locator(".stock-row").first
    stock_row.wait_for()

    def open_adjust() -> None:
        page.locator(".stock-row").first.locator(".adjust-stock").click()

    def open_history() -> None:
        page.locator(".stock-row").first.locator(".stock-history").click()

    assert_accessible(page, "/inventory with stock")
    open_adjust()
    page.wait_for_selector("#adjust-dialog")
    assert_accessible(page, "the adjust dialog")
    page.keyboard.press("Escape")
    _closed(page, "#adjust-dialog")
    _check_dialog(page, base, "/inventory", "Inventory", open_adjust, "#adjust-dialog")
    _check_dialog(page, base, "/inventory", "Inventory", open_history, "#history-dialog")


def test_a_bulk_cancel_asks_first_naming_the_count_and_keeping_changes_nothing(
    running_app: str, browser: Any, merchant: Merchant
) -> None:
    base = running_app
    sku = merchant.skus[0]
    page = new_page(browser)
    sign_in(page, base, merchant.email, PASSWORD)

    # Given three orders waiting to ship, ticked.
    numbers = [_place(base, "tiktok", merchant.shops["tiktok"], [(sku, 1)]) for _ in range(3)]
    open_page(page, base, "/orders", "Orders")
    for number in numbers:
        wait_text(page, ".order-row", number, timeout=15_000)
    before = {n: _row(page, n).locator(".order-status").inner_text() for n in numbers}
    sandbox_before = {n: _sandbox_order(base, "tiktok", n)["status"] for n in numbers}
    for number in numbers:
        _row(page, number).locator(".order-select").click()
    wait_text(page, "#bulk-count", "3 selected")

    # When the merchant asks to cancel them, the dialog asks first, naming how many.
    for close in ("#cancel-keep", "Escape"):
        page.click("#bulk-cancel")
        page.wait_for_selector("#cancel-dialog")
        wait_text(page, "#cancel-title", "Cancel 3 orders?")
        assert page.is_disabled("#cancel-submit")  # nothing runs before a reason and a click
        if close == "Escape":
            page.keyboard.press("Escape")
        else:
            page.click(close)
        _closed(page, "#cancel-dialog")

    # Then keeping them changed nothing, here or on the marketplace.
    page.reload()
    for number in numbers:
        wait_text(page, ".order-row", number)
    after = {n: _row(page, n).locator(".order-status").inner_text() for n in numbers}
    assert after == before
    assert all(status.lower() == "to ship" for status in after.values()), after
    assert {n: _sandbox_order(base, "tiktok", n)["status"] for n in numbers} == sandbox_before


def _intersect(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_the_orders_list_shows_items_labelled_filters_and_no_overlap_on_a_phone(
    running_app: str, browser: Any, merchant: Merchant
) -> None:
    base = running_app
    first, second = merchant.skus
    page = new_page(browser, width=375)
    sign_in(page, base, merchant.email, PASSWORD)
    _give_picture(page, base, first)
    number = _place(base, "shopee", merchant.shops["shopee"], [(first, 1), (second, 2)])
    open_page(page, base, "/orders", "Orders")
    wait_text(page, ".order-row", number, timeout=15_000)

    # Each order's first items: the first one's picture, SKUs and quantities.
    lines = _row(page, number).locator(".order-lines").inner_text()
    assert lines == f"{first} x1 · {second} x2"
    thumb = f".order-row[data-order-id='{_row(page, number).get_attribute('data-order-id')}']"
    page.wait_for_function(
        "s => document.querySelector(s)?.naturalWidth > 0", arg=f"{thumb} .order-thumb"
    )
    assert (page.get_attribute(f"{thumb} .order-thumb", "src") or "").startswith("/media/")
    page.screenshot(path=str(SCREENSHOTS / "orders-items-375.png"), full_page=True)

    # The channel badge and the amount never overlap at 375 px.
    rows = page.locator(".order-row")
    for i in range(rows.count()):
        channel = rows.nth(i).locator(".order-channel").bounding_box()
        total = rows.nth(i).locator(".order-total").bounding_box()
        assert channel and total
        assert not _intersect(channel, total), (i, channel, total)

    # Every filter says what it filters, visibly and to a screen reader.
    assert page.locator("label[for='filter-status']").inner_text() == "Status"
    assert page.locator("label[for='filter-platform']").inner_text() == "Channel"
    names = {
        page.get_attribute("#filter-status", "aria-label"),
        page.get_attribute("#filter-platform", "aria-label"),
    }
    assert names == {"Filter by status", "Filter by channel"}
    assert page.get_by_label("Filter by channel").count() == 1
    assert page.get_by_label("Search", exact=True).count() >= 1


def _give_picture(page: Any, base: str, sku: str) -> None:
    """An image for the product of `sku`, uploaded in the product editor."""
    open_page(page, base, "/products", "Products")
    page.fill("#product-search", sku)
    page.press("#product-search", "Enter")
    row = page.locator(".product-row", has_text=sku).first
    row.wait_for()
    row.locator(".edit-product").click()
    page.wait_for_selector("#product-form")
    picture = io.BytesIO()
    Image.new("RGB", (320, 240), "green").save(picture, format="PNG")
    page.set_input_files(
        "#product-image-upload input[type=file]",
        files=[{"name": "item.png", "mimeType": "image/png", "buffer": picture.getvalue()}],
    )
    page.wait_for_selector(".product-image")
    page.keyboard.press("Escape")
    page.wait_for_selector("#product-editor", state="detached")


def test_settings_label_the_organization_and_pick_the_time_zone_from_a_list(
    running_app: str, browser: Any, merchant: Merchant
) -> None:
    base = running_app
    page = new_page(browser)
    sign_in(page, base, merchant.email, PASSWORD)
    open_page(page, base, "/settings", "Settings")
    page.wait_for_selector("#org-timezone")

    assert page.locator("label[for='org-name-input']").inner_text() == "Organization name"
    assert page.locator("label[for='org-timezone']").inner_text() == "Time zone"
    assert page.get_by_label("Time zone").get_attribute("id") == "org-timezone"
    assert page.get_attribute("#org-timezone", "list") == "timezones"
    zones = page.eval_on_selector_all("#timezones option", "os => os.map(o => o.value)")
    assert len(zones) > 300 and "Asia/Jakarta" in zones and "Asia/Tokyo" in zones

    # A zone from the list is saved; one that is not is refused by the server. (Typed once the
    # organization is shown: its arrival redraws the form.)
    page.wait_for_function("document.querySelector('#org-timezone')?.value === 'Asia/Jakarta'")
    page.fill("#org-timezone", "Asia/Tokyo")
    page.click("#org-save")
    wait_text(page, "#settings-org-detail", "Asia/Tokyo")
    page.fill("#org-timezone", "Mars/Olympus")
    page.click("#org-save")
    page.wait_for_selector("[data-sonner-toast][data-type='error']", timeout=10_000)
    page.reload()
    page.wait_for_selector("#org-timezone")
    wait_text(page, "#settings-org-detail", "Asia/Tokyo")


def test_sign_in_returns_to_the_page_that_asked(
    running_app: str, browser: Any, merchant: Merchant
) -> None:
    base = running_app
    page = new_page(browser)
    page.goto(f"{base}/inventory")
    page.wait_for_url(re.compile(r".*/signin/?\?next=.*inventory.*"))
    page.wait_for_selector("#signin-submit")
    page.fill("#email", merchant.email)
    page.fill("#password", PASSWORD)
    page.click("#signin-submit")
    page.wait_for_function("document.querySelector('#page-title')?.innerText === 'Inventory'")
    assert re.search(r"/inventory/?$", page.url), page.url


def test_a_shipment_job_runs_with_a_clean_console(
    running_app: str, browser: Any, merchant: Merchant
) -> None:
    """The arrange dialog's progress bar gets a number: React warned "Invalid prop `value` of
    value `0` supplied to `Progress`" when it got the row's text."""
    base = running_app
    sku = merchant.skus[0]
    page = new_page(browser)
    listener = Listener(page)
    sign_in(page, base, merchant.email, PASSWORD)
    number = _place(base, "shopee", merchant.shops["shopee"], [(sku, 1)])
    open_page(page, base, "/orders", "Orders")
    wait_text(page, ".order-row", number, timeout=15_000)
    listener.where = "arranging a shipment"
    _row(page, number).locator(".order-select").click()
    page.click("#bulk-arrange")
    group = page.locator(".arrange-group[data-platform='shopee']")
    group.locator(".arrange-method").wait_for()
    group.locator(".method-pickup").click()
    _first_slot(page, group)
    assert_accessible(page, "the arrange dialog")
    page.click("#arrange-submit")
    page.wait_for_selector(".arrange-job")  # the job's progress is shown
    page.wait_for_selector("#arrange-results .arrange-result", timeout=60_000)
    assert page.locator(".arrange-result").get_attribute("data-ok") == "yes"
    assert not listener.problems, "\n".join(listener.problems)
