"""The message a caller asks to send: plain data, checked on creation."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr

from storesync.core.errors import ValidationFailed


@dataclass(frozen=True)
class Mail:
    """One message to one person, as plain text and as HTML (mail clients pick one)."""

    to: str
    subject: str
    text: str
    html: str
    reply_to: str | None = None

    def __post_init__(self) -> None:
        _check_address("to", self.to)
        if self.reply_to is not None:
            _check_address("reply_to", self.reply_to)
        if not self.subject.strip() or _has_line_break(self.subject):
            raise ValidationFailed("subject", "must be one non-empty line")


def _check_address(field: str, value: str) -> None:
    _name, address = parseaddr(value)
    if "@" not in address or _has_line_break(value):
        raise ValidationFailed(field, "must be one email address")


def _has_line_break(value: str) -> bool:
    return "\r" in value or "\n" in value
