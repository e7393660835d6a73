"""Outgoing mail: through a real SMTP server in the test process (aiosmtpd on 127.0.0.1), into
var/mail/ in embedded mode, refused in production without `STORESYNC_SMTP_URL`. The SMTP password
never reaches a log line or an error."""

from __future__ import annotations

import email
import email.policy
import logging
import os
import socket
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.fernet import Fernet

from storesync.core.errors import ValidationFailed
from storesync.mail import Mail, MailDeliveryFailed, MailNotConfigured, send
from storesync.mail.smtp import SmtpTarget
from storesync.settings import Settings, SettingsError, build_settings

PASSWORD = "s3cret/pa ss@word"  # URL-special characters: the URL must percent-encode them
USER = "mailer"


def _mail(**overrides: Any) -> Mail:
    fields = {
        "to": "Ana <ana@example.com>",
        "subject": "You are invited to Kedai Ana",
        "text": "Join here: http://127.0.0.1:3000/invite/abc123.\n",
        "html": "<p><a href='http://127.0.0.1:3000/invite/abc123'>Join</a></p>",
        **overrides,
    }
    return Mail(**fields)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """What the SMTP server received; `busy` answers 451 to that many messages first."""

    port: int
    messages: list[tuple[str, list[str], email.message.EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    busy: int = 0

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        if self.busy > 0:
            self.busy -= 1
            return "451 4.3.0 try again later"
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def authenticate(
        self, _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = data.login == USER.encode() and data.password == PASSWORD.encode()
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[Inbox]:
    inbox = Inbox(port=_free_port())
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=inbox.port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def _smtp_settings(tmp_path: Path, port: int, *, password: str = PASSWORD) -> Settings:
    url = f"smtp://{USER}:{quote(password, safe='')}@127.0.0.1:{port}"
    return build_settings(var_dir=tmp_path, smtp_url=url, mail_from="Shop <shop@example.com>")


def _production(tmp_path: Path, **overrides: Any) -> Settings:
    return build_settings(
        var_dir=tmp_path,
        env="production",
        database_url="postgresql+psycopg://app@127.0.0.1:5432/storesync",
        fernet_keys=Fernet.generate_key().decode(),
        **overrides,
    )


def _our_log(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("storesync"))


def test_a_message_reaches_the_smtp_server_with_both_parts_after_logging_in(
    tmp_path: Path, smtp_server: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = _smtp_settings(tmp_path, smtp_server.port)

    send(_mail(reply_to="owner@example.com"), settings=settings)

    assert smtp_server.logins == [USER]
    ((sender, recipients, message),) = smtp_server.messages
    assert sender == "shop@example.com" and recipients == ["ana@example.com"]
    assert message["From"] == "Shop <shop@example.com>"
    assert message["To"] == "Ana <ana@example.com>"
    assert message["Reply-To"] == "owner@example.com"
    assert message["Subject"] == "You are invited to Kedai Ana"
    assert message["Date"] and message["Message-ID"].endswith("@example.com>")
    assert message.get_content_type() == "multipart/alternative"
    assert "invite/abc123" in message.get_body(("plain",)).get_content()
    assert "<a href=" in message.get_body(("html",)).get_content()
    assert f"127.0.0.1:{smtp_server.port}" in _our_log(caplog)
    assert PASSWORD not in caplog.text and quote(PASSWORD, safe="") not in caplog.text
    assert not (tmp_path / "mail").exists()  # sent, not written


def test_a_temporary_refusal_is_retried(tmp_path: Path, smtp_server: Inbox) -> None:
    smtp_server.busy = 1

    send(_mail(), settings=_smtp_settings(tmp_path, smtp_server.port), backoff=0.01)

    assert len(smtp_server.messages) == 1


def test_a_wrong_password_fails_at_once_without_repeating_it(
    tmp_path: Path, smtp_server: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-password-42"
    settings = _smtp_settings(tmp_path, smtp_server.port, password=wrong)

    with pytest.raises(MailDeliveryFailed) as raised:
        send(_mail(), settings=settings, backoff=0.01)

    error = raised.value
    assert error.details["attempts"] == 1 and error.retryable is False
    assert "user name or password" in error.message
    assert smtp_server.messages == []
    assert wrong not in caplog.text and wrong not in repr(error.to_dict())


def test_an_unreachable_server_gives_a_clear_error_after_three_attempts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = _free_port()  # nothing listens there
    settings = _smtp_settings(tmp_path, port)

    with pytest.raises(MailDeliveryFailed) as raised:
        send(_mail(), settings=settings, backoff=0.001)

    error = raised.value
    assert error.code == "mail_delivery_failed" and error.retryable is True
    assert error.details == {
        "host": "127.0.0.1",
        "port": port,
        "attempts": 3,
        "reason": error.details["reason"],
    }
    assert f"127.0.0.1:{port}" in error.message and "STORESYNC_SMTP_URL" in error.message
    assert "attempt 3/3" in _our_log(caplog)
    for text in (error.message, repr(error.to_dict()), caplog.text):
        assert PASSWORD not in text and quote(PASSWORD, safe="") not in text


def test_embedded_mode_without_smtp_writes_one_private_eml_file(tmp_path: Path) -> None:
    settings = build_settings(var_dir=tmp_path)

    send(_mail(), settings=settings)

    (written,) = os.listdir(settings.mail_dir)
    path = settings.mail_dir / written
    assert written.endswith(".eml") and written[:8].isdigit()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "You are invited to Kedai Ana"
    assert message["From"] == "StoreSync <no-reply@localhost>"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"].removeprefix("<").split("@")[0] in written


def test_production_without_smtp_refuses_and_writes_nothing(tmp_path: Path) -> None:
    settings = _production(tmp_path)

    with pytest.raises(MailNotConfigured) as raised:
        send(_mail(), settings=settings)

    assert "STORESYNC_SMTP_URL" in raised.value.message
    assert not settings.mail_dir.exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", SmtpTarget("mail.example.com", 25, "plain")),
        (
            "smtp://u%40x:p%2Fw@mail.example.com:587?starttls=true",
            SmtpTarget("mail.example.com", 587, "starttls", "u@x", "p/w"),
        ),
        ("smtps://u:p@mail.example.com", SmtpTarget("mail.example.com", 465, "tls", "u", "p")),
    ],
)
def test_smtp_urls_are_read(url: str, expected: SmtpTarget) -> None:
    assert SmtpTarget.from_url(url) == expected
    assert "p/w" not in repr(SmtpTarget.from_url(url))


@pytest.mark.parametrize(
    "url",
    [
        f"http://u:{PASSWORD}@mail.example.com",
        f"smtp://u:{PASSWORD}@",
        f"smtp://u:{PASSWORD}@mail.example.com:99999",
        f"smtps://u:{PASSWORD}@mail.example.com?starttls=true",
        f"smtp://u:{PASSWORD}@mail.example.com?tls=yes",
    ],
)
def test_a_bad_smtp_url_stops_the_start_naming_the_variable_not_the_password(
    tmp_path: Path, url: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        build_settings(var_dir=tmp_path, smtp_url=url)

    assert str(raised.value).startswith("STORESYNC_SMTP_URL: ")
    assert PASSWORD not in str(raised.value)


def test_a_bad_sender_or_recipient_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="STORESYNC_MAIL_FROM"):
        build_settings(var_dir=tmp_path, mail_from="nobody")
    with pytest.raises(ValidationFailed):
        _mail(to="ana@example.com\r\nBcc: all@example.com")
    with pytest.raises(ValidationFailed):
        _mail(subject="Hi\nBcc: all@example.com")
