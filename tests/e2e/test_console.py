"""Every page, at a desk's width and a phone's, signed in as the demo owner (and the signed-out
pages signed out): the browser's console stays clean (no error, no warning, no uncaught error,
no failed request, no error response) and axe-core finds no serious or critical WCAG 2.1 AA
violation. Each page's screenshot at both widths goes to artifacts/screenshots/page-*.png."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.browsing import new_page, sign_in, wait_text
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.walk import (
    SIGNED_IN,
    SIGNED_OUT,
    WIDTHS,
    Listener,
    axe_script,
    axe_violations,
    describe,
)

pytestmark = pytest.mark.browser

DEMO = ("demo@storesync.local", "demo-storesync")
TITLES = {
    "/": "Dashboard",
    "/orders": "Orders",
    "/products": "Products",
    "/listings": "Listings",
    "/inventory": "Inventory",
    "/stores": "Stores",
    "/sync": "Sync",
    "/settings": "Settings",
    "/audit": "Audit log",
}
FORMS = {"/signin": "#signin-submit", "/signup": "#signup-submit", "/reset": "#reset-submit"}


def _settle(page: Any) -> None:
    """Until the page has loaded its data and the websocket's first answers are in."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("document.fonts ? document.fonts.status === 'loaded' : true")


def _visit(page: Any, base: str, path: str, listener: Listener, width: int) -> None:
    listener.where = f"{path} at {width}px"
    page.goto(f"{base}{path}")
    if path in FORMS:
        page.wait_for_selector(FORMS[path])
    else:
        wait_text(page, "#page-title", TITLES[path])
    _settle(page)


def _walk(browser: Any, base: str, paths: tuple[str, ...], signed_in: bool) -> dict[str, Any]:
    script = axe_script()
    problems: list[str] = []
    violations: dict[str, str] = {}
    for width in WIDTHS:
        page = new_page(browser, width)
        listener = Listener(page)
        if signed_in:
            listener.where = f"sign-in at {width}px"
            sign_in(page, base, *DEMO)
        for path in paths:
            _visit(page, base, path, listener, width)
            found = axe_violations(page, script)
            name = path.strip("/") or "dashboard"
            page.screenshot(path=str(SCREENSHOTS / f"page-{name}-{width}.png"), full_page=True)
            if found:
                violations[f"{path} at {width}px"] = describe(found)
        problems.extend(listener.problems)
        page.context.close()
    return {"problems": problems, "violations": violations}


def _report(walked: dict[str, Any]) -> None:
    message = []
    if walked["problems"]:
        message.append("the browser reported:\n  " + "\n  ".join(walked["problems"]))
    if walked["violations"]:
        message.append(
            "axe-core, serious or critical WCAG 2.1 AA violations:\n"
            + "\n".join(f"{where}:\n{text}" for where, text in walked["violations"].items())
        )
    assert not message, "\n\n".join(message)


def test_signed_in_pages_are_console_clean_and_accessible(running_app: str, browser: Any) -> None:
    _report(_walk(browser, running_app, SIGNED_IN, signed_in=True))


def test_signed_out_pages_are_console_clean_and_accessible(running_app: str, browser: Any) -> None:
    _report(_walk(browser, running_app, SIGNED_OUT, signed_in=False))
