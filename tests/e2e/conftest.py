"""Start StoreSync embedded (the README's way, `storesync run`) and drive it with Chromium."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unavailable

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
APP_LOG = PROJECT_ROOT / "artifacts" / "e2e-app.log"
LOG_TAIL = 80  # lines of the app's output attached to a failed browser test
PAGE_TEXT = 1_500  # characters of each open page's text attached to it
CHROMIUM = os.environ.get("STORESYNC_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 900
# The embedded sandbox's control API answers only with its token (storesync.ui.sandbox_guard);
# the app under test is given this one, and `sandbox_http` sends it.
SANDBOX_TOKEN = secrets.token_urlsafe(24)
sandbox_http = httpx.Client(
    headers={"X-Sandbox-Token": SANDBOX_TOKEN}, timeout=5
)  # a fresh clone installs the frontend's packages on first start


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_line(process: subprocess.Popen[str], needle: str, log: list[str]) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            return False
        log.append(line)
        if needle in line:
            return True
    return False


def _drain(process: subprocess.Popen[str], log: list[str]) -> None:
    """Copy the app's output to APP_LOG until it exits. A pipe nobody reads fills at 64 KiB, and
    then every thread of the app that logs blocks on it."""
    assert process.stdout is not None
    with APP_LOG.open("a") as out:
        out.writelines(log)
        out.flush()
        for line in process.stdout:
            out.write(line)
            out.flush()


def app_log_tail(lines: int = LOG_TAIL) -> str:
    if not APP_LOG.exists():
        return ""
    return "".join(APP_LOG.read_text(errors="replace").splitlines(keepends=True)[-lines:])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    if "running_app" in getattr(item, "fixturenames", ()):
        title = f"storesync run: last {LOG_TAIL} lines of {APP_LOG}"
        report.sections.append((title, app_log_tail()))
    browser = getattr(item, "funcargs", {}).get("browser")
    if browser is not None:
        report.sections.append(("open pages when it failed", _open_pages(browser)))


def _open_pages(browser: Any) -> str:
    """Each open page's address and the start of its text (toasts included): what the browser
    showed when a test failed, in CI's output."""
    shown = []
    for context in browser.contexts:
        for page in context.pages:
            try:
                text = page.inner_text("body", timeout=2_000)[:PAGE_TEXT]
            except Exception as error:  # a page that is closing still gets a line
                text = f"(unreadable: {error})"
            shown.append(f"--- {page.url}\n{text}")
    return "\n".join(shown) or "(none)"


@pytest.fixture(scope="session")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`storesync run` on a free port with its own var/ folder; yields the base URL.
    STORESYNC_TEST_APP_URL points the tests at an app already running instead (development)."""
    if os.environ.get("STORESYNC_TEST_APP_URL"):
        yield os.environ["STORESYNC_TEST_APP_URL"].rstrip("/")
        return
    port = _free_port()
    var_dir = tmp_path_factory.mktemp("e2e-var")
    env = {
        **os.environ,
        "STORESYNC_VAR_DIR": str(var_dir),
        "STORESYNC_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        # The journey connects the sandbox's shops itself and counts its orders exactly: the
        # demo organization keeps its hands off them and no generated orders arrive.
        "STORESYNC_DEMO_ALIVE": "0",
        "STORESYNC_SANDBOX_ORDERS_PER_MINUTE": "0",
        "STORESYNC_SANDBOX_TOKEN": SANDBOX_TOKEN,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "storesync.cli", "run"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    log: list[str] = []
    APP_LOG.parent.mkdir(parents=True, exist_ok=True)
    APP_LOG.write_text("")
    try:
        if not _wait_for_line(process, "StoreSync is running at", log):
            pytest.fail("storesync run did not come up:\n" + "".join(log[-40:]), pytrace=False)
        threading.Thread(target=_drain, args=(process, log), daemon=True).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Module-scoped: Playwright's sync API runs an event loop in this thread until it exits,
    which would break every later test that calls asyncio.run()."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        unavailable("Chromium", f"{CHROMIUM} not found (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def http_get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


@pytest.fixture(autouse=True)
def _close_browser_contexts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a browser test left open (it failed half-way) is closed before the next test, so
    no test counts another's tabs."""
    yield
    if "browser" in request.fixturenames:
        for context in list(request.getfixturevalue("browser").contexts):
            context.close()
