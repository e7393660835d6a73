"""Cutting pushes and ranges into the calls TikTok Shop takes: SKUs grouped by product, the
entries of inventory and price updates, chunks and time windows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from storesync.channels.schemas import PriceUpdate, PushFailure, StockUpdate
from storesync.channels.tiktok.mapping import money
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType

Update = TypeVar("Update", StockUpdate, PriceUpdate)


@dataclass
class SkuEntry:
    """One SKU's entry in an update call, and the updates it carries (the last one wins)."""

    entry: dict[str, Any]
    updates: list[StockUpdate | PriceUpdate] = field(default_factory=list)


def about_items(error: AppError) -> bool:
    """A refusal of these items (bad SKU, quantity, product) rather than of the whole push."""
    return error.type is ErrorType.VALIDATION or (
        error.type is ErrorType.PLATFORM_API and error.code == "platform_error"
    )


def fail(failed: list[PushFailure], update: StockUpdate | PriceUpdate, reason: str) -> None:
    failed.append(
        PushFailure(
            platform_item_id=update.platform_item_id,
            platform_model_id=update.platform_model_id,
            reason=reason,
        )
    )


def by_product(updates: Sequence[Update]) -> dict[str, list[Update]]:
    groups: dict[str, list[Update]] = {}
    for update in updates:
        groups.setdefault(update.platform_item_id, []).append(update)
    return groups


def stock_entries(updates: list[StockUpdate]) -> dict[str, SkuEntry]:
    """SKU id → its inventory entry: the absolute quantity per warehouse (the last update of a
    SKU and warehouse wins)."""
    quantities: dict[str, dict[str, int]] = {}
    skus: dict[str, SkuEntry] = {}
    for u in updates:
        quantities.setdefault(u.platform_model_id, {})[u.location_id] = u.quantity
        sku = skus.setdefault(u.platform_model_id, SkuEntry({"id": u.platform_model_id}))
        sku.updates.append(u)
    for sku_id, sku in skus.items():
        sku.entry["inventory"] = [
            {"warehouse_id": warehouse, "quantity": quantity}
            for warehouse, quantity in quantities[sku_id].items()
        ]
    return skus


def price_entries(updates: list[PriceUpdate]) -> dict[str, SkuEntry]:
    """SKU id → its price entry (the last update of a SKU wins)."""
    skus: dict[str, SkuEntry] = {}
    for u in updates:
        sku = skus.setdefault(u.platform_model_id, SkuEntry({"id": u.platform_model_id}))
        sku.entry["price"] = {"amount": money(u.price), "currency": u.currency}
        sku.updates.append(u)
    return skus


T = TypeVar("T")


def chunks(rows: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def windows(
    since: datetime, until: datetime | None, days: int | None
) -> Iterator[tuple[datetime, datetime | None]]:
    """[since, until) cut into spans of at most `days` (one span when the platform has no
    limit; an open end stays open)."""
    if days is None:
        yield since, until
        return
    end = until or utcnow()
    start = since
    while start < end:
        stop = min(start + timedelta(days=days), end)
        yield start, (stop if stop < end or until is not None else None)
        start = stop
