"""TikTok Shop Open API (202309) adapter: OAuth on the auth host, signed calls on the API host
(`x-tts-access-token` header, `shop_cipher` on shop endpoints), products, stock and prices,
orders, fulfilment (`fulfilment`: handover, Ship Package, labels, cancellation) and returns
(`returns`), publishing (`catalog`: categories, image upload, create product, partial edit),
webhooks and health (MARKETPLACES §2, docs/marketplaces/tiktok-fulfilment.md,
docs/marketplaces/tiktok-publishing.md).

Every call goes through the connection's `ResilientClient` (bucket, retries, breaker) with
`wire.classify`; a shop call refused for its token triggers one refresh and one retry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from storesync.channels.adapter import Connection, refused_refresh
from storesync.channels.logs import install_log_redaction
from storesync.channels.resilience import bounded
from storesync.channels.schemas import (
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
    PushFailure,
    PushResult,
    Shipment,
    ShippingLabel,
    ShippingOptions,
    ShipRequest,
    ShopHealth,
    StockUpdate,
    UploadedImage,
)
from storesync.channels.tiktok import batching, fulfilment, mapping, returns, wire
from storesync.channels.tiktok.catalog import TikTokCatalog
from storesync.channels.tiktok.paths import (
    ORDERS,
    ORDERS_SEARCH,
    PRODUCT,
    PRODUCTS,
    PRODUCTS_SEARCH,
    SHOPS,
    WEBHOOKS,
)
from storesync.core.errors import AppError, ErrorType

log = logging.getLogger(__name__)

# TikTok publishes no cap; the sandbox enforces 100 (a product has at most 100 SKUs).
MAX_SKUS_PER_CALL = 100
PARALLEL_CALLS = 8  # in flight per push, as Shopee's adapter
MAX_ORDER_IDS = 50
PAGE_SIZE = 100
# The pushes StoreSync acts on. Not INVENTORY_STATUS_CHANGE: StoreSync's count is the truth and
# it ignored them, yet each was received, verified and stored (one for every push it made).
WEBHOOK_EVENTS = (
    "ORDER_STATUS_CHANGE",
    "CANCELLATION_STATUS_CHANGE",
    "RETURN_STATUS_CHANGE",
)


class TikTokShopAdapter:
    """`PlatformAdapter` for TikTok Shop."""

    platform: ClassVar[str] = "tiktok"
    capabilities: ClassVar[Capabilities] = Capabilities(
        stock_batch_size=MAX_SKUS_PER_CALL,
        stock_call_per_item=True,  # inventory/update takes the SKUs of ONE product
        price_batch_size=MAX_SKUS_PER_CALL,
        order_detail_batch_size=MAX_ORDER_IDS,
        order_window_days=None,
        page_size=PAGE_SIZE,
    )

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._refreshing = asyncio.Lock()
        self._catalog = TikTokCatalog(self._call)
        install_log_redaction()

    # -- authorization -------------------------------------------------------------------------

    def authorize_url(self, *, redirect_url: str, state: str) -> str:
        """The auth host's consent page; it redirects to `redirect_url?code=..&state=..`."""
        app = self.connection.app
        params = {"app_key": app.key, "state": state, "redirect_uri": redirect_url}
        if app.service_id:
            params["service_id"] = app.service_id
        return f"{self.connection.auth_base_url}/oauth/authorize?{urlencode(params)}"

    async def exchange_code(self, *, code: str, shop_id: str | None = None) -> AuthorizedShop:
        """Trade the code for tokens (token/get), then learn the shop's id, name, region and
        cipher from the authorized shops; the connection keeps the new credentials."""
        try:
            tokens = await self._token_call(
                "/api/v2/token/get", {"auth_code": code, "grant_type": "authorized_code"}
            )
        except AppError as error:
            if error.code != "token_invalid":
                raise
            raise AppError(
                ErrorType.AUTHENTICATION,
                "invalid_code",
                "the TikTok Shop authorization code is invalid, used or expired: authorize again",
                retryable=False,
            ) from None
        previous = self.connection.credentials
        self.connection.credentials = mapping.credentials(tokens, shop_id="", cipher="")
        try:
            shop = mapping.pick_shop(await self._call("GET", SHOPS, shop=False), shop_id)
        except AppError:
            self.connection.credentials = previous
            raise
        credentials = mapping.credentials(
            tokens, shop_id=str(shop["id"]), cipher=str(shop["cipher"])
        )
        self.connection.credentials = credentials
        log.info("tiktok shop %s authorized", credentials.shop_id)
        return AuthorizedShop(
            platform_store_id=credentials.shop_id,
            name=str(shop.get("name", "")),
            region=str(shop.get("region", "")),
            credentials=credentials,
        )

    async def refresh(self) -> Credentials:
        """Rotate the tokens (token/refresh spends the refresh token); stores them on the
        connection and awaits `on_refresh` so they are persisted. A refused refresh raises
        AUTHENTICATION `reauthorize`."""
        current = self._credentials()
        try:
            tokens = await self._token_call(
                "/api/v2/token/refresh",
                {"refresh_token": current.refresh_token, "grant_type": "refresh_token"},
            )
        except AppError as error:
            refused = refused_refresh(error, "TikTok Shop")
            if refused is None:
                raise
            raise refused from error
        credentials = mapping.credentials(
            tokens, shop_id=current.shop_id, cipher=current.shop_cipher
        )
        self.connection.credentials = credentials
        if self.connection.on_refresh is not None:
            await self.connection.on_refresh(credentials)
        log.info("tiktok shop %s: tokens refreshed", credentials.shop_id)
        return credentials

    # -- products, stock, prices ---------------------------------------------------------------

    async def fetch_products(self) -> AsyncIterator[ChannelProduct]:
        """Every product (all statuses but deleted) with one variant per SKU, following
        `next_page_token` to the end; each product once."""
        seen: set[str] = set()

        def search(token: str) -> asyncio.Task[dict[str, Any]]:
            query = {"page_size": str(PAGE_SIZE), **({"page_token": token} if token else {})}
            return asyncio.ensure_future(
                self._call("POST", PRODUCTS_SEARCH, query=query, body={"status": "ALL"})
            )

        # The next page is asked for as soon as this one's token is known, so mapping this
        # page (and whatever the consumer does with it) overlaps the next call's round trip.
        pending: asyncio.Task[dict[str, Any]] | None = search("")
        try:
            while pending is not None:
                page = await pending
                token = str(page.get("next_page_token") or "")
                pending = search(token) if token else None
                for raw in page.get("products") or []:
                    if str(raw["id"]) not in seen:
                        seen.add(str(raw["id"]))
                        yield mapping.product(raw)
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
        log.info("tiktok shop %s: %d products fetched", self._credentials().shop_id, len(seen))

    async def update_stock(self, updates: Sequence[StockUpdate]) -> PushResult:
        """Absolute quantities per warehouse: one inventory/update call per product and per
        `MAX_SKUS_PER_CALL` SKUs. An update without `location_id` uses the SKU's only warehouse
        (one product detail call). A refused call fails its SKUs and the push goes on; an error
        that is not about the items (credentials, rate limit, outage) is raised."""
        calls_before = self.connection.http.calls
        failed: list[PushFailure] = []
        valid = [u for u in updates if u.quantity >= 0]
        for u in updates:
            if u.quantity < 0:
                batching.fail(failed, u, "quantity must not be negative")
        groups: dict[str, dict[str, batching.SkuEntry]] = {}
        for product_id, product_updates in batching.by_product(valid).items():
            located = await self._locate(product_id, product_updates, failed)
            groups[product_id] = batching.stock_entries(located)
        succeeded = await self._push("inventory", groups, failed)
        return PushResult(
            succeeded=succeeded, failed=failed, calls=self.connection.http.calls - calls_before
        )

    async def update_price(self, updates: Sequence[PriceUpdate]) -> PushResult:
        """Prices per SKU, one prices/update call per product and per `MAX_SKUS_PER_CALL` SKUs."""
        calls_before = self.connection.http.calls
        failed: list[PushFailure] = []
        valid = [u for u in updates if u.price > 0]
        for u in updates:
            if u.price <= 0:
                batching.fail(failed, u, "price must be positive")
        groups = {
            product_id: batching.price_entries(product_updates)
            for product_id, product_updates in batching.by_product(valid).items()
        }
        succeeded = await self._push("prices", groups, failed)
        return PushResult(
            succeeded=succeeded, failed=failed, calls=self.connection.http.calls - calls_before
        )

    async def _locate(
        self, product_id: str, updates: list[StockUpdate], failed: list[PushFailure]
    ) -> list[StockUpdate]:
        """`updates` with a warehouse each; those whose warehouse cannot be known fail."""
        if all(u.location_id for u in updates):
            return updates
        try:
            product = await self._call("GET", PRODUCT.format(product_id=product_id))
        except AppError as error:
            if not batching.about_items(error):
                raise
            for u in updates:
                if not u.location_id:
                    batching.fail(failed, u, error.message)
            return [u for u in updates if u.location_id]
        stocked = mapping.warehouses(product)
        located = []
        for u in updates:
            places = stocked.get(u.platform_model_id, [])
            if u.location_id:
                located.append(u)
            elif len(places) == 1:
                located.append(u.model_copy(update={"location_id": places[0]}))
            else:
                reason = "unknown SKU" if not places else "several warehouses: set location_id"
                batching.fail(failed, u, reason)
        return located

    async def _push(
        self, kind: str, groups: dict[str, dict[str, batching.SkuEntry]], failed: list[PushFailure]
    ) -> list[StockUpdate | PriceUpdate]:
        """One call per product and chunk, `PARALLEL_CALLS` in flight (the connection's bucket
        still sets the pace): one after the other, a push round of ten products waited ten
        round trips. A refused call fails its SKUs; any other error is raised once every call
        has finished."""

        async def call(
            product_id: str, chunk: list[batching.SkuEntry]
        ) -> tuple[list[StockUpdate | PriceUpdate], list[PushFailure]]:
            path = f"{PRODUCT.format(product_id=product_id)}/{kind}/update"
            try:
                await self._call("POST", path, body={"skus": [s.entry for s in chunk]})
            except AppError as error:
                if not batching.about_items(error):
                    raise
                refused: list[PushFailure] = []
                for sku in chunk:
                    for u in sku.updates:
                        batching.fail(refused, u, error.message)
                return [], refused
            return [u for sku in chunk for u in sku.updates], []

        jobs = [
            call(product_id, chunk)
            for product_id, skus in groups.items()
            for chunk in batching.chunks(list(skus.values()), MAX_SKUS_PER_CALL)
        ]
        succeeded: list[StockUpdate | PriceUpdate] = []
        for ok, refused in await bounded(jobs, PARALLEL_CALLS):
            succeeded.extend(ok)
            failed.extend(refused)
        log.info(
            "tiktok shop %s: %s pushed, %d ok, %d failed",
            self._credentials().shop_id,
            kind,
            len(succeeded),
            len(failed),
        )
        return succeeded

    # -- orders --------------------------------------------------------------------------------

    async def fetch_orders(
        self, *, since: datetime, until: datetime | None = None
    ) -> AsyncIterator[ChannelOrder]:
        """Orders updated in [since, until) (until: now), oldest update first, each once, with
        details; ranges are split into the platform's windows (TikTok has none)."""
        seen: set[str] = set()
        for start, end in batching.windows(since, until, self.capabilities.order_window_days):
            async for order in self._search_orders(start, end):
                if order.platform_order_id not in seen:
                    seen.add(order.platform_order_id)
                    yield order

    async def _search_orders(
        self, start: datetime, end: datetime | None
    ) -> AsyncIterator[ChannelOrder]:
        body = {"update_time_ge": math.ceil(start.timestamp())}
        if end is not None:
            body["update_time_lt"] = math.ceil(end.timestamp())
        token = ""
        while True:
            query = {"page_size": str(PAGE_SIZE), "sort_field": "update_time", "sort_order": "ASC"}
            if token:
                query["page_token"] = token
            page = await self._call("POST", ORDERS_SEARCH, query=query, body=body)
            raws = page.get("orders") or []
            for raw in raws:
                if mapping.has_details(raw):
                    yield mapping.order(raw)
            bare = [str(raw["id"]) for raw in raws if not mapping.has_details(raw)]
            for order in await self.fetch_order_details(bare) if bare else []:
                yield order
            token = str(page.get("next_page_token") or "")
            if not token:
                break

    async def fetch_order_details(self, order_ids: Sequence[str]) -> list[ChannelOrder]:
        """Full orders, `MAX_ORDER_IDS` per call; ids the shop does not have are left out."""
        orders: list[ChannelOrder] = []
        for chunk in batching.chunks(list(dict.fromkeys(order_ids)), MAX_ORDER_IDS):
            page = await self._call("GET", ORDERS, query={"ids": ",".join(chunk)})
            orders.extend(mapping.order(raw) for raw in page.get("orders") or [])
        return orders

    # -- fulfilment ----------------------------------------------------------------------------

    async def shipping_options(self, order_id: str) -> ShippingOptions:
        """The first package's handover: pickup at the shop's Seller Center address in one of the
        offered slots (`slot_id` "start-end"), and/or drop-off at any of the carrier's points.
        Three calls: order detail, handover time slots, package detail."""
        return await fulfilment.shipping_options(self._call, order_id)

    async def arrange_shipment(self, order_id: str, request: ShipRequest) -> Shipment:
        """Ship Package (PICKUP in the chosen slot, or DROP_OFF), then the package's tracking
        number and carrier. TikTok's refusal (shipped, cancelled, slot not offered) raises its
        `AppError` with TikTok's message."""
        shipment = await fulfilment.arrange_shipment(self._call, order_id, request)
        log.info("tiktok order %s: shipment arranged (%s)", order_id, request.method)
        return shipment

    async def tracking_number(self, order_id: str) -> str:
        """The order's tracking number from its detail; "" before shipment is arranged."""
        return await fulfilment.tracking_number(self._call, order_id)

    async def shipping_label(self, order_id: str) -> ShippingLabel:
        """The first package's shipping label: the document link TikTok answers, downloaded
        (unsigned) through this connection's client and checked to be a PDF."""
        return await fulfilment.shipping_label(self._call, self.connection.http, order_id)

    async def cancel_order(self, order_id: str, reason: str) -> None:
        """Cancel as the seller with TikTok's reason for `reason` (a `CANCEL_REASONS` key) at the
        order's status; refused by TikTok once shipment is arranged or the order is cancelled."""
        await fulfilment.cancel_order(self._call, order_id, reason)
        log.info("tiktok order %s cancelled by the seller (%s)", order_id, reason)

    def fetch_returns(
        self, *, since: datetime, until: datetime | None = None
    ) -> AsyncIterator[ChannelReturn]:
        """Returns and refund requests updated in [since, until), oldest update first, each once,
        with their lines' products."""
        return returns.fetch_returns(self._call, since=since, until=until)

    # -- publishing ----------------------------------------------------------------------------

    async def categories(self) -> list[ChannelCategory]:
        """The whole category tree (Get Categories, the default 3-level "v1" tree); a root's
        parent is "". Only leaves take listings."""
        return await self._catalog.categories()

    async def category_detail(self, category_id: str) -> CategoryDetail:
        """The category's product attributes with their allowed values (Get Attributes; sales
        attributes are left out: variants name theirs), and the listing rules: TikTok's
        documented product limits, with `needs_package` from Get Category Rules. No logistics:
        TikTok ships through its own."""
        return await self._catalog.category_detail(category_id)

    async def upload_image(self, data: bytes, filename: str) -> UploadedImage:
        """Upload Product Image as a MAIN_IMAGE (multipart, signed without the body); the
        image's `uri` is what a listing names it by."""
        return await self._catalog.upload_image(data, filename)

    async def publish(self, draft: ListingDraft) -> PublishedListing:
        """Create Product: one SKU per variant, its options as sales attributes in order, its
        stock in the shop's sales warehouse (Get Warehouse List, asked once per adapter), the
        package in KILOGRAM and CENTIMETER. TikTok's refusal raises `AppError` VALIDATION with
        TikTok's code and message and, where the message names one, `details["field"]`."""
        listing = await self._catalog.publish(draft)
        log.info(
            "tiktok shop %s: product %s created",
            self._credentials().shop_id,
            listing.platform_item_id,
        )
        return listing

    async def update_content(self, update: ContentUpdate) -> None:
        """Partial Edit Product with the fields `update` sets and nothing else (dimensions go
        together: all three or none); refusals as for `publish`."""
        await self._catalog.update_content(update)

    # -- webhooks and health -------------------------------------------------------------------

    async def setup_webhooks(self, callback_url: str) -> None:
        """Register `callback_url` for order, cancellation and return pushes."""
        for event_type in WEBHOOK_EVENTS:
            await self._call(
                "PUT", WEBHOOKS, body={"address": callback_url, "event_type": event_type}
            )
        log.info("tiktok shop %s: webhooks registered", self._credentials().shop_id)

    async def health(self) -> ShopHealth:
        """The authorized shops call: token valid, API reachable, and how long it took."""
        started = time.perf_counter()
        try:
            shop = mapping.pick_shop(
                await self._call("GET", SHOPS, shop=False), self._credentials().shop_id or None
            )
        except AppError as error:
            return ShopHealth(
                ok=False, latency_ms=_since(started), detail=f"{error.code}: {error.message}"
            )
        return ShopHealth(ok=True, latency_ms=_since(started), shop_name=str(shop.get("name", "")))

    # -- HTTP ----------------------------------------------------------------------------------

    def _credentials(self) -> Credentials:
        if self.connection.credentials is None:
            raise AppError(
                ErrorType.AUTHENTICATION,
                "not_connected",
                "the TikTok shop is not connected: authorize it first",
            )
        return self.connection.credentials

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        shop: bool = True,
        multipart: wire.Multipart | None = None,
    ) -> dict[str, Any]:
        """A signed API call with a JSON `body` or a `multipart` one; the answer's `data`. One
        `token_invalid` → one refresh, one retry (a second refusal is raised)."""
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        used = self._credentials().access_token
        try:
            return await self._send(method, path, query or {}, raw, shop=shop, multipart=multipart)
        except AppError as error:
            if error.code != "token_invalid":
                raise
        async with self._refreshing:  # concurrent calls refused together refresh once
            if self._credentials().access_token == used:
                await self.refresh()
        return await self._send(method, path, query or {}, raw, shop=shop, multipart=multipart)

    async def _send(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        raw: bytes,
        *,
        shop: bool,
        multipart: wire.Multipart | None = None,
    ) -> dict[str, Any]:
        def build() -> httpx.Request:  # rebuilt per attempt: fresh timestamp, current token
            return wire.signed_request(
                self.connection,
                self._credentials(),
                method,
                path,
                query,
                raw,
                shop=shop,
                multipart=multipart,
            )

        # Create Product is not repeated after a timeout or a server error: it may have worked.
        creates = method == "POST" and path == PRODUCTS
        return wire.data(await self.connection.http.send(build, wire.classify, creates=creates))

    async def _token_call(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        response = await self.connection.http.send(
            lambda: wire.token_request(self.connection, path, params), wire.classify
        )
        return wire.data(response)


# -- helpers -----------------------------------------------------------------------------------


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
