"""Publishing in the browser against the embedded app and its sandbox marketplaces: a master
product with two variants (imported from CSV, one image uploaded in the editor) is published to
the sandbox Shopee and TikTok stores from the Products page (store and category chosen, the
required attributes filled after "Check" names the missing one), both listings appear linked
with their stock pushed, and a master title and price edit reach both channels. Screenshots of
the publish form at 375 px and 1280 px go to artifacts/screenshots/.

The module connects the sandbox's fifth Shopee and TikTok shops (other modules use the first
four) and puts the sandbox back afterwards."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.browsing import (
    new_page,
    no_horizontal_scroll,
    open_page,
    reset_sandbox,
    sandbox_control,
    sign_up,
    wait_text,
)
from tests.e2e.conftest import sandbox_http
from tests.e2e.walk import assert_accessible

pytestmark = pytest.mark.browser

PASSWORD = "publish-pass-1"
TITLE = "Kaos Polos Cotton Combed 30s Premium"
NEW_TITLE = "Kaos Polos Cotton Combed 30s Edisi Baru"
CATEGORY = "Fashion > Men Clothes > T-Shirts"


def _choose(page: Any, select: str, option: str) -> None:
    page.click(select)
    page.get_by_role("option", name=option, exact=True).click()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 400), "teal").save(out, "PNG")
    return out.getvalue()


def _listings(base: str, platform: str, shop_id: str) -> dict[str, dict[str, Any]]:
    rows = sandbox_http.get(
        f"{sandbox_control(base)}/listings", params={"platform": platform, "shop_id": shop_id}
    ).json()
    return {row["sku"]: row for row in rows if row["sku"]}


def _eventually(check: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


@pytest.fixture(scope="module")
def shops(running_app: str) -> Iterator[dict[str, str]]:
    base = running_app
    reset_sandbox(base, 5)
    try:
        found = {}
        for s in sandbox_http.get(f"{sandbox_control(base)}/shops").json():
            if s["name"].endswith(" 5"):
                found[s["platform"]] = s["shop_id"]
        yield found
    finally:
        reset_sandbox(base, 1)


def test_a_product_is_published_to_both_channels_and_follows_master_edits(
    running_app: str, browser: Any, shops: dict[str, str], screenshots: Path
) -> None:
    base = running_app
    tag = uuid.uuid4().hex[:6].upper()
    page = new_page(browser)
    sign_up(page, base, f"Publish {tag}", f"publish-{tag.lower()}@journey.test", PASSWORD)
    open_page(page, base, "/stores", "Stores")
    for platform in ("shopee", "tiktok"):
        page.click(f"#connect-{platform}")
        page.wait_for_selector("#authorize")
        page.select_option("select[name='shop_id']", shops[platform])
        page.click("#authorize")
        page.wait_for_url("**/stores/?connected=*")
        page.wait_for_selector(f".store-card[data-platform='{platform}']")

    # The master product: two variants with stock, from CSV; then one image in the editor.
    sku = f"KPC{tag}"
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "handle",
            "title",
            "description",
            "sku",
            "option1_name",
            "option1_value",
            "price",
            "weight_grams",
            "length_mm",
            "width_mm",
            "height_mm",
            "stock:MAIN",
        ]
    )
    description = "Kaos polos bahan cotton combed 30s, adem dan nyaman dipakai."
    variants = (("BLK", "Black", 45000, 200, 12), ("WHT", "White", 47000, 210, 7))
    for suffix, colour, price, weight, stock in variants:
        writer.writerow(
            [
                f"kpc-{tag.lower()}",
                TITLE,
                description,
                f"{sku}-{suffix}",
                "Color",
                colour,
                price,
                weight,
                300,
                250,
                20,
                stock,
            ]
        )
    csv_text = out.getvalue()
    open_page(page, base, "/products", "Products")
    page.set_input_files(
        "#catalog-upload input[type=file]",
        files=[{"name": "kaos.csv", "mimeType": "text/csv", "buffer": csv_text.encode()}],
    )
    wait_text(page, "#import-file", "kaos.csv")
    page.click("#import-submit")
    row = page.locator(".product-row", has_text=sku).first
    row.wait_for(timeout=30_000)
    row.locator(".edit-product").click()
    page.wait_for_selector("#product-form")
    page.set_input_files(
        "#product-image-upload input[type=file]",
        files=[{"name": "kaos.png", "mimeType": "image/png", "buffer": _png()}],
    )
    page.wait_for_function("() => document.querySelectorAll('.product-image').length === 1")
    page.keyboard.press("Escape")
    page.wait_for_selector("#product-editor", state="detached")

    items: dict[str, str] = {}
    for number, platform in enumerate(("shopee", "tiktok")):
        row.locator("input[type=checkbox], button[role=checkbox]").first.click()
        page.click("#bulk-publish")
        page.wait_for_selector("#publish-dialog")
        page.click("#publish-store")
        page.locator("[role=option]", has_text=f"({platform})").first.click()
        page.wait_for_selector("#publish-category")
        _choose(page, "#publish-category", CATEGORY)
        page.wait_for_selector("#publish-attributes .publish-attribute")
        _choose(page, "#publish-attr-100010", "No Brand")
        page.click("#publish-check")
        wait_text(page, "#publish-problems", "attributes.Material")
        if number == 0:
            assert_accessible(page, "the publish form")
            for width in (375, 1280):
                page.set_viewport_size({"width": width, "height": 900})
                page.screenshot(
                    path=str(screenshots / f"products-publish-{width}.png"), full_page=True
                )
                assert no_horizontal_scroll(page)
        _choose(page, "#publish-attr-100020", "Cotton")
        page.click("#publish-submit")
        wait_text(page, "#publish-status", "succeeded", 60_000)
        wait_text(page, "#publish-results", "2 SKUs linked")
        text = page.inner_text("#publish-results")
        items[platform] = text.split("listed as item ")[1].split(",")[0]
        page.click("#publish-done")
        page.wait_for_selector("#publish-dialog", state="detached")

    # Both listings exist on the channels, with the master SKUs and their stock pushed.
    for platform in ("shopee", "tiktok"):
        assert _eventually(
            lambda p=platform: (
                {
                    s: (r["item_id"], int(r["stock"]), r["title"])
                    for s, r in _listings(base, p, shops[p]).items()
                    if s.startswith(sku)
                }
                == {
                    f"{sku}-BLK": (items[p], 12, TITLE),
                    f"{sku}-WHT": (items[p], 7, TITLE),
                }
            )
        ), _listings(base, platform, shops[platform])

    # The editor shows the four listings linked and where the product is published.
    row.locator(".edit-product").click()
    page.wait_for_selector("#product-form")
    page.wait_for_function(
        "() => document.querySelectorAll('#product-listings .listing-row').length === 4"
    )
    states = page.eval_on_selector_all(
        "#product-listings .listing-row .rt-Badge", "bs => bs.map(b => b.textContent)"
    )
    assert states == ["Linked"] * 4
    assert page.locator("#product-publications .publication").count() == 2

    # The master title and a price edit reach both channels.
    page.fill("#field-title", NEW_TITLE)
    page.click("#product-save")
    wait_text(page, "[data-sonner-toast]", "product saved")
    row = page.locator(".product-row", has_text=sku).first
    row.locator(".edit-product").click()
    page.click(f".edit-variant[data-sku='{sku}-BLK']")
    page.wait_for_selector("#variant-form")
    page.fill("#field-price", "49000")
    page.click("#variant-save")
    wait_text(page, "[data-sonner-toast]", "variant saved")
    for platform in ("shopee", "tiktok"):
        assert _eventually(
            lambda p=platform: (
                (r := _listings(base, p, shops[p]).get(f"{sku}-BLK")) is not None
                and r["title"] == NEW_TITLE
                and r["price"] in ("49000", "49000.00")
            )
        ), _listings(base, platform, shops[platform])
