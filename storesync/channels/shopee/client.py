"""Signed Shopee v2 calls for one store connection, and the token lifecycle behind them.

Each attempt is signed afresh (new timestamp) and sent through the connection's
`ResilientClient`. Shop calls refresh an access token Shopee rejects once, then retry once; the
single-use refresh token is rotated under a lock so concurrent calls never spend it twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from storesync.channels.adapter import Connection, refused_refresh
from storesync.channels.body import json_body
from storesync.channels.schemas import Credentials
from storesync.channels.shopee.signing import public_base, shop_base, sign
from storesync.channels.shopee.wire import BAD_APP, Classifier, classifier
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType

log = logging.getLogger(__name__)

AUTH_PARTNER = "/api/v2/shop/auth_partner"
TOKEN_GET = "/api/v2/auth/token/get"  # noqa: S105 (a path, not a secret)
TOKEN_REFRESH = "/api/v2/auth/access_token/get"  # noqa: S105 (a path, not a secret)
SHOP_INFO = "/api/v2/shop/get_shop_info"
ITEM_LIST = "/api/v2/product/get_item_list"
ITEM_BASE_INFO = "/api/v2/product/get_item_base_info"
MODEL_LIST = "/api/v2/product/get_model_list"
UPDATE_STOCK = "/api/v2/product/update_stock"
UPDATE_PRICE = "/api/v2/product/update_price"
ORDER_LIST = "/api/v2/order/get_order_list"
ORDER_DETAIL = "/api/v2/order/get_order_detail"
CANCEL_ORDER = "/api/v2/order/cancel_order"
SHIPPING_PARAMETER = "/api/v2/logistics/get_shipping_parameter"
SHIP_ORDER = "/api/v2/logistics/ship_order"
TRACKING_NUMBER = "/api/v2/logistics/get_tracking_number"
DOCUMENT_PARAMETER = "/api/v2/logistics/get_shipping_document_parameter"
CREATE_DOCUMENT = "/api/v2/logistics/create_shipping_document"
DOCUMENT_RESULT = "/api/v2/logistics/get_shipping_document_result"
DOWNLOAD_DOCUMENT = "/api/v2/logistics/download_shipping_document"
RETURN_LIST = "/api/v2/returns/get_return_list"
RETURN_DETAIL = "/api/v2/returns/get_return_detail"
PUSH_CONFIG = "/api/v2/push/set_app_push_config"
CATEGORIES = "/api/v2/product/get_category"
ATTRIBUTES = "/api/v2/product/get_attributes"
ITEM_LIMIT = "/api/v2/product/get_item_limit"
CHANNEL_LIST = "/api/v2/logistics/get_channel_list"
UPLOAD_IMAGE = "/api/v2/media_space/upload_image"
ADD_ITEM = "/api/v2/product/add_item"
INIT_TIER_VARIATION = "/api/v2/product/init_tier_variation"
# Calls a repeat would make twice: not repeated after a timeout or a server error.
CREATES = frozenset({ADD_ITEM, INIT_TIER_VARIATION})
UPDATE_ITEM = "/api/v2/product/update_item"

REFRESH_LIFETIME = timedelta(days=30)
EXPIRY_MARGIN = timedelta(seconds=60)  # renew a little before Shopee would refuse the token

Params = Sequence[tuple[str, str | int]]
Query = list[tuple[str, str | int | float | bool | None]]
Files = Sequence[tuple[str, tuple[str, bytes, str]]]  # multipart: (field, (name, data, type))
Refusal = Callable[[dict[str, Any], AppError], AppError]
"""How a caller re-expresses a business refusal (`wire` classified it `rejected`), given the
answer's JSON body and the mapped error; auth, throttling and outages stay as `wire` maps them."""


@dataclass
class Tally:
    """HTTP calls made for one operation (each signed attempt counts, retries included)."""

    calls: int = 0


class ShopeeClient:
    """The wire for one `Connection`: `shop()` and `public()` return the answer's JSON object
    (success fields under `response`, or at the top level for the auth and shop-info calls);
    `shop_file()` returns the bytes of an answer that is a file (a shipping document);
    `upload()` sends a multipart body (media_space) signed at public level."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._refresh_lock = asyncio.Lock()

    async def shop(
        self,
        method: str,
        path: str,
        *,
        params: Params = (),
        body: dict[str, Any] | None = None,
        accept: Collection[str] = (),
        tally: Tally | None = None,
        refusal: Refusal | None = None,
    ) -> dict[str, Any]:
        """A shop-level call; a rejected access token is refreshed once and the call retried
        once (a second rejection raises). `refusal` re-expresses Shopee's business refusals."""
        response = await self._shop_call(
            method, path, params, body, accept, tally, False, refusal=refusal
        )
        return _decoded(response, path)

    async def shop_file(
        self, method: str, path: str, *, body: dict[str, Any] | None = None
    ) -> bytes:
        """A shop-level call answered with a file on success (a JSON error otherwise): its
        bytes. Refreshes a rejected token like `shop`."""
        response = await self._shop_call(method, path, (), body, (), None, True)
        return response.content

    async def _shop_call(
        self,
        method: str,
        path: str,
        params: Params,
        body: dict[str, Any] | None,
        accept: Collection[str],
        tally: Tally | None,
        binary: bool,
        *,
        refusal: Refusal | None = None,
    ) -> httpx.Response:
        credentials = await self._live_credentials()
        call = (method, path, params, body)
        try:
            return await self._send(*call, credentials, accept, tally, binary, refusal=refusal)
        except AppError as error:
            if error.code != "token_invalid":
                raise
        log.info("Shopee rejected the access token of shop %s; refreshing", credentials.shop_id)
        credentials = await self._refresh_after(credentials)
        return await self._send(*call, credentials, accept, tally, binary, refusal=refusal)

    async def public(
        self, method: str, path: str, *, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A public- or auth-level call (signed without token and shop)."""
        return _decoded(await self._send(method, path, (), body, None, (), None, False), path)

    async def upload(
        self,
        path: str,
        *,
        files: Files,
        data: dict[str, str] | None = None,
        refusal: Refusal | None = None,
    ) -> dict[str, Any]:
        """A multipart POST signed at public level (partner_id, path, timestamp): Shopee signs
        no body, so the file is not part of the signature."""
        response = await self._send(
            "POST", path, (), None, None, (), None, False, files=files, data=data, refusal=refusal
        )
        return _decoded(response, path)

    async def refresh(self) -> Credentials:
        """Spend the refresh token for a new pair; store it and hand it to `on_refresh`."""
        async with self._refresh_lock:
            return await self._rotate()

    async def _rotate(self) -> Credentials:
        current = self.credentials()
        issued = utcnow()
        try:
            answer = await self.public(
                "POST",
                TOKEN_REFRESH,
                body={
                    "refresh_token": current.refresh_token,
                    "partner_id": self.partner_id(),
                    "shop_id": int(current.shop_id),
                },
            )
        except AppError as error:
            refused = refused_refresh(error, "Shopee")
            if refused is None:
                raise
            raise refused from error
        credentials = credentials_from(answer, current.shop_id, issued)
        self.connection.credentials = credentials
        log.info("Shopee tokens of shop %s rotated", credentials.shop_id)
        if self.connection.on_refresh is not None:
            await self.connection.on_refresh(credentials)
        return credentials

    def credentials(self) -> Credentials:
        if self.connection.credentials is None:
            raise AppError(
                ErrorType.AUTHENTICATION,
                "not_connected",
                "this Shopee shop is not connected yet",
                retryable=False,
            )
        return self.connection.credentials

    def partner_id(self) -> int:
        key = self.connection.app.key.strip()
        if not key.isdigit():
            raise AppError(
                ErrorType.AUTHENTICATION, "bad_app_credentials", BAD_APP, retryable=False
            )
        return int(key)

    def url(self, path: str) -> str:
        return f"{self.connection.base_url.rstrip('/')}{path}"

    async def _send(
        self,
        method: str,
        path: str,
        params: Params,
        body: dict[str, Any] | None,
        credentials: Credentials | None,
        accept: Collection[str],
        tally: Tally | None,
        binary: bool,
        *,
        files: Files | None = None,
        data: dict[str, str] | None = None,
        refusal: Refusal | None = None,
    ) -> httpx.Response:
        secret = self.connection.app.secret
        partner_id = self.partner_id()
        client = self.connection.http.client

        def build() -> httpx.Request:
            timestamp = now_epoch()
            query: Query = [("partner_id", partner_id), ("timestamp", timestamp)]
            if credentials is None:
                base = public_base(partner_id, path, timestamp)
            else:
                token, shop_id = credentials.access_token, credentials.shop_id
                base = shop_base(partner_id, path, timestamp, token, shop_id)
                query += [("access_token", token), ("shop_id", int(shop_id))]
            query += [("sign", sign(secret, base)), *params]
            if tally is not None:
                tally.calls += 1
            if files is not None:
                return client.build_request(
                    method, self.url(path), params=query, files=files, data=data
                )
            return client.build_request(method, self.url(path), params=query, json=body)

        classify = classifier(path, accept=accept, binary=binary)
        if refusal is not None:
            classify = _refined(classify, refusal)
        return await self.connection.http.send(build, classify, creates=path in CREATES)

    async def _live_credentials(self) -> Credentials:
        credentials = self.credentials()
        if credentials.access_expires_at - EXPIRY_MARGIN <= utcnow():
            credentials = await self._refresh_after(credentials)
        return credentials

    async def _refresh_after(self, stale: Credentials) -> Credentials:
        """Rotate unless another call already replaced `stale` while this one waited."""
        async with self._refresh_lock:
            current = self.credentials()
            if current.access_token != stale.access_token:
                return current
            return await self._rotate()


def _refined(classify: Classifier, refusal: Refusal) -> Classifier:
    """`classify`, with the errors it calls `rejected` (Shopee refused the request itself)
    handed to `refusal` along with the answer's body."""

    def run(response: httpx.Response) -> AppError | None:
        error = classify(response)
        if error is None or error.code != "rejected":
            return error
        body = json_body(response)
        return refusal(body if isinstance(body, dict) else {}, error)

    return run


def _decoded(response: httpx.Response, path: str) -> dict[str, Any]:
    data: dict[str, Any] = json_body(response) or {}
    if data.get("warning"):
        log.info("Shopee %s warning: %s", path, data["warning"])
    return data


def now_epoch() -> int:
    return int(utcnow().timestamp())


def credentials_from(answer: dict[str, Any], shop_id: str, issued: datetime) -> Credentials:
    """Credentials from a token/get or access_token/get answer (tokens at the top level)."""
    return Credentials(
        access_token=str(answer["access_token"]),
        refresh_token=str(answer["refresh_token"]),
        access_expires_at=issued + timedelta(seconds=int(answer.get("expire_in") or 0)),
        refresh_expires_at=issued + REFRESH_LIFETIME,
        shop_id=shop_id,
    )
