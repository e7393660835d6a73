"""The sweeper finds webhook events nobody finished, and leaves the others alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.core.clock import set_clock
from storesync.db import session_scope
from storesync.sync.intake import batch as event_batch
from storesync.sync.models import WebhookEvent
from tests.factories import make_tenant


def test_stuck_events_are_found_and_a_dead_workers_claim_is_released(sqlite_engine: Engine) -> None:
    tenant = make_tenant(sqlite_engine)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    org = tenant.ctx.organization_id

    def event(key: str, status: str, age: timedelta) -> WebhookEvent:
        return WebhookEvent(
            organization_id=org,
            store_id=tenant.store_id,
            platform="shopee",
            event_type="3",
            dedupe_key=key,
            status=status,
            received_at=now - age,
        )

    rows = {
        "fresh": event("fresh", "received", timedelta(seconds=5)),
        "lost": event("lost", "received", timedelta(minutes=1)),
        "dead": event("dead", "processing", timedelta(minutes=10)),
        "busy": event("busy", "processing", timedelta(minutes=1)),
        "done": event("done", "processed", timedelta(hours=1)),
    }
    with session_scope(tenant.ctx, engine=sqlite_engine) as session:
        session.add_all(rows.values())
    ids = {key: row.id for key, row in rows.items()}
    set_clock(lambda: now)
    try:
        stuck = event_batch.sweep_webhooks(engine=sqlite_engine)
    finally:
        set_clock(None)

    assert sorted(stuck) == sorted([(ids["lost"], org), (ids["dead"], org)])
    with session_scope(tenant.ctx, engine=sqlite_engine) as session:
        statuses = dict(
            session.execute(sa.select(WebhookEvent.dedupe_key, WebhookEvent.status)).all()
        )  # type: ignore[call-overload]
    assert statuses == {
        "fresh": "received",
        "lost": "received",
        "dead": "received",
        "busy": "processing",
        "done": "processed",
    }
