"""Helpers for the listing tests: an organization, a store connected through the sandbox's OAuth
consent, master products, and an import run that reports what it touched."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.catalog import service as catalog
from storesync.catalog.schemas import VariantInput
from storesync.channels.models import ChannelListing
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.sandbox.state import Shop
from storesync.settings import Settings
from storesync.sync.listings import service as listings
from storesync.sync.listings.schemas import ListingImportReport
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.channels.conftest import connect_store
from tests.factories import token
from tests.sandbox.conftest import RunningSandbox

LISTINGS = table_of(ChannelListing)


@dataclass(frozen=True)
class SandboxModel:
    """A sellable unit as the sandbox holds it, keyed the way a listing is."""

    item_id: str
    model_id: str  # "" for a Shopee item without models
    sku: str
    title: str
    name: str
    stock: int
    warehouse_id: str


def org(engine: Engine, role: Role = Role.OWNER) -> RequestContext:
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(
            session, email=f"l-{token()}@example.com", password="correct horse"
        )
        created = tenancy.create_organization(session, name="Toko", owner_user_id=user.id)
    return RequestContext(user.id, created.id, role)


def as_role(ctx: RequestContext, role: Role) -> RequestContext:
    return RequestContext(ctx.user_id, ctx.organization_id, role)


def connect(engine: Engine, ctx: RequestContext, platform: str, cfg: Settings) -> uuid.UUID:
    """Connect the sandbox's shop of `platform` through its OAuth consent page."""
    return connect_store(engine, ctx, platform, cfg)


def shop(sandbox: RunningSandbox, platform: str) -> Shop:
    (found,) = [s for (p, _), s in sandbox.state.shops.items() if p == platform]
    return found


def models(sandbox: RunningSandbox, platform: str) -> list[SandboxModel]:
    return [
        SandboxModel(
            item.id,
            model.id if item.has_models else "",
            model.sku,
            item.title,
            model.name,
            model.stock,
            model.warehouse_id,
        )
        for item in shop(sandbox, platform).items.values()
        for model in item.models
    ]


def add_product(
    engine: Engine, ctx: RequestContext, title: str, variants: Sequence[tuple[str, str]]
) -> dict[str, uuid.UUID]:
    """A master product with `(sku, name)` variants; returns variant ids by SKU."""
    with session_scope(ctx, engine=engine) as session:
        product = catalog.create_product(
            session,
            ctx=ctx,
            handle=f"p-{token()}",
            title=title,
            variants=[VariantInput(sku=sku, name=name) for sku, name in variants],
        )
    return {v.sku: v.id for v in product.variants}


def run_import(
    engine: Engine, ctx: RequestContext, store_id: uuid.UUID, cfg: Settings, **options: Any
) -> tuple[ListingImportReport, set[uuid.UUID]]:
    """Import in one transaction; also returns the session's `stock_touched` before commit."""
    with session_scope(ctx, engine=engine) as session:
        report = asyncio.run(
            listings.import_listings(session, ctx=ctx, store_id=store_id, settings=cfg, **options)
        )
        touched = set(session.info.get("stock_touched", set()))
    return report, touched


def stored(engine: Engine, ctx: RequestContext, store_id: uuid.UUID) -> dict[tuple[str, str], Any]:
    """Every listing row of the store, keyed by (item id, model id)."""
    with session_scope(ctx, engine=engine) as session:
        rows = session.execute(
            sa.select(LISTINGS).where(
                LISTINGS.c.organization_id == ctx.organization_id,
                LISTINGS.c.store_id == store_id,
            )
        ).all()
    return {(row.platform_item_id, row.platform_model_id): row for row in rows}


def count_rows(engine: Engine, ctx: RequestContext, table: sa.Table) -> int:
    with session_scope(ctx, engine=engine) as session:
        return int(
            session.execute(
                sa.select(sa.func.count()).where(table.c.organization_id == ctx.organization_id)
            ).scalar_one()
        )
