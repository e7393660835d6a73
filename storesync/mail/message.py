"""Turn a `Mail` into the RFC 5322 message both transports deliver."""

from __future__ import annotations

import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from storesync.mail.schemas import Mail


def build_message(
    mail: Mail, *, sender: str, message_id: uuid.UUID, date: datetime
) -> EmailMessage:
    """multipart/alternative: the text part first, the HTML part last (the one clients prefer
    when they can show it)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = f"<{message_id.hex}@{_domain(sender)}>"
    message["Auto-Submitted"] = "auto-generated"  # no vacation replies to a no-reply sender
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"
