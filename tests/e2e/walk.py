"""Walking every page of the app: what the browser reports on the way (console errors and
warnings, page errors, failed requests) and what axe-core finds against WCAG 2.1 AA."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import unavailable
from tests.e2e.conftest import PROJECT_ROOT

SIGNED_IN = (
    "/",
    "/orders",
    "/products",
    "/listings",
    "/inventory",
    "/stores",
    "/sync",
    "/settings",
    "/audit",
)
SIGNED_OUT = ("/signin", "/signup", "/reset")
WIDTHS = (1280, 375)
AXE = PROJECT_ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
AXE_VERSION = "4.14.1"  # the version scripts/bootstrap.sh installs
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SERIOUS = ("serious", "critical")


def axe_script() -> Path:
    """axe-core from the npm registry, into .tools/ like bun (scripts/bootstrap.sh)."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            unavailable("axe-core", "npm is missing: run scripts/bootstrap.sh")
        subprocess.run(
            [
                npm,
                "install",
                "--silent",
                "--no-fund",
                "--no-audit",
                "--prefix",
                ".tools",
                f"axe-core@{AXE_VERSION}",
            ],
            cwd=PROJECT_ROOT,
            check=True,
            timeout=300,
        )
    return AXE


class Listener:
    """What a page reported since it was opened: console errors and warnings, uncaught errors,
    failed requests and error responses."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        self.where = ""
        page.on("console", self._console)
        page.on("pageerror", lambda error: self._add(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _add(self, text: str) -> None:
        self.problems.append(f"{self.where}: {text}")

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self._add(f"console {message.type}: {message.text[:500]}")

    def _failed(self, request: Any) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:  # a navigation that replaced the page before it answered
            return
        self._add(f"request failed: {request.method} {request.url} ({failure})")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self._add(f"HTTP {response.status}: {response.request.method} {response.url}")


def axe_violations(page: Any, script: Path) -> list[dict[str, Any]]:
    """The serious and critical WCAG 2.1 A/AA violations axe-core finds on the page as shown,
    once its opening and closing animations have ended (half-faded colours are not the page's,
    and a closing menu is still in the document)."""
    page.wait_for_function(
        "() => document.getAnimations().every(a => a.playState !== 'running'"
        " || a.effect?.getComputedTiming().iterations === Infinity)"
    )
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(script))
    found = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ') + ' ' + n.html.slice(0, 160) + ' :: '"
        " + n.failureSummary)})))",
        WCAG_AA,
    )
    return [v for v in found if v["impact"] in SERIOUS]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
        lines.extend(f"      {node[:400]}" for node in v["nodes"][:6])
    return "\n".join(lines)


def assert_accessible(page: Any, where: str) -> None:
    """No serious or critical WCAG 2.1 AA violation on the page as it is now (with its data,
    a dialog open: what the walk of the demo's pages cannot show)."""
    found = axe_violations(page, axe_script())
    assert not found, f"{where}:\n{describe(found)}"
