"""Shopee Open Platform v2 signatures (MARKETPLACES §1.2 and §1.6).

One function signs (`sign`); the others only build what it signs. The partner_key is used as
its UTF-8 bytes, never hex-decoded, and the request body is never part of an API signature.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(partner_key: str, base_string: str | bytes) -> str:
    """HMAC-SHA256 of `base_string` keyed with the partner_key's UTF-8 bytes, lowercase hex."""
    message = base_string if isinstance(base_string, bytes) else base_string.encode()
    return hmac.new(partner_key.encode(), message, hashlib.sha256).hexdigest()


def public_base(partner_id: str | int, api_path: str, timestamp: int) -> str:
    """Base string of public and auth calls: `partner_id + api_path + timestamp`."""
    return f"{int(partner_id)}{api_path}{timestamp}"


def shop_base(
    partner_id: str | int, api_path: str, timestamp: int, access_token: str, shop_id: str | int
) -> str:
    """Base string of shop calls: `partner_id + api_path + timestamp + access_token + shop_id`."""
    return f"{public_base(partner_id, api_path, timestamp)}{access_token}{int(shop_id)}"


def push_base(url: str, body: bytes) -> bytes:
    """What a push is signed over: the full registered callback URL, `|`, the raw body."""
    return url.encode() + b"|" + body


def verify_push(partner_key: str, url: str, body: bytes, signature: str) -> bool:
    """Whether `signature` (the push's `Authorization` header) signs `url|body`; constant time."""
    expected = sign(partner_key, push_base(url, body))
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())
