"""Signed, expiring browser session tokens: `user.org.expiry.signature` (HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from storesync.core.clock import utcnow


@dataclass(frozen=True, slots=True)
class SessionClaims:
    user_id: uuid.UUID
    organization_id: uuid.UUID
    expires_at: datetime


def _sign(secret: str, body: str) -> str:
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_token(
    secret: str, *, user_id: uuid.UUID, organization_id: uuid.UUID, ttl: timedelta
) -> str:
    expires = int((utcnow() + ttl).timestamp())
    body = f"{user_id.hex}.{organization_id.hex}.{expires}"
    return f"{body}.{_sign(secret, body)}"


def read_token(secret: str, token: str) -> SessionClaims | None:
    """The claims of a valid, unexpired token; None for anything else."""
    parts = token.split(".")
    if len(parts) != 4:
        return None
    body, signature = ".".join(parts[:3]), parts[3]
    if not hmac.compare_digest(_sign(secret, body), signature):
        return None
    try:
        user_id, organization_id = uuid.UUID(parts[0]), uuid.UUID(parts[1])
        expires_at = datetime.fromtimestamp(int(parts[2]), tz=utcnow().tzinfo)
    except ValueError:
        return None
    if expires_at <= utcnow():
        return None
    return SessionClaims(user_id, organization_id, expires_at)
