"""Reading the filters of TikTok's search bodies: Unix-second time windows (`<field>_ge` with
`_lt` or `_le`), lists of ids or enum values, sort parameters, and the fingerprint a page token
carries so it is refused under other filters."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from storesync.sandbox.tiktok.wire import Call, invalid


def int_field(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{name} must be a Unix timestamp (integer seconds)")
    return value


def in_range(body: dict[str, Any], prefix: str, upper: str) -> Callable[[int], bool]:
    """The body's `<prefix>_ge` / `<prefix>_<upper>` window as a predicate, validated once per
    call (a search over 20,000 products asks it 20,000 times)."""
    low, high = int_field(body, f"{prefix}_ge"), int_field(body, f"{prefix}_{upper}")
    if low is None and high is None:
        return lambda _value: True
    return lambda value: (
        (low is None or value >= low)
        and (high is None or (value <= high if upper == "le" else value < high))
    )


def string_list(
    body: dict[str, Any], name: str, *, allowed: Collection[str] = (), limit: int = 100
) -> set[str] | None:
    """The body's list of strings `name` as a set (None when absent); every value must be in
    `allowed` when given."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(f"{name} must be a list of strings")
    if len(value) > limit:
        raise invalid(f"{name}: at most {limit} values")
    unknown = [v for v in value if allowed and v not in allowed]
    if unknown:
        raise invalid(f"{name}: unknown value {unknown[0]!r}; use one of {', '.join(allowed)}")
    return set(value)


def sort(call: Call, *, default_field: str = "create_time") -> tuple[str, bool]:
    """(`sort_field`, descending) from the query: create_time | update_time, ASC | DESC."""
    field = call.query.get("sort_field", default_field)
    order = call.query.get("sort_order", "DESC")
    if field not in ("create_time", "update_time") or order not in ("ASC", "DESC"):
        raise invalid("sort_field must be create_time|update_time, sort_order ASC|DESC")
    return field, order == "DESC"


def scope(call: Call, body: dict[str, Any], *extra: str) -> str:
    """What a page token is bound to: the shop, the body and the named query parameters."""
    shop = call.the_shop().id
    return json.dumps([shop, body, [call.query.get(k, "") for k in extra]], sort_keys=True)
