"""Staleness: which listings' channel stock is behind, since when, per listing and per store,
and the alert when a store has any.

Every push records on its listing what reached the channel and when (`last_pushed_quantity`,
`last_pushed_at`). A matched listing of a store that is not disconnected is OUT OF STEP when
its outbox row is pending or in progress (a push is waiting), or when what was last pushed is
not what the channel should show now (the outbox formula: allocation share of available stock
minus the buffer, floor 0). That covers failed pushes whose figure is still wrong, and stores
that stopped syncing (an expired token: no pushes are even queued for them). It is STALE when
it has been out of step for longer than `older_than`.

Since when, from what the tables hold:
- a row being retried (pending, attempts > 0): its latest attempt minus the backoff that
  attempt earned. Backoff doubles, so the earlier attempts took about as long as the current
  delay; the estimate stays put between retries instead of restarting at every attempt.
- a row waiting for its first attempt, in progress, or failed: when it was last written.
- no push waiting: the last push, or when the store became unhealthy if that came later
  (nothing changes on a channel while its store is down).
A new quantity queued for a listing restarts its clock (the outbox keeps no "waiting since";
a busy listing during a long outage looks younger than it is).

No query runs per listing. `alert_stale` runs every few seconds, in the organizations where
`storesync.sync.due` finds a store with an alert to raise (on PostgreSQL its query spells out
these rules and `state.listing_state`'s in SQL, migration 0015: a change here needs a migration
there; tests/sync/test_due_exact.py compares the two). Per organization it reads
the stores, then one statement that starts from what CAN be out of step, found through indexes
(outbox rows waiting, by store and status; the listings of stores not syncing), and looks stock
up for those only (then, only if something is stale, the recent alerts): milliseconds for an
organization with 100,000 listings. The dashboard's figures scan every
matched listing (a fifth of a second at that size), so they also show a listing out of step
with no push waiting, which only happens when something bypassed the outbox.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storesync.core.clock import utcnow
from storesync.core.errors import ValidationFailed
from storesync.core.events import publish_after_commit
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.core.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from storesync.db import session_scope
from storesync.notifications.models import Notification
from storesync.sync.due import (
    ALERT_REPEAT_AFTER,
    STALE_AFTER,
    STALE_ALERT_KIND,
    DueWork,
    Work,
    due_for,
)
from storesync.sync.health.schemas import StaleListingDTO, StoreStalenessDTO
from storesync.sync.health.state import listing_state, suspects
from storesync.sync.push.outbox import LISTINGS, STORES
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

log = logging.getLogger(__name__)
NOTIFICATIONS = table_of(Notification)
ALERT_KIND = STALE_ALERT_KIND
# Out of step for `STALE_AFTER` is stale; an unread alert from the last `ALERT_REPEAT_AFTER`
# covers its store (both live with the due query).


def _stale(rows: sa.Subquery, cutoff: float) -> sa.ColumnElement[bool]:
    return sa.and_(rows.c.out_of_step, rows.c.since <= cutoff)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def stale_listings(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID | None = None,
    older_than: timedelta = STALE_AFTER,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[StaleListingDTO]:
    """Listings whose channel has been out of step for longer than `older_than` (see the module
    docstring), the longest-waiting first, keyset-paginated; optionally of one store. Each with
    what it should show, what last reached the channel and when, and its push state. Needs
    READ."""
    ctx.require(Permission.READ)
    size = clamp_limit(limit)
    now = utcnow().timestamp()
    rows = listing_state(session, ctx, store_id)
    query = sa.select(rows).where(_stale(rows, now - older_than.total_seconds()))
    if cursor:
        since, last_id = _after(cursor)
        query = query.where(
            sa.or_(
                rows.c.since > since,
                sa.and_(rows.c.since == since, rows.c.listing_id > last_id),
            )
        )
    found = session.execute(query.order_by(rows.c.since, rows.c.listing_id).limit(size + 1)).all()
    items = [_stale_dto(row, now) for row in found[:size]]
    next_cursor = None
    if len(found) > size:
        next_cursor = encode_cursor(repr(float(found[size - 1].since)), items[-1].listing_id)
    return Page[StaleListingDTO](items=items, next_cursor=next_cursor)


def _after(cursor: str) -> tuple[float, uuid.UUID]:
    raw_since, raw_id = decode_cursor(cursor, parts=2)
    try:
        return float(str(raw_since)), uuid.UUID(str(raw_id))
    except ValueError:
        raise ValidationFailed("cursor", "is not a valid page cursor") from None


def _stale_dto(row: Any, now: float) -> StaleListingDTO:
    values = dict(row._mapping)
    since = float(values.pop("since"))
    values.pop("out_of_step")
    return StaleListingDTO(
        **values, stale_since=_at(since), age_seconds=round(max(now - since, 0.0), 3)
    )


def _by_store(
    session: Session,
    ctx: RequestContext,
    older_than: timedelta,
    now: float,
    *,
    only: sa.Select[Any] | sa.CompoundSelect | None = None,
) -> sa.Subquery:
    """Per store: its stale listings (of `only` these) and since when the oldest."""
    rows = listing_state(session, ctx, suspects=only)
    return (
        sa.select(
            rows.c.store_id,
            sa.func.count().label("stale"),
            sa.func.min(rows.c.since).label("oldest"),
        )
        .where(_stale(rows, now - older_than.total_seconds()))
        .group_by(rows.c.store_id)
        .subquery("stale_by_store")
    )


def staleness_summary(
    session: Session, *, ctx: RequestContext, older_than: timedelta = STALE_AFTER
) -> list[StoreStalenessDTO]:
    """Per store that is not disconnected, in the order they were connected: how many listings
    are stale, since when the oldest, and when stock last reached the channel for any listing.
    Needs READ."""
    ctx.require(Permission.READ)
    now = utcnow().timestamp()
    stale = _by_store(session, ctx, older_than, now)
    pushes = (
        sa.select(LISTINGS.c.store_id, sa.func.max(LISTINGS.c.last_pushed_at).label("pushed"))
        .where(LISTINGS.c.organization_id == ctx.organization_id)
        .group_by(LISTINGS.c.store_id)
        .subquery("pushes")
    )
    rows = session.execute(
        sa.select(
            STORES.c.id,
            STORES.c.name,
            STORES.c.platform,
            STORES.c.status,
            sa.func.coalesce(stale.c.stale, 0).label("stale"),
            stale.c.oldest,
            pushes.c.pushed,
        )
        .outerjoin(stale, stale.c.store_id == STORES.c.id)
        .outerjoin(pushes, pushes.c.store_id == STORES.c.id)
        .where(STORES.c.organization_id == ctx.organization_id, STORES.c.status != "disconnected")
        .order_by(STORES.c.created_at, STORES.c.id)
    ).all()
    return [
        StoreStalenessDTO(
            store_id=row.id,
            store_name=row.name,
            platform=row.platform,
            status=row.status,
            stale_listings=int(row.stale),
            oldest_stale_since=None if row.oldest is None else _at(float(row.oldest)),
            oldest_age_seconds=(
                None if row.oldest is None else round(max(now - float(row.oldest), 0.0), 3)
            ),
            last_pushed_at=row.pushed,
        )
        for row in rows
    ]


def alert_stale(*, engine: Engine | None = None, due: DueWork | None = None) -> int:
    """For every organization, one `sync.stale` warning per store with stale listings, unless
    an unread one for that store from the last hour exists; each announced with a
    `notification` event after commit. Returns how many were created. Run periodically by the
    sweeper; one organization's failure does not stop the others. Looks only in the
    organizations `due` names (`storesync.sync.due`; looked up afresh without it)."""
    created = 0
    for org_id in due_for(Work.STALE, due, engine).of(Work.STALE):
        try:
            with session_scope(RequestContext.system(org_id), engine=engine) as session:
                created += _alert_organization(session, RequestContext.system(org_id))
        except Exception:
            log.exception("staleness alerts failed for organization %s", org_id)
    return created


def _alert_organization(session: Session, ctx: RequestContext) -> int:
    current = utcnow()
    now = current.timestamp()
    stores = {
        row.id: row
        for row in session.execute(
            sa.select(STORES.c.id, STORES.c.name, STORES.c.platform, STORES.c.status).where(
                STORES.c.organization_id == ctx.organization_id, STORES.c.status != "disconnected"
            )
        )
    }
    if not stores:
        return 0
    stopped = [row.id for row in stores.values() if row.status != "connected"]
    stale = _by_store(session, ctx, STALE_AFTER, now, only=suspects(list(stores), stopped))
    found = session.execute(sa.select(stale).order_by(stale.c.store_id)).all()
    if not found:
        return 0
    covered = {
        str((data or {}).get("store_id"))
        for data in session.execute(
            sa.select(NOTIFICATIONS.c.data).where(
                NOTIFICATIONS.c.organization_id == ctx.organization_id,
                NOTIFICATIONS.c.created_at >= current - ALERT_REPEAT_AFTER,
                NOTIFICATIONS.c.kind == ALERT_KIND,
                NOTIFICATIONS.c.read_at.is_(None),
            )
        ).scalars()
    }
    fresh = [row for row in found if str(row.store_id) not in covered]
    for row in fresh:
        _notify(session, ctx, stores[row.store_id], int(row.stale), float(row.oldest), now, current)
    return len(fresh)


def _notify(
    session: Session,
    ctx: RequestContext,
    store: Any,
    count: int,
    oldest: float,
    now: float,
    at: datetime,
) -> None:
    age = max(now - oldest, 0.0)
    data = {
        "store_id": str(store.id),
        "platform": store.platform,
        "stale_listings": count,
        "oldest_age_seconds": round(age),
        "oldest_stale_since": _at(oldest).isoformat(),
    }
    notification_id = new_id()
    title = f"Stock on {store.name} is behind"[:200]
    session.execute(
        sa.insert(NOTIFICATIONS).values(
            id=notification_id,
            organization_id=ctx.organization_id,
            created_at=at,
            user_id=None,
            kind=ALERT_KIND,
            severity="warning",
            title=title,
            body=(
                f"Stock has not reached {store.name} for {count} "
                f"listing{'' if count == 1 else 's'}; the oldest has waited {_duration(age)}."
            ),
            data=data,
            read_at=None,
        )
    )
    publish_after_commit(
        session,
        ctx.organization_id,
        "notification",
        {"id": str(notification_id), "kind": ALERT_KIND, "severity": "warning", "title": title}
        | data,
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    return f"{seconds / 3600:.1f} h"
