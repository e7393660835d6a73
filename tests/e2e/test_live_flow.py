"""The merchant's journey in the browser, live: sign up, connect both sandbox stores through
OAuth, import products, then an order placed on the Shopee sandbox appears in the inbox and on
the dashboard without a reload, is shipped through Shopee, and TikTok's stock follows. A second
browser of the organization sees the same; another organization's browser sees none of it; a
viewer cannot adjust stock, not even with an event crafted by hand. Screenshots of every page at
375 px and 1280 px go to artifacts/screenshots/."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from storesync.ui.relay import HOUSEKEEPING_SECONDS
from tests.e2e.browsing import (
    emailed_link,
    new_page,
    open_page,
    sandbox_control,
    search,
    sign_in,
    sign_up,
    wait_text,
)
from tests.e2e.conftest import sandbox_http

pytestmark = pytest.mark.browser

PASSWORD = "journey-pass-1"
PAGES = ("/", "/products", "/orders", "/stores", "/listings", "/inventory", "/sync", "/settings")
STATE = "reflex___state____state.storesync___ui___state___auth____auth_state."
PAGE_STATE = STATE + "storesync___ui___state___page____page_state."


def _connect(page: Any, platform: str) -> None:
    page.click(f"#connect-{platform}")
    page.wait_for_selector("#authorize")  # the sandbox's consent page
    page.click("#authorize")
    page.wait_for_url("**/stores/?connected=*")
    page.wait_for_selector(f".store-card[data-platform='{platform}']")


def _shared_sku(base: str) -> tuple[str, dict[str, str]]:
    """A SKU both sandbox shops list with stock to spare, and each platform's shop id."""
    shops = {
        s["platform"]: s["shop_id"]
        for s in sandbox_http.get(f"{sandbox_control(base)}/shops").json()
    }
    stock = {
        p: {
            row["sku"]: row["stock"]
            for row in sandbox_http.get(
                f"{sandbox_control(base)}/listings", params={"platform": p, "shop_id": shops[p]}
            ).json()
        }
        for p in shops
    }
    both = sorted(s for s in stock["shopee"] if stock["tiktok"].get(s, 0) > 3 and s)
    return both[0], shops


def _tiktok_stock(base: str, shop_id: str, sku: str) -> int:
    rows = sandbox_http.get(
        f"{sandbox_control(base)}/listings", params={"platform": "tiktok", "shop_id": shop_id}
    ).json()
    return int(next(r["stock"] for r in rows if r["sku"] == sku))


def _settled_tiktok_stock(base: str, shop_id: str, sku: str, quiet: float = 1.5) -> int:
    """TikTok's stock for `sku` once StoreSync's pushes after the import have stopped moving it."""
    value, since, deadline = _tiktok_stock(base, shop_id, sku), time.monotonic(), time.time() + 30
    while time.time() < deadline:
        time.sleep(0.2)
        now = _tiktok_stock(base, shop_id, sku)
        if now != value:
            value, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return value
    return value


def _review_a_listing(page: Any, base: str, sku: str) -> None:
    """Unlink one of the SKU's listings, find it in the unmatched queue, link it back by SKU."""
    open_page(page, base, "/listings", "Listings")
    for status in ("matched", "unmatched"):
        page.click("#listing-status")
        page.get_by_role("option", name=status, exact=True).click()
        search(page, "#listing-search", sku, f".listing-row[data-status='{status}']")
        row = page.locator(f".listing-row[data-sku='{sku}']").first
        if status == "matched":
            row.locator(".unlink-listing").click()
            wait_text(page, "[data-sonner-toast]", "unlinked")
    row.locator("input[name='sku']").fill(sku)
    row.locator("input[name='sku']").press("Enter")
    wait_text(page, "[data-sonner-toast]", f"linked to {sku}")


def _channel_stock(base: str, platform: str, shop_id: str, sku: str) -> int:
    rows = sandbox_http.get(
        f"{sandbox_control(base)}/listings", params={"platform": platform, "shop_id": shop_id}
    ).json()
    return int(next(r["stock"] for r in rows if r["sku"] == sku))


def _wait_for_channel_stock(base: str, platform: str, shop_id: str, sku: str, want: int) -> None:
    deadline = time.time() + 15
    while _channel_stock(base, platform, shop_id, sku) != want and time.time() < deadline:
        time.sleep(0.1)
    assert _channel_stock(base, platform, shop_id, sku) == want


def _sell_everywhere_at_once(base: str, shops: dict[str, str], sku: str) -> list[str]:
    """The last unit sells on Shopee and, before StoreSync's push reaches it (TikTok's API is
    slowed down for the moment), on TikTok too."""
    faults = f"{sandbox_control(base)}/faults"
    sandbox_http.post(faults, json={"platform": "tiktok", "latency_ms": 2000}).raise_for_status()
    placed = []
    try:
        for platform in ("shopee", "tiktok"):
            answer = sandbox_http.post(
                f"{sandbox_control(base)}/orders",
                json={
                    "platform": platform,
                    "shop_id": shops[platform],
                    "lines": [{"sku": sku, "quantity": 1}],
                },
            )
            answer.raise_for_status()
            placed.append(str(answer.json()["id"]))
    finally:
        sandbox_http.post(faults, json={"platform": "tiktok", "latency_ms": 0}).raise_for_status()
    return placed


def _craft(page: Any, name: str, payload: dict[str, Any], path: str) -> str:
    """A socket.io frame for a Reflex event the page has no button for."""
    event = {"name": name, "payload": payload, "router_data": {"pathname": path, "asPath": path}}
    return "42/_event," + json.dumps(["event", event])


def test_the_merchant_journey_is_live_and_stays_inside_the_organization(
    running_app: str, browser: Any, screenshots: Path
) -> None:
    base = running_app
    tag = uuid.uuid4().hex[:8]
    owner = f"owner-{tag}@journey.test"

    # Sign up, connect both sandbox stores through OAuth, import their products.
    page = new_page(browser)
    sign_up(page, base, f"Journey {tag}", owner, PASSWORD)
    open_page(page, base, "/stores", "Stores")
    _connect(page, "shopee")
    _connect(page, "tiktok")
    for platform in ("shopee", "tiktok"):
        page.click(f".import-products[data-platform='{platform}']")
        wait_text(page, f".store-card[data-platform='{platform}'] .store-import", "succeeded")
    sku, shops = _shared_sku(base)
    _review_a_listing(page, base, sku)
    before = _settled_tiktok_stock(base, shops["tiktok"], sku)

    # Watchers: the inbox and the dashboard of this organization (a second browser too), and
    # another organization's inbox.
    open_page(page, base, "/orders", "Orders")
    page.evaluate("window.__noReload = true")
    dashboard = page.context.new_page()
    open_page(dashboard, base, "/", "Dashboard")
    colleague = new_page(browser)
    sign_in(colleague, base, owner, PASSWORD)
    open_page(colleague, base, "/orders", "Orders")
    stranger = new_page(browser)
    sign_up(stranger, base, f"Other {tag}", f"other-{tag}@journey.test", PASSWORD)
    open_page(stranger, base, "/orders", "Orders")
    stranger.evaluate("window.__noReload = true")

    order = sandbox_http.post(
        f"{sandbox_control(base)}/orders",
        json={
            "platform": "shopee",
            "shop_id": shops["shopee"],
            "lines": [{"sku": sku, "quantity": 1}],
        },
    ).json()
    placed = time.monotonic()
    wait_text(page, ".order-row", order["id"], timeout=10_000)
    seen_after = time.monotonic() - placed
    wait_text(colleague, ".order-row", order["id"], timeout=10_000)
    wait_text(dashboard, "#activity-feed", order["id"], timeout=10_000)
    dashboard.wait_for_function("document.querySelector('#kpi-orders_today')?.innerText === '1'")
    print(f"order {order['id']} shown in the inbox {seen_after * 1000:.0f} ms after it was placed")
    assert page.evaluate("window.__noReload === true")  # live, not reloaded

    # TikTok's stock follows the sale.
    deadline = time.time() + 10
    while _tiktok_stock(base, shops["tiktok"], sku) != before - 1 and time.time() < deadline:
        time.sleep(0.1)
    assert _tiktok_stock(base, shops["tiktok"], sku) == before - 1

    # Fulfil it through Shopee: the shipment is arranged (the platform's first offer), the
    # courier picks it up, and every browser of the organization sees it shipped; TikTok keeps
    # the sale.
    page.locator(".order-row", has_text=order["id"]).click()
    page.click("#detail-arrange")
    page.wait_for_selector(".arrange-group[data-platform='shopee'] .arrange-method")
    page.click("#arrange-submit")
    page.wait_for_selector(".arrange-result[data-ok='yes']", timeout=30_000)
    page.click("#arrange-close")
    wait_text(page, "#detail-stage", "to print")
    sandbox_http.post(
        f"{sandbox_control(base)}/orders/advance",
        json={"platform": "shopee", "order_id": order["id"]},
    ).raise_for_status()
    wait_text(page, "#detail-status", "shipped", timeout=10_000)
    wait_text(colleague, ".order-row", "shipped", timeout=10_000)
    page.click("#detail-close")
    time.sleep(1)
    assert _tiktok_stock(base, shops["tiktok"], sku) == before - 1

    # The other organization saw nothing, and was not reloaded to hide it.
    assert stranger.evaluate("window.__noReload === true")
    assert order["id"] not in stranger.inner_text("body")
    assert stranger.is_visible("#orders-empty")

    # The last unit sells on both channels at once: one sale is an oversell, and the open page
    # hears of it (alert and bell) without a reload. The stock is set through the UI first.
    open_page(page, base, "/inventory", "Inventory")
    search(page, "#stock-search", sku, ".stock-row")
    row = f".stock-row[data-sku='{sku}']"
    available = int(page.inner_text(f"{row} .stock-available").split()[-1])
    page.click(f"{row} .adjust-stock")
    wait_text(page, "#adjust-dialog", f"Adjust {sku}")
    page.fill("#delta", str(1 - available))
    page.fill("#reason", "stock count")
    page.click("#adjust-submit")
    wait_text(page, "[data-sonner-toast]", "on hand is now 1")
    page.wait_for_function(  # the row's figure is 1 (not "112", which contains "1")
        "s => document.querySelector(s)?.innerText.trim().split(/\\s+/).pop() === '1'",
        arg=f"{row} .stock-available",
    )
    for platform in ("shopee", "tiktok"):
        _wait_for_channel_stock(base, platform, shops[platform], sku, 1)
    pair = _sell_everywhere_at_once(base, shops, sku)
    wait_text(page, "#live-alert", "Oversold", timeout=10_000)
    wait_text(page, ".unread-count", "1")
    page.click("#side-bell")
    wait_text(page, ".notification", "Oversold")
    page.click("#side-mark-read")
    page.wait_for_selector(".unread-count", state="detached")
    page.keyboard.press("Escape")

    # Both orders of the pair are cancelled on their marketplaces in one bulk action: the unit
    # is free again and both channels show it.
    open_page(page, base, "/orders", "Orders")
    for order_id in pair:
        wait_text(page, ".order-row", order_id)
        page.locator(".order-row", has_text=order_id).locator(".order-select").click()
    wait_text(page, "#bulk-count", "2")
    page.click("#bulk-cancel")
    page.click("#cancel-reason")
    page.get_by_role("option", name="Out of stock", exact=True).click()
    page.click("#cancel-submit")
    wait_text(page, "[data-sonner-toast]", "2 cancelled on the marketplace")
    page.click("#cancel-close")
    for order_id in pair:
        wait_text(page, ".order-row", "cancelled")
        assert "cancelled" in page.locator(".order-row", has_text=order_id).inner_text()
    for platform in ("shopee", "tiktok"):
        _wait_for_channel_stock(base, platform, shops[platform], sku, 1)

    # TikTok is offered half of the stock: its 1 unit becomes 0 there, Shopee keeps 1. A bad
    # share is refused and changes nothing.
    open_page(page, base, "/stores", "Stores")
    tiktok_card = page.locator(".store-card[data-platform='tiktok']")
    tiktok_card.locator(".allocation-share input").fill("150")
    tiktok_card.locator(".allocation-save").click()
    wait_text(page, "[data-sonner-toast]", "share_percent: must be above 0 and at most 100")
    tiktok_card.locator(".allocation-share input").fill("50")
    tiktok_card.locator(".allocation-save").click()
    wait_text(
        page,
        ".store-card[data-platform='tiktok'] .store-allocation",
        "Shares 50% of stock, keeps 0 units back",
    )
    _wait_for_channel_stock(base, "tiktok", shops["tiktok"], sku, 0)
    assert _channel_stock(base, "shopee", shops["shopee"], sku) == 1
    tiktok_card.locator(".check-health").click()
    wait_text(page, "[data-sonner-toast]", "Healthy: the marketplace answered")

    # A viewer of the organization: no adjust button, and a crafted adjust event is refused.
    viewer = f"viewer-{tag}@journey.test"
    open_page(page, base, "/settings", "Settings")
    page.fill("#org-timezone", "Mars/Base")
    page.click("#org-save")
    wait_text(page, "[data-sonner-toast]", "timezone: 'Mars/Base' is not a time zone name")
    page.fill("#org-name-input", f"Journey {tag} Ltd")
    page.fill("#org-timezone", "Asia/Makassar")
    page.click("#org-save")
    wait_text(page, "#org-name", f"Journey {tag} Ltd")
    page.fill("#invite-email", viewer)
    page.click("#invite-role")
    page.get_by_role("option", name="viewer").click()
    page.click("#invite-submit")
    wait_text(page, ".invitation-email", viewer)
    joining = new_page(browser)  # the viewer's own browser, from the emailed link
    joining.goto(emailed_link(base, viewer))
    joining.wait_for_selector("#welcome-submit")
    joining.fill("#full_name", "Viewer")
    joining.fill("#password", PASSWORD)
    joining.click("#welcome-submit")
    wait_text(joining, "#user-role", "viewer")
    joining.context.close()
    page.reload()
    wait_text(page, ".member-email", viewer)
    _check_viewer_cannot_adjust(browser, base, viewer, sku)

    for width in (375, 1280):
        _screenshots(browser, base, owner, width, screenshots)

    for each in (page, colleague, stranger):
        each.context.close()


def _check_viewer_cannot_adjust(browser: Any, base: str, viewer: str, sku: str) -> None:
    page = new_page(browser)
    sockets: list[Any] = []

    def relay(ws: Any) -> None:  # pass everything through; keep the server side to inject
        sockets.append(ws.connect_to_server())

    page.route_web_socket("**/_event/**", relay)
    sign_in(page, base, viewer, PASSWORD)
    open_page(page, base, "/inventory", "Inventory")
    search(page, "#stock-search", sku, ".stock-row")
    row = f".stock-row[data-sku='{sku}']"
    assert page.locator(f"{row} .adjust-stock").count() == 0  # no button for a viewer
    on_hand = page.inner_text(f"{row} .stock-available")
    item_id = page.get_attribute(row, "data-item-id")

    inventory = PAGE_STATE + "storesync___ui___state___inventory____inventory_state."
    server = sockets[-1]
    server.send(_craft(page, inventory + "start_adjust", {"item_id": item_id}, "/inventory/"))
    server.send(
        _craft(
            page,
            inventory + "adjust",
            {"form_data": {"delta": "25", "reason": "crafted by hand"}},
            "/inventory/",
        )
    )
    wait_text(page, "[data-sonner-toast]", "may not adjust stock", timeout=10_000)
    page.reload()
    search(page, "#stock-search", sku, ".stock-row")
    assert page.inner_text(f"{row} .stock-available") == on_hand  # nothing changed
    page.context.close()


def _screenshots(browser: Any, base: str, email: str, width: int, folder: Path) -> None:
    page = new_page(browser, width)
    sign_in(page, base, email, PASSWORD)
    for path in PAGES:
        title = {"/": "Dashboard"}.get(path, path.strip("/").title())
        open_page(page, base, path, title)
        page.wait_for_timeout(400)  # charts and fonts settle
        name = "dashboard" if path == "/" else path.strip("/")
        page.screenshot(path=str(folder / f"{name}-live-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            f"{path} scrolls sideways at {width} px"
        )
    page.context.close()


def _relay(base: str) -> dict[str, int]:
    return sandbox_http.get(f"{base}/api/relay", timeout=10).json()  # type: ignore[no-any-return]


def _relay_until(base: str, done: Any, timeout: float = 30) -> dict[str, int]:
    deadline, now = time.time() + timeout, _relay(base)
    while not done(now) and time.time() < deadline:
        time.sleep(0.25)
        now = _relay(base)
    return now


def _steady_relay(base: str, quiet: float = 2 * HOUSEKEEPING_SECONDS + 1) -> dict[str, int]:
    """The relay's counts once they have not moved for `quiet` seconds: longer than a closed
    tab can stay registered (its registration's grace, then the next housekeeping round)."""
    now, since, deadline = _relay(base), time.monotonic(), time.time() + 30
    while time.time() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.25)
        fresh = _relay(base)
        if (fresh["watches"], fresh["tasks"]) != (now["watches"], now["tasks"]):
            now, since = fresh, time.monotonic()
    return now


def test_twenty_tabs_opened_and_closed_leave_the_relay_at_its_baseline(
    running_app: str, browser: Any
) -> None:
    """One bus subscription per process, whatever the tabs; a closed tab's registration and the
    tasks serving it go away."""
    base = running_app
    tag = uuid.uuid4().hex[:8]
    first = new_page(browser)  # stays open: part of the baseline, never dropped
    sign_up(first, base, f"Tabs {tag}", f"tabs-{tag}@journey.test", PASSWORD)
    context = first.context
    baseline = _steady_relay(base)  # closed tabs of earlier tests are dropped first
    assert baseline["subscriptions"] == 1

    tabs = []
    for _ in range(20):
        tab = context.new_page()
        open_page(tab, base, "/orders", "Orders")
        tabs.append(tab)
    opened = _relay_until(base, lambda r: r["watches"] >= baseline["watches"] + 20)
    assert opened["watches"] == baseline["watches"] + 20
    assert opened["subscriptions"] == 1  # still one, not one per tab

    for tab in tabs:
        tab.close()
    now = _relay_until(
        base, lambda r: r["watches"] <= baseline["watches"] and r["tasks"] <= baseline["tasks"]
    )
    print(f"relay: baseline {baseline}, 20 tabs open {opened}, after closing {now}")
    assert now["watches"] == baseline["watches"]
    assert now["tasks"] <= baseline["tasks"]
    assert now["subscriptions"] == 1
    context.close()
