"""Helpers the order modules share: the order timeline."""

from __future__ import annotations

from sqlmodel import Session

from storesync.core.events import publish_after_commit
from storesync.orders.models import Order, OrderEvent
from storesync.tenancy.context import RequestContext

_REASON_MAX = 255


def add_event(
    session: Session, *, ctx: RequestContext, row: Order, from_status: str, source: str, reason: str
) -> None:
    """Append to the timeline; `to_status` is the order's status after the change."""
    session.add(
        OrderEvent(
            organization_id=ctx.organization_id,
            order_id=row.id,
            from_status=from_status,
            to_status=row.status,
            actor_user_id=ctx.user_id,
            source=source[:32],
            reason=reason.strip()[:_REASON_MAX],
        )
    )


def announce(session: Session, ctx: RequestContext, kind: str, row: Order) -> None:
    """Tell open inboxes (storesync.ui.relay) and webhook subscribers about the order after
    commit: `order.created` or `order.updated`."""
    publish_after_commit(
        session,
        ctx.organization_id,
        kind,
        {
            "order_id": str(row.id),
            "store_id": str(row.store_id),
            "platform": row.platform,
            "platform_order_id": row.platform_order_id,
            "status": str(row.status),
        },
    )
