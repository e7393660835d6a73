"""A platform answer's JSON, decoded once per response.

The resilient client's classifier reads the body to decide success, and the adapter then reads
the same body for its data: decoding it twice cost about a quarter of a large catalog fetch's
CPU (a TikTok product page is hundreds of kilobytes)."""

from __future__ import annotations

import json
import weakref
from typing import Any

import httpx

_INVALID = object()
_DECODED: weakref.WeakKeyDictionary[httpx.Response, Any] = weakref.WeakKeyDictionary()


def json_body(response: httpx.Response) -> Any | None:
    """The decoded body, or None when it is not JSON. Callers must not mutate it: the next
    reader of the same response gets the same object."""
    found = _DECODED.get(response, None)
    if found is None:
        try:
            found = json.loads(response.content)
        except (UnicodeDecodeError, ValueError):
            found = _INVALID
        _DECODED[response] = found
    return None if found is _INVALID else found
