"""Small signed, expiring payloads (OAuth `state`, links): JSON + HMAC-SHA256, URL-safe."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

from storesync.core.clock import utcnow


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def dumps(secret: str, payload: dict[str, Any], *, ttl: timedelta, purpose: str) -> str:
    body = _b64(
        json.dumps(
            {**payload, "exp": int((utcnow() + ttl).timestamp()), "p": purpose},
            separators=(",", ":"),
        ).encode()
    )
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def loads(secret: str, token: str, *, purpose: str) -> dict[str, Any] | None:
    """The payload of a valid, unexpired token for `purpose`; None for anything else."""
    body, _, mac = token.partition(".")
    expected = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
    if not mac or not hmac.compare_digest(mac, expected):
        return None
    try:
        payload: dict[str, Any] = json.loads(_unb64(body))
    except ValueError:
        return None
    if payload.get("p") != purpose or int(payload.get("exp", 0)) < utcnow().timestamp():
        return None
    return payload
