"""The products page's rows, built from the catalog's, inventory's and listings' DTOs (strings
only: Reflex state holds plain values), and the editor's form input parsed back."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session

from storesync.catalog.content.markdown import render_description
from storesync.catalog.schemas import (
    ProductDTO,
    ProductImageDTO,
    VariantDTO,
    VariantInput,
    VariantUpdate,
)
from storesync.core.errors import ValidationFailed
from storesync.inventory import service as inventory
from storesync.stores import service as stores
from storesync.sync.listings.schemas import ListingDTO
from storesync.sync.listings.service import listings_of_variants
from storesync.sync.publish.service import publications_of
from storesync.tenancy.context import RequestContext
from storesync.ui.format import money

PLATFORM_NAMES = {"shopee": "Shopee", "tiktok": "TikTok Shop"}
MATCH_LABELS = {
    "matched": "Linked",
    "suggested": "Suggested",
    "unmatched": "Not linked",
    "ignored": "Ignored",
}


@dataclass
class Extras:
    """Per product: available stock summed over its variants and locations, and the channels
    (store names) where one of its variants is listed."""

    available: dict[uuid.UUID, int] = field(default_factory=dict)
    channels: dict[uuid.UUID, list[str]] = field(default_factory=dict)


def _variant_owner(products: Sequence[ProductDTO]) -> dict[uuid.UUID, uuid.UUID]:
    return {v.id: p.id for p in products for v in p.variants}


def _store_names(session: Session, ctx: RequestContext) -> dict[uuid.UUID, str]:
    return {
        s.id: s.name or PLATFORM_NAMES.get(s.platform, s.platform)
        for s in stores.list_stores(session, ctx=ctx)
    }


def list_extras(session: Session, ctx: RequestContext, products: Sequence[ProductDTO]) -> Extras:
    """Stock and channels of a page of products, in three service calls."""
    owner = _variant_owner(products)
    extras = Extras(available=dict.fromkeys((p.id for p in products), 0))
    for level in inventory.stock_levels(session, ctx=ctx, variant_ids=list(owner)):
        extras.available[owner[level.variant_id]] += level.available
    names = _store_names(session, ctx)
    channels: dict[uuid.UUID, list[str]] = defaultdict(list)
    for listing in listings_of_variants(session, ctx=ctx, variant_ids=list(owner)):
        product_id = owner.get(listing.variant_id or uuid.UUID(int=0))
        name = names.get(listing.store_id, "")
        if product_id is not None and name and name not in channels[product_id]:
            channels[product_id].append(name)
    extras.channels = dict(channels)
    return extras


def product_row(product: ProductDTO, extras: Extras) -> dict[str, str]:
    skus = [v.sku for v in product.variants]
    main = product.main_image
    channels = extras.channels.get(product.id, [])
    return {
        "id": str(product.id),
        "handle": product.handle,
        "title": product.title,
        "status": product.status,
        "thumb": main.thumb_src if main else "",
        "variants_label": f"{len(skus)} variant" + ("" if len(skus) == 1 else "s"),
        "skus": " ".join(skus[:3]),  # shown one SKU per unbreakable chip
        "more_skus": f"+{len(skus) - 3}" if len(skus) > 3 else "",
        "price": _price_range(product),
        "available": str(extras.available.get(product.id, 0)),
        "channels": ", ".join(channels) if channels else "Not listed",
    }


def _price_range(product: ProductDTO) -> str:
    priced = [(v.price, v.currency) for v in product.variants if v.price is not None]
    if not priced:
        return "no price"
    low, high = min(priced), max(priced)
    if low[0] == high[0]:
        return money(*low)
    return f"{money(*low)} to {money(*high)}"


def _plain(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def options_text(options: dict[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in options.items())


def variant_row(variant: VariantDTO, thumbs: dict[str, str] | None = None) -> dict[str, str]:
    """The variant as the editor shows it; `thumbs` (image id → thumbnail) gives its own
    picture's thumbnail (none when it shows the product's main image)."""
    own = (thumbs or {}).get(variant.image_id, "")
    return {
        "id": str(variant.id),
        "image_id": variant.image_id if own else "none",
        "thumb": own,
        "sku": variant.sku,
        "name": variant.name,
        "options": ", ".join(f"{k} {v}" for k, v in variant.options.items()),
        "options_input": options_text(variant.options),
        "barcode": variant.barcode,
        "price": money(variant.price, variant.currency) if variant.price is not None else "",
        "price_input": _plain(variant.price),
        "cost_input": _plain(variant.cost),
        "weight_grams": _plain(variant.weight_grams),
        "length_mm": _plain(variant.length_mm),
        "width_mm": _plain(variant.width_mm),
        "height_mm": _plain(variant.height_mm),
        "active": "active" if variant.is_active else "inactive",
    }


def product_form(product: ProductDTO) -> dict[str, str]:
    return {
        "id": str(product.id),
        "handle": product.handle,
        "title": product.title,
        "status": product.status,
        "description": product.description,
        "description_html": render_description(product.description),
        "brand": product.brand,
        "category": product.category,
        "attributes": "\n".join(f"{k}: {v}" for k, v in product.attributes.items()),
    }


def image_rows(images: Sequence[ProductImageDTO]) -> list[dict[str, str]]:
    last = len(images) - 1
    return [
        {
            "id": image.id,
            "src": image.src,
            "thumb": image.thumb_src,
            "alt": image.alt,
            "size": f"{image.width}x{image.height} px" if image.width else "",
            "main": "yes" if n == 0 else "",
            "first": "yes" if n == 0 else "",
            "last": "yes" if n == last else "",
        }
        for n, image in enumerate(images)
    ]


def stock_rows(session: Session, ctx: RequestContext, product: ProductDTO) -> list[dict[str, str]]:
    """Each variant at each location (read-only)."""
    locations = {loc.id: loc.name or loc.code for loc in inventory.list_locations(session, ctx=ctx)}
    skus = {v.id: v.sku for v in product.variants}
    return [
        {
            "sku": skus.get(level.variant_id, ""),
            "location": locations.get(level.location_id, "(inactive location)"),
            "on_hand": str(level.on_hand),
            "reserved": str(level.reserved),
            "available": str(level.available),
        }
        for level in inventory.stock_levels(session, ctx=ctx, variant_ids=list(skus))
    ]


def listing_rows(
    session: Session, ctx: RequestContext, product: ProductDTO
) -> list[dict[str, str]]:
    names = _store_names(session, ctx)
    listings = listings_of_variants(session, ctx=ctx, variant_ids=[v.id for v in product.variants])
    return [_listing_row(listing, names) for listing in listings]


def _listing_row(listing: ListingDTO, names: dict[uuid.UUID, str]) -> dict[str, str]:
    return {
        "id": str(listing.id),
        "store": names.get(listing.store_id, ""),
        "title": listing.title + (f" · {listing.model_name}" if listing.model_name else ""),
        "sku": listing.variant_sku or listing.platform_sku,
        "state": MATCH_LABELS.get(listing.match_status, listing.match_status),
        "match_status": listing.match_status,
        "status": listing.status,
        "quantity": "" if listing.channel_quantity is None else str(listing.channel_quantity),
    }


def publication_rows(
    session: Session, ctx: RequestContext, product: ProductDTO
) -> list[dict[str, str]]:
    """Where the product is published, with the store's own title and description if kept."""
    names = _store_names(session, ctx)
    return [
        {
            "store_id": str(p.store_id),
            "store": names.get(p.store_id, ""),
            "status": p.status,
            "item": p.platform_item_id,
            "error": p.error[:300],
            "title_override": p.title_override,
            "description_override": p.description_override,
        }
        for p in publications_of(session, ctx=ctx, product_id=product.id)
    ]


# Parsing the editor's form -------------------------------------------------------------------


def decimal_field(name: str, text: str) -> Decimal | None:
    if not text.strip():
        return None
    try:
        return Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise ValidationFailed(name, "must be a number, e.g. 25000 or 12.50") from None


def int_field(name: str, text: str) -> int | None:
    cleaned = text.strip().replace(",", "")
    if not cleaned:
        return None
    if not cleaned.lstrip("-").isdigit():
        raise ValidationFailed(name, "must be a whole number")
    return int(cleaned)


def pairs_field(name: str, text: str) -> dict[str, str]:
    """`name: value` lines (blank lines skipped) as a dict; a line without ':' is named."""
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValidationFailed(name, f"line {number}: write it as name: value", line=number)
        pairs[key.strip()] = value.strip()
    return pairs


def variant_input(form: dict[str, Any]) -> VariantInput:
    """A new variant from the variant form (same fields as `variant_changes`)."""
    return VariantInput(**variant_changes(form).model_dump(exclude_none=True))


def variant_changes(form: dict[str, Any]) -> VariantUpdate:
    return VariantUpdate(
        sku=str(form.get("sku", "")),
        name=str(form.get("name", "")),
        options=pairs_field("options", str(form.get("options", ""))),
        barcode=str(form.get("barcode", "")),
        price=decimal_field("price", str(form.get("price", ""))),
        cost=decimal_field("cost", str(form.get("cost", ""))),
        weight_grams=int_field("weight_grams", str(form.get("weight_grams", ""))),
        length_mm=int_field("length_mm", str(form.get("length_mm", ""))),
        width_mm=int_field("width_mm", str(form.get("width_mm", ""))),
        height_mm=int_field("height_mm", str(form.get("height_mm", ""))),
        is_active=str(form.get("active", "active")) != "inactive",
        image_id="" if str(form.get("image_id", "none")) == "none" else str(form["image_id"]),
    )
