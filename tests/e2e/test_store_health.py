"""Store health told plainly, job results, the kept activity feed and listing suggestions, in the
browser against the embedded app and its sandbox marketplaces.

Marketplace failures are injected through the sandbox's control API: a health check from the
Stores page then shows "Having trouble" with the problem in plain words; once the trouble has
lasted over three minutes the bell holds one notification; with the faults cleared the store is
"Connected" again. The Sync page shows a finished job's counts, the dashboard's activity is still
there after a reload, and listing suggestions show the master product's title with Accept above
the threshold and Review below it. Screenshots at 375 px and 1280 px go to
artifacts/screenshots/.

The module connects the sandbox's third Shopee shop (the journey and the fulfilment tests use the
first and second) and puts the sandbox back afterwards. Where a test needs time to pass (three
minutes of trouble) or a suggestion the sandbox cannot make, it edits the embedded app's SQLite
database directly, as an operator would."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browsing import (
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
from tests.e2e.walk import assert_accessible

pytestmark = pytest.mark.browser

PASSWORD = "health-pass-1"
CARD = ".store-card[data-platform='shopee']"
FAILING_IN_WORDS = ("Shopee is having problems on its side", "Shopee failed several times in a row")


@dataclass(frozen=True)
class Merchant:
    email: str
    organization: str
    shop_id: str
    database: Path | None


def _faults(base: str, **changes: Any) -> None:
    sandbox_http.post(
        f"{sandbox_control(base)}/faults", json={"platform": "shopee", **changes}
    ).raise_for_status()


def _app_database(factory: pytest.TempPathFactory) -> Path | None:
    """The embedded app's SQLite file (`running_app` gives it a var/ folder of its own)."""
    found = sorted(factory.getbasetemp().glob("e2e-var*/storesync.db"))
    return found[-1] if found else None


def _sql(database: Path | None, statement: str, *args: Any) -> list[Any]:
    if database is None:
        pytest.skip("the app under test is not the embedded one started by these tests")
    with sqlite3.connect(database, timeout=30) as db:
        rows = db.execute(statement, args).fetchall()
        db.commit()
    return rows


def _move_trouble_back(merchant: Merchant, *, minutes: int) -> None:
    """The store's trouble began `minutes` earlier (stored as SQLAlchemy writes it on SQLite,
    so the back-fill still recognises the mark it heals)."""
    (since,) = _sql(
        merchant.database,
        "SELECT unhealthy_since FROM store WHERE platform_store_id = ?",
        merchant.shop_id,
    )[0]
    moved = datetime.fromisoformat(since) - timedelta(minutes=minutes)
    _sql(
        merchant.database,
        "UPDATE store SET unhealthy_since = ? WHERE platform_store_id = ?",
        moved.strftime("%Y-%m-%d %H:%M:%S.%f"),
        merchant.shop_id,
    )


@pytest.fixture(scope="module")
def merchant(
    running_app: str, browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Merchant]:
    """An organization with the sandbox's third Shopee shop connected and its products
    imported."""
    base = running_app
    reset_sandbox(base, 3)
    try:
        shop_id = next(
            s["shop_id"]
            for s in sandbox_http.get(f"{sandbox_control(base)}/shops").json()
            if s["platform"] == "shopee" and s["name"].endswith(" 3")
        )
        tag = uuid.uuid4().hex[:8]
        email, organization = f"health-{tag}@journey.test", f"Health {tag}"
        page = new_page(browser)
        sign_up(page, base, organization, email, PASSWORD)
        open_page(page, base, "/stores", "Stores")
        page.click("#connect-shopee")
        page.wait_for_selector("#authorize")
        page.select_option("select[name='shop_id']", shop_id)
        page.click("#authorize")
        page.wait_for_url("**/stores/?connected=*")
        page.wait_for_selector(CARD)
        page.click(".import-products[data-platform='shopee']")
        wait_text(page, f"{CARD} .store-import", "succeeded", 60_000)
        page.context.close()
        yield Merchant(email, organization, shop_id, _app_database(tmp_path_factory))
    finally:
        _faults(base, burst_5xx_seconds=0, error_rate=0)
        reset_sandbox(base, 1)


def test_failing_calls_show_having_trouble_then_one_notification_then_connected(
    running_app: str, browser: Any, merchant: Merchant, screenshots: Path
) -> None:
    base = running_app
    page = new_page(browser)
    sign_in(page, base, merchant.email, PASSWORD)
    open_page(page, base, "/stores", "Stores")
    wait_text(page, f"{CARD} .store-status", "Connected")
    assert page.locator(f"{CARD} .store-allocation").inner_text().startswith("Shares 100% of")
    assert "Circuit" not in page.inner_text(CARD) and "minus" not in page.inner_text(CARD)

    _faults(base, burst_5xx_seconds=600)
    try:
        page.click(f"{CARD} .check-health")

        wait_text(page, f"{CARD} .store-status", "Having trouble", 30_000)
        # In plain words: the platform's own failure, or (when the background syncs' failures came
        # first and opened the circuit) StoreSync pausing its calls.
        page.wait_for_function(
            "([s, said]) => said.some(t => document.querySelector(s)?.innerText.includes(t))",
            arg=[f"{CARD} .store-trouble", list(FAILING_IN_WORDS)],
        )
        assert "since" in page.inner_text(f"{CARD} .store-since")
        wait_text(page, "[data-sonner-toast]", "Shopee")
        assert page.locator(f"{CARD} .reconnect-store").count() == 0  # the token is fine

        # Three minutes and more of trouble (moved back in the database), then the next check
        # tells the merchant, once.
        _move_trouble_back(merchant, minutes=10)
        for _ in range(2):
            page.click(f"{CARD} .check-health")
            wait_text(page, f"{CARD} .store-status", "Having trouble", 30_000)
        page.wait_for_selector(".unread-count")
        page.click("#side-bell")
        wait_text(page, ".notification", "is having trouble syncing")
        shown = page.locator(".notification", has_text="is having trouble syncing").count()
        assert shown == 1
        assert_accessible(page, "the bell's notifications")
        page.keyboard.press("Escape")
        assert_accessible(page, "a store having trouble")
        for width in (375, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            page.keyboard.press("Escape")
            page.screenshot(path=str(screenshots / f"stores-trouble-{width}.png"), full_page=True)
            assert no_horizontal_scroll(page)
    finally:
        _faults(base, burst_5xx_seconds=0, error_rate=0)
    # The breaker holds calls back for a while after the failures; the merchant checks again.
    for _ in range(30):
        page.click(f"{CARD} .check-health")
        page.wait_for_timeout(1_000)
        if page.inner_text(f"{CARD} .store-status").strip() == "Connected":
            break
        page.reload()
        page.wait_for_selector(f"{CARD} .check-health")
    wait_text(page, f"{CARD} .store-status", "Connected", 60_000)
    assert page.locator(f"{CARD} .store-trouble").count() == 0
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(screenshots / f"stores-{width}.png"), full_page=True)


def test_the_sync_page_shows_a_finished_jobs_counts(
    running_app: str, browser: Any, merchant: Merchant, screenshots: Path
) -> None:
    base = running_app
    page = new_page(browser)
    sign_in(page, base, merchant.email, PASSWORD)
    open_page(page, base, "/sync", "Sync")

    # The products import's row (the stock pushes it set off finished after it, above it).
    wait_text(page, ".job-row .job-counts", "listings fetched")
    counts = page.locator(".job-row .job-counts", has_text="listings fetched").inner_text()
    assert "linked" in counts and "products created" in counts, counts
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(screenshots / f"sync-{width}.png"), full_page=True)
        assert no_horizontal_scroll(page)


def test_a_stock_sync_names_each_listing_the_channel_refused_with_its_message(
    running_app: str, browser: Any, merchant: Merchant
) -> None:
    base = running_app
    # The seller deleted one linked product on Shopee (all its models); StoreSync has not heard.
    (item_id,) = _sql(
        merchant.database,
        "SELECT l.platform_item_id FROM channel_listing l "
        "JOIN store s ON s.id = l.store_id WHERE s.platform_store_id = ? "
        "AND l.variant_id IS NOT NULL AND l.platform_sku != '' "
        "ORDER BY l.platform_sku DESC LIMIT 1",
        merchant.shop_id,
    )[0]
    gone = sorted(
        sku
        for (sku,) in _sql(
            merchant.database,
            "SELECT platform_sku FROM channel_listing WHERE platform_item_id = ?",
            item_id,
        )
    )
    sandbox_http.post(
        f"{sandbox_control(base)}/items/delete",
        json={"platform": "shopee", "shop_id": merchant.shop_id, "item_id": item_id},
    ).raise_for_status()
    page = new_page(browser)
    sign_in(page, base, merchant.email, PASSWORD)
    open_page(page, base, "/sync", "Sync")

    # A stock sync pushes every listing: the deleted product's are refused, each named.
    page.click(".start-inventory")
    wait_text(page, ".job-row .job-failures summary", f"{len(gone)} failed item", 60_000)
    row = page.locator(".job-row", has=page.locator(".job-failures"))
    assert f"failed {len(gone)}" in row.locator(".job-counts").inner_text()
    row.locator(".job-failures summary").click()
    lines = row.locator(".job-failure-list").inner_text().strip().splitlines()
    assert sorted(line.split(": ", 1)[0] for line in lines) == [f"SKU {sku}" for sku in gone]
    assert all(line.split(": ", 1)[1].strip() for line in lines), lines  # the platform's words
    assert_accessible(page, "the sync page with a job's failures open")


def test_the_dashboard_keeps_its_activity_after_a_reload(
    running_app: str, browser: Any, merchant: Merchant, screenshots: Path
) -> None:
    base = running_app
    page = new_page(browser)
    sign_in(page, base, merchant.email, PASSWORD)

    wait_text(page, "#activity-feed .feed-item", "Products sync succeeded")
    page.reload()
    page.wait_for_function("document.querySelector('#page-title')?.innerText === 'Dashboard'")
    wait_text(page, "#activity-feed .feed-item", "Products sync succeeded")
    assert_accessible(page, "the dashboard with its activity")
    link = page.locator("#activity-feed .feed-link", has_text="Products sync").first
    assert link.get_attribute("href") == "/sync"
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(screenshots / f"dashboard-{width}.png"), full_page=True)
        assert no_horizontal_scroll(page)


def test_suggestions_show_the_product_and_accept_only_above_the_threshold(
    running_app: str, browser: Any, merchant: Merchant, screenshots: Path
) -> None:
    base = running_app
    # Two linked listings turned back into suggestions: one 90% sure, one 55%.
    rows = _sql(
        merchant.database,
        "SELECT l.id, l.variant_id, l.platform_sku FROM channel_listing l "
        "JOIN store s ON s.id = l.store_id WHERE s.platform_store_id = ? "
        "AND l.variant_id IS NOT NULL AND l.platform_sku != '' ORDER BY l.platform_sku LIMIT 2",
        merchant.shop_id,
    )
    assert len(rows) == 2
    (sure_id, _, sure_sku), (doubtful_id, _, doubtful_sku) = rows
    for listing_id, confidence, method in (
        (sure_id, 0.9, "normalized_sku"),
        (doubtful_id, 0.55, "title"),
    ):
        _sql(
            merchant.database,
            "UPDATE channel_listing SET match_status = 'suggested', "
            "suggested_variant_id = variant_id, variant_id = NULL, match_confidence = ?, "
            "match_method = ? WHERE id = ?",
            confidence,
            method,
            listing_id,
        )
    page = new_page(browser)
    sign_in(page, base, merchant.email, PASSWORD)
    open_page(page, base, "/listings", "Listings")
    wait_text(page, "#accept-threshold", "80%")

    sure = f".listing-row[data-sku='{sure_sku}']"
    doubtful = f".listing-row[data-sku='{doubtful_sku}']"
    page.wait_for_selector(sure)
    page.wait_for_selector(doubtful)
    assert page.inner_text(f"{sure} .suggestion-title").strip() != ""
    assert "90%" in page.inner_text(f"{sure} .suggestion-reason")
    assert "SKU alike" in page.inner_text(f"{sure} .suggestion-reason")
    assert "similar title" in page.inner_text(f"{doubtful} .suggestion-reason")
    assert page.locator(f"{doubtful} .accept-suggestion").count() == 0
    wait_text(page, f"{doubtful} .review-suggestion", "Review")
    assert page.locator(f"{doubtful} .link-form").count() == 1  # linked by hand instead
    assert_accessible(page, "listing suggestions")
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(screenshots / f"listings-{width}.png"), full_page=True)
        assert no_horizontal_scroll(page)

    page.click(f"{sure} .accept-suggestion")
    wait_text(page, "[data-sonner-toast]", "linked to the suggested variant")
    page.wait_for_function("s => !document.querySelector(s)", arg=sure)
    assert page.locator(doubtful).count() == 1


def test_a_price_rule_is_previewed_then_saved_and_reaches_the_channel(
    running_app: str, browser: Any, merchant: Merchant, screenshots: Path
) -> None:
    base = running_app
    listed = {
        row["sku"]: Decimal(row["price"])
        for row in sandbox_http.get(
            f"{sandbox_control(base)}/listings",
            params={"platform": "shopee", "shop_id": merchant.shop_id},
        ).json()
        if row["sku"]
    }
    page = new_page(browser)
    sign_in(page, base, merchant.email, PASSWORD)
    open_page(page, base, "/stores", "Stores")
    page.fill(f"{CARD} .price-markup-percent input", "10")
    page.click(f"{CARD} .price-preview")
    page.wait_for_selector(f"{CARD} .price-row")

    # The preview: each linked listing's channel price now and the rule's (master x 1.1, whole
    # rupiah). The master prices were imported from the channel, so they are the same now.
    row = page.locator(f"{CARD} .price-row").first
    sku = row.get_attribute("data-sku") or ""
    wanted = (listed[sku] * Decimal("1.1")).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert f"IDR {listed[sku]:,.0f} → IDR {wanted:,.0f}" in row.inner_text()
    assert _sandbox_price(base, merchant.shop_id, sku) == listed[sku]  # nothing sent yet
    assert_accessible(page, "a price preview")
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(screenshots / f"stores-prices-{width}.png"), full_page=True)
        assert no_horizontal_scroll(page)

    page.click("#price-save")
    wait_text(page, "[data-sonner-toast]", "price rule saved")
    wait_text(page, f"{CARD} .price-rule", "master price + 10 %")
    # The push is a sync job: the sandbox shows its result within seconds.
    for _ in range(60):
        if _sandbox_price(base, merchant.shop_id, sku) == wanted:
            break
        page.wait_for_timeout(500)
    assert _sandbox_price(base, merchant.shop_id, sku) == wanted

    # A new master price in the product editor reaches the channel through the rule.
    open_page(page, base, "/products", "Products")
    page.fill("#product-search", sku)
    page.press("#product-search", "Enter")
    product = page.locator(".product-row", has_text=sku).first
    product.wait_for()
    product.locator(".edit-product").click()
    page.click(f".edit-variant[data-sku='{sku}']")
    page.wait_for_selector("#variant-form")
    page.fill("#field-price", "200000")
    page.click("#variant-save")
    wait_text(page, "[data-sonner-toast]", "variant saved")
    for _ in range(60):
        if _sandbox_price(base, merchant.shop_id, sku) == Decimal("220000"):
            break
        page.wait_for_timeout(500)
    assert _sandbox_price(base, merchant.shop_id, sku) == Decimal("220000")


def _sandbox_price(base: str, shop_id: str, sku: str) -> Decimal:
    rows = sandbox_http.get(
        f"{sandbox_control(base)}/listings", params={"platform": "shopee", "shop_id": shop_id}
    ).json()
    return next(Decimal(r["price"]) for r in rows if r["sku"] == sku)
