"""Helpers for the due-work tests: a fixed clock, organizations seeded as a superuser (one
INSERT per table, bypassing row-level security), and due work that names one organization."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.core.clock import set_clock
from storesync.core.ids import new_id
from storesync.models import metadata
from storesync.sync.due import DueWork, Work

T = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)
S = timedelta(seconds=1)
TABLES = metadata.tables
SLUG = "due-"  # the organizations made here (a shared database drops them after the test)


@pytest.fixture
def clock() -> Iterator[None]:
    set_clock(lambda: T)
    yield
    set_clock(None)


def insert(engine: Engine, table: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        with engine.begin() as conn:
            conn.execute(sa.insert(TABLES[table]), rows)


@dataclass(frozen=True)
class Org:
    id: uuid.UUID
    store: uuid.UUID
    listing: uuid.UUID


Build = Callable[[Engine], Org]


def add_org(engine: Engine, **store: Any) -> Org:
    """An organization with one store (connected an hour ago, synced a minute ago) and an
    unmatched listing."""
    org = Org(new_id(), new_id(), new_id())
    insert(engine, "organization", [{"id": org.id, "name": "Toko", "slug": SLUG + org.id.hex}])
    insert(
        engine,
        "store",
        [
            {
                "id": org.store,
                "organization_id": org.id,
                "platform": "shopee",
                "platform_store_id": org.store.hex,
                "name": "Shop",
                "created_at": T - 60 * M,
                "last_synced_at": T - M,
                **store,
            }
        ],
    )
    insert(
        engine,
        "channel_listing",
        [
            {
                "id": org.listing,
                "organization_id": org.id,
                "store_id": org.store,
                "platform_item_id": "1",
            }
        ],
    )
    return org


DEFAULTS: dict[str, Callable[[Org], dict[str, Any]]] = {
    "stock_outbox": lambda o: {"listing_id": o.listing, "quantity": 1},
    "webhook_event": lambda o: {
        "platform": "shopee",
        "event_type": "3",
        "dedupe_key": new_id().hex,
        "received_at": T - 10 * M,
    },
    "sync_job": lambda o: {"kind": "orders", "created_at": T - 30 * M},
}


def org_with(store: dict[str, Any] | None = None, **tables: list[dict[str, Any]]) -> Build:
    """A builder: `add_org`, then these rows of each table (the organization's ids filled in)."""

    def build(engine: Engine) -> Org:
        org = add_org(engine, **(store or {}))
        for table, rows in tables.items():
            ids = {"organization_id": org.id, "store_id": org.store}
            insert(engine, table, [ids | DEFAULTS[table](org) | row for row in rows])
        return org

    return build


def only(kind: Work, org: uuid.UUID) -> DueWork:
    """Due work naming this one organization: the sweep looks there, due or not."""
    return DueWork(at=T, kinds=frozenset({kind}), organizations={kind: (org,)})
