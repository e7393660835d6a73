"""Fulfilment end to end on the production stack (PostgreSQL under RLS, a Dramatiq worker on
Redis, the sandbox over HTTP sending signed webhooks): arranging shipment and printing labels,
cancelling on the marketplace (and its refusal), and a buyer's return restocked and pushed to the
other channel."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Any

import httpx
import pypdf
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing
from storesync.channels.schemas import ShipRequest
from storesync.core.errors import AppError
from storesync.db import session_scope
from storesync.fulfilment import labels, returns, shipping
from storesync.fulfilment.models import OrderReturn
from storesync.inventory import service as inventory
from storesync.inventory.models import InventoryTransaction
from storesync.orders.models import Order
from storesync.sync.jobs import runner as job_runner
from storesync.sync.jobs import service as jobs
from storesync.tenancy.context import RequestContext
from tests.channels.conftest import connect_store, make_org
from tests.sandbox.conftest import RunningSandbox
from tests.sync.test_e2e_propagation import _wait_for, production_stack  # noqa: F401
from tests.sync.test_outbox import _shared_sku

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


class World:
    def __init__(self, engine: Engine, sandbox: RunningSandbox, cfg: Any) -> None:
        self.engine, self.sandbox = engine, sandbox
        self.ctx: RequestContext = make_org(engine)
        self.stores = {p: connect_store(engine, self.ctx, p, cfg) for p in ("shopee", "tiktok")}
        self.sku, where = _shared_sku(sandbox)
        self.models = {p: where[p][2] for p in where}
        with session_scope(self.ctx, engine=engine) as session:
            org = self.ctx.organization_id
            product = Product(organization_id=org, handle="ship", title="Ship")
            session.add(product)
            session.flush()
            variant = ProductVariant(
                organization_id=org, product_id=product.id, variant_sku=self.sku
            )
            session.add(variant)
            session.flush()
            self.variant_id = variant.id
            for platform, (_shop, item, model) in where.items():
                session.add(
                    ChannelListing(
                        organization_id=org,
                        store_id=self.stores[platform],
                        variant_id=variant.id,
                        platform_item_id=item.id,  # type: ignore[attr-defined]
                        platform_model_id=model.id if item.has_models else "",  # type: ignore[attr-defined]
                        platform_sku=self.sku,
                        match_status="matched",
                        raw={"location_id": model.warehouse_id},  # type: ignore[attr-defined]
                    )
                )
            location = inventory.default_location(session, ctx=self.ctx)
            inventory.set_on_hand(
                session,
                ctx=self.ctx,
                variant_id=variant.id,
                location_id=location.id,
                quantity=10,
                reason="opening count",
            )
        assert self.wait_stock(10, 10)

    def wait_stock(self, shopee: int, tiktok: int, timeout: float = 10) -> bool:
        return (
            _wait_for(
                lambda: (
                    self.models["shopee"].stock == shopee  # type: ignore[attr-defined]
                    and self.models["tiktok"].stock == tiktok
                ),  # type: ignore[attr-defined]
                timeout,
            )
            is not None
        )

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = httpx.post(f"{self.sandbox.base_url}/sandbox/{path}", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def place(self, platform: str, quantity: int) -> tuple[str, uuid.UUID]:
        placed = self.control(
            "orders", {"platform": platform, "lines": [{"sku": self.sku, "quantity": quantity}]}
        )
        order_id = self.wait_order(placed["id"], "to_ship")
        return placed["id"], order_id

    def wait_order(self, platform_order_id: str, status: str, timeout: float = 10) -> uuid.UUID:
        found: list[Order] = []

        def seen() -> bool:
            with session_scope(self.ctx, engine=self.engine) as session:
                row = session.exec(
                    select(Order).where(Order.platform_order_id == platform_order_id)
                ).first()
            if row is not None and row.status == status:
                found.append(row)
                return True
            return False

        assert _wait_for(seen, timeout) is not None, f"{platform_order_id} never became {status}"
        return found[-1].id

    def stock(self) -> tuple[int, int]:
        with session_scope(self.ctx, engine=self.engine) as session:
            level = inventory.get_available(session, ctx=self.ctx, variant_id=self.variant_id)
            row = session.execute(sa.text("SELECT on_hand, reserved FROM inventory_item")).one()
        assert level == row.on_hand - row.reserved
        return int(row.on_hand), int(row.reserved)

    async def pickup(self, order_id: uuid.UUID) -> ShipRequest:
        options = await shipping.shipping_options(self.ctx, order_id=order_id)
        address = options.addresses[0]
        return ShipRequest(
            method="pickup", address_id=address.address_id, slot_id=address.slots[0].slot_id
        )


def test_arranging_prints_labels_and_the_sandbox_has_the_same_tracking_numbers(
    app_engine: Engine,
    running_sandbox: RunningSandbox,
    production_stack: dict,  # noqa: F811
) -> None:
    world = World(app_engine, running_sandbox, production_stack["settings"])
    shopee_id, shopee_order = world.place("shopee", 1)
    tiktok_id, tiktok_order = world.place("tiktok", 2)

    async def arrange() -> list[Any]:
        requests = {
            world.stores["shopee"]: await world.pickup(shopee_order),
            world.stores["tiktok"]: ShipRequest(method="dropoff"),
        }
        return await shipping.arrange_shipments(
            world.ctx, order_ids=[shopee_order, tiktok_order], requests=requests
        )

    outcomes = asyncio.run(arrange())

    assert [o.ok for o in outcomes] == [True, True], outcomes
    sandbox = running_sandbox.state
    assert sandbox.order("shopee", shopee_id).status == "PROCESSED"
    assert sandbox.order("tiktok", tiktok_id).status == "AWAITING_COLLECTION"
    for outcome, (platform, pid) in zip(
        outcomes, [("shopee", shopee_id), ("tiktok", tiktok_id)], strict=True
    ):
        assert outcome.tracking_number == sandbox.order(platform, pid).tracking_number != ""
    with session_scope(world.ctx, engine=app_engine) as session:
        rows = {r.id: r for r in session.exec(select(Order)).all()}
    assert rows[shopee_order].arranged_at is not None and rows[shopee_order].status == "to_ship"
    assert rows[tiktok_order].handover_method == "dropoff"

    again = asyncio.run(
        shipping.arrange_shipments(
            world.ctx,
            order_ids=[shopee_order],
            requests={world.stores["shopee"]: ShipRequest(method="dropoff")},
        )
    )
    assert (again[0].ok, again[0].error_code) == (False, "already_arranged")

    printed = asyncio.run(labels.print_labels(world.ctx, order_ids=[tiktok_order, shopee_order]))

    assert printed.failed == [] and printed.pdf is not None and printed.pages == 2
    pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(printed.pdf)).pages]
    assert len(pages) == 2
    assert sandbox.order("tiktok", tiktok_id).tracking_number in pages[0]
    assert sandbox.order("shopee", shopee_id).tracking_number in pages[1]
    with session_scope(world.ctx, engine=app_engine) as session:
        counts = shipping.stage_counts(session, ctx=world.ctx)
    assert counts == {"to_arrange": 0, "to_print": 0, "to_hand_over": 2}


def test_cancel_reaches_the_marketplace_and_a_refusal_changes_nothing(
    app_engine: Engine,
    running_sandbox: RunningSandbox,
    production_stack: dict,  # noqa: F811
) -> None:
    world = World(app_engine, running_sandbox, production_stack["settings"])
    placed, order_id = world.place("shopee", 3)
    assert world.wait_stock(7, 7)
    assert world.stock() == (10, 3)

    cancelled = asyncio.run(
        shipping.cancel_order(world.ctx, order_id=order_id, reason="out_of_stock")
    )

    assert cancelled.status == "cancelled"
    assert running_sandbox.state.order("shopee", placed).status == "CANCELLED"
    assert world.stock() == (10, 0)
    assert world.wait_stock(10, 10)

    shipped_id, shipped_order = world.place("tiktok", 2)
    assert world.wait_stock(8, 8)
    asyncio.run(
        shipping.arrange_shipment(
            world.ctx, order_id=shipped_order, request=ShipRequest(method="dropoff")
        )
    )
    world.control("orders/advance", {"platform": "tiktok", "order_id": shipped_id})
    world.wait_order(shipped_id, "shipped")
    before = world.stock()

    with pytest.raises(AppError) as refused:
        asyncio.run(
            shipping.cancel_order(world.ctx, order_id=shipped_order, reason="customer_request")
        )

    assert refused.value.code == "illegal_transition"
    with session_scope(world.ctx, engine=app_engine) as session:
        row = session.get(Order, shipped_order)
        assert row is not None and row.status == "shipped"
    assert world.stock() == before == (8, 0)
    assert running_sandbox.state.order("tiktok", shipped_id).status == "IN_TRANSIT"


def test_a_platform_refusal_to_cancel_shows_its_message_and_changes_nothing(
    app_engine: Engine,
    running_sandbox: RunningSandbox,
    production_stack: dict,  # noqa: F811
) -> None:
    """Arranged on the platform (StoreSync still says to_ship): the platform refuses."""
    world = World(app_engine, running_sandbox, production_stack["settings"])
    placed, order_id = world.place("shopee", 1)
    request = asyncio.run(world.pickup(order_id))
    asyncio.run(shipping.arrange_shipment(world.ctx, order_id=order_id, request=request))
    before = world.stock()

    with pytest.raises(AppError) as refused:
        asyncio.run(shipping.cancel_order(world.ctx, order_id=order_id, reason="out_of_stock"))

    assert refused.value.message  # the platform's own words
    assert refused.value.code != "illegal_transition"
    with session_scope(world.ctx, engine=app_engine) as session:
        row = session.get(Order, order_id)
        assert row is not None and row.status == "to_ship"
    assert world.stock() == before == (10, 1)
    assert running_sandbox.state.order("shopee", placed).status == "PROCESSED"


def test_a_return_from_the_platform_restocks_and_the_other_channel_shows_it(
    app_engine: Engine,
    running_sandbox: RunningSandbox,
    production_stack: dict,  # noqa: F811
) -> None:
    world = World(app_engine, running_sandbox, production_stack["settings"])
    placed, order_id = world.place("shopee", 2)
    assert world.wait_stock(8, 8)
    request = asyncio.run(world.pickup(order_id))
    asyncio.run(shipping.arrange_shipment(world.ctx, order_id=order_id, request=request))
    world.control("orders/advance", {"platform": "shopee", "order_id": placed})
    world.wait_order(placed, "shipped")
    assert world.stock() == (8, 0)

    opened = world.control("returns", {"platform": "shopee", "order_id": placed})
    world.control(
        "returns/stage", {"platform": "shopee", "return_id": opened["id"], "stage": "completed"}
    )

    def completed() -> OrderReturn | None:
        with session_scope(world.ctx, engine=app_engine) as session:
            row = session.exec(select(OrderReturn)).first()
        return row if row is not None and row.state == "completed" else None

    assert _wait_for(lambda: completed() is not None, 10) is not None
    world.wait_order(placed, "returned")
    row = completed()
    assert row is not None and row.platform_return_id == opened["id"]
    assert row.lines[0]["quantity"] == 2 and row.lines[0]["variant_id"] == str(world.variant_id)
    assert world.stock() == (8, 0)  # nothing restocked before the merchant decides
    assert world.models["tiktok"].stock == 8  # type: ignore[attr-defined]

    with session_scope(world.ctx, engine=app_engine) as session:
        resolved = returns.resolve_return(
            session, ctx=world.ctx, return_id=row.id, resolution="restock"
        )
    assert (resolved.resolution, resolved.resolved_by_user_id) == ("restock", world.ctx.user_id)

    assert world.stock() == (10, 0)
    assert world.wait_stock(10, 10)
    with session_scope(world.ctx, engine=app_engine) as session:
        entries = session.exec(
            select(InventoryTransaction).where(InventoryTransaction.kind == "return")
        ).all()
        assert inventory.check_ledger(session, organization_id=world.ctx.organization_id) == []
    assert [(e.on_hand_delta, e.reference_id, e.actor_user_id) for e in entries] == [
        (2, str(row.id), world.ctx.user_id)
    ]
    with session_scope(world.ctx, engine=app_engine) as session, pytest.raises(AppError) as again:
        returns.resolve_return(session, ctx=world.ctx, return_id=row.id, resolution="write_off")
    assert again.value.code == "already_resolved"


def test_a_buyer_cancellation_on_the_platform_releases_and_restores_every_channel(
    app_engine: Engine,
    running_sandbox: RunningSandbox,
    production_stack: dict,  # noqa: F811
) -> None:
    world = World(app_engine, running_sandbox, production_stack["settings"])
    placed, order_id = world.place("tiktok", 4)
    assert world.wait_stock(6, 6)
    assert world.stock() == (10, 4)

    world.control("orders/cancel", {"platform": "tiktok", "order_id": placed})

    world.wait_order(placed, "cancelled")
    assert world.stock() == (10, 0)
    assert world.wait_stock(10, 10)
    with session_scope(world.ctx, engine=app_engine) as session:
        row = session.get(Order, order_id)
        assert row is not None and row.arranged_at is None
        assert inventory.check_ledger(session, organization_id=world.ctx.organization_id) == []
    refused = httpx.post(
        f"{running_sandbox.base_url}/sandbox/orders/cancel",
        json={"platform": "tiktok", "order_id": placed},
    )
    assert refused.status_code == 400 and "cancelled" in refused.json()["error"]


def test_a_shipments_job_arranges_each_order_and_names_who_asked(
    app_engine: Engine,
    running_sandbox: RunningSandbox,
    production_stack: dict,  # noqa: F811
) -> None:
    world = World(app_engine, running_sandbox, production_stack["settings"])
    first_id, first = world.place("shopee", 1)
    second_id, second = world.place("shopee", 1)
    world.control("orders/cancel", {"platform": "shopee", "order_id": second_id})  # on Shopee only
    request = asyncio.run(world.pickup(first))
    with session_scope(world.ctx, engine=app_engine) as session:
        job = jobs.start_job(
            session,
            ctx=world.ctx,
            store_id=world.stores["shopee"],
            kind="shipments",
            params={"order_ids": [str(first), str(second)], **request.model_dump()},
        )

    done = job_runner.run_job(job.id, world.ctx.organization_id, engine=app_engine)

    assert done is not None and done.status == "succeeded", done
    results = {o["order_id"]: o for o in done.result["orders"]}
    assert (done.result["arranged"], done.result["failed"]) == (1, 1)
    tracking = running_sandbox.state.order("shopee", first_id).tracking_number
    assert results[str(first)]["ok"] and results[str(first)]["tracking_number"] == tracking
    assert not results[str(second)]["ok"] and results[str(second)]["error_message"]
    assert (done.done, done.total, done.failed) == (2, 2, 1)
    with session_scope(world.ctx, engine=app_engine) as session:
        actors = session.execute(
            sa.text("SELECT actor_user_id, reason FROM order_event WHERE order_id = :o"),
            {"o": first},
        ).all()
    assert (world.ctx.user_id, "shipment arranged on shopee (pickup)") in [tuple(a) for a in actors]
