"""Delivery through an SMTP server (`STORESYNC_SMTP_URL`), with a few quick retries.

The password stays in `SmtpTarget` (hidden from its repr) and goes only to `SMTP.login`: logs
and errors name the host and port, never the URL.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from storesync.mail.errors import MailDeliveryFailed
from storesync.settings import check_smtp_url

log = logging.getLogger(__name__)

ATTEMPTS = 3
TIMEOUT_SECONDS = 10.0
BACKOFF_SECONDS = 0.5  # before the 2nd attempt; doubled before each next one
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}

Security = Literal["plain", "starttls", "tls"]


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: Security
    username: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        """`smtp://[user:password@]host[:port][?starttls=true]` or `smtps://...` (user and
        password percent-encoded)."""
        parts = urlsplit(check_smtp_url(url))
        scheme = parts.scheme.lower()
        starttls = parse_qs(parts.query).get("starttls", ["false"])[-1].lower() in ("true", "1")
        security: Security = "tls" if scheme == "smtps" else "starttls" if starttls else "plain"
        return cls(
            host=parts.hostname or "",
            port=parts.port or DEFAULT_PORTS[scheme],
            security=security,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )


class _Failure(Exception):
    def __init__(self, reason: str, *, temporary: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary


def deliver(
    message: EmailMessage,
    target: SmtpTarget,
    *,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
    timeout: float = TIMEOUT_SECONDS,
) -> None:
    """Hand `message` to the server; try again after `backoff`, `2 * backoff`, ... seconds
    while the failure is temporary (no connection, a timeout, a 4xx answer). Raises
    `MailDeliveryFailed` once the attempts are spent or the server refuses for good."""
    where = f"{target.host}:{target.port}"
    for attempt in range(1, attempts + 1):
        try:
            _send_once(message, target, timeout=timeout)
        except (OSError, smtplib.SMTPException) as error:
            failure = _classify(error, target.password)
            log.warning(
                "mail: attempt %d/%d through %s failed: %s", attempt, attempts, where, failure
            )
            if not failure.temporary or attempt == attempts:
                raise MailDeliveryFailed(
                    host=target.host,
                    port=target.port,
                    attempts=attempt,
                    reason=failure.reason,
                    retryable=failure.temporary,
                ) from None  # smtplib's exception may quote the server's answer verbatim
            time.sleep(backoff * 2 ** (attempt - 1))
        else:
            log.info("mail: sent %s through %s", message["Message-ID"], where)
            return


def _send_once(message: EmailMessage, target: SmtpTarget, *, timeout: float) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if target.security == "tls":
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=timeout)
    with client:
        client.ehlo()
        if target.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if target.username:
            client.login(target.username, target.password)
        client.send_message(message)


def _classify(error: Exception, password: str) -> _Failure:
    """What went wrong, in words fit for a log line, and whether trying again may help."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        reason = f"the server refused the user name or password ({error.smtp_code})"
        return _Failure(reason, temporary=False)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in error.recipients.values()]
        reason = f"the server refused the recipient ({', '.join(map(str, codes))})"
        return _Failure(reason, temporary=all(400 <= code < 500 for code in codes))
    if isinstance(error, smtplib.SMTPResponseException):
        raw = error.smtp_error or b""
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        if password:
            text = text.replace(password, "***")
        code = error.smtp_code
        temporary = code < 0 or 400 <= code < 500
        return _Failure(f"the server answered {code} {text[:200]}".rstrip(), temporary=temporary)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return _Failure(f"the server does not support it: {error}", temporary=False)
    if isinstance(error, ssl.SSLCertVerificationError):
        return _Failure(f"TLS certificate rejected: {error.verify_message}", temporary=False)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return _Failure("the server closed the connection", temporary=True)
    if isinstance(error, TimeoutError):
        return _Failure("no answer in time", temporary=True)
    if isinstance(error, OSError) and error.strerror:
        return _Failure(f"cannot connect: {error.strerror.lower()}", temporary=True)
    return _Failure(f"cannot connect: {type(error).__name__}", temporary=True)
