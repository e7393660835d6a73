"""What adapters hand to the rest of StoreSync: our own DTOs, never marketplace field names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from storesync.core.schemas import DTO


@dataclass(frozen=True)
class AppCredentials:
    """StoreSync's app on a platform (Shopee partner id and key, TikTok app key and secret)."""

    platform: str
    key: str
    secret: str
    service_id: str = ""

    def __repr__(self) -> str:
        return f"AppCredentials({self.platform!r}, key={self.key!r}, secret=<hidden>)"


class Credentials(BaseModel):
    """A shop's tokens. Stored encrypted (MultiFernet); never logged, never sent to a browser."""

    model_config = ConfigDict(frozen=True)

    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime | None = None
    shop_id: str
    shop_cipher: str = ""

    def __repr__(self) -> str:
        return (
            f"Credentials(shop_id={self.shop_id!r}, expires={self.access_expires_at}, "
            "tokens=<hidden>)"
        )

    __str__ = __repr__


class AuthorizedShop(DTO):
    platform_store_id: str
    name: str
    region: str
    credentials: Credentials


class ChannelVariant(DTO):
    """One sellable unit on a channel (Shopee item+model, TikTok product+SKU)."""

    platform_item_id: str
    platform_model_id: str  # "" when the item has no models
    sku: str
    title: str
    model_name: str
    price: Decimal | None
    currency: str
    quantity: int | None
    status: str
    location_id: str = ""  # Shopee location / TikTok warehouse the quantity belongs to


class ChannelProduct(DTO):
    platform_item_id: str
    title: str
    status: str
    variants: list[ChannelVariant]
    updated_at: datetime | None = None


class StockUpdate(DTO):
    platform_item_id: str
    platform_model_id: str
    quantity: int
    location_id: str = ""


class PriceUpdate(DTO):
    platform_item_id: str
    platform_model_id: str
    price: Decimal
    currency: str


class PushFailure(DTO):
    platform_item_id: str
    platform_model_id: str
    reason: str


class PushResult(DTO):
    succeeded: list[StockUpdate | PriceUpdate]
    failed: list[PushFailure]
    calls: int


class ChannelOrderLine(DTO):
    platform_item_id: str
    platform_model_id: str
    sku: str
    title: str
    model_name: str
    quantity: int
    unit_price: Decimal


class ShippingAddress(DTO):
    """The recipient as the platform gives it: masked where it masks (Shopee "B****i",
    "******78"); StoreSync stores what it is given and never unmasks."""

    name: str = ""
    phone: str = ""
    address: str = ""  # the full address line(s)
    district: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""  # region code (ID, MY, ...)


class ChannelPackage(DTO):
    """One parcel of an order (Shopee package_number, TikTok package id)."""

    package_id: str
    tracking_number: str = ""
    carrier: str = ""
    status: str = ""  # the platform's own logistics/package status


class ChannelOrder(DTO):
    platform_order_id: str
    order_number: str
    platform_status: str
    status: str  # StoreSync's status (storesync.orders.status)
    currency: str
    total: Decimal
    customer_name: str
    ordered_at: datetime
    updated_at: datetime
    lines: list[ChannelOrderLine]
    tracking_number: str = ""
    carrier: str = ""
    shipping_address: ShippingAddress | None = None
    packages: list[ChannelPackage] = []
    raw: dict[str, Any] = {}


# -- fulfilment ------------------------------------------------------------------------------

HandoverMethod = Literal["pickup", "dropoff"]

# StoreSync's cancellation reasons; each adapter maps them to a value its platform accepts.
CANCEL_REASONS: dict[str, str] = {
    "out_of_stock": "Out of stock",
    "customer_request": "The buyer asked to cancel",
    "undeliverable_area": "Cannot deliver to the buyer's area",
}


class PickupSlot(DTO):
    slot_id: str  # what the platform wants back (Shopee pickup_time_id; TikTok "start-end")
    label: str  # what the merchant reads ("Tue 8 Dec, 09:00 - 12:00")
    starts_at: datetime | None = None
    ends_at: datetime | None = None


class PickupAddress(DTO):
    address_id: str
    label: str
    slots: list[PickupSlot] = []


class DropoffBranch(DTO):
    branch_id: str
    label: str


class ShippingOptions(DTO):
    """How one order (its first package) may be handed to the carrier, as the platform offers."""

    platform_order_id: str
    package_id: str
    methods: list[HandoverMethod]
    carrier: str = ""
    addresses: list[PickupAddress] = []  # pickup: the seller's addresses with their slots
    branches: list[DropoffBranch] = []  # dropoff: branches to choose from (may be empty: any)


class ShipRequest(DTO):
    method: HandoverMethod
    address_id: str = ""
    slot_id: str = ""
    branch_id: str = ""


class Shipment(DTO):
    """An arranged shipment. `tracking_number` may be "" when the platform has not assigned it
    yet (Shopee: ask again later)."""

    platform_order_id: str
    package_id: str
    method: HandoverMethod
    tracking_number: str = ""
    carrier: str = ""


class ShippingLabel(DTO):
    platform_order_id: str
    package_id: str
    tracking_number: str
    pdf: bytes


ReturnState = Literal["requested", "in_progress", "completed", "cancelled", "rejected"]


class ChannelReturnLine(DTO):
    platform_item_id: str
    platform_model_id: str
    sku: str
    quantity: int


class ChannelReturn(DTO):
    """A buyer's return or refund request. `state` is StoreSync's reading of the platform's
    `platform_status`: units come back (and may be restocked) once it is `completed`."""

    platform_return_id: str
    platform_order_id: str
    platform_status: str
    state: ReturnState
    reason: str = ""
    refund_only: bool = False  # the buyer keeps the goods: nothing comes back to restock
    lines: list[ChannelReturnLine] = []
    refund_amount: Decimal | None = None
    currency: str = ""
    created_at: datetime
    updated_at: datetime


# -- publishing --------------------------------------------------------------------------------


class ChannelCategory(DTO):
    """One node of a platform's category tree; only leaves take listings."""

    category_id: str
    parent_id: str  # "" at the root
    name: str
    leaf: bool


class AttributeValue(DTO):
    value_id: str  # "" for a free-text value
    name: str


class ChannelAttribute(DTO):
    """A product attribute a category asks for, with the platform's allowed values (none: any
    text). TikTok's sales attributes (variant options) are not listed here."""

    attribute_id: str
    name: str
    required: bool
    values: list[AttributeValue] = []
    multiple: bool = False


class LogisticsChannel(DTO):
    """A Shopee logistics channel enabled for the shop (TikTok ships through its own)."""

    channel_id: str
    name: str
    max_weight_grams: int | None = None


class ListingRules(DTO):
    """What the platform refuses for a listing in one category, read from the platform (Shopee
    get_item_limit; TikTok category rules and its documented product limits), so StoreSync can
    refuse it first and name the field."""

    title_min: int
    title_max: int
    description_max: int
    images_min: int
    images_max: int
    image_max_bytes: int
    price_min: Decimal
    price_max: Decimal
    stock_min: int
    stock_max: int
    max_variants: int
    needs_logistics: bool = False  # Shopee: at least one logistics channel
    needs_package: bool = False  # TikTok: package weight and dimensions


class CategoryDetail(DTO):
    category_id: str
    attributes: list[ChannelAttribute]
    rules: ListingRules
    logistics: list[LogisticsChannel] = []


class UploadedImage(DTO):
    image_id: str  # Shopee image_id; TikTok uri
    url: str


class DraftAttribute(DTO):
    attribute_id: str
    values: list[AttributeValue]


class DraftVariant(DTO):
    """One master variant as the listing's model / SKU. `options` in order (Shopee: up to two
    tiers; TikTok: sales attributes); empty for a product without variants."""

    sku: str
    options: dict[str, str] = {}
    price: Decimal
    quantity: int


class ListingDraft(DTO):
    """A master product as one new listing on a platform, checked by StoreSync beforehand."""

    title: str
    description: str
    category_id: str
    currency: str
    images: list[str]  # uploaded image ids (UploadedImage.image_id), the first is the cover
    attributes: list[DraftAttribute] = []
    variants: list[DraftVariant]
    weight_grams: int = 0
    length_cm: int = 0
    width_cm: int = 0
    height_cm: int = 0
    logistics_ids: list[str] = []  # Shopee


class PublishedVariant(DTO):
    sku: str
    platform_model_id: str  # "" (Shopee "0" is read as "") when the item has no models


class PublishedListing(DTO):
    platform_item_id: str
    variants: list[PublishedVariant]


class ContentUpdate(DTO):
    """A master product's content for one existing listing; None leaves a field as it is."""

    platform_item_id: str
    title: str | None = None
    description: str | None = None
    images: list[str] | None = None  # uploaded image ids
    attributes: list[DraftAttribute] | None = None
    weight_grams: int | None = None
    length_cm: int | None = None
    width_cm: int | None = None
    height_cm: int | None = None


class ShopHealth(DTO):
    ok: bool
    latency_ms: float
    shop_name: str = ""
    detail: str = ""


class Capabilities(BaseModel):
    """What a platform's API allows, so callers batch to the full."""

    model_config = ConfigDict(frozen=True)

    stock_batch_size: int  # updates per stock call
    stock_call_per_item: bool  # one call covers models of ONE item only
    price_batch_size: int
    order_detail_batch_size: int
    order_window_days: int | None  # the longest time range one order-list query may span
    page_size: int
    webhooks: bool = True


class StoreDTO(DTO):
    """A connected store as the rest of the app sees it: no credentials, ever."""

    id: uuid.UUID
    platform: str
    platform_store_id: str
    name: str
    region: str
    status: str
    token_expires_at: datetime | None
    refresh_expires_at: datetime | None
    sync_status: str
    last_synced_at: datetime | None
    created_at: datetime


class StoreHealthDTO(DTO):
    store_id: uuid.UUID
    ok: bool
    token_valid: bool
    reachable: bool
    latency_ms: float | None
    token_expires_at: datetime | None
    circuit: str
    detail: str


class StoreMetricsDTO(DTO):
    store_id: uuid.UUID
    listings: int
    matched_listings: int
    orders_24h: int
    last_synced_at: datetime | None
    sync_jobs_24h: int
    sync_error_rate: float
    last_push_at: datetime | None = None  # the newest push (webhook) received from the store
