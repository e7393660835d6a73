"""Object keys: relative paths such as `<organization_id>/products/<product_id>/<image_id>.webp`,
checked strictly before any store sees them (they become file paths on local disk)."""

from __future__ import annotations

import re
import uuid

from storesync.core.errors import ValidationFailed

MAX_KEY_LENGTH = 512
# A segment starts with a letter, digit, '_' or '-': never '.', so no '.', '..' or hidden name is
# a key, and local storage's own files (temporary files, `.name.meta`) can never be addressed.
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")


def check_key(key: str) -> str:
    """`key` when it is a valid object key; `ValidationFailed("key", ...)` naming the problem."""
    if not isinstance(key, str) or not key:
        raise ValidationFailed("key", "must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed("key", f"must be at most {MAX_KEY_LENGTH} characters")
    if "\\" in key:
        raise ValidationFailed("key", "must use '/' between parts, not '\\'")
    if key.startswith("/"):
        raise ValidationFailed("key", "must be relative (no leading '/')")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise ValidationFailed("key", "must not have empty, '.' or '..' parts")
        if not _SEGMENT.fullmatch(segment):
            raise ValidationFailed(
                "key",
                "parts may hold only letters, digits, '.', '_' and '-', must not start with '.'"
                " and are at most 128 characters",
            )
    return key


def check_content_type(content_type: str) -> str:
    """A plain `type/subtype` (no parameters), lower-cased; `ValidationFailed` otherwise."""
    if not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type.lower()):
        raise ValidationFailed("content_type", "must be a media type like image/webp")
    return content_type.lower()


def organization_of(key: str) -> str:
    """The first part of a key: the id of the organization the object belongs to."""
    return check_key(key).split("/", 1)[0]


def product_image_key(
    *,
    organization_id: uuid.UUID,
    product_id: uuid.UUID,
    image_id: uuid.UUID,
    thumbnail: bool = False,
) -> str:
    """`<organization_id>/products/<product_id>/<image_id>.webp`, or `...<image_id>.thumb.webp`
    for its thumbnail."""
    suffix = ".thumb.webp" if thumbnail else ".webp"
    return check_key(f"{organization_id}/products/{product_id}/{image_id}{suffix}")
