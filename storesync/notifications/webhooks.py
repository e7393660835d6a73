"""Outbound webhooks: a merchant's system subscribes a URL to events and is told when they happen.

Recording is transactional: just before a transaction commits, every event it will publish
(`order.created`, `order.updated`, `sync_job.finished`, `notification.created`) and its stock
changes (`stock.changed`) become one `webhook_delivery` row per subscription that wants them, in
the same transaction, so a change is never announced without being made, nor made without being
announced. After the commit, `deliveries_ready` hands each to a worker; the sweep finds the ones
no worker finished.

Sending: `POST` of `{"id", "type", "created_at", "organization_id", "data"}` with
`StoreSync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`,
`StoreSync-Event` and `StoreSync-Delivery` (the same id on every retry: receivers dedupe on
it). A receiver checks the signature over the raw body and refuses a `t` older than 5 minutes
(`verify_signature`). Any 2xx is delivered; anything else is retried with backoff (10 s, 30 s,
2 min, 10 min, 30 min, 1 h, 3 h), then `failed`. A subscription failing `PAUSE_AFTER` times in a
row is paused and the organization notified; resuming it sends what waited.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storesync.core.clock import utcnow
from storesync.core.crypto import CredentialBox
from storesync.core.errors import NotFound, ValidationFailed
from storesync.core.events import Hook, SessionListeners, pending_events
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.core.pagination import Page, clamp_limit, decode_typed, encode_cursor
from storesync.core.schemas import DTO
from storesync.db import session_scope
from storesync.inventory.items import STOCK_TOUCHED
from storesync.inventory.models import InventoryItem
from storesync.notifications.models import WebhookDelivery, WebhookSubscription
from storesync.notifications.service import notify
from storesync.settings import RunMode, Settings, get_settings
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

log = logging.getLogger(__name__)

SUBSCRIPTIONS = table_of(WebhookSubscription)
DELIVERIES = table_of(WebhookDelivery)
ITEMS = table_of(InventoryItem)
EVENT_TYPES = (
    "order.created",
    "order.updated",
    "stock.changed",
    "sync_job.finished",
    "notification.created",
)
# What the bus calls them → what subscribers see (None: a job still running is no news).
_PUBLIC = {"order.created": "order.created", "order.updated": "order.updated"}
BACKOFF = (
    timedelta(seconds=10),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=3),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
FINISHED = ("succeeded", "failed", "cancelled")
PAUSE_AFTER = 10
SEND_TIMEOUT = 10.0
CLAIM_LEASE = timedelta(seconds=60)  # a claimed delivery no worker finished is due again then
SIGNATURE_TOLERANCE = 300
STOCK_CHUNK = 200
MAX_SUBSCRIPTIONS = 20
READY = "webhook_deliveries_ready"

# Fired after commit with (delivery id, organization id) for each delivery to send.
deliveries_ready: Hook[[uuid.UUID, uuid.UUID]] = Hook("webhook_deliveries_ready")


class SubscriptionDTO(DTO):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str
    status: str
    consecutive_failures: int
    paused_at: datetime | None
    created_at: datetime


class NewSubscriptionDTO(DTO):
    """A subscription just made: `secret` signs its deliveries, shown this once."""

    subscription: SubscriptionDTO
    secret: str


class DeliveryDTO(DTO):
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str
    delivered_at: datetime | None
    created_at: datetime


def _box(settings: Settings | None) -> CredentialBox:
    return CredentialBox((settings or get_settings()).fernet_key_list)


# -- subscriptions -------------------------------------------------------------------------------


def create_subscription(
    session: Session,
    *,
    ctx: RequestContext,
    url: str,
    events: list[str],
    description: str = "",
    settings: Settings | None = None,
) -> NewSubscriptionDTO:
    """Subscribe `url` to `events`. Needs MANAGE_SETTINGS."""
    ctx.require(Permission.MANAGE_SETTINGS)
    cfg = settings or get_settings()
    clean_url = check_url(url, cfg)
    wanted = sorted({e.strip() for e in events if e.strip()})
    if not wanted:
        raise ValidationFailed("events", f"choose at least one of {', '.join(EVENT_TYPES)}")
    unknown = [e for e in wanted if e not in EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            "events", f"unknown event {unknown[0]!r}: use {', '.join(EVENT_TYPES)}"
        )
    if len(description) > 200:
        raise ValidationFailed("description", "must be at most 200 characters")
    count = session.execute(
        sa.select(sa.func.count()).where(SUBSCRIPTIONS.c.organization_id == ctx.organization_id)
    ).scalar_one()
    if count >= MAX_SUBSCRIPTIONS:
        raise ValidationFailed("url", f"at most {MAX_SUBSCRIPTIONS} subscriptions")
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    row = WebhookSubscription(
        organization_id=ctx.organization_id,
        url=clean_url,
        events=wanted,
        description=description.strip(),
        secret_sealed=_box(cfg).seal({"secret": secret}),
    )
    session.add(row)
    record(
        session,
        ctx=ctx,
        action="webhook.create",
        entity_type="webhook_subscription",
        entity_id=row.id,
        after={"url": row.url, "events": row.events, "description": row.description},
    )
    session.flush()
    return NewSubscriptionDTO(subscription=SubscriptionDTO.model_validate(row), secret=secret)


def check_url(url: str, settings: Settings) -> str:
    """An http(s) URL with a host; in production not a loopback, private or link-local address
    (the server must not be turned against its own network)."""
    clean = url.strip()
    parts = urlsplit(clean)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed("url", "must be an http:// or https:// URL with a host")
    if len(clean) > 500:
        raise ValidationFailed("url", "must be at most 500 characters")
    if settings.env is RunMode.PRODUCTION and _internal(parts.hostname):
        raise ValidationFailed("url", "must not point at a local or private address")
    return clean


def _internal(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local


def _subscription(
    session: Session, ctx: RequestContext, subscription_id: uuid.UUID
) -> WebhookSubscription:
    row = session.get(WebhookSubscription, subscription_id)
    if row is None or row.organization_id != ctx.organization_id:
        raise NotFound("webhook_subscription", subscription_id)
    return row


def list_subscriptions(session: Session, *, ctx: RequestContext) -> list[SubscriptionDTO]:
    """The organization's subscriptions, oldest first (never their secrets)."""
    ctx.require(Permission.MANAGE_SETTINGS)
    rows = session.execute(
        sa.select(SUBSCRIPTIONS)
        .where(SUBSCRIPTIONS.c.organization_id == ctx.organization_id)
        .order_by(SUBSCRIPTIONS.c.created_at, SUBSCRIPTIONS.c.id)
    ).all()
    return [SubscriptionDTO.model_validate(dict(r._mapping)) for r in rows]


def delete_subscription(
    session: Session, *, ctx: RequestContext, subscription_id: uuid.UUID
) -> SubscriptionDTO:
    """Stop and forget a subscription (with its deliveries). Needs MANAGE_SETTINGS."""
    ctx.require(Permission.MANAGE_SETTINGS)
    row = _subscription(session, ctx, subscription_id)
    dto = SubscriptionDTO.model_validate(row)
    session.delete(row)
    record(
        session,
        ctx=ctx,
        action="webhook.delete",
        entity_type="webhook_subscription",
        entity_id=row.id,
        before={"url": dto.url, "events": dto.events, "status": dto.status},
    )
    session.flush()
    return dto


def resume_subscription(
    session: Session, *, ctx: RequestContext, subscription_id: uuid.UUID
) -> SubscriptionDTO:
    """Send again to a paused subscription: what waited goes out at the next sweep."""
    ctx.require(Permission.MANAGE_SETTINGS)
    row = _subscription(session, ctx, subscription_id)
    record(
        session,
        ctx=ctx,
        action="webhook.resume",
        entity_type="webhook_subscription",
        entity_id=row.id,
        before={"status": row.status},
        after={"status": "active"},
    )
    row.status, row.consecutive_failures, row.paused_at = "active", 0, None
    row.updated_at = utcnow()
    session.execute(
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.subscription_id == row.id, DELIVERIES.c.status == "pending")
        .values(next_attempt_at=utcnow())
    )
    session.flush()
    return SubscriptionDTO.model_validate(row)


def list_deliveries(
    session: Session,
    *,
    ctx: RequestContext,
    subscription_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[DeliveryDTO]:
    """Deliveries, newest first, with their outcome; keyset pages."""
    ctx.require(Permission.MANAGE_SETTINGS)
    size = clamp_limit(limit)
    query = sa.select(DELIVERIES).where(DELIVERIES.c.organization_id == ctx.organization_id)
    if subscription_id is not None:
        query = query.where(DELIVERIES.c.subscription_id == subscription_id)
    if status is not None:
        if status not in ("pending", "delivered", "failed"):
            raise ValidationFailed("status", "must be pending, delivered or failed")
        query = query.where(DELIVERIES.c.status == status)
    if cursor:
        at_value, id_value = decode_typed(cursor, datetime.fromisoformat, uuid.UUID)
        query = query.where(
            sa.tuple_(DELIVERIES.c.created_at, DELIVERIES.c.id) < (at_value, id_value)
        )
    rows = session.execute(
        query.order_by(DELIVERIES.c.created_at.desc(), DELIVERIES.c.id.desc()).limit(size + 1)
    ).all()
    items = [DeliveryDTO.model_validate(dict(r._mapping)) for r in rows[:size]]
    more = len(rows) > size
    return Page(
        items=items,
        next_cursor=encode_cursor(items[-1].created_at.isoformat(), items[-1].id) if more else None,
    )


# -- recording, in the transaction that made the change ------------------------------------------


def _wanted(session: Session) -> list[tuple[uuid.UUID, str, dict[str, Any]]]:
    found: list[tuple[uuid.UUID, str, dict[str, Any]]] = []
    for organization_id, kind, data in pending_events(session):
        public = _PUBLIC.get(kind)
        if kind == "sync_job.progress" and data.get("status") in (
            "succeeded",
            "failed",
            "cancelled",
        ):
            public = "sync_job.finished"
        elif kind == "notification":
            public = "notification.created"
        if public is not None:
            found.append((uuid.UUID(organization_id), public, data))
    return found


def _record(session: Session) -> None:
    if session.in_nested_transaction():
        return
    events = _wanted(session)
    touched = session.info.get(STOCK_TOUCHED)
    org = session.info.get("org_id")
    orgs = {e[0] for e in events} | ({org} if touched and org else set())
    if not orgs:
        return
    subscriptions = session.execute(
        sa.select(
            SUBSCRIPTIONS.c.id, SUBSCRIPTIONS.c.organization_id, SUBSCRIPTIONS.c.events
        ).where(SUBSCRIPTIONS.c.organization_id.in_(orgs))
    ).all()
    if not subscriptions:
        return
    if touched and org and any("stock.changed" in s.events for s in subscriptions):
        events += [(org, "stock.changed", chunk) for chunk in _stock_changes(session, org, touched)]
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "organization_id": s.organization_id,
            "created_at": now,
            "subscription_id": s.id,
            "event_type": kind,
            "payload": data,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "last_status_code": None,
            "last_error": "",
            "delivered_at": None,
        }
        for organization_id, kind, data in events
        for s in subscriptions
        if s.organization_id == organization_id and kind in s.events
    ]
    if rows:
        session.execute(sa.insert(DELIVERIES), rows)
        session.info.setdefault(READY, []).extend((r["id"], r["organization_id"]) for r in rows)


def _stock_changes(
    session: Session, organization_id: uuid.UUID, variant_ids: set[uuid.UUID]
) -> list[dict[str, Any]]:
    """`{"variants": [{"variant_id", "on_hand", "reserved", "available"}]}`, summed over the
    locations, in chunks."""
    ids = sorted(variant_ids)
    chunks = []
    for start in range(0, len(ids), STOCK_CHUNK):
        part = ids[start : start + STOCK_CHUNK]
        rows = session.execute(
            sa.select(
                ITEMS.c.variant_id,
                sa.func.sum(ITEMS.c.on_hand),
                sa.func.sum(ITEMS.c.reserved),
            )
            .where(ITEMS.c.organization_id == organization_id, ITEMS.c.variant_id.in_(part))
            .group_by(ITEMS.c.variant_id)
            .order_by(ITEMS.c.variant_id)
        ).all()
        chunks.append(
            {
                "variants": [
                    {
                        "variant_id": str(r[0]),
                        "on_hand": int(r[1]),
                        "reserved": int(r[2]),
                        "available": int(r[1]) - int(r[2]),
                    }
                    for r in rows
                ]
            }
        )
    return chunks


def _announce(session: Session) -> None:
    if session.in_nested_transaction():
        return
    for delivery_id, organization_id in session.info.pop(READY, []):
        try:
            deliveries_ready(delivery_id, organization_id)
        except Exception:  # the sweep sends it anyway
            log.exception("could not hand webhook delivery %s to a worker", delivery_id)


def _forget(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(READY, None)


# Installed by the composition root BEFORE the stock outbox's (which takes the touched variants).
SESSION_LISTENERS: SessionListeners = (
    ("before_commit", _record),
    ("after_commit", _announce),
    ("after_rollback", _forget),
)


# -- sending -------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `StoreSync-Signature` header for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: int, tolerance: int = SIGNATURE_TOLERANCE
) -> bool:
    """What a receiver checks: the signature over the raw body, and a timestamp within
    `tolerance` seconds (a replayed old delivery is refused)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(
        sign(secret, timestamp, body), f"t={timestamp},v1={fields.get('v1', '')}"
    )


def deliver(
    delivery_id: uuid.UUID,
    organization_id: uuid.UUID,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """Send one delivery if it is due and its subscription active; returns `delivered`,
    `retrying`, `failed` or `skipped` (not due, taken by another worker, or paused). A claim by
    a conditional update makes a concurrent or repeated call do nothing."""
    ctx = RequestContext.system(organization_id)
    now = utcnow()
    with session_scope(ctx, engine=engine) as session:
        claimed = session.execute(
            sa.update(DELIVERIES)
            .where(
                DELIVERIES.c.id == delivery_id,
                DELIVERIES.c.organization_id == organization_id,
                DELIVERIES.c.status == "pending",
                DELIVERIES.c.next_attempt_at <= now,
                DELIVERIES.c.subscription_id.in_(
                    sa.select(SUBSCRIPTIONS.c.id).where(SUBSCRIPTIONS.c.status == "active")
                ),
            )
            .values(attempts=DELIVERIES.c.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
            .returning(*DELIVERIES.c)
        ).first()
        if claimed is None:
            return "skipped"
        subscription = session.execute(
            sa.select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == claimed.subscription_id)
        ).one()
    secret = str(_box(settings).open(subscription.secret_sealed)["secret"])
    body = json.dumps(
        {
            "id": str(claimed.id),
            "type": claimed.event_type,
            "created_at": claimed.created_at.isoformat(),
            "organization_id": str(organization_id),
            "data": claimed.payload,
        },
        separators=(",", ":"),
    ).encode()
    status, error = _post(subscription.url, body, secret, claimed, transport)
    return _settle(ctx, engine, claimed, subscription, status, error)


def _post(
    url: str, body: bytes, secret: str, delivery: Any, transport: httpx.BaseTransport | None
) -> tuple[int | None, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "StoreSync-Webhooks/1",
        "StoreSync-Event": delivery.event_type,
        "StoreSync-Delivery": str(delivery.id),
        "StoreSync-Signature": sign(secret, int(utcnow().timestamp()), body),
    }
    try:
        with httpx.Client(timeout=SEND_TIMEOUT, transport=transport) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {str(error)[:200]}"
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"answered {response.status_code}"


def _settle(
    ctx: RequestContext,
    engine: Engine | None,
    delivery: Any,
    subscription: Any,
    status: int | None,
    error: str,
) -> str:
    now = utcnow()
    ok = not error
    with session_scope(ctx, engine=engine) as session:
        if ok:
            values: dict[str, Any] = {"status": "delivered", "delivered_at": now, "last_error": ""}
            outcome = "delivered"
        elif delivery.attempts >= MAX_ATTEMPTS:
            values = {"status": "failed", "last_error": error}
            outcome = "failed"
        else:
            values = {"next_attempt_at": now + BACKOFF[delivery.attempts - 1], "last_error": error}
            outcome = "retrying"
        session.execute(
            sa.update(DELIVERIES)
            .where(DELIVERIES.c.id == delivery.id)
            .values(last_status_code=status, **values)
        )
        _count(session, ctx, subscription, ok)
    if not ok:
        log.info(
            "webhook delivery %s to %s: %s (%s)", delivery.id, subscription.url, outcome, error
        )
    return outcome


def _count(session: Session, ctx: RequestContext, subscription: Any, ok: bool) -> None:
    """Reset the subscription's run of failures, or lengthen it and pause it at PAUSE_AFTER."""
    if ok:
        session.execute(
            sa.update(SUBSCRIPTIONS)
            .where(SUBSCRIPTIONS.c.id == subscription.id, SUBSCRIPTIONS.c.consecutive_failures > 0)
            .values(consecutive_failures=0)
        )
        return
    failures = session.execute(
        sa.update(SUBSCRIPTIONS)
        .where(SUBSCRIPTIONS.c.id == subscription.id)
        .values(consecutive_failures=SUBSCRIPTIONS.c.consecutive_failures + 1)
        .returning(SUBSCRIPTIONS.c.consecutive_failures, SUBSCRIPTIONS.c.status)
    ).one()
    if failures[0] >= PAUSE_AFTER and failures[1] == "active":
        now = utcnow()
        session.execute(
            sa.update(SUBSCRIPTIONS)
            .where(SUBSCRIPTIONS.c.id == subscription.id)
            .values(status="paused", paused_at=now, updated_at=now)
        )
        notify(
            session,
            organization_id=ctx.organization_id,
            kind="webhook.paused",
            severity="error",
            title="A webhook subscription was paused",
            body=f"{subscription.url} failed {failures[0]} times in a row; resume it under "
            "Settings once it answers again.",
            data={"subscription_id": str(subscription.id)},
        )


def due_deliveries(
    *, engine: Engine | None = None, organization_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(delivery id, organization id) of pending deliveries due now whose subscription is
    active: the sweep hands them to workers."""
    now = utcnow()
    due: list[tuple[uuid.UUID, uuid.UUID]] = []
    for org_id in organization_ids:
        with session_scope(RequestContext.system(org_id), engine=engine) as session:
            ids = session.execute(
                sa.select(DELIVERIES.c.id)
                .where(
                    DELIVERIES.c.organization_id == org_id,
                    DELIVERIES.c.status == "pending",
                    DELIVERIES.c.next_attempt_at <= now,
                    DELIVERIES.c.subscription_id.in_(
                        sa.select(SUBSCRIPTIONS.c.id).where(SUBSCRIPTIONS.c.status == "active")
                    ),
                )
                .order_by(DELIVERIES.c.next_attempt_at)
                .limit(500)
            ).scalars()
            due.extend((uuid.UUID(str(i)), org_id) for i in ids)
    return due


def rotate_secrets(
    session: Session, *, ctx: RequestContext, settings: Settings | None = None
) -> int:
    """Re-seal every subscription secret of the organization under the newest key."""
    ctx.require(Permission.MANAGE_SETTINGS)
    box = _box(settings)
    rows = session.execute(
        sa.select(SUBSCRIPTIONS.c.id, SUBSCRIPTIONS.c.secret_sealed).where(
            SUBSCRIPTIONS.c.organization_id == ctx.organization_id
        )
    ).all()
    for row in rows:
        session.execute(
            sa.update(SUBSCRIPTIONS)
            .where(SUBSCRIPTIONS.c.id == row.id)
            .values(secret_sealed=box.rotate(row.secret_sealed))
        )
    return len(rows)
