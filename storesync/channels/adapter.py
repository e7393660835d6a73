"""The contract every marketplace adapter fulfils, and the connection it works through.

Adapters alone know marketplace field names; they turn payloads into `channels.schemas` DTOs and
map every platform error once into `AppError` (type, code, retryable).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from storesync.channels.resilience import ResilientClient
from storesync.channels.schemas import (
    AppCredentials,
    AuthorizedShop,
    Capabilities,
    CategoryDetail,
    ChannelCategory,
    ChannelOrder,
    ChannelProduct,
    ChannelReturn,
    ContentUpdate,
    Credentials,
    ListingDraft,
    PriceUpdate,
    PublishedListing,
    PushResult,
    Shipment,
    ShippingLabel,
    ShippingOptions,
    ShipRequest,
    ShopHealth,
    StockUpdate,
    UploadedImage,
)
from storesync.core.errors import AppError, ErrorType

OnRefresh = Callable[[Credentials], Awaitable[None]]


def refused_refresh(error: AppError, platform: str) -> AppError | None:
    """What a token refresh the platform refused is raised as: AUTHENTICATION `reauthorize`
    (the seller must connect the shop again), which marks the store for the merchant. None for
    any other error, and for `bad_app_credentials` (our app's settings, not the shop)."""
    if error.type is not ErrorType.AUTHENTICATION or error.code == "bad_app_credentials":
        return None
    return AppError(
        ErrorType.AUTHENTICATION,
        "reauthorize",
        f"{platform} refused to renew the shop's access; connect the shop again",
        details=error.details,
        retryable=False,
    )


@dataclass
class Connection:
    """Everything one store's adapter needs; one per store connection."""

    app: AppCredentials
    base_url: str  # the API host (sandbox or production), from settings
    auth_base_url: str  # TikTok's separate auth host; Shopee uses base_url
    http: ResilientClient
    credentials: Credentials | None = None
    on_refresh: OnRefresh | None = None  # persists rotated tokens (they are single use)


class PlatformAdapter(Protocol):
    platform: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    connection: Connection

    def authorize_url(self, *, redirect_url: str, state: str) -> str:
        """Where to send the merchant to approve StoreSync; the platform redirects back to
        `redirect_url` with a code (and `state`)."""
        ...

    async def exchange_code(self, *, code: str, shop_id: str | None = None) -> AuthorizedShop:
        """Trade the redirect's code for tokens and the shop's identity."""
        ...

    async def refresh(self) -> Credentials:
        """Rotate the tokens; stores them on the connection and calls `on_refresh`."""
        ...

    def fetch_products(self) -> AsyncIterator[ChannelProduct]:
        """Every product with its variants and stock, paging to the end, each exactly once."""
        ...

    async def update_stock(self, updates: Sequence[StockUpdate]) -> PushResult:
        """Set absolute stock, batched into as few calls as the platform allows."""
        ...

    async def update_price(self, updates: Sequence[PriceUpdate]) -> PushResult: ...

    def fetch_orders(
        self, *, since: datetime, until: datetime | None = None
    ) -> AsyncIterator[ChannelOrder]:
        """Orders updated in [since, until), with details, splitting the range into the windows
        the platform allows."""
        ...

    async def fetch_order_details(self, order_ids: Sequence[str]) -> list[ChannelOrder]: ...

    # -- fulfilment ------------------------------------------------------------------------

    async def shipping_options(self, order_id: str) -> ShippingOptions:
        """How the order's package may be handed over: pickup (addresses and their time slots)
        and/or drop-off (branches), as the platform offers them now."""
        ...

    async def arrange_shipment(self, order_id: str, request: ShipRequest) -> Shipment:
        """Arrange the order's shipment (pickup with an offered slot, or drop-off); the
        platform's refusal (already arranged, cancelled, slot not offered) raises `AppError`
        with its message. Returns the package and its tracking number when already assigned."""
        ...

    async def tracking_number(self, order_id: str) -> str:
        """The package's tracking number; "" while the platform has not assigned it."""
        ...

    async def shipping_label(self, order_id: str) -> ShippingLabel:
        """The package's shipping label as PDF bytes (Shopee: create the document, poll until it
        is ready, download; TikTok: the document URL, downloaded)."""
        ...

    async def cancel_order(self, order_id: str, reason: str) -> None:
        """Cancel as the seller; `reason` is a key of `channels.schemas.CANCEL_REASONS`, mapped
        to a value the platform accepts. Refused (already shipped, ...) with the platform's
        message."""
        ...

    def fetch_returns(
        self, *, since: datetime, until: datetime | None = None
    ) -> AsyncIterator[ChannelReturn]:
        """Returns and refund requests updated in [since, until), with their lines."""
        ...

    # -- publishing ------------------------------------------------------------------------

    async def categories(self) -> list[ChannelCategory]:
        """The platform's whole category tree for the shop."""
        ...

    async def category_detail(self, category_id: str) -> CategoryDetail:
        """The category's attributes (with allowed values), the listing rules the platform
        enforces there and, on Shopee, the shop's enabled logistics channels."""
        ...

    async def upload_image(self, data: bytes, filename: str) -> UploadedImage:
        """Upload one image through the platform's media endpoint."""
        ...

    async def publish(self, draft: ListingDraft) -> PublishedListing:
        """Create the listing (Shopee add_item, then init_tier_variation for variants; TikTok
        create product with SKUs and sales attributes). A refusal raises `AppError` VALIDATION
        with the platform's message and, where it names one, `details["field"]`."""
        ...

    async def update_content(self, update: ContentUpdate) -> None:
        """Change an existing listing's title, description, images, attributes, weight or
        dimensions (Shopee update_item; TikTok partial edit)."""
        ...

    async def setup_webhooks(self, callback_url: str) -> None: ...

    async def health(self) -> ShopHealth:
        """A cheap authenticated call: token valid, API reachable, latency."""
        ...
