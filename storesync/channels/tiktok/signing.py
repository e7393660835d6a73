"""TikTok Shop request signing (MARKETPLACES §2.3) and webhook verification (§2.6).

One function signs every API call; `verify_push` checks the `Authorization` header of a push.
Both are pinned by the published vectors in `tests/channels/test_tiktok_adapter.py`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

_UNSIGNED = frozenset({"sign", "access_token", "x-tts-access-token"})


def sign(app_secret: str, path: str, query: Mapping[str, str], body: bytes) -> str:
    """The `sign` query parameter: the query parameters except `sign` and `access_token`, sorted
    by key and joined as `{key}{value}`, the path (no host, no query) in front, the raw body
    exactly as sent behind (b"" for GET and multipart), wrapped in the secret at both ends;
    lowercase hex HMAC-SHA256 keyed with the app secret."""
    params = "".join(f"{key}{query[key]}" for key in sorted(query) if key not in _UNSIGNED)
    secret = app_secret.encode()
    message = secret + (path + params).encode() + body + secret
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def push_signature(app_key: str, app_secret: str, body: bytes) -> str:
    """What TikTok puts in a push's `Authorization` header: HMAC-SHA256(app_secret,
    app_key + raw body), lowercase hex."""
    return hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()


def verify_push(app_key: str, app_secret: str, body: bytes, signature: str) -> bool:
    """Whether `signature` (the push's `Authorization` header) signs `body`; constant time."""
    expected = push_signature(app_key, app_secret, body)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())
