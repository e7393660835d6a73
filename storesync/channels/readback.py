"""Reading back what a channel shows for a few sellable units, so a push whose outcome is unknown
(the worker died after sending it, or the call failed after the platform may have applied it)
is confirmed instead of sent again.

Shopee: get_item_base_info (50 items a call) and get_model_list per item with models. TikTok
Shop: the product detail, one call per product. Only unambiguous answers count: a unit whose
stock sits in exactly one location, the one the update targets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TypeVar

from storesync.channels.adapter import PlatformAdapter
from storesync.channels.resilience import bounded
from storesync.channels.schemas import ChannelVariant, StockUpdate
from storesync.channels.shopee.adapter import ShopeeAdapter
from storesync.channels.tiktok import batching
from storesync.channels.tiktok import mapping as tiktok_mapping
from storesync.channels.tiktok.adapter import PRODUCT, TikTokShopAdapter
from storesync.core.errors import AppError, ErrorType

T = TypeVar("T")
Unit = tuple[str, str]
Found = dict[Unit, tuple[ChannelVariant, int]]  # unit → its variant, how many locations hold it
PARALLEL_READS = 8
SHOPEE_ITEMS_PER_CALL = 50


def unit_key(item_id: str, model_id: str) -> Unit:
    """One sellable unit's key; an item without models is model "" here and "0" on Shopee."""
    return item_id, "" if model_id in ("", "0") else model_id


async def read_stock(adapter: PlatformAdapter, updates: Sequence[StockUpdate]) -> dict[Unit, int]:
    """The quantity the channel shows now for each unit of `updates` that it reports
    unambiguously (one location, the update's own when it names one), by `unit_key`. Units the
    channel does not know, or holds in several locations, are left out: push those. Errors that
    are not about the items (authentication, rate limit, outage) are raised."""
    items = list(dict.fromkeys(u.platform_item_id for u in updates))
    if isinstance(adapter, ShopeeAdapter):
        found = await _shopee(adapter, items)
    elif isinstance(adapter, TikTokShopAdapter):
        found = await _tiktok(adapter, items)
    else:
        return {}
    shown: dict[Unit, int] = {}
    for update in updates:
        key = unit_key(update.platform_item_id, update.platform_model_id)
        variant, places = found.get(key, (None, 0))
        if (
            variant is not None
            and variant.quantity is not None
            and places == 1
            and update.location_id in ("", variant.location_id)
        ):
            shown[key] = variant.quantity
    return shown


async def _shopee(adapter: ShopeeAdapter, items: list[str]) -> Found:
    size = SHOPEE_ITEMS_PER_CALL
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    found: Found = {}
    for products in await _bounded([adapter._products(chunk) for chunk in chunks]):
        for variant in (v for p in products for v in p.variants):
            # Shopee's mapping names the location only when the stock sits in exactly one.
            places = 1 if variant.location_id else 2
            found[unit_key(variant.platform_item_id, variant.platform_model_id)] = variant, places

    return found


async def _tiktok(adapter: TikTokShopAdapter, items: list[str]) -> Found:
    async def one(product_id: str) -> Found:
        try:
            raw = await adapter._call("GET", PRODUCT.format(product_id=product_id))
        except AppError as error:
            if error.type is ErrorType.NOT_FOUND or batching.about_items(error):
                return {}  # gone or refused: the push itself reports it
            raise
        places = tiktok_mapping.warehouses(raw)
        return {
            unit_key(v.platform_item_id, v.platform_model_id): (
                v,
                len(places.get(v.platform_model_id, [])),
            )
            for v in tiktok_mapping.product(raw).variants
        }

    found: Found = {}
    for part in await _bounded([one(product_id) for product_id in items]):
        found.update(part)
    return found


async def _bounded(jobs: Sequence[Awaitable[T]], limit: int = PARALLEL_READS) -> list[T]:
    return await bounded(jobs, limit)
