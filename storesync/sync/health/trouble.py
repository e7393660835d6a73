"""A store's trouble told plainly: the adapters' error codes turned into words a merchant
understands, the last one kept with the store (`store.settings["health"]`), and one notification
when the trouble has lasted over `NOTICE_AFTER` (never a second one for the same trouble).

The mark itself (`unhealthy_since`) belongs to `storesync.sync.health.backfill`; this module only
says what went wrong and tells the merchant once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storesync.core.clock import utcnow
from storesync.notifications.service import notify
from storesync.sync.due import NOTICE_AFTER
from storesync.sync.health.schemas import StoreConditionDTO
from storesync.sync.jobs.service import STORES
from storesync.tenancy.context import RequestContext

NOTICE_KIND = "store.trouble"
HEALTH_KEY = "health"
# The token is refused: only connecting the store again helps.
TOKEN_REFUSED = {"token_invalid", "reauthorize", "not_connected"}
PLATFORM_NAMES = {"shopee": "Shopee", "tiktok": "TikTok Shop"}

_WORDS = {
    "circuit_open": "{p} failed several times in a row, so StoreSync is pausing its calls for a "
    "moment before trying again.",
    "server_error": "{p} is having problems on its side. StoreSync keeps trying.",
    "network_error": "StoreSync cannot reach {p} right now. It keeps trying.",
    "timeout": "{p} is answering too slowly. StoreSync keeps trying.",
    "malformed_response": "{p} sent an answer StoreSync could not read. It keeps trying.",
    "rate_limited": "{p} asked StoreSync to slow down (too many requests at once).",
    "daily_limit": "{p}'s daily limit of requests is used up; syncing resumes tomorrow.",
    "token_invalid": "{p} no longer accepts StoreSync's access to this shop. Reconnect it.",
    "reauthorize": "{p}'s authorization for this shop has expired. Reconnect it.",
    "not_connected": "This shop is not connected. Reconnect it.",
    "bad_app_credentials": "{p} refused StoreSync's own app keys. Contact support.",
    "clock_skew": "{p} refused the time of StoreSync's requests: the server clock is off.",
    "shop_banned": "{p} has restricted this shop. Check your seller centre.",
    "error_permission": "{p} does not allow StoreSync to do this for this shop.",
    "backfill_push_incomplete": "Some stock updates have not reached {p} yet. StoreSync keeps "
    "trying.",
}


def split_detail(detail: str) -> tuple[str, str]:
    """An adapter's health detail, "code: message" (or a bare code), as (code, message)."""
    code, _, message = detail.partition(": ")
    code = code.strip()
    if not code or " " in code:
        return "", detail.strip()
    return code, message.strip()


def plain_words(platform: str, code: str, message: str = "") -> str:
    """What went wrong, for a merchant: the known codes in plain words; otherwise what the
    platform said."""
    name = PLATFORM_NAMES.get(platform, platform.title() or "The marketplace")
    template = _WORDS.get(code)
    if template is not None:
        return template.format(p=name)
    said = message.split(": ", 1)[-1].strip() if message else ""
    if said:
        return f"{name} said: {said[:240]}"
    if code:
        return f"{name} is not answering as it should. StoreSync keeps trying."
    return f"Syncing with {name} stopped for a while. StoreSync is catching up."


def note_trouble(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, code: str, message: str
) -> None:
    """Keep the latest trouble's code and message with the store (in the caller's
    transaction); when it has lasted over `NOTICE_AFTER`, notify once."""
    row = _store_row(session, ctx, store_id)
    if row is None:
        return
    health = dict((row.settings or {}).get(HEALTH_KEY) or {})
    health.update(code=code[:60], message=message[:500], seen_at=utcnow().isoformat())
    _save(session, ctx, store_id, row.settings, health)
    notify_if_lasting(session, ctx=ctx, store_id=store_id)


def notify_if_lasting(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, now: datetime | None = None
) -> bool:
    """Raise the `store.trouble` notification when the store has been unhealthy for over
    `NOTICE_AFTER` and this trouble (its `unhealthy_since`) was not notified yet. True when
    raised."""
    row = _store_row(session, ctx, store_id)
    if row is None or row.unhealthy_since is None:
        return False
    if (now or utcnow()) - row.unhealthy_since < NOTICE_AFTER:
        return False
    health = dict((row.settings or {}).get(HEALTH_KEY) or {})
    episode = row.unhealthy_since.isoformat()
    if health.get("notified_for") == episode:
        return False
    health["notified_for"] = episode
    _save(session, ctx, store_id, row.settings, health)
    words = plain_words(row.platform, str(health.get("code", "")), str(health.get("message", "")))
    notify(
        session,
        organization_id=ctx.organization_id,
        kind=NOTICE_KIND,
        severity="warning",
        title=f"{row.name} is having trouble syncing",
        body=f"{words} Since {row.unhealthy_since:%Y-%m-%d %H:%M} UTC.",
        data={"store_id": str(store_id), "since": episode},
    )
    return True


def forget_trouble(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> None:
    """The store is healthy again: drop the kept trouble (a new one notifies afresh)."""
    row = _store_row(session, ctx, store_id)
    if row is None or HEALTH_KEY not in (row.settings or {}):
        return
    settings = {k: v for k, v in (row.settings or {}).items() if k != HEALTH_KEY}
    session.execute(
        sa.update(STORES)
        .where(STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id)
        .values(settings=settings)
    )


def condition(store: Any) -> StoreConditionDTO:
    """How a store is doing, in three states: `disconnected` (its token is refused or it was
    disconnected: reconnect), `trouble` (calls fail; `message` says why, `since` since when)
    or `connected`."""
    health = (store.settings or {}).get(HEALTH_KEY) or {}
    code = str(health.get("code", ""))
    words = plain_words(store.platform, code, str(health.get("message", "")))
    if store.status != "connected" or (store.unhealthy_since is not None and code in TOKEN_REFUSED):
        reason = words if code in TOKEN_REFUSED else "This shop is not connected to StoreSync."
        return StoreConditionDTO(
            store_id=store.id, state="disconnected", message=reason, since=store.unhealthy_since
        )
    if store.unhealthy_since is not None:
        return StoreConditionDTO(
            store_id=store.id, state="trouble", message=words, since=store.unhealthy_since
        )
    return StoreConditionDTO(store_id=store.id, state="connected", message="", since=None)


def _store_row(session: Session, ctx: RequestContext, store_id: uuid.UUID) -> Any:
    return session.execute(
        sa.select(
            STORES.c.id,
            STORES.c.name,
            STORES.c.platform,
            STORES.c.settings,
            STORES.c.unhealthy_since,
        ).where(STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id)
    ).first()


def _save(
    session: Session,
    ctx: RequestContext,
    store_id: uuid.UUID,
    settings: dict[str, Any] | None,
    health: dict[str, Any],
) -> None:
    session.execute(
        sa.update(STORES)
        .where(STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id)
        .values(settings={**(settings or {}), HEALTH_KEY: health})
    )
