"""Marketplace pushes read and stored: what a signed push body means (`read_push`: its event
type, shop, dedupe key; no marketplace field names past this module), and storing it once per
dedupe key (`record_push`). The HTTP side (size, signature, answers) is `routes`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storesync.channels.connections import route_store
from storesync.core.clock import utcnow
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.db import session_scope, set_tenant
from storesync.sync.intake.schemas import Push, PushKind, WebhookEventDTO
from storesync.sync.models import WebhookEvent
from storesync.tenancy.context import RequestContext

log = logging.getLogger(__name__)

EVENTS = table_of(WebhookEvent)
MAX_KEY_LENGTH = 200

SHOPEE_EVENTS: dict[int, tuple[str, PushKind]] = {
    1: ("shop_authorization", PushKind.OTHER),
    2: ("shop_deauthorization", PushKind.OTHER),
    3: ("order_status", PushKind.ORDER),
    4: ("tracking_number", PushKind.ORDER),
    5: ("shopee_updates", PushKind.OTHER),
    6: ("banned_item", PushKind.OTHER),
    7: ("item_promotion", PushKind.OTHER),
    8: ("reserved_stock_change", PushKind.STOCK),
    9: ("promotion_update", PushKind.OTHER),
    10: ("webchat", PushKind.OTHER),
    11: ("video_upload", PushKind.OTHER),
    12: ("authorization_expiry", PushKind.OTHER),
    13: ("brand_register_result", PushKind.OTHER),
    29: ("return_updates", PushKind.RETURN),
}
TIKTOK_EVENTS: dict[int, tuple[str, PushKind]] = {
    1: ("ORDER_STATUS_CHANGE", PushKind.ORDER),
    2: ("REVERSE_STATUS_UPDATE", PushKind.OTHER),
    3: ("RECIPIENT_ADDRESS_UPDATE", PushKind.OTHER),
    4: ("PACKAGE_UPDATE", PushKind.OTHER),
    5: ("PRODUCT_STATUS_CHANGE", PushKind.STOCK),
    6: ("SELLER_DEAUTHORIZATION", PushKind.OTHER),
    7: ("UPCOMING_AUTHORIZATION_EXPIRATION", PushKind.OTHER),
    11: ("CANCELLATION_STATUS_CHANGE", PushKind.ORDER),
    12: ("RETURN_STATUS_CHANGE", PushKind.RETURN),
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
    elif code == 4:  # the tracking number was assigned: fetch the order again
        order_id = str(data.get("ordersn") or "")
        parts = [order_id, data.get("package_number"), data.get("tracking_no")]
    elif code == 29:  # a return changed: the store's returns are fetched again
        parts = [data.get("return_sn"), data.get("status"), data.get("update_time")]
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
    transaction survives a repeat). Order and return pushes are stored `received` for
    processing; every other kind is stored `ignored` at once (see storesync.sync.intake.orders)
    and never queued."""
    now = utcnow()
    wanted = push.kind in (PushKind.ORDER, PushKind.RETURN)
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


def store_push(
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
