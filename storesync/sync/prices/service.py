"""Price sync: a store's price rule previewed (old and new price per linked listing), saved (a
listing the rule would price below its floor is refused, named), and pushed to the channel as a
sync job; a change of master prices starts that job for every store that sells the variants."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session

from storesync.catalog.models import ProductVariant
from storesync.channels.connections import load_store, open_adapter
from storesync.channels.models import ChannelListing
from storesync.channels.schemas import PriceUpdate
from storesync.core.errors import PermissionDenied, ValidationFailed
from storesync.core.models import table_of
from storesync.core.schemas import DTO
from storesync.db import session_scope
from storesync.settings import Settings
from storesync.sync.jobs.progress import ProgressSink, no_progress
from storesync.sync.jobs.schemas import JobKind
from storesync.sync.jobs.service import JobActive, start_job
from storesync.sync.prices.rules import SETTINGS_KEY, PriceRule, price_for, stored_rule
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

LISTINGS = table_of(ChannelListing)
VARIANTS = table_of(ProductVariant)
BATCH = 50
MAX_FAILURES = 200


class PricedListing(DTO):
    """One linked listing under a rule: its channel price now and the rule's price."""

    listing_id: uuid.UUID
    platform_item_id: str
    platform_model_id: str
    sku: str
    title: str
    currency: str
    old: Decimal | None
    new: Decimal | None  # None: the variant has no master price
    problem: str  # why the new price may not be sent; "" when it may


def get_rule(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> PriceRule:
    """The store's price rule (the default one when none was saved). Needs READ."""
    ctx.require(Permission.READ)
    return stored_rule(load_store(session, ctx, store_id).settings)


def preview(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, rule: PriceRule
) -> list[PricedListing]:
    """Every listing of the store linked to a master variant, with the price `rule` gives it,
    by SKU. Needs READ."""
    ctx.require(Permission.READ)
    load_store(session, ctx, store_id)
    rows = session.execute(
        sa.select(
            LISTINGS.c.id,
            LISTINGS.c.platform_item_id,
            LISTINGS.c.platform_model_id,
            LISTINGS.c.platform_sku,
            LISTINGS.c.title,
            LISTINGS.c.price.label("old"),
            VARIANTS.c.variant_sku,
            VARIANTS.c.price,
            VARIANTS.c.cost,
            VARIANTS.c.currency,
        )
        .join(VARIANTS, VARIANTS.c.id == LISTINGS.c.variant_id)
        .where(
            LISTINGS.c.organization_id == ctx.organization_id,
            LISTINGS.c.store_id == store_id,
            LISTINGS.c.match_status == "matched",
            VARIANTS.c.deleted_at.is_(None),
        )
        .order_by(VARIANTS.c.variant_sku, LISTINGS.c.id)
    ).all()
    priced = []
    for r in rows:
        if r.price is None:
            new, problem = None, "the master variant has no price"
        else:
            new, problem = price_for(rule, Decimal(r.price), _decimal(r.cost), r.currency)
        priced.append(
            PricedListing(
                listing_id=r.id,
                platform_item_id=r.platform_item_id,
                platform_model_id=r.platform_model_id,
                sku=r.platform_sku or r.variant_sku,
                title=r.title,
                currency=r.currency,
                old=_decimal(r.old),
                new=new,
                problem=problem,
            )
        )
    return priced


def save_rule(
    session: Session, *, ctx: RequestContext, store_id: uuid.UUID, rule: PriceRule
) -> list[PricedListing]:
    """Keep `rule` for the store and return its preview. Refused (`ValidationFailed` on
    `floor`, naming the listing's SKU, nothing saved) when it would price a listing below its
    cost plus the floor. Needs MANAGE_STORES; the caller starts the push (`start_push`)."""
    ctx.require(Permission.MANAGE_STORES)
    store = load_store(session, ctx, store_id)
    rows = preview(session, ctx=ctx, store_id=store_id, rule=rule)
    below = [r for r in rows if r.new is not None and r.problem]
    if below:
        first = below[0]
        more = f" (and {len(below) - 1} more)" if len(below) > 1 else ""
        raise ValidationFailed(
            "floor",
            f"{first.sku} would be priced {first.new}, {first.problem}{more}",
            sku=first.sku,
        )
    before = stored_rule(store.settings)
    store.settings = {**(store.settings or {}), SETTINGS_KEY: rule.as_settings()}
    flag_modified(store, "settings")
    session.add(store)
    record(
        session,
        ctx=ctx,
        action="store.price_rule",
        entity_type="store",
        entity_id=store_id,
        before=before.as_settings(),
        after=rule.as_settings(),
    )
    session.flush()
    return rows


def start_push(session: Session, *, ctx: RequestContext, store_id: uuid.UUID) -> bool:
    """Queue the store's price push; False when one is already queued or running (it reads the
    prices when it runs). Needs RUN_SYNC."""
    try:
        start_job(session, ctx=ctx, store_id=store_id, kind=JobKind.PRICES.value)
    except JobActive:
        return False
    return True


def start_pushes_for(
    session: Session, *, ctx: RequestContext, variant_ids: Sequence[uuid.UUID]
) -> int:
    """After master prices changed: queue the price push of every connected store with a
    listing linked to one of `variant_ids`; returns how many were queued. A caller who may not
    run syncs queues nothing (the next push, or a sync started by someone who may, sends them)."""
    if not variant_ids:
        return 0
    stores = session.execute(
        sa.select(LISTINGS.c.store_id)
        .distinct()
        .where(
            LISTINGS.c.organization_id == ctx.organization_id,
            LISTINGS.c.variant_id.in_(list(variant_ids)),
            LISTINGS.c.match_status == "matched",
        )
    ).scalars()
    queued = 0
    for store_id in sorted(stores):
        if load_store(session, ctx, store_id).status != "connected":
            continue
        try:
            queued += start_push(session, ctx=ctx, store_id=store_id)
        except PermissionDenied:
            return queued
    return queued


async def push_prices(
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    settings: Settings | None = None,
    engine: Engine | None = None,
    progress: ProgressSink = no_progress,
) -> dict[str, Any]:
    """Send the store's rule prices to the channel for every linked listing whose channel price
    differs; each refused listing is named with the platform's message."""
    with session_scope(ctx, engine=engine) as session:
        rule = stored_rule(load_store(session, ctx, store_id).settings)
        rows = preview(session, ctx=ctx, store_id=store_id, rule=rule)
        adapter = open_adapter(session, ctx=ctx, store_id=store_id, settings=settings)
    sendable = [r for r in rows if r.new is not None and not r.problem]
    due = [r for r in sendable if r.old != r.new]
    failures = [
        {"item": f"SKU {r.sku}", "code": "not_sent", "message": r.problem}
        for r in rows
        if r.problem
    ]
    by_unit = {(r.platform_item_id, r.platform_model_id): r for r in due}
    updated = failed = 0
    progress(phase="push", done=0, total=len(due))
    try:
        for start in range(0, len(due), BATCH):
            chunk = due[start : start + BATCH]
            result = await adapter.update_price(
                [
                    PriceUpdate(
                        platform_item_id=r.platform_item_id,
                        platform_model_id=r.platform_model_id,
                        price=r.new or Decimal(0),
                        currency=r.currency,
                    )
                    for r in chunk
                ]
            )
            sent = [
                by_unit[(u.platform_item_id, u.platform_model_id)]
                for u in result.succeeded
                if (u.platform_item_id, u.platform_model_id) in by_unit
            ]
            _remember(ctx, engine, sent)
            updated += len(sent)
            failed += len(result.failed)
            for f in result.failed:
                row = by_unit.get((f.platform_item_id, f.platform_model_id))
                item = f"SKU {row.sku}" if row else f"item {f.platform_item_id}"
                failures.append({"item": item, "code": "refused", "message": f.reason[:300]})
            progress(phase="push", done=start + len(chunk), total=len(due), failed=failed)
    finally:
        await adapter.connection.http.client.aclose()
    return {
        "checked": len(rows),
        "updated": updated,
        "unchanged": len(sendable) - len(due),
        "refused": len(rows) - len(sendable),
        "failed": failed,
        "failures": failures[:MAX_FAILURES],
    }


def _remember(ctx: RequestContext, engine: Engine | None, sent: list[PricedListing]) -> None:
    """The channel's price is the one sent: the next push skips it (one statement for all)."""
    if not sent:
        return
    with session_scope(ctx, engine=engine) as session:
        session.connection().execute(
            sa.update(LISTINGS)
            .where(
                LISTINGS.c.organization_id == ctx.organization_id,
                LISTINGS.c.id == sa.bindparam("lid"),
            )
            .values(price=sa.bindparam("new_price")),
            [{"lid": r.listing_id, "new_price": r.new} for r in sent],
        )


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)
