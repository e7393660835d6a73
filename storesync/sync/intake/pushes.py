"""Marketplace pushes read and stored: what a signed push body means (`read_push`: its event
type, shop, dedupe key; no marketplace field names past this module), and storing it once per
dedupe key (`record_push`; `store_pushes` routes and stores a batch of them). The HTTP side
(size, signature, answers, batching) is `routes`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
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
    values = _event_values(ctx.organization_id, store_id, push, payload)
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


def _event_values(
    organization_id: uuid.UUID,
    store_id: uuid.UUID,
    push: Push,
    payload: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or utcnow()
    wanted = push.kind in (PushKind.ORDER, PushKind.RETURN)
    return {
        "id": new_id(),
        "organization_id": organization_id,
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


# Built once per dialect (one runs per batch of pushes received): the values come as parameters.
_INSERTS = {
    name: insert(EVENTS)
    .on_conflict_do_nothing(index_elements=["store_id", "dedupe_key"])
    .returning(EVENTS.c.id)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def _insert_for(session: Session) -> Any:
    return _INSERTS[session.get_bind().dialect.name]


# A batch on PostgreSQL: the rows as arrays, so the statement's text is the same whatever the
# batch size (psycopg parses it once, the server prepares it), inserted in the order given.
_PG_BATCH = sa.text(
    """
    INSERT INTO webhook_event (id, organization_id, created_at, store_id, platform, event_type,
        dedupe_key, payload, status, attempts, error, received_at, processed_at)
    SELECT id, :org, :now, store_id, platform, event_type, dedupe_key, CAST(payload AS jsonb),
        status, 0, '', :now, CASE WHEN status = 'ignored' THEN CAST(:now AS timestamptz) END
    FROM unnest(CAST(:ids AS uuid[]), CAST(:stores AS uuid[]), CAST(:platforms AS text[]),
        CAST(:types AS text[]), CAST(:keys AS text[]), CAST(:payloads AS text[]),
        CAST(:statuses AS text[])) WITH ORDINALITY
        AS t(id, store_id, platform, event_type, dedupe_key, payload, status, n)
    ORDER BY n
    ON CONFLICT (store_id, dedupe_key) DO NOTHING
    RETURNING id
    """
)


def _insert_batch(session: Session, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert one organization's events (same `received_at`); the ids of those that were new."""
    if session.get_bind().dialect.name != "postgresql":
        return set(session.execute(_insert_for(session), rows).scalars())
    columns = ("id", "store_id", "platform", "event_type", "dedupe_key", "status")
    ids, stores, platforms, types, keys, statuses = ([r[c] for r in rows] for c in columns)
    parameters = {
        "org": rows[0]["organization_id"],
        "now": rows[0]["received_at"],
        "ids": ids,
        "stores": stores,
        "platforms": platforms,
        "types": types,
        "keys": keys,
        "payloads": [json.dumps(r["payload"]) for r in rows],
        "statuses": statuses,
    }
    return {uuid.UUID(str(i)) for i in session.execute(_PG_BATCH, parameters).scalars()}


class Stored(NamedTuple):
    """What storing one push did. `outcome`: "stored", "duplicate" or "unknown_shop";
    `event_id` is the new event's (nil otherwise); `queue`: it needs processing."""

    outcome: str
    event_id: uuid.UUID
    organization_id: uuid.UUID
    queue: bool


NOBODY = uuid.UUID(int=0)
UNKNOWN_SHOP = Stored("unknown_shop", NOBODY, NOBODY, False)


def store_pushes(engine: Engine, pushes: Sequence[tuple[Push, dict[str, Any]]]) -> list[Stored]:
    """Route and store several pushes in one transaction (blocking; runs on a worker thread);
    what happened to each, in order. Each shop is routed once, and each organization's events
    are inserted with one statement under its tenant context; a push repeated within the batch
    is a duplicate of its first copy. On PostgreSQL one transaction does both; SQLite routes in
    a transaction of its own first (a transaction that reads, then writes after another
    connection committed, fails there: SQLITE_BUSY_SNAPSHOT)."""
    shops = {(push.platform, push.shop_id) for push, _ in pushes if push.shop_id}
    if not shops:
        return [UNKNOWN_SHOP] * len(pushes)
    routes: dict[tuple[str, str], tuple[uuid.UUID, uuid.UUID] | None] = {}
    if engine.dialect.name != "postgresql":
        with session_scope(engine=engine) as session:
            routes = _routes(session, shops)
        if not any(routes.values()):
            return [UNKNOWN_SHOP] * len(pushes)
    with session_scope(engine=engine) as session:
        routes = routes or _routes(session, shops)
        return _record_batch(session, pushes, routes)


def _routes(
    session: Session, shops: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[uuid.UUID, uuid.UUID] | None]:
    return {
        (platform, shop): route_store(session, platform=platform, platform_store_id=shop)
        for platform, shop in sorted(shops)
    }


def _record_batch(
    session: Session,
    pushes: Sequence[tuple[Push, dict[str, Any]]],
    routes: dict[tuple[str, str], tuple[uuid.UUID, uuid.UUID] | None],
) -> list[Stored]:
    results = [UNKNOWN_SHOP] * len(pushes)
    by_organization: dict[uuid.UUID, list[tuple[int, dict[str, Any]]]] = {}
    now = utcnow()
    for index, (push, payload) in enumerate(pushes):
        route = routes.get((push.platform, push.shop_id))
        if route is not None:
            store_id, organization_id = route
            values = _event_values(organization_id, store_id, push, payload, now)
            by_organization.setdefault(organization_id, []).append((index, values))
    for organization_id, rows in sorted(by_organization.items()):
        set_tenant(session, organization_id=organization_id)
        # In key order: two intake processes inserting the same pushes (redeliveries) wait for
        # each other on the first key they share instead of deadlocking.
        rows.sort(key=lambda row: (row[1]["store_id"], row[1]["dedupe_key"]))
        inserted = _insert_batch(session, [values for _, values in rows])
        for index, values in rows:
            new = values["id"] in inserted
            results[index] = Stored(
                "stored" if new else "duplicate",
                values["id"] if new else NOBODY,
                organization_id,
                new and values["status"] == "received",
            )
    return results
