"""The sandbox's "Sent mail" page: the .eml files StoreSync's embedded mode writes, newest first,
behind the control API's guard."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
from starlette.applications import Starlette

from storesync.core.clock import set_clock
from storesync.mail import Mail, send
from storesync.sandbox.app import Sandbox
from storesync.sandbox.mail.inbox import links_in
from storesync.settings import Settings, build_settings
from storesync.ui.mounts import extra_routes
from storesync.ui.sandbox_guard import sandbox_token

OWN = "http://127.0.0.1:3000"


def _get(app: Starlette, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=OWN) as http:
            return await http.get(path, headers=headers or {})

    return asyncio.run(go())


def _send_at(settings: Settings, when: datetime, mail: Mail) -> None:
    set_clock(lambda: when)
    try:
        send(mail, settings=settings)
    finally:
        set_clock(None)


def _invitation(to: str, code: str) -> Mail:
    link = f"{OWN}/invite/{code}"
    return Mail(
        to=to,
        subject=f"Join <Kedai> {code}",
        text=f"Hello,\n\nAccept the invitation: {link}.\n",
        html=f"<p><a href='{link}'>Accept</a></p>",
    )


def test_the_embedded_sandbox_lists_sent_mail_newest_first_to_token_holders(
    tmp_path: Path,
) -> None:
    settings = build_settings(var_dir=tmp_path, port=3000, sandbox_orders_per_minute=0)
    _send_at(settings, datetime(2025, 3, 1, 9, 0, tzinfo=UTC), _invitation("a@example.com", "old"))
    _send_at(settings, datetime(2025, 3, 2, 9, 0, tzinfo=UTC), _invitation("b@example.com", "new"))
    routes, _sandbox = extra_routes(settings)
    app = Starlette(routes=routes)  # the sandbox at /sandbox, its control API at /sandbox/sandbox
    token = {"X-Sandbox-Token": sandbox_token(settings)}

    listed = _get(app, "/sandbox/sandbox/mail.json", token)
    page = _get(app, f"/sandbox/sandbox/mail?token={token['X-Sandbox-Token']}")
    refused = [
        _get(app, "/sandbox/sandbox/mail.json"),
        _get(app, "/sandbox/sandbox/mail"),
        _get(app, "/sandbox/sandbox/mail.json", {**token, "Origin": "https://evil.example"}),
    ]
    other_control = _get(app, "/sandbox/sandbox/shops", token)

    assert listed.status_code == 200 and listed.headers["cache-control"] == "no-store"
    first, second = listed.json()
    assert [first["to"], second["to"]] == ["b@example.com", "a@example.com"]
    assert first["subject"] == "Join <Kedai> new"
    assert first["date"] == "2025-03-02T09:00:00+00:00"
    assert first["links"] == [f"{OWN}/invite/new"]  # the sentence's full stop left out
    assert "Accept the invitation" in first["text"] and "<a href=" in first["html"]
    assert first["file"].startswith("20250302T090000") and first["file"].endswith(".eml")
    assert page.status_code == 200
    assert f"<a href='{OWN}/invite/new' rel='noreferrer'>" in page.text
    assert "Join &lt;Kedai&gt; new" in page.text and "<Kedai>" not in page.text
    assert page.text.index("/invite/new") < page.text.index("/invite/old")
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert other_control.status_code == 200  # the rest of the control API still answers


def test_a_standalone_sandbox_shows_mail_only_when_given_a_folder(tmp_path: Path) -> None:
    with_folder = Sandbox(mail_dir=tmp_path / "mail").asgi()
    without = Sandbox().asgi()

    assert _get(with_folder, "/sandbox/mail.json").json() == []  # no folder yet: no mail
    assert "No mail yet" in _get(with_folder, "/sandbox/mail").text
    assert _get(without, "/sandbox/mail.json").status_code == 404
    assert _get(without, "/sandbox/apps").status_code == 200


def test_links_are_found_in_plain_text_without_trailing_punctuation() -> None:
    text = "Reset (http://x.test/r/1), or see https://x.test/help?a=1&b=2. Done: http://x.test/."

    assert links_in(text) == ["http://x.test/r/1", "https://x.test/help?a=1&b=2", "http://x.test/"]
