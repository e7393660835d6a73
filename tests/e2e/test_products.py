"""The Products page in the browser: create and edit through the editor (a bad value shows its
message next to the field and saves nothing), search, keyset pages over an imported CSV, a CSV
with one bad row imports nothing and offers its error report, export, bulk status, and
screenshots at 375 px and 1280 px."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browsing import new_page, sign_in, sign_up, wait_text

pytestmark = pytest.mark.browser

PASSWORD = "products-pass-1"
HEADER = "handle,title,status,sku,price\n"
# Records every value the import's progress bar shows (it may be up for a moment only).
IMPORT_ROWS = 4000
WATCH_PROGRESS = """() => {
    window.__progress = [];
    const seen = () => {
        const bar = document.querySelector('#import-progress');
        if (bar) window.__progress.push(Number(bar.dataset.progress));
    };
    new MutationObserver(seen).observe(document.body, {
        childList: true, subtree: true, attributes: true, attributeFilter: ['data-progress'],
    });
}"""


def _open_products(page: Any, base: str) -> None:
    page.goto(f"{base}/products")
    page.wait_for_function("document.querySelector('#page-title')?.innerText === 'Products'")
    page.wait_for_selector("#product-list")


def _search(page: Any, text: str) -> None:
    page.fill("#product-search", text)
    page.press("#product-search", "Enter")


def _rows(page: Any) -> list[str]:
    return page.eval_on_selector_all(".product-row", "rs => rs.map(r => r.dataset.handle)")


def _wait_rows(page: Any, handles: list[str]) -> None:
    page.wait_for_function(
        "want => JSON.stringify([...document.querySelectorAll('.product-row')]"
        ".map(r => r.dataset.handle)) === JSON.stringify(want)",
        arg=handles,
        timeout=20_000,
    )


def _choose(page: Any, select: str, option: str) -> None:
    page.click(select)
    page.get_by_role("option", name=option, exact=True).click()


def _upload(page: Any, name: str, text: str) -> None:
    page.set_input_files(
        "#catalog-upload input[type=file]",
        files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}],
    )
    wait_text(page, "#import-file", name)
    page.click("#import-submit")


def _create_attempt(page: Any, title: str, handle: str, sku: str, price: str) -> None:
    page.click("#new-product")
    page.wait_for_selector("#create-form")
    page.fill("#field-title", title)
    page.fill("#field-handle", handle)
    page.fill("#field-sku", sku)
    page.fill("#field-price", price)
    page.click("#product-save")


def _check_editor(page: Any, tag: str, folder: Path) -> str:
    """Bad SKU, then bad price: each message under its field, nothing saved; then a good one."""
    handle = f"mug-{tag}"
    _create_attempt(page, "Blue mug", handle, "MUG BLUE", "25000")
    wait_text(page, "#error-sku", "must not contain spaces")
    assert page.locator("#error-price").count() == 0
    page.fill("#field-sku", f"MUG-{tag}")
    page.fill("#field-price", "-5")
    page.click("#product-save")
    wait_text(page, "#error-price", "must not be negative")
    assert page.locator("#error-sku").count() == 0
    page.screenshot(path=str(folder / "products-editor-error-1280.png"))
    page.keyboard.press("Escape")
    page.wait_for_selector("#product-editor", state="detached")
    _search(page, handle)
    wait_text(page, "#product-list", "No products match.")

    _create_attempt(page, "Blue mug", handle, f"MUG-{tag}", "25000")
    wait_text(page, "[data-sonner-toast]", "product created")
    _wait_rows(page, [handle])
    row = page.locator(f".product-row[data-handle='{handle}']")
    assert "25,000" in row.inner_text()

    # Edit the product's title and status, then its variant's price (a bad one first).
    row.locator(".edit-product").click()
    page.wait_for_selector("#product-form")
    page.fill("#field-title", "Big blue mug")
    _choose(page, "#field-status", "draft")
    page.click("#product-save")
    wait_text(page, f".product-row[data-handle='{handle}'] .product-title", "Big blue mug")
    assert row.get_attribute("data-status") == "draft"
    row.locator(".edit-product").click()
    page.click(f".edit-variant[data-sku='MUG-{tag}']")
    page.wait_for_selector("#variant-form")
    page.fill("#field-price", "abc")
    page.click("#variant-save")
    wait_text(page, "#error-price", "must be a number")
    page.fill("#field-price", "30000")
    page.click("#variant-save")
    wait_text(page, f".product-row[data-handle='{handle}'] .product-price", "30,000")

    _search(page, f"mug-{tag}".upper())  # SKU and handle match case-insensitively
    _wait_rows(page, [handle])
    return handle


def _check_import_and_pages(page: Any, tag: str) -> list[str]:
    """60 items to page through, in a file big enough (IMPORT_ROWS rows) that its import lasts
    several progress updates: with 60 rows alone it could end before the bar was drawn."""
    handles = [f"item-{tag}-{n:03d}" for n in range(1, 61)]
    lines = [f"{h},Item {n},active,SKU-{tag}-{n:03d},{1000 + n}" for n, h in enumerate(handles, 1)]
    lines += [
        f"bulk-{tag}-{n:04d},Bulk {n},active,BULK-{tag}-{n:04d},500"
        for n in range(IMPORT_ROWS - len(handles))
    ]
    page.evaluate(WATCH_PROGRESS)
    _upload(page, "items.csv", HEADER + "\n".join(lines) + "\n")
    wait_text(
        page,
        "#import-summary",
        f"Imported {IMPORT_ROWS} rows: {IMPORT_ROWS} products created",
        timeout=60_000,
    )
    shown = page.evaluate("window.__progress")
    print(f"progress bar values seen while importing {IMPORT_ROWS} rows: {sorted(set(shown))}")
    assert shown, "no progress bar while importing"
    assert all(0 <= value <= 100 for value in shown), shown

    _search(page, f"item-{tag}")
    _wait_rows(page, handles[:25])
    page.click("#products-next")
    _wait_rows(page, handles[25:50])
    wait_text(page, "#products-page", "Page 2")
    page.click("#products-next")
    _wait_rows(page, handles[50:])
    assert page.locator("#products-next").is_disabled()
    page.click("#products-previous")
    _wait_rows(page, handles[25:50])

    # A row whose handle is taken merges into that product: the summary names it.
    _upload(
        page, "retitle.csv", HEADER + f"{handles[0]},Item one renamed,active,SKU-{tag}-001,1001\n"
    )
    wait_text(
        page,
        "#import-summary",
        f"0 products created, 1 updated; 0 variants created, 0 updated. "
        f"Updated existing products: {handles[0]}",
    )
    return handles


def _check_bad_file_imports_nothing(page: Any, tag: str, folder: Path) -> None:
    rows = [
        f"good-{tag}-1,Good one,active,GOOD-{tag}-1,100",
        f"good-{tag}-2,Bad price,active,GOOD-{tag}-2,-1",
        f"good-{tag}-3,Good three,active,GOOD-{tag}-3,300",
    ]
    _upload(page, "one-bad-row.csv", HEADER + "\n".join(rows) + "\n")
    wait_text(page, "#import-summary", "Nothing was imported")
    error = page.locator(".import-error[data-row='2'][data-field='price']")
    error.wait_for()
    assert "must not be negative" in error.inner_text()
    page.screenshot(path=str(folder / "products-import-errors-1280.png"))
    with page.expect_download() as download:
        page.click("#download-errors")
    report = Path(download.value.path()).read_text()
    assert report.splitlines()[0] == "row,field,message"
    assert "2,price,must not be negative" in report
    _search(page, f"good-{tag}")
    wait_text(page, "#product-list", "No products match.")


def _check_export(page: Any, handles: list[str]) -> None:
    with page.expect_download() as download:
        page.click("#export-csv")
    assert download.value.suggested_filename == "catalog.csv"
    text = Path(download.value.path()).read_text()
    assert text.startswith("handle,")
    assert all(f"\n{h}," in text for h in handles)


def _check_bulk_status(page: Any, tag: str) -> None:
    _search(page, f"item-{tag}-00")
    nine = [f"item-{tag}-00{n}" for n in range(1, 10)]
    _wait_rows(page, nine)
    page.click("#select-page")
    wait_text(page, "#bulk-count", "9 selected")
    _choose(page, "#bulk-status", "archived")
    page.click("#bulk-apply")
    wait_text(page, "[data-sonner-toast]", "9 products set to archived")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.product-row')]"
        ".every(r => r.dataset.status === 'archived')"
    )
    _search(page, f"item-{tag}")
    _choose(page, "#status-filter", "archived")
    _wait_rows(page, nine)
    _choose(page, "#status-filter", "all")


def _screenshots(browser: Any, base: str, email: str, folder: Path) -> None:
    for width in (375, 1280):
        page = new_page(browser, width)
        sign_in(page, base, email, PASSWORD)
        _open_products(page, base)
        page.wait_for_selector(".product-row")
        page.wait_for_timeout(400)  # fonts settle
        page.screenshot(path=str(folder / f"products-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            f"/products scrolls sideways at {width} px"
        )
        page.context.close()


def test_products_page_edits_imports_exports_and_bulk_changes(
    running_app: str, browser: Any, screenshots: Path
) -> None:
    base = running_app
    tag = uuid.uuid4().hex[:8]
    email = f"owner-{tag}@products.test"
    page = new_page(browser)
    sign_up(page, base, f"Products {tag}", email, PASSWORD)
    _open_products(page, base)

    mug = _check_editor(page, tag, screenshots)
    handles = _check_import_and_pages(page, tag)
    _check_bad_file_imports_nothing(page, tag, screenshots)
    _check_export(page, [mug, *handles])
    _check_bulk_status(page, tag)
    page.context.close()

    _screenshots(browser, base, email, screenshots)
