"""Webhook intake: `POST /webhooks/shopee` and `POST /webhooks/tiktok` (`routes`, mounted by the
app). A push is checked, stored once and acknowledged at once; what it means is worked out later
and asynchronously (`batch.process_store_events`, reached through the `event_stored` hook).

Checks, in this order:
1. Size: a body over 1 MiB is refused (413); real pushes are a few hundred bytes.
2. Signature over the RAW bytes (MARKETPLACES §1.6, §2.6): missing or wrong → 401, logged
   (never the signature itself), nothing stored. It needs only StoreSync's own app credentials,
   so it runs first: a forged push never reaches the JSON parser or the database, and an outsider
   cannot probe which shop ids are connected.
3. A JSON object with the platform's event number (Shopee `code`, TikTok `type`), else 400.
4. Routing by shop id (`route_store`). An unknown shop (disconnected, deleted, or connected to
   another StoreSync environment with the same app) and Shopee's partner-level pushes (codes 1,
   2, 12: no shop) are acknowledged with 200 and stored nothing: platforms retry every non-2xx
   for hours or days, and no retry would ever be accepted.
5. The event is stored with its dedupe key, unique per store. A repeat (same key) is
   acknowledged with 200 and not handed over again.

Dedupe keys (max 200 characters; longer ones are hashed):
- TikTok: `tts:{tts_notification_id}` (the platform's own id, §2.6); without one,
  `{type}:{sha256 of its data}`.
- Shopee sends no id, so the key is derived from what makes an event distinct: code 3 (order
  status) `3:{ordersn}:{status}:{update_time}`; code 8 (reserved stock) `8:{item_id}:{model_id}:
  {stock}:{update_time}`; any other code `{code}:{sha256 of its data as canonical JSON}`. A
  redelivery carries the same data, so it maps to the same key; two real changes differ in status
  or update_time.

Missing app credentials for the platform are our fault: 503, so the platform retries. Other
answers are 200 with an empty body (Shopee requires it; TikTok ignores it). Shopee's reachability
check (an empty body, sent when the callback URL is registered) is answered 200 as well.

Group commit: the pushes that arrive while a batch of them is being written wait and are
written together next, in one transaction (`pushes.store_pushes`) on a worker thread; one batch
at a time per event loop and engine. Each push is still committed before it is answered; a
burst costs one transaction per batch instead of one per push, and no thread or pooled
connection per push. A batch that fails is written again push by push, so a push the database
refuses fails alone (answered 500: the platform delivers it again).

After the event is committed, `event_stored(event_id, organization_id)` is fired on that worker
thread, before the answer; start-up connects it to the worker and it must not take long.
Unconnected, it does nothing. An event it fails to hand over stays `received` and is logged;
the periodic sweep hands it over again (`batch.sweep_webhooks`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storesync.channels.apps import app_credentials, configured_app
from storesync.channels.schemas import AppCredentials
from storesync.channels.shopee import signing as shopee_signing
from storesync.channels.tiktok import signing as tiktok_signing
from storesync.core import metrics
from storesync.core.errors import AppError
from storesync.core.events import Hook
from storesync.db import get_engine
from storesync.settings import Settings, get_settings
from storesync.sync.intake.pushes import BadPush, Stored, read_push, store_pushes
from storesync.sync.intake.schemas import Push

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20

# Fired (on the thread that stored it, before the answer: must not take long) with (event id,
# organization id) for each new event to process; unconnected until start-up connects the worker.
event_stored: Hook[[uuid.UUID, uuid.UUID]] = Hook("event_stored")
# Swappable by tests.
engine_provider: Callable[[], Engine] = get_engine
settings_provider: Callable[[], Settings] = get_settings

# Event numbers → readable event types (MARKETPLACES §1.6, §2.6) and what they ask of us.
# -- the routes ----------------------------------------------------------------------------------


async def shopee_push(request: Request) -> Response:
    """Shopee push (§1.6): `Authorization` = HMAC(partner_key, callback URL + "|" + body)."""
    return await _measured(request, "shopee")


async def tiktok_push(request: Request) -> Response:
    """TikTok Shop push (§2.6): `Authorization` = HMAC(app_secret, app_key + body)."""
    return await _measured(request, "tiktok")


OUTCOMES = {200: "acknowledged", 400: "malformed", 401: "refused", 413: "too_large"}


async def _measured(request: Request, platform: str) -> Response:
    """`_intake`, counted by outcome and timed from arrival to acknowledgement."""
    started = time.perf_counter()
    response = await _intake(request, platform)
    outcome = OUTCOMES.get(response.status_code, "unavailable")
    metrics.WEBHOOK_PUSHES.labels(platform, outcome).inc()
    if response.status_code == 200:
        metrics.WEBHOOK_ACK_SECONDS.labels(platform).observe(time.perf_counter() - started)
    return response


async def _intake(request: Request, platform: str) -> Response:
    client = request.client.host if request.client else "?"
    body = await _read_body(request)
    if body is None:
        log.warning("%s push from %s refused: body over %d bytes", platform, client, MAX_BODY_BYTES)
        return Response(status_code=413)
    if platform == "shopee" and not body.strip():
        return Response(status_code=200)  # the reachability check on registration
    cfg = settings_provider()
    try:  # configured credentials need no I/O; the embedded sandbox's are fetched over HTTP
        app = configured_app(platform, cfg)
        if app is None:
            app = await run_in_threadpool(app_credentials, platform, cfg)
    except AppError as error:
        log.error("%s push not accepted: app credentials unavailable (%s)", platform, error.code)
        return Response(status_code=503)
    signature = request.headers.get("authorization", "")
    if not signature or not _signed(platform, app, request, body, signature, cfg):
        problem = "a wrong" if signature else "no"
        log.warning("%s push from %s rejected: %s signature", platform, client, problem)
        return Response(status_code=401)
    try:
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise BadPush("the body is not a JSON object")
        push = read_push(platform, payload)
    except ValueError as error:  # json.JSONDecodeError and BadPush
        log.warning("%s push from %s rejected: malformed body (%s)", platform, client, error)
        return Response(status_code=400)
    stored = await _writer(engine_provider()).store(push, payload)
    if stored.outcome == "unknown_shop":
        log.info(
            "%s push %s for unknown shop %r acknowledged, not stored",
            platform,
            push.event_type,
            push.shop_id,
        )
    elif stored.outcome == "duplicate":
        log.info("%s push repeated (key %s): acknowledged", platform, push.dedupe_key)
    return Response(status_code=200)


async def _read_body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _signed(
    platform: str,
    app: AppCredentials,
    request: Request,
    body: bytes,
    signature: str,
    cfg: Settings,
) -> bool:
    if platform == "tiktok":
        return tiktok_signing.verify_push(app.key, app.secret, body, signature)
    return any(
        shopee_signing.verify_push(app.secret, url, body, signature)
        for url in _callback_urls(request, cfg)
    )


def _callback_urls(request: Request, cfg: Settings) -> list[str]:
    """The URL Shopee signed: the one we were posted to, and (behind a proxy that rewrites the
    scheme or host) the same path under the configured public URL."""
    urls = [str(request.url)]
    if cfg.public_url:
        query = f"?{request.url.query}" if request.url.query else ""
        public = f"{cfg.public_url}{request.url.path}{query}"
        if public not in urls:
            urls.append(public)
    return urls


# -- group commit --------------------------------------------------------------------------------

MAX_BATCH = 64
Waiting = tuple[Push, dict[str, Any], "asyncio.Future[Stored]"]


class _Writer:
    """The pushes of one event loop for one engine: written by one task, a batch at a time, each
    batch taking every push that arrived while the one before was written."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.waiting: list[Waiting] = []
        self.task: asyncio.Task[None] | None = None

    async def store(self, push: Push, payload: dict[str, Any]) -> Stored:
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self.waiting.append((push, payload, future))
        if self.task is None:
            self.task = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        batch: list[Waiting] = []
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                pushes = [(push, payload) for push, payload, _ in batch]
                results = await run_in_threadpool(_store_batch, self.engine, pushes)
                for (_, _, future), result in zip(batch, results, strict=True):
                    if future.done():  # the request was cancelled (the sender hung up)
                        continue
                    if isinstance(result, Stored):
                        future.set_result(result)
                    else:
                        future.set_exception(result)
        except BaseException as error:  # cancelled at shutdown: nobody may wait forever
            for _, _, future in [*batch, *self.waiting]:
                if not future.done():
                    future.set_exception(RuntimeError(f"the push was not stored: {error!r}"))
            self.waiting = []
            raise
        finally:
            self.task = None


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Engine, _Writer]]
_writers = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def _writer(engine: Engine) -> _Writer:
    loop = asyncio.get_running_loop()
    with _writers_lock:
        per_engine = _writers.setdefault(loop, {})
        writer = per_engine.get(engine)
        if writer is None:
            writer = per_engine[engine] = _Writer(engine)
    return writer


def _store_batch(
    engine: Engine, pushes: Sequence[tuple[Push, dict[str, Any]]]
) -> list[Stored | Exception]:
    """Store a batch and hand its new events over (on a worker thread). A batch the database
    refuses is written again push by push: one bad push must not fail the others."""
    results: list[Stored | Exception]
    try:
        results = list(store_pushes(engine, pushes))
    except Exception as error:  # raised again by each push's request: logged there
        if len(pushes) == 1:
            return [error]
        log.warning("a batch of %d pushes failed (%r): storing them one by one", len(pushes), error)
        results = [_store_one(engine, push) for push in pushes]
    for result in results:
        if isinstance(result, Stored) and result.queue:
            _hand_over(result.event_id, result.organization_id)
    return results


def _store_one(engine: Engine, push: tuple[Push, dict[str, Any]]) -> Stored | Exception:
    try:
        return store_pushes(engine, [push])[0]
    except Exception as error:
        return error


def _hand_over(event_id: uuid.UUID, organization_id: uuid.UUID) -> None:
    try:
        event_stored(event_id, organization_id)
    except Exception:
        log.exception("webhook event %s stored but not handed to processing", event_id)


routes = [
    Route("/webhooks/shopee", shopee_push, methods=["POST"]),
    Route("/webhooks/tiktok", tiktok_push, methods=["POST"]),
]
