"""Read a folder of `.eml` files, newest first.

The writer names each file so that names sort by time (StoreSync: `<UTC time>-<id>.eml`), so the
newest are the last names, whatever the files' modification times say.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

NEWEST = 50
URL = re.compile(r"https?://[^\s<>\"']+")
TRAILING = ".,;:!?)]}"  # ends a sentence, not a URL


@dataclass(frozen=True)
class SentMail:
    file: str
    to: str
    subject: str
    date: str  # ISO 8601
    text: str
    html: str
    links: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "to": self.to,
            "subject": self.subject,
            "date": self.date,
            "text": self.text,
            "html": self.html,
            "links": self.links,
        }


def newest(directory: Path, *, limit: int = NEWEST) -> list[SentMail]:
    """The newest `limit` messages in `directory` (none when it does not exist yet)."""
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob("*.eml"), key=lambda p: p.name, reverse=True)[:limit]
    found = []
    for path in paths:
        try:
            found.append(read(path))
        except (OSError, ValueError, LookupError) as error:
            log.warning("sandbox mail: cannot read %s: %s", path.name, error)
    return found


def read(path: Path) -> SentMail:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text, html = _part(message, "plain"), _part(message, "html")
    return SentMail(
        file=path.name,
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        date=_date(message, path),
        text=text,
        html=html,
        links=_unique([*links_in(text), *_hrefs(html)]),
    )


def links_in(text: str) -> list[str]:
    """The http(s) URLs in plain text, without the punctuation that ends a sentence."""
    return [match.group(0).rstrip(TRAILING) for match in URL.finditer(text)]


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""


def _date(message: EmailMessage, path: Path) -> str:
    try:
        return parsedate_to_datetime(str(message["Date"])).isoformat()
    except (TypeError, ValueError):
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") if tag == "a" else None
        if href and href.startswith(("http://", "https://")):
            self.found.append(href)


def _hrefs(html: str) -> list[str]:
    parser = _Hrefs()
    parser.feed(html)
    return parser.found


def _unique(links: list[str]) -> list[str]:
    return list(dict.fromkeys(links))
