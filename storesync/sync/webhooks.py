"""Webhook intake: `POST /webhooks/shopee` and `POST /webhooks/tiktok` (`routes`, mounted by the
app). A push is checked, stored once and acknowledged at once; what it means is worked out later
and asynchronously (`order_intake.process_webhook_event`, reached through `on_event_stored`).

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

After the event is committed, `on_event_stored(event_id, organization_id)` is called on the event
loop; the app wires it to the worker and it must not block. The default does nothing. An event it
fails to hand over stays `received` and is logged; nothing re-drives such events yet (a sweeper
of old `received` events would), though the polling safety net still brings the order in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storesync.channels.apps import app_credentials, configured_app
from storesync.channels.schemas import AppCredentials
from storesync.channels.service import route_store
from storesync.channels.shopee import signing as shopee_signing
from storesync.channels.tiktok import signing as tiktok_signing
from storesync.core.clock import utcnow
from storesync.core.errors import AppError
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.db import get_engine, session_scope, set_tenant
from storesync.settings import Settings, get_settings
from storesync.sync.intake_schemas import Push, PushKind, WebhookEventDTO
from storesync.sync.models import WebhookEvent
from storesync.tenancy.context import RequestContext

log = logging.getLogger(__name__)

EVENTS = table_of(WebhookEvent)
MAX_BODY_BYTES = 1 << 20
MAX_KEY_LENGTH = 200

EventHook = Callable[[uuid.UUID, uuid.UUID], None]


def _ignore_event(event_id: uuid.UUID, organization_id: uuid.UUID) -> None:
    """The default hook: nothing processes stored events until the app wires a worker."""


# Swappable by the app (worker wiring) and by tests (engine, settings, hook).
on_event_stored: EventHook = _ignore_event
engine_provider: Callable[[], Engine] = get_engine
settings_provider: Callable[[], Settings] = get_settings

# Event numbers → readable event types (MARKETPLACES §1.6, §2.6) and what they ask of us.
SHOPEE_EVENTS: dict[int, tuple[str, PushKind]] = {
    1: ("shop_authorization", PushKind.OTHER),
    2: ("shop_deauthorization", PushKind.OTHER),
    3: ("order_status", PushKind.ORDER),
    4: ("tracking_number", PushKind.OTHER),
    5: ("shopee_updates", PushKind.OTHER),
    6: ("banned_item", PushKind.OTHER),
    7: ("item_promotion", PushKind.OTHER),
    8: ("reserved_stock_change", PushKind.STOCK),
    9: ("promotion_update", PushKind.OTHER),
    10: ("webchat", PushKind.OTHER),
    11: ("video_upload", PushKind.OTHER),
    12: ("authorization_expiry", PushKind.OTHER),
    13: ("brand_register_result", PushKind.OTHER),
}
TIKTOK_EVENTS: dict[int, tuple[str, PushKind]] = {
    1: ("ORDER_STATUS_CHANGE", PushKind.ORDER),
    2: ("REVERSE_STATUS_UPDATE", PushKind.OTHER),
    3: ("RECIPIENT_ADDRESS_UPDATE", PushKind.OTHER),
    4: ("PACKAGE_UPDATE", PushKind.OTHER),
    5: ("PRODUCT_STATUS_CHANGE", PushKind.STOCK),
    6: ("SELLER_DEAUTHORIZATION", PushKind.OTHER),
    7: ("UPCOMING_AUTHORIZATION_EXPIRATION", PushKind.OTHER),
    12: ("RETURN_STATUS_CHANGE", PushKind.OTHER),
    27: ("INVENTORY_STATUS_CHANGE", PushKind.STOCK),
}


class BadPush(ValueError):
    """A signed push whose body is not what the platform sends (answered 400)."""


# -- reading a push ------------------------------------------------------------------------------


def read_push(platform: str, payload: dict[str, Any]) -> Push:
    """What a push body means: shop, event type, kind, dedupe key, and the order it names.
    `BadPush` when the body lacks the platform's event number."""
    if platform == "shopee":
        return _shopee_push(payload)
    if platform == "tiktok":
        return _tiktok_push(payload)
    raise BadPush(f"unknown platform {platform!r}")


def _shopee_push(payload: dict[str, Any]) -> Push:
    code = _event_number(payload, "code")
    data = _data(payload)
    event_type, kind = SHOPEE_EVENTS.get(code, (f"code_{code}", PushKind.OTHER))
    order_id = ""
    if code == 3:
        order_id = str(data.get("ordersn") or "")
        parts = [order_id, data.get("status"), data.get("update_time")]
    elif code == 8:
        parts = [data.get(k) for k in ("item_id", "model_id", "stock", "update_time")]
    else:
        parts = [_digest(data)]
    return Push(
        platform="shopee",
        shop_id=_shop_id(payload.get("shop_id")),
        event_type=event_type,
        kind=kind,
        dedupe_key=_fit(":".join([str(code), *("" if p is None else str(p) for p in parts)])),
        order_id=order_id,
    )


def _tiktok_push(payload: dict[str, Any]) -> Push:
    number = _event_number(payload, "type")
    data = _data(payload)
    event_type, kind = TIKTOK_EVENTS.get(number, (f"type_{number}", PushKind.OTHER))
    notification = str(payload.get("tts_notification_id") or "")
    key = f"tts:{notification}" if notification else f"{number}:{_digest(data)}"
    return Push(
        platform="tiktok",
        shop_id=_shop_id(payload.get("shop_id")),
        event_type=event_type,
        kind=kind,
        dedupe_key=_fit(key),
        order_id=str(data.get("order_id") or "") if kind is PushKind.ORDER else "",
    )


def _event_number(payload: dict[str, Any], field: str) -> int:
    value = payload.get(field)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadPush(f"{field} is missing or not a number")
    try:
        return int(value)
    except ValueError:
        raise BadPush(f"{field} is not a number") from None


def _data(payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data")
    return data if isinstance(data, dict) else {}


def _shop_id(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    return str(value).strip() if isinstance(value, int | str) else ""


def _digest(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _fit(key: str) -> str:
    return (
        key if len(key) <= MAX_KEY_LENGTH else f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    )


# -- storing an event ----------------------------------------------------------------------------


def record_push(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    push: Push,
    payload: dict[str, Any],
) -> tuple[WebhookEventDTO, bool]:
    """Store a push as a webhook event; `(event, True)` when it is new, and the event already
    stored under the same dedupe key with `False` when it is a repeat. The unique key decides,
    also between concurrent deliveries (INSERT … ON CONFLICT DO NOTHING: the caller's
    transaction survives a repeat). Order pushes are stored `received` for processing; every
    other kind is stored `ignored` at once (see storesync.sync.order_intake) and never queued."""
    now = utcnow()
    wanted = push.kind is PushKind.ORDER
    values = {
        "id": new_id(),
        "organization_id": ctx.organization_id,
        "created_at": now,
        "store_id": store_id,
        "platform": push.platform,
        "event_type": push.event_type[:64],
        "dedupe_key": push.dedupe_key,
        "payload": payload,
        "status": "received" if wanted else "ignored",
        "attempts": 0,
        "error": "",
        "received_at": now,
        "processed_at": None if wanted else now,
    }
    inserted = session.execute(_insert_for(session), values).first()
    if inserted is not None:
        return WebhookEventDTO.model_validate(values), True
    existing = session.exec(
        select(WebhookEvent).where(
            WebhookEvent.organization_id == ctx.organization_id,
            WebhookEvent.store_id == store_id,
            WebhookEvent.dedupe_key == push.dedupe_key,
        )
    ).first()
    if existing is None:  # pragma: no cover - the conflicting row cannot vanish under RLS
        raise RuntimeError(f"webhook event {push.dedupe_key!r} conflicted but is not visible")
    return WebhookEventDTO.model_validate(existing), False


# Built once per dialect (one runs per push received): the values come as parameters.
_INSERTS = {
    name: insert(EVENTS)
    .on_conflict_do_nothing(index_elements=["store_id", "dedupe_key"])
    .returning(EVENTS.c.id)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def _insert_for(session: Session) -> Any:
    return _INSERTS[session.get_bind().dialect.name]


def _store(
    engine: Engine, push: Push, payload: dict[str, Any]
) -> tuple[str, uuid.UUID, uuid.UUID, bool]:
    """Route and store (blocking; runs on a worker thread). Returns (outcome, event id, org id,
    needs processing); outcome is "stored", "duplicate" or "unknown_shop". On PostgreSQL one
    transaction does both; SQLite routes in a transaction of its own first (a transaction that
    reads, then writes after another connection committed, fails there: SQLITE_BUSY_SNAPSHOT)."""
    nobody = uuid.UUID(int=0)
    if not push.shop_id:
        return "unknown_shop", nobody, nobody, False
    route = None
    if engine.dialect.name != "postgresql":
        with session_scope(engine=engine) as session:
            route = route_store(session, platform=push.platform, platform_store_id=push.shop_id)
        if route is None:
            return "unknown_shop", nobody, nobody, False
    with session_scope(engine=engine) as session:
        if route is None:
            route = route_store(session, platform=push.platform, platform_store_id=push.shop_id)
            if route is None:
                return "unknown_shop", nobody, nobody, False
        store_id, organization_id = route
        set_tenant(session, organization_id=organization_id)
        ctx = RequestContext.system(organization_id)
        event, created = record_push(
            session, ctx=ctx, store_id=store_id, push=push, payload=payload
        )
    return (
        ("stored" if created else "duplicate"),
        event.id,
        organization_id,
        created and event.status == "received",
    )


# -- the routes ----------------------------------------------------------------------------------


async def shopee_push(request: Request) -> Response:
    """Shopee push (§1.6): `Authorization` = HMAC(partner_key, callback URL + "|" + body)."""
    return await _intake(request, "shopee")


async def tiktok_push(request: Request) -> Response:
    """TikTok Shop push (§2.6): `Authorization` = HMAC(app_secret, app_key + body)."""
    return await _intake(request, "tiktok")


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
    outcome, event_id, organization_id, queue = await run_in_threadpool(
        _store, engine_provider(), push, payload
    )
    if outcome == "unknown_shop":
        log.info(
            "%s push %s for unknown shop %r acknowledged, not stored",
            platform,
            push.event_type,
            push.shop_id,
        )
    elif outcome == "duplicate":
        log.info("%s push %s repeated (key %s): acknowledged", platform, event_id, push.dedupe_key)
    elif queue:
        _hand_over(event_id, organization_id)
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


def _hand_over(event_id: uuid.UUID, organization_id: uuid.UUID) -> None:
    try:
        on_event_stored(event_id, organization_id)
    except Exception:
        log.exception("webhook event %s stored but not handed to processing", event_id)


routes = [
    Route("/webhooks/shopee", shopee_push, methods=["POST"]),
    Route("/webhooks/tiktok", tiktok_push, methods=["POST"]),
]
