"""The product editor in the browser: a product made from its title alone (handle derived), two
images uploaded through the file input, the second made main by moving it left, its thumbnail
in the products list; screenshots at 375 px and 1280 px, neither scrolling sideways."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.browsing import new_page, no_horizontal_scroll, sign_in, sign_up, wait_text
from tests.e2e.walk import assert_accessible

pytestmark = pytest.mark.browser

PASSWORD = "editor-pass-1"
IMAGES = ".product-image"


def _png(color: str, size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def _open_products(page: Any, base: str) -> None:
    page.goto(f"{base}/products")
    page.wait_for_function("document.querySelector('#page-title')?.innerText === 'Products'")
    page.wait_for_selector("#product-list")


def _open_editor(page: Any, handle: str) -> None:
    page.fill("#product-search", handle)
    page.press("#product-search", "Enter")
    row = page.locator(f".product-row[data-handle='{handle}']")
    row.wait_for()
    row.locator(".edit-product").click()
    page.wait_for_selector("#product-form")


def _upload(page: Any, name: str, color: str, count: int) -> None:
    page.set_input_files(
        "#product-image-upload input[type=file]",
        files=[{"name": name, "mimeType": "image/png", "buffer": _png(color)}],
    )
    page.wait_for_function(
        "([s, n]) => document.querySelectorAll(s).length === n", arg=[IMAGES, count]
    )


def _image_ids(page: Any) -> list[str]:
    return list(page.eval_on_selector_all(IMAGES, "els => els.map(e => e.dataset.imageId)"))


def _thumb_loaded(page: Any, selector: str) -> bool:
    return bool(page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0"))


def test_a_product_made_from_its_title_gets_images_in_order(
    running_app: str, browser: Any, screenshots: Path
) -> None:
    base = running_app
    tag = uuid.uuid4().hex[:8]
    email = f"editor-{tag}@example.com"
    page = new_page(browser, 1280)
    sign_up(page, base, f"Toko {tag}", email, PASSWORD)
    _open_products(page, base)

    # Only a title: the handle (and the first SKU) are made from it.
    page.click("#new-product")
    page.wait_for_selector("#create-form")
    page.fill("#field-title", f"Blue Mug {tag}")
    page.click("#product-save")
    wait_text(page, "[data-sonner-toast]", "product created")
    handle = f"blue-mug-{tag}"
    page.locator(f".product-row[data-handle='{handle}']").wait_for()

    _open_editor(page, handle)
    _upload(page, "first.png", "red", 1)
    _upload(page, "second.png", "blue", 2)
    first, second = _image_ids(page)
    assert page.locator(f"{IMAGES}[data-image-id='{first}']").get_attribute("data-main") == "yes"

    # Move the second one left: it becomes the main image.
    page.locator(f"{IMAGES}[data-image-id='{second}'] .image-left").click()
    page.wait_for_function(
        "([s, id]) => document.querySelector(s)?.dataset.imageId === id", arg=[IMAGES, second]
    )
    assert _image_ids(page) == [second, first]
    assert page.locator(f"{IMAGES}[data-image-id='{second}']").get_attribute("data-main") == "yes"
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].every(i => i.complete && i.naturalWidth > 0)",
        arg=f"{IMAGES} img",
    )
    assert_accessible(page, "the product editor with two images")
    page.screenshot(path=str(screenshots / "product-editor-1280.png"), full_page=True)
    page.locator("#images-section").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "product-editor-images-1280.png"))
    assert no_horizontal_scroll(page)

    # The variant shows one of the product's images of its own: the second one now.
    page.locator(".edit-variant").first.click()
    page.wait_for_selector("#variant-form")
    page.click("#field-image_id")
    page.get_by_role("option", name="Image 2", exact=True).click()
    assert_accessible(page, "the variant form")
    page.click("#variant-save")
    wait_text(page, "[data-sonner-toast]", "variant saved")
    page.wait_for_selector("#product-editor", state="detached")
    _open_editor(page, handle)
    page.wait_for_function(
        "([s, id]) => document.querySelector(s)?.getAttribute('src')?.includes(id)",
        arg=[".variant-row .variant-thumb", first],
    )

    # The list shows the main image's thumbnail.
    page.keyboard.press("Escape")
    page.wait_for_selector("#product-editor", state="detached")
    thumb = f".product-row[data-handle='{handle}'] .product-thumb img"
    page.wait_for_function(
        "([s, id]) => document.querySelector(s)?.getAttribute('src')?.includes(id)",
        arg=[thumb, second],
    )
    page.wait_for_function(
        "s => document.querySelector(s)?.naturalWidth > 0",
        arg=thumb,
    )
    assert _thumb_loaded(page, thumb)
    row_text = page.locator(f".product-row[data-handle='{handle}']").inner_text()
    assert "0 available" in row_text and "Not listed" in row_text
    page.screenshot(path=str(screenshots / "products-list-thumbs-1280.png"), full_page=True)

    # On a phone: the list and the editor fit the screen's width.
    phone = new_page(browser, 375)
    sign_in(phone, base, email, PASSWORD)
    _open_products(phone, base)
    phone.wait_for_selector(thumb)
    phone.screenshot(path=str(screenshots / "products-list-thumbs-375.png"), full_page=True)
    assert no_horizontal_scroll(phone)
    _open_editor(phone, handle)
    phone.wait_for_function(
        "([s, n]) => document.querySelectorAll(s).length === n", arg=[IMAGES, 2]
    )
    phone.screenshot(path=str(screenshots / "product-editor-375.png"), full_page=True)
    phone.locator("#images-section").scroll_into_view_if_needed()
    phone.screenshot(path=str(screenshots / "product-editor-images-375.png"))
    assert no_horizontal_scroll(phone)
    assert phone.evaluate(
        "() => { const d = document.querySelector('#product-editor');"
        " return d.scrollWidth <= d.clientWidth + 1 }"
    ), "the editor scrolls sideways at 375 px"


def test_every_field_saves_and_a_script_in_the_description_stays_text(
    running_app: str, browser: Any, screenshots: Path
) -> None:
    base = running_app
    tag = uuid.uuid4().hex[:8]
    page = new_page(browser, 1280)
    sign_up(page, base, f"Toko {tag}", f"fields-{tag}@example.com", PASSWORD)
    _open_products(page, base)
    page.click("#new-product")
    page.wait_for_selector("#create-form")
    page.fill("#field-title", f"Kaos {tag}")
    page.fill("#field-sku", f"KAOS-{tag}-S")
    page.fill("#field-price", "59000")
    page.click("#product-save")
    handle = f"kaos-{tag}"
    page.locator(f".product-row[data-handle='{handle}']").wait_for()

    _open_editor(page, handle)
    page.fill("#field-brand", "Toko Baju")
    page.fill("#field-category", "Shirts")
    page.fill(
        "#field-description", "**Soft** cotton <script>window.__pwned = 1</script> <b>bold?</b>"
    )
    page.fill("#field-attributes", "material: cotton\nfit: regular")
    page.click("#product-save")
    wait_text(page, "[data-sonner-toast]", "product saved")
    page.wait_for_selector("#product-editor", state="detached")

    _open_editor(page, handle)
    preview = page.locator("#description-preview")
    preview.wait_for()
    assert preview.locator("strong").inner_text() == "Soft"
    assert preview.locator("script, b").count() == 0
    assert "<script>" in preview.inner_text()
    assert page.evaluate("window.__pwned") is None
    assert page.input_value("#field-brand") == "Toko Baju"
    assert page.input_value("#field-attributes") == "material: cotton\nfit: regular"

    # A second variant with its options, weight and dimensions; a bad weight is named first.
    page.click("#add-variant")
    page.wait_for_selector("#variant-form")
    page.fill("#field-sku", f"KAOS-{tag}-M")
    page.fill("#field-options", "Size: M\nColor: Black")
    page.fill("#field-price", "61000")
    page.fill("#field-weight_grams", "-1")
    page.click("#variant-save")
    wait_text(page, "#error-weight_grams", "must not be negative")
    page.fill("#field-weight_grams", "210")
    page.fill("#field-length_mm", "300")
    page.click("#variant-save")
    wait_text(page, "[data-sonner-toast]", "variant added")
    row = page.locator(f".product-row[data-handle='{handle}']")
    wait_text(page, f".product-row[data-handle='{handle}'] .product-skus", "2 variants")
    assert f"KAOS-{tag}-M" in row.inner_text()

    _open_editor(page, handle)
    page.click(f".edit-variant[data-sku='KAOS-{tag}-M']")
    page.wait_for_selector("#variant-form")
    assert page.input_value("#field-weight_grams") == "210"
    assert page.input_value("#field-options") == "Size: M\nColor: Black"
    page.screenshot(path=str(screenshots / "product-variant-1280.png"))
