"""The emails accounts send, received by a real SMTP server in the test process: an invitation,
a sign-up confirmation, a note to an email that already has an account, a password reset. Each
has a text and an HTML part carrying the same single link back to StoreSync."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from storesync import settings as settings_module
from storesync.tenancy.auth import emails
from tests.mail.test_mail import PASSWORD, USER, Inbox, smtp_server  # noqa: F401 (fixture)

PUBLIC = "https://shop.example.com"


@pytest.fixture
def configured(
    smtp_server: Inbox,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Inbox]:
    url = f"smtp://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{smtp_server.port}"
    for name, value in {
        "STORESYNC_SMTP_URL": url,
        "STORESYNC_PUBLIC_URL": PUBLIC,
        "STORESYNC_VAR_DIR": str(tmp_path),
        "STORESYNC_MAIL_FROM": "StoreSync <no-reply@shop.example.com>",
    }.items():
        monkeypatch.setenv(name, value)
    settings_module.get_settings.cache_clear()
    yield smtp_server
    settings_module.get_settings.cache_clear()


def _parts(inbox: Inbox, index: int = -1) -> tuple[str, str, str, list[str]]:
    _sender, recipients, message = inbox.messages[index]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return str(message["Subject"]), text, html, recipients


def test_an_invitation_names_the_organization_role_and_inviter_and_links_once(
    configured: Inbox,
) -> None:
    emails.send_invitation(
        to="ana@example.com", token="i.abc.tok", organization="Kedai Ana", role="staff", by="o@x.io"
    )

    subject, text, html, recipients = _parts(configured)
    link = f"{PUBLIC}/welcome?token=i.abc.tok"
    assert recipients == ["ana@example.com"]
    assert subject == "You are invited to Kedai Ana on StoreSync"
    assert "o@x.io invited you to join Kedai Ana on StoreSync as staff." in text
    assert text.count(link) == 1 and f'href="{link}"' in html


def test_sign_up_sends_the_link_or_for_a_taken_email_a_sign_in_hint(configured: Inbox) -> None:
    emails.send_signup(to="new@example.com", token="tok-1")
    emails.send_signup(to="taken@example.com", token=None)

    subject, text, _html, _ = _parts(configured, 0)
    assert subject == "Finish creating your StoreSync account"
    assert f"{PUBLIC}/welcome?token=tok-1" in text
    subject, text, _html, recipients = _parts(configured, 1)
    assert (subject, recipients) == ("Your StoreSync account", ["taken@example.com"])
    assert "already has one" in text and "/welcome" not in text


def test_a_reset_goes_only_to_an_email_with_an_account(configured: Inbox) -> None:
    emails.send_reset(to="nobody@example.com", token=None)
    assert configured.messages == []

    emails.send_reset(to="ana@example.com", token="tok-2")
    subject, text, _html, _ = _parts(configured)
    assert subject == "Reset your StoreSync password"
    assert f"{PUBLIC}/welcome?token=tok-2" in text
