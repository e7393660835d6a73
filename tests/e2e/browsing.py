"""What the browser tests do again and again: open a page, wait for text, sign up (through the
emailed link), sign in."""

from __future__ import annotations

import time
from typing import Any


def new_page(browser: Any, width: int = 1280) -> Any:
    """A page in a browser context of its own (its own cookies: its own session)."""
    return browser.new_context(viewport={"width": width, "height": 900}).new_page()


def wait_text(page: Any, selector: str, text: str, timeout: float = 20_000) -> None:
    """Until some element matching `selector` shows `text`."""
    page.wait_for_function(
        "([s, t]) => [...document.querySelectorAll(s)].some(e => e.innerText.includes(t))",
        arg=[selector, text],
        timeout=timeout,
    )


def search(page: Any, box: str, text: str, rows: str) -> None:
    """Search for `text` and wait for its results: rows matching `rows` are shown and every one
    of them carries `text` as its data-sku. Before that, a row of the earlier list may still be
    on screen, and a click meant for it lands on whatever replaces it."""
    page.fill(box, text)
    page.press(box, "Enter")
    page.wait_for_function(
        """([rows, sku]) => {
            const shown = [...document.querySelectorAll(rows)];
            return shown.length > 0 && shown.every(e => e.dataset.sku === sku);
        }""",
        arg=[rows, text],
    )


def emailed_link(base: str, to: str, timeout: float = 20.0) -> str:
    """The /welcome link of the newest email to `to`, read from the sandbox's sent mail (the
    embedded app writes mail to var/mail/)."""
    from tests.e2e.conftest import sandbox_http

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mail = sandbox_http.get(f"{base}/sandbox/sandbox/mail.json", timeout=10).json()
        for message in mail:
            if to in message["to"]:
                found = [link for link in message["links"] if "/welcome?token=" in link]
                if found:
                    return str(found[0])
        time.sleep(0.2)
    raise AssertionError(f"no email with a link reached {to}")


def sign_up(page: Any, base: str, organization: str, email: str, password: str) -> None:
    """Sign up the way a merchant does: the form, then the emailed link, then a password."""
    page.goto(f"{base}/signup")
    page.wait_for_selector("#signup-submit")
    page.fill("#organization", organization)
    page.fill("#full_name", "Owner")
    page.fill("#email", email)
    page.click("#signup-submit")
    page.wait_for_selector("#sent-notice")
    page.goto(emailed_link(base, email))
    page.wait_for_selector("#welcome-submit")
    page.fill("#password", password)
    page.click("#welcome-submit")
    wait_text(page, "#org-name", organization)


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    """Sign in and wait for the dashboard."""
    page.goto(f"{base}/signin")
    page.wait_for_selector("#signin-submit")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#signin-submit")
    page.wait_for_function("document.querySelector('#page-title')?.innerText === 'Dashboard'")


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def sandbox_control(base: str) -> str:
    """The sandbox's control API in the app under test."""
    return f"{base}/sandbox/sandbox"


def reset_sandbox(base: str, shops_per_platform: int) -> None:
    """A freshly seeded sandbox (the same seed: the first shops keep their ids) with its push
    URLs pointing at StoreSync again."""
    from tests.e2e.conftest import sandbox_http

    control = sandbox_control(base)
    sandbox_http.post(
        f"{control}/reset", json={"shops_per_platform": shops_per_platform}
    ).raise_for_status()
    for platform in ("shopee", "tiktok"):
        sandbox_http.post(
            f"{control}/webhooks", json={"platform": platform, "url": f"{base}/webhooks/{platform}"}
        ).raise_for_status()


def open_page(page: Any, base: str, path: str, title: str) -> None:
    """Go to `path` and wait until its page title shows."""
    page.goto(f"{base}{path}")
    page.wait_for_function("t => document.querySelector('#page-title')?.innerText === t", arg=title)


def connect_shop(page: Any, platform: str, shop_id: str) -> None:
    """From the Stores page: connect the sandbox shop through its consent page."""
    page.click(f"#connect-{platform}")
    page.wait_for_selector("#authorize")  # the sandbox's consent page, a shop to choose
    page.select_option("select[name='shop_id']", shop_id)
    page.click("#authorize")
    page.wait_for_url("**/stores/?connected=*")
    page.wait_for_selector(f".store-card[data-platform='{platform}']")
