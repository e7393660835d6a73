"""The embedded app starts, answers /ping, and its shell works at phone and desk widths."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browsing import emailed_link, new_page, no_horizontal_scroll
from tests.e2e.conftest import http_get, sandbox_http

pytestmark = pytest.mark.browser

DEMO = ("demo@storesync.local", "demo-storesync")
SECTIONS = [
    "Dashboard",
    "Products",
    "Listings",
    "Inventory",
    "Orders",
    "Stores",
    "Sync",
    "Settings",
]
WIDTHS = (375, 1280)
SIGN_IN_PAGE = re.compile(r".*/signin/?$")


def _sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/signin")
    page.wait_for_selector("#signin-submit")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#signin-submit")


def test_ping_answers_pong(running_app: str) -> None:
    assert http_get(f"{running_app}/ping") == (200, '"pong"')


@pytest.mark.parametrize("width", WIDTHS)
def test_sign_up_page_is_usable(
    running_app: str, browser: Any, screenshots: Path, width: int
) -> None:
    page = new_page(browser, width)
    page.goto(f"{running_app}/signup")
    page.wait_for_selector("#signup-submit")

    page.screenshot(path=str(screenshots / f"signup-{width}.png"), full_page=True)
    for selector in ("#organization", "#full_name", "#email", "#signup-submit"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, selector
    assert no_horizontal_scroll(page)
    page.context.close()


def test_sign_up_goes_through_the_emailed_link_and_names_a_short_password(
    running_app: str, browser: Any
) -> None:
    email = "short-password@journey.test"
    page = new_page(browser, 1280)
    page.goto(f"{running_app}/signup")
    page.wait_for_selector("#signup-submit")
    page.fill("#organization", "Toko Pendek")
    page.fill("#full_name", "Owner")
    page.fill("#email", email)
    page.click("#signup-submit")
    page.wait_for_selector("#sent-notice")
    assert email in page.inner_text("#sent-notice")

    page.goto(emailed_link(running_app, email))
    page.wait_for_selector("#welcome-submit")
    page.fill("#password", "short")
    page.click("#welcome-submit")
    page.wait_for_selector("#welcome-error")
    assert page.inner_text("#welcome-error").startswith("password:")
    _sign_in(page, running_app, email, "short")
    page.wait_for_selector("#signin-error")  # no account was created
    page.context.close()


def test_sign_up_does_not_tell_which_emails_have_accounts(running_app: str, browser: Any) -> None:
    page = new_page(browser, 1280)
    page.goto(f"{running_app}/signup")
    page.wait_for_selector("#signup-submit")
    page.fill("#organization", "Copycat")
    page.fill("#full_name", "Someone")
    page.fill("#email", DEMO[0])
    page.click("#signup-submit")
    page.wait_for_selector("#sent-notice")
    notice = page.inner_text("#sent-notice")
    assert DEMO[0] in notice and "a link is on its way" in notice
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_sign_in_page_is_usable(
    running_app: str, browser: Any, screenshots: Path, width: int
) -> None:
    page = new_page(browser, width)
    page.goto(f"{running_app}/signin")
    page.wait_for_selector("#signin-submit")

    page.screenshot(path=str(screenshots / f"signin-{width}.png"), full_page=True)
    for selector in ("#email", "#password", "#signin-submit"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, selector
    assert no_horizontal_scroll(page)
    page.context.close()


def test_wrong_password_shows_an_error_and_stays_signed_out(running_app: str, browser: Any) -> None:
    page = new_page(browser, 1280)
    _sign_in(page, running_app, DEMO[0], "wrong-password")

    page.wait_for_selector("#signin-error")
    assert page.inner_text("#signin-error") == "wrong email or password"
    assert page.url.rstrip("/").endswith("/signin")
    assert page.context.cookies() == [] or all(
        c["name"] != "storesync_session" or c["value"] == "" for c in page.context.cookies()
    )
    page.context.close()


def test_protected_pages_redirect_to_sign_in(running_app: str, browser: Any) -> None:
    page = new_page(browser, 1280)
    page.goto(f"{running_app}/orders")
    page.wait_for_url("**/signin?next=%2Forders")
    page.wait_for_selector("#signin-submit")
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_dashboard_layout_after_sign_in(
    running_app: str, browser: Any, screenshots: Path, width: int
) -> None:
    page = new_page(browser, width)
    _sign_in(page, running_app, *DEMO)
    page.wait_for_function("document.querySelector('#page-title')?.innerText === 'Dashboard'")
    page.wait_for_function("document.querySelector('#org-name')?.innerText === 'Demo Merchant'")

    if width >= 1024:
        assert page.is_visible("#sidebar") and not page.is_visible("#mobile-bar")
        links = [page.inner_text(f"#side-nav-{s.lower()}") for s in SECTIONS]
    else:
        assert page.is_visible("#mobile-bar") and not page.is_visible("#sidebar")
        page.screenshot(path=str(screenshots / f"dashboard-{width}.png"), full_page=True)
        page.click("#menu-button")
        page.wait_for_selector("#mobile-menu", state="visible")
        # The drawer slides in: wait until it rests at the left edge before the screenshot.
        page.wait_for_function(
            "(() => { const r = document.querySelector('#mobile-menu').getBoundingClientRect();"
            " return r.left === 0 && r.width > 200; })()"
        )
        page.wait_for_timeout(300)
        page.screenshot(path=str(screenshots / f"dashboard-menu-{width}.png"))
        links = [page.inner_text(f"#drawer-nav-{s.lower()}") for s in SECTIONS]
    assert [link.strip() for link in links] == SECTIONS
    assert no_horizontal_scroll(page)
    if width >= 1024:
        page.screenshot(path=str(screenshots / f"dashboard-{width}.png"), full_page=True)
    page.context.close()


def test_session_survives_reload_and_sign_out_ends_it(running_app: str, browser: Any) -> None:
    page = new_page(browser, 1280)
    _sign_in(page, running_app, *DEMO)
    page.wait_for_function("document.querySelector('#page-title')?.innerText === 'Dashboard'")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "storesync_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert "storesync_session" not in page.evaluate("document.cookie")  # scripts cannot read it

    page.goto(f"{running_app}/inventory")
    page.wait_for_function("document.querySelector('#page-title')?.innerText === 'Inventory'")
    page.reload()
    page.wait_for_function("document.querySelector('#user-email')?.innerText.includes('demo@')")

    page.click("#sign-out")
    page.wait_for_url(SIGN_IN_PAGE)  # a full page load: the cookie is cleared by the server
    page.goto(f"{running_app}/")
    page.wait_for_url(SIGN_IN_PAGE)
    page.context.close()

    # A copy of the signed-out session id (stolen earlier) no longer opens anything.
    thief = browser.new_context(viewport={"width": 1280, "height": 900})
    thief.add_cookies([{**cookie, "expires": -1}])
    stolen = thief.new_page()
    stolen.goto(f"{running_app}/inventory")
    stolen.wait_for_url("**/signin?next=%2Finventory")
    thief.close()


def test_the_embedded_app_mounts_the_sandbox(running_app: str) -> None:
    """Shopee is reachable at <app>/sandbox/shopee and verifies signatures over the path as the
    real platform sees it (without the prefixes)."""
    import hashlib
    import hmac
    import time

    import httpx

    shops = sandbox_http.get(f"{running_app}/sandbox/sandbox/shops", timeout=10).json()
    apps = sandbox_http.get(f"{running_app}/sandbox/sandbox/apps", timeout=10).json()
    partner_id, key = apps["shopee"]["partner_id"], apps["shopee"]["partner_key"]
    path = "/api/v2/shop/auth_partner"
    timestamp = int(time.time())
    sign = hmac.new(key.encode(), f"{partner_id}{path}{timestamp}".encode(), hashlib.sha256)
    params = {"partner_id": partner_id, "timestamp": timestamp, "redirect": f"{running_app}/cb"}
    good = sandbox_http.get(
        f"{running_app}/sandbox/shopee{path}", params={**params, "sign": sign.hexdigest()}
    )
    bad = sandbox_http.get(
        f"{running_app}/sandbox/shopee{path}", params={**params, "sign": "0" * 64}
    )

    # The control API is closed: no token, a foreign page's request, or a wrong token: 403.
    shopee_shop = next(x["shop_id"] for x in shops if x["platform"] == "shopee")
    listing_query = {"platform": "shopee", "shop_id": shopee_shop}
    stock_before = sandbox_http.get(
        f"{running_app}/sandbox/sandbox/listings", params=listing_query, timeout=10
    ).json()
    bare = httpx.get(f"{running_app}/sandbox/sandbox/apps", timeout=10)
    foreign = httpx.post(
        f"{running_app}/sandbox/sandbox/reset",
        json={},
        headers={"Origin": "https://evil.example", "X-Sandbox-Token": "guess"},
        timeout=10,
    )
    from_page = sandbox_http.post(
        f"{running_app}/sandbox/sandbox/orders",
        json={"platform": "shopee"},
        headers={"Origin": "https://evil.example"},
        timeout=10,
    )
    after = sandbox_http.get(f"{running_app}/sandbox/sandbox/shops", timeout=10).json()
    stock_after = sandbox_http.get(
        f"{running_app}/sandbox/sandbox/listings", params=listing_query, timeout=10
    ).json()

    # Browsers may call StoreSync from its own origin only (no CORS grant for other sites).
    evil = httpx.get(f"{running_app}/ping", headers={"Origin": "https://evil.example"})
    own = httpx.get(f"{running_app}/ping", headers={"Origin": running_app})
    preflight = httpx.options(
        f"{running_app}/api/v1/products",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in evil.headers
    assert own.headers.get("access-control-allow-origin") == running_app
    assert preflight.headers.get("access-control-allow-origin") is None

    assert (bare.status_code, foreign.status_code, from_page.status_code) == (403, 403, 403)
    assert "partner_key" not in bare.text and "token" in bare.json()["error"]
    assert "cross-origin" in from_page.json()["error"]
    assert after == shops and stock_after == stock_before  # nothing placed, nothing reset
    assert sorted(s["platform"] for s in shops) == ["shopee", "tiktok"]
    assert good.status_code == 200 and 'id="authorize"' in good.text
    assert bad.status_code == 403 and bad.json()["error"] == "error_sign"
