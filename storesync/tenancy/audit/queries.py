"""Reading the audit log: entries newest first with filters, keyset pages, and a CSV export.
Owners and admins only (`Permission.VIEW_AUDIT`); the log itself is append-only.

Actions (`action`, on `entity_type`), written by the services a person or API key calls:

- catalog: `product.create` / `product.update` / `product.delete`, `variant.create` /
  `variant.update` (a bulk edit logs one row per product or variant it changed),
  `catalog.import` (one summary row per imported file, with its counts);
- inventory: `stock.adjust`, `stock.count`, `stock.receive` (on-hand before and after, with the
  SKU, location and reason), `location.create`;
- orders and fulfilment: `order.status`, `order.cancel`, `order.ship`, `order.tracking`,
  `order.arrange`, `order.label_print`, `return.resolve`;
- stores and listings: `store.connect`, `store.disconnect`, `store.allocation`,
  `store.price_rule`, `listing.link`, `listing.unlink`, `listing.ignore`, `job.start`,
  `job.cancel`, `job.retry`;
- the organization: `member.role`, `member.remove`, `api_key.create`, `api_key.revoke`,
  `organization.update`, `webhook.create`, `webhook.delete`, `webhook.resume`.

Work the system does (workers, marketplace webhooks, the jobs a person started) is not logged:
it acts for a change already logged, or for a marketplace.

Dates: `date_from` / `date_to` take a day (`2026-03-01`, in the organization's time zone, `to`
inclusive of that whole day) or an ISO 8601 datetime (with an offset, or read in the
organization's time zone), `to` exclusive. Errors name the parameters `from` and `to`.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storesync.core.errors import ValidationFailed
from storesync.core.pagination import (
    Page,
    clamp_limit,
    contains_pattern,
    decode_typed,
    encode_cursor,
)
from storesync.core.schemas import DTO
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import AuditLog, Organization, User
from storesync.tenancy.permissions import Permission

ACTIONS: dict[str, str] = {
    "product.create": "created a product",
    "product.update": "changed a product",
    "product.delete": "deleted a product",
    "variant.create": "added a variant",
    "variant.update": "changed a variant",
    "catalog.import": "imported a catalog file",
    "stock.adjust": "adjusted stock",
    "stock.count": "counted stock",
    "stock.receive": "received stock",
    "location.create": "added a location",
    "order.status": "changed an order's status",
    "order.cancel": "cancelled an order",
    "order.ship": "marked an order shipped",
    "order.tracking": "set an order's tracking number",
    "order.arrange": "arranged a shipment",
    "order.label_print": "printed a shipping label",
    "return.resolve": "resolved a return",
    "store.connect": "connected a store",
    "store.disconnect": "disconnected a store",
    "store.allocation": "changed a store's stock allocation",
    "store.price_rule": "changed a store's price rule",
    "listing.link": "linked a listing",
    "listing.unlink": "unlinked a listing",
    "listing.ignore": "ignored a listing",
    "job.start": "started a sync",
    "job.cancel": "cancelled a sync",
    "job.retry": "retried a sync",
    "member.role": "changed a member's role",
    "member.remove": "removed a member",
    "api_key.create": "created an API key",
    "api_key.revoke": "revoked an API key",
    "organization.update": "changed the organization's settings",
    "webhook.create": "added a webhook",
    "webhook.delete": "deleted a webhook",
    "webhook.resume": "resumed a webhook",
}
COLUMNS = (
    "time",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "client_address",
    "actor_user_id",
    "actor_api_key_id",
)
MAX_TEXT = 200
MAX_BATCH = 5000
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class AuditEntryDTO(DTO):
    """One change: when (UTC), who (`actor`: the person's email or "API key <name>"), from
    where, what (`action` on `entity_type` `entity_id`) and the changed fields' values."""

    id: uuid.UUID
    created_at: datetime
    actor: str
    actor_user_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    client_address: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Filters already checked: text to find in the actor, exact entity type / id / action,
    and a time range [since, until)."""

    actor: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_filter(
    session: Session,
    *,
    ctx: RequestContext,
    actor: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
) -> AuditFilter:
    """The filters as given by a person or a query string, checked (`ValidationFailed` names
    the parameter: actor, action, entity_type, entity_id, from, to); days and datetimes without
    an offset are read in the organization's time zone."""
    zone = organization_zone(session, ctx=ctx)
    found = AuditFilter(
        actor=_text("actor", actor),
        action=_text("action", action),
        entity_type=_text("entity_type", entity_type),
        entity_id=_text("entity_id", entity_id),
        since=_moment("from", date_from, zone, end_of_day=False),
        until=_moment("to", date_to, zone, end_of_day=True),
    )
    if found.since and found.until and found.until <= found.since:
        raise ValidationFailed("to", "must be after from")
    return found


def organization_zone(session: Session, *, ctx: RequestContext) -> ZoneInfo:
    """The organization's time zone (UTC when it names none this machine knows)."""
    name = session.exec(
        select(Organization.timezone).where(Organization.id == ctx.organization_id)
    ).first()
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def list_entries(
    session: Session,
    *,
    ctx: RequestContext,
    where: AuditFilter | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[AuditEntryDTO]:
    """Entries matching `where`, newest first, keyset-paginated on (created_at, id): pass
    `next_cursor` back as `cursor` for the older ones. Needs VIEW_AUDIT."""
    ctx.require(Permission.VIEW_AUDIT)
    size = clamp_limit(limit)
    query = _query(ctx, where or AuditFilter())
    if cursor:
        at, last = decode_typed(cursor, datetime.fromisoformat, uuid.UUID)
        query = query.where(*_older_than(at, last))
    rows = session.execute(query.limit(size + 1)).all()
    items = [_dto(row) for row in rows[:size]]
    following = None
    if len(rows) > size:
        following = encode_cursor(items[-1].created_at.isoformat(), items[-1].id)
    return Page[AuditEntryDTO](items=items, next_cursor=following)


def export_rows(
    session: Session, *, ctx: RequestContext, where: AuditFilter | None = None, batch: int = 1000
) -> Iterator[str]:
    """The entries `list_entries` finds, newest first, as CSV text (UTF-8 with a BOM, times in
    the organization's time zone): the header (`COLUMNS`), then one chunk per batch. Each batch
    is read in its own short transaction, continuing after the last entry seen. The permission
    is checked when the header is taken: take it before starting a response. Needs
    VIEW_AUDIT."""
    if batch < 1 or batch > MAX_BATCH:
        raise ValidationFailed("batch", f"must be between 1 and {MAX_BATCH}")
    ctx.require(Permission.VIEW_AUDIT)
    zone = organization_zone(session, ctx=ctx)
    query = _query(ctx, where or AuditFilter())
    session.commit()
    yield "\ufeff" + _csv([COLUMNS])  # the BOM: Excel then reads the file as UTF-8
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        page = query if after is None else query.where(*_older_than(*after))
        entries = [_dto(row) for row in session.execute(page.limit(batch)).all()]
        session.commit()
        if not entries:
            return
        after = (entries[-1].created_at, entries[-1].id)
        yield _csv(_csv_row(entry, zone) for entry in entries)
        if len(entries) < batch:
            return


def export_filename(at: datetime) -> str:
    """The download's file name: `audit-YYYYMMDD-HHMM.csv` at `at`."""
    return f"audit-{at:%Y%m%d-%H%M}.csv"


def summary(entry: AuditEntryDTO) -> str:
    """The change on one line: `field: before → after` for a changed field, `field: value` for
    one only set (created) or only known before (deleted)."""
    parts = []
    for name in [*entry.before, *(k for k in entry.after if k not in entry.before)]:
        if name in entry.before and name in entry.after:
            parts.append(f"{name}: {_shown(entry.before[name])} → {_shown(entry.after[name])}")
        else:
            value = entry.after[name] if name in entry.after else entry.before[name]
            parts.append(f"{name}: {_shown(value)}")
    return "; ".join(parts)


# -- the query -----------------------------------------------------------------------------------


def _query(ctx: RequestContext, where: AuditFilter) -> sa.Select[AuditLog, str]:
    # The person's email when the row has no actor text (a context that carried none).
    email = col(User.email)
    query = (
        sa.select(AuditLog, email)
        .outerjoin(User, col(User.id) == col(AuditLog.actor_user_id))
        .where(col(AuditLog.organization_id) == ctx.organization_id)
    )
    if where.actor:
        pattern = contains_pattern(where.actor)
        query = query.where(
            sa.or_(
                col(AuditLog.actor).ilike(pattern, escape="\\"),
                email.ilike(pattern, escape="\\"),
            )
        )
    if where.action:
        action = where.action
        # "stock" or "stock." finds every stock.* action; a full name finds that action.
        if action.endswith(".") or "." not in action:
            prefix = contains_pattern(action.rstrip(".") + ".")[1:]
            query = query.where(col(AuditLog.action).like(prefix, escape="\\"))
        else:
            query = query.where(col(AuditLog.action) == action)
    if where.entity_type:
        query = query.where(col(AuditLog.entity_type) == where.entity_type)
    if where.entity_id:
        query = query.where(col(AuditLog.entity_id) == where.entity_id)
    if where.since:
        query = query.where(col(AuditLog.created_at) >= where.since)
    if where.until:
        query = query.where(col(AuditLog.created_at) < where.until)
    return query.order_by(col(AuditLog.created_at).desc(), col(AuditLog.id).desc())


def _older_than(at: datetime, last: uuid.UUID) -> Sequence[sa.ColumnElement[bool]]:
    # The redundant bound lets the (organization_id, created_at) index start at the cursor.
    created, entry_id = col(AuditLog.created_at), col(AuditLog.id)
    return (created <= at, sa.or_(created < at, sa.and_(created == at, entry_id < last)))


def _dto(row: Any) -> AuditEntryDTO:
    entry: AuditLog = row[0]
    data = entry.data or {}
    return AuditEntryDTO(
        id=entry.id,
        created_at=entry.created_at,
        actor=entry.actor or row[1] or "",
        actor_user_id=entry.actor_user_id,
        actor_api_key_id=entry.actor_api_key_id,
        client_address=entry.client_address,
        action=entry.action,
        entity_type=entry.entity_type,
        entity_id=entry.entity_id,
        before=dict(data.get("before") or {}),
        after=dict(data.get("after") or {}),
    )


# -- checking the filters ------------------------------------------------------------------------


def _text(name: str, value: str | None) -> str | None:
    clean = (value or "").strip()
    if len(clean) > MAX_TEXT:
        raise ValidationFailed(name, f"must be at most {MAX_TEXT} characters")
    return clean or None


def _moment(
    name: str, value: str | date | None, zone: ZoneInfo, *, end_of_day: bool
) -> datetime | None:
    """A bound of the range: a day starts (or, for `to`, ends) at midnight in `zone`."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return _midnight(value, zone, end_of_day)
    else:
        text = value.strip()
        try:
            if len(text) == 10:
                return _midnight(date.fromisoformat(text), zone, end_of_day)
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationFailed(
                name, "must be a date (2026-03-01) or an ISO 8601 datetime"
            ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _midnight(day: date, zone: ZoneInfo, end_of_day: bool) -> datetime:
    return datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(), tzinfo=zone)


# -- CSV -----------------------------------------------------------------------------------------


def _csv_row(entry: AuditEntryDTO, zone: ZoneInfo) -> list[str]:
    return [
        entry.created_at.astimezone(zone).isoformat(timespec="seconds"),
        entry.actor,
        entry.action,
        entry.entity_type,
        entry.entity_id,
        json.dumps(entry.before, ensure_ascii=False, sort_keys=True) if entry.before else "",
        json.dumps(entry.after, ensure_ascii=False, sort_keys=True) if entry.after else "",
        entry.client_address,
        str(entry.actor_user_id or ""),
        str(entry.actor_api_key_id or ""),
    ]


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _neutralise(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _csv(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([_neutralise(cell) for cell in row] for row in rows)
    return out.getvalue()
