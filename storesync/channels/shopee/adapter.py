"""`ShopeeAdapter`: StoreSync's `PlatformAdapter` for Shopee Open Platform v2 (MARKETPLACES §1).

The adapter knows the endpoints' paging and batching rules; signing, retries and the token
lifecycle live in `client`, payload fields in `mapping`, error classification in `wire`,
shipping, labels, cancellation and returns in `fulfilment`, and listing publishing in `catalog`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from storesync.channels.adapter import Connection
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
from storesync.channels.shopee import client as api
from storesync.channels.shopee import mapping
from storesync.channels.shopee.catalog import ShopeeCatalog
from storesync.channels.shopee.client import ShopeeClient, Tally
from storesync.channels.shopee.fulfilment import ShopeeFulfilment
from storesync.channels.shopee.signing import public_base, sign
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, ValidationFailed

log = logging.getLogger(__name__)

T = TypeVar("T")
Update = TypeVar("Update", StockUpdate, PriceUpdate)

LISTED_STATUSES = ("NORMAL", "UNLIST")  # what a seller still sells or may relist
PARALLEL_CALLS = 8  # in flight per operation; the connection's bucket still sets the pace
# 2 deauthorization, 3 order status, 4 tracking number, 12 auth expiring, 29 return updates.
PUSH_CODES = [2, 3, 4, 12, 29]
# 8 reserved stock change: StoreSync's count is the truth and it ignored them, yet each one was
# received, verified and stored (two for every sale: the order's and the stock push's own),
# about half the intake's work at 150 orders/s. Switched off, also for an app that had it on.
PUSH_OFF = [8]
PUSH_REFUSED = frozenset({"error_busi_update_stock_failed", "error_busi_update_price_failed"})


class ShopeeAdapter:
    platform: ClassVar[str] = "shopee"
    capabilities: ClassVar[Capabilities] = Capabilities(
        stock_batch_size=50,
        stock_call_per_item=True,
        price_batch_size=50,
        order_detail_batch_size=50,
        order_window_days=15,
        page_size=100,
    )

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.client = ShopeeClient(connection)
        self.fulfilment = ShopeeFulfilment(self.client)
        self.catalog = ShopeeCatalog(self.client)
        install_log_redaction()

    # -- authorization -------------------------------------------------------------------------

    def authorize_url(self, *, redirect_url: str, state: str) -> str:
        """The seller's consent page. Shopee has no `state` parameter, so `state` rides on the
        redirect URL's query and comes back beside `code` and `shop_id`."""
        timestamp = api.now_epoch()
        partner_id = self.client.partner_id()
        base = public_base(partner_id, api.AUTH_PARTNER, timestamp)
        query = urlencode(
            {
                "partner_id": partner_id,
                "timestamp": timestamp,
                "sign": sign(self.connection.app.secret, base),
                "redirect": _with_query(redirect_url, state=state),
            }
        )
        return f"{self.client.url(api.AUTH_PARTNER)}?{query}"

    async def exchange_code(self, *, code: str, shop_id: str | None = None) -> AuthorizedShop:
        """Trade the redirect's one-time `code` (with its `shop_id`) for tokens, kept on the
        connection, then read the shop's name and region."""
        if not shop_id or not str(shop_id).isdigit():
            raise ValidationFailed("shop_id", "Shopee's redirect carries a numeric shop_id")
        issued = utcnow()
        answer = await self.client.public(
            "POST",
            api.TOKEN_GET,
            body={"code": code, "partner_id": self.client.partner_id(), "shop_id": int(shop_id)},
        )
        credentials = api.credentials_from(answer, str(int(shop_id)), issued)
        self.connection.credentials = credentials
        info = await self.client.shop("GET", api.SHOP_INFO)
        log.info("Shopee shop %s authorized", credentials.shop_id)
        return AuthorizedShop(
            platform_store_id=credentials.shop_id,
            name=str(info.get("shop_name") or ""),
            region=str(info.get("region") or ""),
            credentials=credentials,
        )

    async def refresh(self) -> Credentials:
        """Rotate the tokens. The refresh token works once: the new pair replaces the old on the
        connection and goes to `on_refresh` (which persists it). A refusal raises
        AUTHENTICATION `reauthorize`: the seller must connect the shop again."""
        return await self.client.refresh()

    # -- products ------------------------------------------------------------------------------

    async def fetch_products(self) -> AsyncIterator[ChannelProduct]:
        """Every NORMAL and UNLIST item with its models and seller stock, each exactly once:
        item list pages of 100, details 50 ids a call, one model list per item with models."""
        seen: set[str] = set()
        offset = count = 0
        while True:
            params: list[tuple[str, str | int]] = [
                ("offset", offset),
                ("page_size", self.capabilities.page_size),
            ]
            params += [("item_status", status) for status in LISTED_STATUSES]
            page = await self.client.shop("GET", api.ITEM_LIST, params=params)
            answer = page.get("response") or {}
            ids = [str(i["item_id"]) for i in answer.get("item") or []]
            fresh = [i for i in dict.fromkeys(ids) if i not in seen]
            seen.update(fresh)
            for batch in _chunks(fresh, 50):
                for product in await self._products(batch):
                    count += 1
                    yield product
            next_offset = int(answer.get("next_offset") or offset + len(ids))
            if not answer.get("has_next_page") or next_offset <= offset:
                break
            offset = next_offset
        log.info("Shopee shop %s: %d products fetched", self.client.credentials().shop_id, count)

    async def _products(self, item_ids: list[str]) -> list[ChannelProduct]:
        try:
            answer = await self.client.shop(
                "GET", api.ITEM_BASE_INFO, params=[("item_id_list", ",".join(item_ids))]
            )
        except AppError as error:
            if error.type is ErrorType.NOT_FOUND:  # all deleted since they were listed
                return []
            raise
        items = (answer.get("response") or {}).get("item_list") or []
        with_models = [str(i["item_id"]) for i in items if i.get("has_model")]
        models = await _bounded([self._models(item_id) for item_id in with_models])
        by_item = dict(zip(with_models, models, strict=True))
        return [mapping.product(item, by_item.get(str(item["item_id"]))) for item in items]

    async def _models(self, item_id: str) -> dict[str, Any]:
        answer = await self.client.shop("GET", api.MODEL_LIST, params=[("item_id", item_id)])
        return dict(answer.get("response") or {})

    async def update_stock(self, updates: Sequence[StockUpdate]) -> PushResult:
        """Absolute seller stock in the fewest calls Shopee allows: one per item and per 50 of
        its models (model_id 0 for an item without models). Refused models come back in
        `failed`, as do all updates of an item Shopee rejects whole; throttling that outlasts
        the retries, authentication and outages raise."""
        size = self.capabilities.stock_batch_size
        return await self._push(updates, api.UPDATE_STOCK, "stock_list", mapping.stock_entry, size)

    async def update_price(self, updates: Sequence[PriceUpdate]) -> PushResult:
        """original_price per model, batched and reported like `update_stock`."""
        size = self.capabilities.price_batch_size
        return await self._push(updates, api.UPDATE_PRICE, "price_list", mapping.price_entry, size)

    async def _push(
        self,
        updates: Sequence[Update],
        path: str,
        list_name: str,
        entry: Callable[[Update], dict[str, Any]],
        size: int,
    ) -> PushResult:
        tally = Tally()
        valid = [u for u in updates if _shopee_ids(u)]
        jobs = [
            self._push_item(item_id, chunk, path, {list_name: [entry(u) for u in chunk]}, tally)
            for item_id, chunk in _by_item(valid, size)
        ]
        succeeded: list[StockUpdate | PriceUpdate] = []
        failed = [_failure(u, "not a Shopee item/model id") for u in updates if not _shopee_ids(u)]
        for ok, refused in await _bounded(jobs):
            succeeded.extend(ok)
            failed.extend(refused)
        log.info(
            "Shopee %s: %d updates, %d refused, %d calls",
            path,
            len(updates),
            len(failed),
            tally.calls,
        )
        return PushResult(succeeded=succeeded, failed=failed, calls=tally.calls)

    async def _push_item(
        self, item_id: str, chunk: list[Update], path: str, entries: dict[str, Any], tally: Tally
    ) -> tuple[list[Update], list[PushFailure]]:
        try:
            answer = await self.client.shop(
                "POST",
                path,
                body={"item_id": int(item_id), **entries},
                accept=PUSH_REFUSED,
                tally=tally,
            )
        except AppError as error:
            if (
                error.type in (ErrorType.VALIDATION, ErrorType.NOT_FOUND)
                or error.code == "rejected"
            ):
                return [], [_failure(u, error.message) for u in chunk]
            raise
        result = answer.get("response") or {}
        done = {str(s.get("model_id")) for s in result.get("success_list") or []}
        reasons = {
            str(f.get("model_id")): str(f.get("failed_reason") or "refused by Shopee")
            for f in result.get("failure_list") or []
        }
        ok: list[Update] = []
        refused: list[PushFailure] = []
        for update in chunk:
            key = update.platform_model_id or "0"
            if key in done and key not in reasons:
                ok.append(update)
            else:
                refused.append(_failure(update, reasons.get(key, "not confirmed by Shopee")))
        return ok, refused

    # -- orders --------------------------------------------------------------------------------

    async def fetch_orders(
        self, *, since: datetime, until: datetime | None = None
    ) -> AsyncIterator[ChannelOrder]:
        """Orders updated in [since, until) (default: until now), each once: the range is cut
        into windows of at most 15 days, each paged by cursor, details fetched 50 at a time."""
        start = math.floor(_aware(since).timestamp())
        end = math.ceil(_aware(until or utcnow()).timestamp())
        span = (self.capabilities.order_window_days or 15) * 86400
        seen: set[str] = set()
        while start < end:
            stop = min(start + span, end)
            async for order in self._orders_in(start, stop - 1, seen):
                yield order
            start = stop

    async def _orders_in(
        self, time_from: int, time_to: int, seen: set[str]
    ) -> AsyncIterator[ChannelOrder]:
        """One window, both ends inclusive as Shopee reads them."""
        cursor = ""
        while True:
            params: list[tuple[str, str | int]] = [
                ("time_range_field", "update_time"),
                ("time_from", time_from),
                ("time_to", time_to),
                ("page_size", self.capabilities.page_size),
                ("response_optional_fields", "order_status"),
            ]
            if cursor:
                params.append(("cursor", cursor))
            page = await self.client.shop("GET", api.ORDER_LIST, params=params)
            answer = page.get("response") or {}
            order_sns = [str(o["order_sn"]) for o in answer.get("order_list") or []]
            fresh = [sn for sn in dict.fromkeys(order_sns) if sn not in seen]
            seen.update(fresh)
            for order in await self.fetch_order_details(fresh):
                yield order
            cursor = str(answer.get("next_cursor") or "")
            if not answer.get("more") or not cursor:
                return

    async def fetch_order_details(self, order_ids: Sequence[str]) -> list[ChannelOrder]:
        """Details of these orders, 50 a call; order numbers Shopee does not know are left out."""
        orders: list[ChannelOrder] = []
        for batch in _chunks(list(order_ids), self.capabilities.order_detail_batch_size):
            params = [
                ("order_sn_list", ",".join(batch)),
                ("response_optional_fields", mapping.ORDER_DETAIL_FIELDS),
            ]
            try:
                answer = await self.client.shop("GET", api.ORDER_DETAIL, params=params)
            except AppError as error:
                if error.type is ErrorType.NOT_FOUND:
                    continue
                raise
            details = (answer.get("response") or {}).get("order_list") or []
            orders.extend(mapping.order(detail) for detail in details)
        return orders

    # -- fulfilment ----------------------------------------------------------------------------

    async def shipping_options(self, order_id: str) -> ShippingOptions:
        """get_shipping_parameter for the order's package: pickup (the seller's addresses, each
        with its time slots) and/or drop-off (branches, when Shopee lists any), with the
        package and carrier from the order's detail."""
        return await self.fulfilment.shipping_options(order_id)

    async def arrange_shipment(self, order_id: str, request: ShipRequest) -> Shipment:
        """ship_order by pickup (address and one of its slots) or drop-off (any branch, or the
        one named), then get_tracking_number ("" while Shopee has not assigned one: ask again
        later). A refusal (already arranged, cancelled, slot not offered) raises `AppError`
        with Shopee's code in `details["platform_error"]`."""
        return await self.fulfilment.arrange_shipment(order_id, request)

    async def tracking_number(self, order_id: str) -> str:
        """get_tracking_number; "" until Shopee assigns one (Shopee: poll no sooner than every
        5 minutes)."""
        return await self.fulfilment.tracking_number(order_id)

    async def shipping_label(self, order_id: str) -> ShippingLabel:
        """The label PDF: the suggested document type, create_shipping_document, then
        get_shipping_document_result until READY (at most `fulfilment.label_polls` polls,
        `fulfilment.label_poll_seconds` apart), then download_shipping_document. Before
        shipment is arranged Shopee refuses (`logistics.package_can_not_print`); a FAILED
        document raises `label_failed`, one still printing after the polls `label_not_ready`
        (retryable)."""
        return await self.fulfilment.shipping_label(order_id)

    async def cancel_order(self, order_id: str, reason: str) -> None:
        """cancel_order as the seller: out_of_stock → OUT_OF_STOCK naming every item of the
        order, customer_request → CUSTOMER_REQUEST, undeliverable_area → UNDELIVERABLE_AREA
        (TW and MY shops only). Shopee refuses once shipment is arranged (`order.error_limit`)."""
        await self.fulfilment.cancel_order(order_id, reason)

    def fetch_returns(
        self, *, since: datetime, until: datetime | None = None
    ) -> AsyncIterator[ChannelReturn]:
        """Returns updated in [since, until) (default: until now), each once: get_return_list
        in update-time windows of at most 15 days, 100 a page, with get_return_detail for a
        return the list shows without items."""
        return self.fulfilment.fetch_returns(since=since, until=until)

    # -- publishing ----------------------------------------------------------------------------

    async def categories(self) -> list[ChannelCategory]:
        """get_category: the whole tree (ids as strings, parent "" at the root, a leaf is a
        category without children; only leaves take listings)."""
        return await self.catalog.categories()

    async def category_detail(self, category_id: str) -> CategoryDetail:
        """get_attributes (values by display name, `multiple` for multiple-select inputs),
        get_item_limit as the rules (plus upload_image's 10 MB per image; `max_variants` from
        item_count_limit, 50 when absent; a logistics channel needed) and get_channel_list's
        enabled channels (max weight in grams). A category that is not a leaf is refused."""
        return await self.catalog.category_detail(category_id)

    async def upload_image(self, data: bytes, filename: str) -> UploadedImage:
        """media_space upload_image (multipart, public-level signature): the image id and its
        first URL. Shopee refuses files over 10 MB and anything but JPG or PNG."""
        return await self.catalog.upload_image(data, filename)

    async def publish(self, draft: ListingDraft) -> PublishedListing:
        """add_item (the first variant's price, all variants' stock, weight in kg, the package
        when all three sides are set, each logistics channel enabled, attributes by value id or
        as text with value_id 0), then, when the variants carry options (or are several),
        init_tier_variation: a tier per option name in order, at most two (more is refused as
        VALIDATION on `variants` before any call). The variants come back with their model ids
        (a single variant without options: model ""). Shopee's refusal raises VALIDATION with
        Shopee's code and message and `details["field"]` when it can be told; if
        init_tier_variation is refused, the item already exists on Shopee without variations:
        the error carries `details["platform_item_id"]` for the caller to record or delete."""
        return await self.catalog.publish(draft)

    async def update_content(self, update: ContentUpdate) -> None:
        """update_item with only the fields the update sets (the package only as all three
        sides); nothing is sent when it sets none. Refusals as in `publish`."""
        await self.catalog.update_content(update)

    # -- webhooks and health -------------------------------------------------------------------

    async def setup_webhooks(self, callback_url: str) -> None:
        """Register the app's push URL (partner level) with the codes StoreSync handles."""
        await self.client.public(
            "POST",
            api.PUSH_CONFIG,
            body={
                "callback_url": callback_url,
                "set_push_config_on": PUSH_CODES,
                "set_push_config_off": PUSH_OFF,
            },
        )

    async def health(self) -> ShopHealth:
        """get_shop_info, timed. Never raises: a failure is reported as not ok, with its code."""
        started = time.perf_counter()
        try:
            info = await self.client.shop("GET", api.SHOP_INFO)
        except AppError as error:
            detail = f"{error.code}: {error.message}"
            return ShopHealth(ok=False, latency_ms=_elapsed_ms(started), detail=detail)
        name = str(info.get("shop_name") or "")
        return ShopHealth(ok=True, latency_ms=_elapsed_ms(started), shop_name=name)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    extra = urlencode(params)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def _chunks(values: list[T], size: int) -> list[list[T]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _by_item(updates: Sequence[Update], size: int) -> list[tuple[str, list[Update]]]:
    """Updates grouped per item (a later update of the same model wins), `size` models a call."""
    per_item: dict[str, dict[str, Update]] = {}
    for update in updates:
        per_item.setdefault(update.platform_item_id, {})[update.platform_model_id] = update
    return [
        (item_id, chunk)
        for item_id, models in per_item.items()
        for chunk in _chunks(list(models.values()), size)
    ]


def _shopee_ids(update: StockUpdate | PriceUpdate) -> bool:
    model = update.platform_model_id
    return update.platform_item_id.isdigit() and (model == "" or model.isdigit())


def _failure(update: StockUpdate | PriceUpdate, reason: str) -> PushFailure:
    return PushFailure(
        platform_item_id=update.platform_item_id,
        platform_model_id=update.platform_model_id,
        reason=reason,
    )


async def _bounded(jobs: Sequence[Awaitable[T]], limit: int = PARALLEL_CALLS) -> list[T]:
    return await bounded(jobs, limit)
