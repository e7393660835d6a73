"""Keyset pages and search patterns for list queries: an opaque cursor that encodes the sort key
of the last row seen, and the LIKE pattern of a search term."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from storesync.core.errors import ValidationFailed

T = TypeVar("T")

MAX_PAGE_SIZE = 200


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*values: Any) -> str:
    """Encode the sort key of the last row (UUIDs, datetimes and Decimals as strings)."""
    raw = json.dumps([str(v) if v is not None else None for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_typed(cursor: str, *types: Callable[[str], Any]) -> list[Any]:
    """`decode_cursor` with each value read by its type (`int`, `uuid.UUID`,
    `datetime.fromisoformat`...): a value altered to hold something else is `ValidationFailed`
    too, never a crash in the query that uses it."""
    values = decode_cursor(cursor, parts=len(types))
    try:
        return [read(str(value)) for read, value in zip(types, values, strict=True)]
    except (ValueError, TypeError, OverflowError):
        raise ValidationFailed("cursor", "is not a valid page cursor") from None


def decode_cursor(cursor: str, *, parts: int) -> list[str | None]:
    """The values `encode_cursor` stored; `ValidationFailed` on anything tampered with."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("cursor", "is not a valid page cursor") from None
    if not isinstance(values, list) or len(values) != parts:
        raise ValidationFailed("cursor", "is not a valid page cursor")
    return values


def clamp_limit(limit: int) -> int:
    if limit < 1:
        raise ValidationFailed("limit", "must be at least 1")
    return min(limit, MAX_PAGE_SIZE)


def contains_pattern(term: str) -> str:
    """A LIKE / ILIKE pattern matching `term` anywhere, its wildcards taken literally; use it with
    `escape="\\\\"`."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
