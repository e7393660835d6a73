"""A store's platform categories, kept per store (`CategoryCache`) and asked of the platform
again on demand: the tree, and each category's attributes, rules and logistics channels."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from storesync.channels.connections import load_store, open_adapter
from storesync.channels.schemas import CategoryDetail, ChannelCategory
from storesync.core.clock import utcnow
from storesync.core.errors import ValidationFailed
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.settings import Settings
from storesync.sync.models import CategoryCache
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

CACHE = table_of(CategoryCache)
TREE = ""  # the cache row of the whole tree


async def category_tree(
    ctx: RequestContext,
    store_id: uuid.UUID,
    *,
    refresh: bool = False,
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> list[ChannelCategory]:
    """The store's platform category tree (from the cache unless `refresh`). Needs READ."""
    payload = await _cached(ctx, store_id, TREE, refresh, settings, engine)
    return [ChannelCategory.model_validate(c) for c in payload["categories"]]


async def category_detail(
    ctx: RequestContext,
    store_id: uuid.UUID,
    category_id: str,
    *,
    refresh: bool = False,
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> CategoryDetail:
    """One leaf category's attributes, rules and logistics channels. `ValidationFailed` on
    `category_id` when the store's tree has no such leaf. Needs READ."""
    tree = await category_tree(ctx, store_id, settings=settings, engine=engine)
    leaf = next((c for c in tree if c.category_id == category_id), None)
    if leaf is None or not leaf.leaf:
        raise ValidationFailed("category_id", "choose a category of the lowest level")
    payload = await _cached(ctx, store_id, category_id, refresh, settings, engine)
    return CategoryDetail.model_validate(payload)


def leaf_path(tree: list[ChannelCategory], category_id: str) -> str:
    """ "Fashion > Men Clothes > T-Shirts" for a category of `tree`."""
    by_id = {c.category_id: c for c in tree}
    names: list[str] = []
    current = by_id.get(category_id)
    while current is not None and len(names) < 10:
        names.append(current.name)
        current = by_id.get(current.parent_id)
    return " > ".join(reversed(names))


async def _cached(
    ctx: RequestContext,
    store_id: uuid.UUID,
    category_id: str,
    refresh: bool,
    settings: Settings | None,
    engine: Engine | None,
) -> dict[str, Any]:
    ctx.require(Permission.READ)
    with session_scope(ctx, engine=engine) as session:
        load_store(session, ctx, store_id)
        if not refresh:
            found = session.execute(
                sa.select(CACHE.c.payload).where(
                    CACHE.c.organization_id == ctx.organization_id,
                    CACHE.c.store_id == store_id,
                    CACHE.c.category_id == category_id,
                )
            ).scalar_one_or_none()
            if found is not None:
                return dict(found)
        adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
    try:
        if category_id == TREE:
            tree = await adapter.categories()
            payload: dict[str, Any] = {"categories": [c.model_dump(mode="json") for c in tree]}
        else:
            payload = (await adapter.category_detail(category_id)).model_dump(mode="json")
    finally:
        await adapter.connection.http.client.aclose()
    with session_scope(ctx, engine=engine) as session:
        _keep(session, ctx, store_id, category_id, payload)
    return payload


def _keep(
    session: Any, ctx: RequestContext, store_id: uuid.UUID, category_id: str, payload: Any
) -> None:
    """Upsert the answer: two tabs refreshing at once keep one row."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(CACHE) if dialect == "postgresql" else sqlite.insert(CACHE)
    now = utcnow()
    session.execute(
        insert.values(
            id=new_id(),
            organization_id=ctx.organization_id,
            created_at=now,
            store_id=store_id,
            category_id=category_id,
            payload=payload,
            fetched_at=now,
        ).on_conflict_do_update(
            index_elements=[CACHE.c.store_id, CACHE.c.category_id],
            set_={"payload": insert.excluded.payload, "fetched_at": insert.excluded.fetched_at},
        )
    )
