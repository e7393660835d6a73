"""The stock outbox and push dispatcher against the sandbox over HTTP (SQLite): a stock change
queues pushes in its own transaction; the dispatcher coalesces, pushes and records them."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.engine import Engine

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing
from storesync.core.clock import utcnow
from storesync.core.errors import PermissionDenied, ValidationFailed
from storesync.db import session_scope
from storesync.inventory import items
from storesync.inventory import service as inventory
from storesync.inventory.models import ChannelAllocation
from storesync.settings import Settings
from storesync.stores import allocation
from storesync.sync.push import dispatch, outbox
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.channels.conftest import connect_store, make_org, sandbox_settings
from tests.sandbox.conftest import RunningSandbox


@dataclass
class World:
    engine: Engine
    ctx: RequestContext
    variant_id: uuid.UUID
    location_id: uuid.UUID
    stores: dict[str, uuid.UUID]
    models: dict[str, object]  # platform → sandbox Model (live object: its stock is the channel's)
    sandbox: RunningSandbox
    settings: Settings


def _shared_sku(sandbox: RunningSandbox) -> tuple[str, dict[str, tuple[str, object, object]]]:
    state = sandbox.state
    found: dict[str, dict[str, tuple[str, object, object]]] = {}
    for shop in state.shops.values():
        for item in shop.items.values():
            for model in item.models:
                found.setdefault(model.sku, {})[shop.platform] = (shop.id, item, model)
    sku, where = next((s, w) for s, w in sorted(found.items()) if len(w) == 2)
    return sku, where


def build(engine: Engine, sandbox: RunningSandbox) -> World:
    cfg = sandbox_settings(sandbox.base_url)
    ctx = make_org(engine)
    store_ids = {p: connect_store(engine, ctx, p, cfg) for p in ("shopee", "tiktok")}
    sku, where = _shared_sku(sandbox)
    org = ctx.organization_id
    with session_scope(ctx, engine=engine) as session:
        product = Product(organization_id=org, handle="shared", title="Shared")
        session.add(product)
        session.flush()
        variant = ProductVariant(organization_id=org, product_id=product.id, variant_sku=sku)
        session.add(variant)
        session.flush()
        for platform, (_shop, item, model) in where.items():
            session.add(
                ChannelListing(
                    organization_id=org,
                    store_id=store_ids[platform],
                    variant_id=variant.id,
                    platform_item_id=item.id,
                    platform_model_id=model.id if item.has_models else "",  # type: ignore[attr-defined]
                    platform_sku=sku,
                    match_status="matched",
                    raw={"location_id": model.warehouse_id},  # type: ignore[attr-defined]
                )
            )
        location = inventory.default_location(session, ctx=ctx)
    return World(
        engine,
        ctx,
        variant.id,
        location.id,
        store_ids,
        {p: w[2] for p, w in where.items()},
        sandbox,
        cfg,
    )


def _push_all(w: World) -> dict[str, dispatch.PushReport]:
    cfg = w.settings
    return {
        p: asyncio.run(
            dispatch.push_store(
                organization_id=w.ctx.organization_id, store_id=s, settings=cfg, engine=w.engine
            )
        )
        for p, s in w.stores.items()
    }


def _outbox(w: World) -> list[tuple[str, int]]:
    with session_scope(w.ctx, engine=w.engine) as session:
        return [
            tuple(r)
            for r in session.execute(  # type: ignore[misc]
                sa.select(outbox.OUTBOX.c.status, outbox.OUTBOX.c.quantity).order_by(
                    outbox.OUTBOX.c.quantity
                )
            )
        ]


def _set(w: World, quantity: int) -> None:
    with session_scope(w.ctx, engine=w.engine) as session:
        inventory.set_on_hand(
            session,
            ctx=w.ctx,
            variant_id=w.variant_id,
            location_id=w.location_id,
            quantity=quantity,
            reason="count",
        )


def test_a_stock_change_queues_pushes_in_its_transaction_and_reaches_both_channels(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(sqlite_engine, running_sandbox)
    ready: list[tuple[uuid.UUID, uuid.UUID]] = []
    with outbox.outbox_ready.connected_to(lambda org, store: ready.append((org, store))):
        _set(w, 10)

    assert _outbox(w) == [("pending", 10), ("pending", 10)]
    assert sorted(ready) == sorted((w.ctx.organization_id, s) for s in w.stores.values())
    reports = _push_all(w)

    assert {p: r.pushed for p, r in reports.items()} == {"shopee": 1, "tiktok": 1}, (
        reports,
        _errors(w),
    )
    assert {p: m.stock for p, m in w.models.items()} == {"shopee": 10, "tiktok": 10}  # type: ignore[attr-defined]
    assert _outbox(w) == [("done", 10), ("done", 10)]
    with session_scope(w.ctx, engine=w.engine) as session:
        pushed = session.execute(
            sa.select(outbox.LISTINGS.c.last_pushed_quantity, outbox.LISTINGS.c.last_pushed_at)
        ).all()
    assert [q for q, _ in pushed] == [10, 10] and all(at is not None for _, at in pushed)


def test_a_rolled_back_change_queues_nothing(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(sqlite_engine, running_sandbox)
    try:
        with session_scope(w.ctx, engine=w.engine) as session:
            inventory.set_on_hand(
                session,
                ctx=w.ctx,
                variant_id=w.variant_id,
                location_id=w.location_id,
                quantity=5,
                reason="count",
            )
            raise RuntimeError("the caller fails")
    except RuntimeError:
        pass

    assert _outbox(w) == []


def test_changes_coalesce_and_a_quantity_already_pushed_is_not_pushed_again(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(sqlite_engine, running_sandbox)
    _set(w, 10)
    _push_all(w)
    since = __import__("time").time()

    for quantity in (9, 8, 7):
        _set(w, quantity)
    first = _push_all(w)
    _set(w, 7)  # no change
    second = _push_all(w)
    calls = httpx.get(f"{w.sandbox.base_url}/sandbox/calls", params={"since": since}).json()

    assert {p: (r.claimed, r.pushed) for p, r in first.items()} == {
        "shopee": (1, 1),
        "tiktok": (1, 1),
    }
    assert {p: r.claimed for p, r in second.items()} == {"shopee": 0, "tiktok": 0}
    pushes = {
        k: v for k, v in calls["counts"].items() if "update_stock" in k or "inventory/update" in k
    }
    assert sum(pushes.values()) == 2, pushes
    assert {p: m.stock for p, m in w.models.items()} == {"shopee": 7, "tiktok": 7}  # type: ignore[attr-defined]


def test_a_change_undone_before_its_push_leaves_the_channel_at_the_truth(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(sqlite_engine, running_sandbox)
    _set(w, 10)
    _push_all(w)
    since = __import__("time").time()

    _set(w, 9)  # queued, not pushed yet
    _set(w, 10)  # back to what the channels already show: the queued 9 must not go out

    assert _outbox(w) == [("pending", 10), ("pending", 10)]
    reports = _push_all(w)
    calls = httpx.get(f"{w.sandbox.base_url}/sandbox/calls", params={"since": since}).json()
    assert {p: (r.claimed, r.pushed) for p, r in reports.items()} == {
        "shopee": (1, 0),
        "tiktok": (1, 0),
    }
    assert not [k for k in calls["counts"] if "update_stock" in k or "inventory/update" in k]
    assert {p: m.stock for p, m in w.models.items()} == {"shopee": 10, "tiktok": 10}  # type: ignore[attr-defined]


def test_queuing_the_quantity_a_row_already_holds_keeps_its_attempts_and_its_flight(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(sqlite_engine, running_sandbox)
    _set(w, 10)
    shopee, tiktok = w.stores["shopee"], w.stores["tiktok"]
    with session_scope(w.ctx, engine=w.engine) as session:
        table = outbox.OUTBOX
        session.execute(
            sa.update(table).where(table.c.store_id == shopee).values(status="in_progress")
        )
        session.execute(sa.update(table).where(table.c.store_id == tiktok).values(attempts=3))
        outbox.enqueue(session, [w.variant_id], force=True)  # the same quantity again
        rows = {
            r.store_id: (r.status, r.quantity, r.attempts)
            for r in session.execute(sa.select(table))
        }
    # In flight stays in flight (no second worker pushes 10 at the same time); a retried row
    # keeps its attempts (the dispatcher reads it back before pushing it again).
    assert rows == {shopee: ("in_progress", 10, 0), tiktok: ("pending", 10, 3)}

    _set(w, 8)  # a new quantity: a fresh row for both
    with session_scope(w.ctx, engine=w.engine) as session:
        rows = {
            r.store_id: (r.status, r.quantity, r.attempts)
            for r in session.execute(sa.select(outbox.OUTBOX))
        }
    assert rows == {shopee: ("pending", 8, 0), tiktok: ("pending", 8, 0)}


def test_a_push_asked_again_is_not_swallowed_by_the_same_quantity_in_flight(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    """A cancellation on the marketplace puts units back on the channel's own count; StoreSync
    asks for its quantity to be pushed again. A push of that quantity already in flight (sent
    before the channel's restock) must not count as that push."""
    w = build(sqlite_engine, running_sandbox)
    _set(w, 10)
    _push_all(w)
    shopee = w.stores["shopee"]
    _set(w, 9)
    with session_scope(w.ctx, engine=w.engine) as session:
        claimed = dispatch._claim(session, shopee, 200, timedelta(seconds=30))  # in flight
    assert [(c.quantity, ln.last_pushed_quantity) for c, ln in claimed] == [(9, 10)]
    listing_id = claimed[0][1].id

    with session_scope(w.ctx, engine=w.engine) as session:  # the cancellation's transaction
        session.execute(
            sa.update(outbox.LISTINGS)
            .where(outbox.LISTINGS.c.id == listing_id)
            .values(last_pushed_quantity=None)
        )
        items.push_again(session, [listing_id])
        items.touch(session, [w.variant_id])
    with session_scope(w.ctx, engine=w.engine) as session:  # the in-flight push ends
        dispatch._record_pushed(session, claimed)
        dispatch._finish(session, [c for c, _ in claimed], {})
        dispatch._release(session, [c for c, _ in claimed])
        row = session.execute(
            sa.select(outbox.OUTBOX.c.status, outbox.OUTBOX.c.quantity).where(
                outbox.OUTBOX.c.listing_id == listing_id
            )
        ).one()
        last = session.execute(
            sa.select(outbox.LISTINGS.c.last_pushed_quantity).where(
                outbox.LISTINGS.c.id == listing_id
            )
        ).scalar_one()
    assert (tuple(row), last) == (("pending", 9), None)  # asked again, not marked done

    w.models["shopee"].stock = 10  # type: ignore[attr-defined]  # the channel's own restock
    _push_all(w)
    assert w.models["shopee"].stock == 9  # type: ignore[attr-defined]


def test_allocation_share_and_buffer(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(sqlite_engine, running_sandbox)
    with session_scope(w.ctx, engine=w.engine) as session:
        session.execute(
            sa.update(ChannelAllocation.__table__)  # type: ignore[attr-defined]
            .where(ChannelAllocation.__table__.c.store_id == w.stores["tiktok"])  # type: ignore[attr-defined]
            .values(share_percent=Decimal(50), buffer=2)
        )
    _set(w, 11)
    _push_all(w)

    assert {p: m.stock for p, m in w.models.items()} == {"shopee": 11, "tiktok": 3}  # type: ignore[attr-defined]
    assert outbox.channel_quantity(3, Decimal(50), 2) == 0


def test_changing_a_stores_allocation_pushes_its_new_quantity_and_only_its(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(sqlite_engine, running_sandbox)
    _set(w, 11)
    _push_all(w)
    assert {p: m.stock for p, m in w.models.items()} == {"shopee": 11, "tiktok": 11}  # type: ignore[attr-defined]

    with session_scope(w.ctx, engine=w.engine) as session:
        saved = allocation.set_allocation(
            session, ctx=w.ctx, store_id=w.stores["tiktok"], share_percent="50 %", buffer="2"
        )
    queued = _outbox(w)
    _push_all(w)

    assert (saved.share_percent, saved.buffer) == (Decimal(50), 2)
    # TikTok's listing is queued at its new quantity; Shopee's row stays done at 11 (unchanged).
    assert queued == [("pending", 3), ("done", 11)]
    assert {p: m.stock for p, m in w.models.items()} == {"shopee": 11, "tiktok": 3}  # type: ignore[attr-defined]
    with session_scope(w.ctx, engine=w.engine) as session:
        read = allocation.get_allocation(session, ctx=w.ctx, store_id=w.stores["tiktok"])
    assert (read.share_percent, read.buffer) == (Decimal(50), 2)


@pytest.mark.parametrize(
    ("share", "buffer", "field"),
    [
        ("0", "0", "share_percent"),
        ("101", "0", "share_percent"),
        ("abc", "0", "share_percent"),
        ("50", "-1", "buffer"),
        ("50", "2.5", "buffer"),
    ],
)
def test_a_bad_allocation_names_its_field_and_changes_nothing(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, share: str, buffer: str, field: str
) -> None:
    w = build(sqlite_engine, running_sandbox)

    with (
        pytest.raises(ValidationFailed) as refused,
        session_scope(w.ctx, engine=w.engine) as session,
    ):
        allocation.set_allocation(
            session, ctx=w.ctx, store_id=w.stores["tiktok"], share_percent=share, buffer=buffer
        )

    assert refused.value.details["field"] == field
    with session_scope(w.ctx, engine=w.engine) as session:
        kept = allocation.get_allocation(session, ctx=w.ctx, store_id=w.stores["tiktok"])
    assert (kept.share_percent, kept.buffer) == (Decimal(100), 0)
    assert _outbox(w) == []


def test_a_viewer_cannot_change_an_allocation(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(sqlite_engine, running_sandbox)
    viewer = RequestContext(user_id=None, organization_id=w.ctx.organization_id, role=Role.VIEWER)

    with pytest.raises(PermissionDenied), session_scope(viewer, engine=w.engine) as session:
        allocation.set_allocation(
            session, ctx=viewer, store_id=w.stores["tiktok"], share_percent="10", buffer="0"
        )


def test_a_failing_channel_defers_its_pushes_and_nothing_is_lost(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(sqlite_engine, running_sandbox)
    _set(w, 6)
    httpx.post(
        f"{w.sandbox.base_url}/sandbox/faults", json={"platform": "tiktok", "burst_5xx_seconds": 30}
    )
    reports = _push_all(w)
    httpx.post(
        f"{w.sandbox.base_url}/sandbox/faults", json={"platform": "tiktok", "burst_5xx_seconds": 0}
    )

    assert reports["shopee"].pushed == 1 and reports["tiktok"].deferred == 1
    assert sorted(_outbox(w)) == [("done", 6), ("pending", 6)]
    with session_scope(w.ctx, engine=w.engine) as session:
        session.execute(
            sa.update(outbox.OUTBOX).values(available_at=sa.func.datetime("now", "-1 minute"))
        )
    due = dispatch.sweep(engine=w.engine)
    assert due == [(w.ctx.organization_id, w.stores["tiktok"])]
    from storesync.channels.resilience import breaker_for

    breaker_for(f"store:{w.stores['tiktok']}").record_success()  # the test's outage is over
    _push_all(w)
    assert {p: m.stock for p, m in w.models.items()} == {"shopee": 6, "tiktok": 6}  # type: ignore[attr-defined]


def _errors(w: World) -> list[str]:
    with session_scope(w.ctx, engine=w.engine) as session:
        return list(session.execute(sa.select(outbox.OUTBOX.c.last_error)).scalars())


def _caused(w: World) -> list[datetime | None]:
    with session_scope(w.ctx, engine=w.engine) as session:
        return list(session.execute(sa.select(outbox.OUTBOX.c.caused_at)).scalars())


def _propagations(platform: str) -> float:
    return (
        REGISTRY.get_sample_value("storesync_propagation_seconds_count", {"platform": platform})
        or 0.0
    )


def test_a_push_carries_its_oldest_orders_arrival_and_its_confirmation_observes_propagation(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    """Orders' stock changes (the intake notes when their pushes arrived) queue pushes that keep
    the oldest arrival while they wait; a change no order made carries none; the channel's
    confirmation observes the time from that arrival in the propagation histogram."""
    w = build(sqlite_engine, running_sandbox)
    _set(w, 10)
    _push_all(w)  # a count, no order: nothing to observe
    first, later = utcnow() - timedelta(seconds=3), utcnow() - timedelta(seconds=1)
    before = {p: _propagations(p) for p in w.stores}

    for arrived, quantity in ((first, 9), (later, 8)):  # two orders' transactions, one wait
        with session_scope(w.ctx, engine=w.engine) as session:
            outbox.note_cause(session, arrived)
            inventory.set_on_hand(
                session,
                ctx=w.ctx,
                variant_id=w.variant_id,
                location_id=w.location_id,
                quantity=quantity,
                reason="count",
            )
    waiting = _caused(w)
    _push_all(w)
    after = {p: _propagations(p) for p in w.stores}
    _set(w, 7)  # a person's change after: no order, no arrival

    assert waiting == [first, first]
    assert after == {p: before[p] + 1 for p in w.stores}
    assert _caused(w) == [None, None]
