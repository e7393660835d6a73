"""Notifications: recorded with the change that raised them, announced on the bus after commit
(the open pages show them at once), listed, counted and marked read."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from storesync.core.clock import utcnow
from storesync.core.events import publish_after_commit
from storesync.core.models import table_of
from storesync.core.schemas import DTO
from storesync.notifications.models import Notification
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

NOTES = table_of(Notification)
EVENT = "notification"


class NotificationDTO(DTO):
    id: uuid.UUID
    kind: str
    severity: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None


def notify(
    session: OrmSession,
    *,
    organization_id: uuid.UUID,
    kind: str,
    title: str,
    body: str = "",
    severity: str = "info",
    data: dict[str, Any] | None = None,
) -> None:
    """Record a notification in the caller's transaction; the bus hears of it after commit."""
    session.add(
        Notification(
            organization_id=organization_id,
            kind=kind,
            severity=severity,
            title=title[:200],
            body=body,
            data=data or {},
        )
    )
    publish_after_commit(
        session,
        organization_id,
        EVENT,
        {
            "kind": kind,
            "severity": severity,
            "title": title[:200],
            "body": body[:300],
            "data": data or {},
        },
    )


def list_notifications(
    session: Session, *, ctx: RequestContext, limit: int = 20, unread_only: bool = False
) -> list[NotificationDTO]:
    """The newest notifications of the organization (or addressed to this user). Needs READ."""
    ctx.require(Permission.READ)
    query = sa.select(NOTES).where(_mine(ctx))
    if unread_only:
        query = query.where(NOTES.c.read_at.is_(None))
    rows = session.execute(
        query.order_by(NOTES.c.created_at.desc(), NOTES.c.id.desc()).limit(max(1, min(limit, 100)))
    ).all()
    return [NotificationDTO.model_validate(row, from_attributes=True) for row in rows]


def unread_count(session: Session, *, ctx: RequestContext) -> int:
    ctx.require(Permission.READ)
    return int(
        session.execute(
            sa.select(sa.func.count()).where(_mine(ctx), NOTES.c.read_at.is_(None))
        ).scalar_one()
    )


def mark_all_read(session: Session, *, ctx: RequestContext) -> int:
    """Mark every unread notification read; returns how many. Needs READ."""
    ctx.require(Permission.READ)
    result = session.execute(
        sa.update(NOTES).where(_mine(ctx), NOTES.c.read_at.is_(None)).values(read_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _mine(ctx: RequestContext) -> sa.ColumnElement[bool]:
    addressed: sa.ColumnElement[bool] = NOTES.c.user_id.is_(None)
    if ctx.user_id is not None:
        addressed = sa.or_(addressed, NOTES.c.user_id == ctx.user_id)
    return sa.and_(NOTES.c.organization_id == ctx.organization_id, addressed)
