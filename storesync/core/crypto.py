"""Secrets at rest and in transit: sealed store credentials (MultiFernet, newest key first, so
keys rotate without downtime) and small signed, expiring tokens (OAuth `state`, links: JSON +
HMAC-SHA256, URL-safe)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType

# -- sealed credentials ---------------------------------------------------------------------------


class CredentialBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is required")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, payload: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(payload, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise AppError(
                ErrorType.INTERNAL,
                "credentials_undecryptable",
                "stored credentials cannot be decrypted with the configured keys",
            ) from None
        return data

    def rotate(self, token: str) -> str:
        """Re-encrypt under the newest key."""
        return self._fernet.rotate(token.encode()).decode()

    def __repr__(self) -> str:
        return "CredentialBox(<keys hidden>)"


# -- signed tokens --------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def dumps(secret: str, payload: dict[str, Any], *, ttl: timedelta, purpose: str) -> str:
    """A signed token carrying `payload`, valid for `ttl` and only for `purpose`."""
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
