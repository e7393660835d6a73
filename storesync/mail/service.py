"""`send`: the one way StoreSync sends mail."""

from __future__ import annotations

import logging
from datetime import UTC

from storesync.core.clock import utcnow
from storesync.core.ids import new_id
from storesync.mail.errors import MailNotConfigured
from storesync.mail.message import build_message
from storesync.mail.outbox import write_eml
from storesync.mail.schemas import Mail
from storesync.mail.smtp import BACKOFF_SECONDS, SmtpTarget, deliver
from storesync.settings import RunMode, Settings, get_settings

log = logging.getLogger(__name__)


def send(mail: Mail, *, settings: Settings | None = None, backoff: float = BACKOFF_SECONDS) -> None:
    """Send `mail` from `STORESYNC_MAIL_FROM`.

    With `STORESYNC_SMTP_URL` set: through that server (10 s timeout, 3 attempts, `backoff`
    seconds before the second, doubling; then `MailDeliveryFailed`). Without it, embedded mode
    writes the message to `var/mail/<UTC time>-<id>.eml` (mode 0600) for the sandbox's "Sent
    mail" page, and production mode raises `MailNotConfigured`. Blocking: call it from a worker
    or a thread, not on an event loop."""
    settings = settings or get_settings()
    if not settings.smtp_url and settings.env is not RunMode.EMBEDDED:
        raise MailNotConfigured()
    now, message_id = utcnow(), new_id()
    message = build_message(mail, sender=settings.mail_from, message_id=message_id, date=now)
    if settings.smtp_url:
        deliver(message, SmtpTarget.from_url(settings.smtp_url), backoff=backoff)
        return
    name = f"{now.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{message_id.hex}.eml"
    path = write_eml(message, settings.mail_dir, name=name)
    log.info("mail: no STORESYNC_SMTP_URL, wrote %s", path)
