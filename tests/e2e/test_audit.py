"""An owner's change shows on the Audit page with their email; the page filters, downloads its
filter as CSV, and fits a phone (375 px) and a desk (1280 px) without sideways scrolling."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browsing import new_page, no_horizontal_scroll, sign_up, wait_text

pytestmark = pytest.mark.browser


def test_an_owner_reads_filters_and_downloads_the_audit_log(
    running_app: str, browser: Any, screenshots: Path
) -> None:
    base = running_app
    page = new_page(browser)
    email = f"audit-{uuid.uuid4().hex[:8]}@e.com"
    sign_up(page, base, f"Toko Audit {uuid.uuid4().hex[:6]}", email, "a strong pass")
    page.goto(f"{base}/settings")
    page.wait_for_selector("#api-key-create")
    page.fill("#api-key-name", "Audit ERP")
    page.click("#api-key-create")
    page.wait_for_selector("#api-key-secret")

    page.click("#side-nav-audit")
    page.wait_for_selector("#audit-table")
    wait_text(page, ".audit-row", "api_key.create")
    wait_text(page, ".audit-row .audit-actor", email)
    wait_text(page, ".audit-row .audit-change", "Audit ERP")
    assert page.get_attribute("#audit-csv", "href") == "/exports/audit.csv"
    page.screenshot(path=str(screenshots / "audit-1280.png"), full_page=True)

    page.fill("#audit-filter-actor", "nobody")
    page.click("#audit-filter-submit")
    page.wait_for_selector("#audit-empty")
    assert page.get_attribute("#audit-csv", "href") == "/exports/audit.csv?actor=nobody"
    page.click("#audit-filter-clear")
    wait_text(page, ".audit-row", "api_key.create")

    download = page.request.get(f"{base}/exports/audit.csv?actor={email}")
    assert download.status == 200
    assert "api_key.create" in download.text() and email in download.text()

    page.set_viewport_size({"width": 375, "height": 900})
    page.reload()
    wait_text(page, ".audit-row", "api_key.create")
    page.screenshot(path=str(screenshots / "audit-375.png"), full_page=True)
    assert no_horizontal_scroll(page)
