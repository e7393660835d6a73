"""Set-based statements shared by the listing import and product creation: chunked bulk
INSERTs, executemany UPDATEs by id, and the store check."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing, Store
from storesync.core.bulk import insert_rows
from storesync.core.errors import NotFound
from storesync.core.models import table_of
from storesync.tenancy.context import RequestContext

CHUNK = 1000
LISTINGS = table_of(ChannelListing)
VARIANTS = table_of(ProductVariant)
PRODUCTS = table_of(Product)
STORES = table_of(Store)


def require_store(session: Session, ctx: RequestContext, store_id: uuid.UUID) -> None:
    """`NotFound` unless the store belongs to the caller's organization."""
    found = session.execute(
        sa.select(STORES.c.id).where(
            STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id
        )
    ).first()
    if found is None:
        raise NotFound("store", store_id)


def insert_many(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk INSERT in chunks; every row carries every column (no model defaults are applied)."""
    insert_rows(session, table, rows, chunk=CHUNK)


def update_many(
    session: Session, table: sa.Table, rows: Iterable[dict[str, Any]], org: uuid.UUID
) -> None:
    """Executemany UPDATE by `_id` within the organization; rows are grouped by the set of
    columns they change."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    for group in groups.values():
        statement = sa.update(table).where(
            table.c.id == sa.bindparam("_id"), table.c.organization_id == org
        )
        for start in range(0, len(group), CHUNK):
            session.execute(statement, group[start : start + CHUNK])
