"""Price sync: a store's rule (master price x markup + a fixed amount, rounded the currency's way,
never below cost + floor) previewed, saved and pushed to the sandbox Shopee and TikTok shops as
a sync job; a rule that would price a listing below its floor is refused naming it and saves
nothing; a master price change pushes the new prices."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.catalog import service as catalog
from storesync.catalog.models import ProductVariant
from storesync.catalog.schemas import VariantUpdate
from storesync.core.errors import ValidationFailed
from storesync.db import session_scope
from storesync.sync.jobs import service as jobs
from storesync.sync.jobs.schemas import JobKind
from storesync.sync.prices import service as prices
from storesync.sync.prices.rules import PriceRule, parse_rule, price_for, round_price
from tests.sandbox.conftest import RunningSandbox
from tests.sync.listings_fixtures import models, shop
from tests.sync.test_jobs import World, make_world, match_all


def test_markup_add_and_rounding_follow_the_currency() -> None:
    rule = parse_rule({"markup_percent": "10", "add": "500", "floor": ""})
    assert price_for(rule, Decimal("59999"), None, "IDR") == (Decimal("66499"), "")
    # 59999.55 x 1.1 + 500 = 66499.505: half up to whole rupiah
    assert price_for(rule, Decimal("59999.55"), None, "IDR")[0] == Decimal("66500")
    assert price_for(parse_rule({"markup_percent": "7.5"}), Decimal("19.99"), None, "MYR") == (
        Decimal("21.49"),
        "",
    )
    assert round_price(Decimal("10.005"), "SGD") == Decimal("10.01")
    assert price_for(PriceRule(), Decimal("1000"), Decimal("900"), "IDR") == (Decimal("1000"), "")


def test_a_price_below_cost_plus_floor_is_named_and_bad_fields_are_refused() -> None:
    rule = parse_rule({"markup_percent": "-20", "floor": "100"})
    assert price_for(rule, Decimal("1000"), Decimal("750"), "IDR") == (
        Decimal("800"),
        "below cost + floor (850)",
    )
    for values, field in (
        ({"markup_percent": "abc"}, "markup_percent"),
        ({"markup_percent": "-95"}, "markup_percent"),
        ({"floor": "-1"}, "floor"),
        ({"add": "1e20"}, "add"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            parse_rule(values)
        assert refused.value.details["field"] == field


def _listed(world: World, platform: str, count: int, skip: set[str]) -> list[Any]:
    one_per_item: dict[str, Any] = {}
    for m in models(world.sandbox, platform):
        if m.sku and m.sku not in skip:
            one_per_item.setdefault(m.item_id, m)
    chosen = list(one_per_item.values())[:count]
    match_all(world, world.stores[platform], chosen)
    return chosen


def _channel_price(world: World, platform: str, sku: str) -> Decimal:
    for item in shop(world.sandbox, platform).items.values():
        for model in item.models:
            if model.sku == sku:
                return Decimal(model.price)
    raise AssertionError(f"{sku} not on {platform}")


def _variant(world: World, sku: str) -> uuid.UUID:
    with session_scope(world.ctx, engine=world.engine) as session:
        return session.execute(
            sa.select(ProductVariant.id).where(  # type: ignore[call-overload]
                ProductVariant.organization_id == world.org, ProductVariant.variant_sku == sku
            )
        ).scalar_one()


@pytest.mark.postgres
def test_a_rule_is_previewed_saved_and_pushed_to_both_channels_and_follows_master_prices(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee", "tiktok"])
    on_shopee = _listed(world, "shopee", 2, set())
    on_tiktok = _listed(world, "tiktok", 2, {m.sku for m in on_shopee})
    rule = parse_rule({"markup_percent": "12.5", "add": "99"})  # 1000 -> 1224

    previewed = {
        platform: world.call(prices.preview, store_id=world.stores[platform], rule=rule)
        for platform in ("shopee", "tiktok")
    }
    assert {r.sku for r in previewed["shopee"]} == {m.sku for m in on_shopee}
    assert {(r.new, r.problem) for rows in previewed.values() for r in rows} == {
        (Decimal("1224"), "")
    }

    for platform, listed in (("shopee", on_shopee), ("tiktok", on_tiktok)):
        world.call(prices.save_rule, store_id=world.stores[platform], rule=rule)
        job = world.run(world.start(platform, JobKind.PRICES.value).id)
        assert job is not None and job.status == "succeeded", job
        assert (job.result["checked"], job.result["updated"], job.result["failed"]) == (2, 2, 0)
        for m in listed:
            assert _channel_price(world, platform, m.sku) == Decimal("1224")
        again = world.run(world.start(platform, JobKind.PRICES.value).id)
        assert again is not None and again.result["updated"] == 0  # nothing left to send
        assert again.result["unchanged"] == 2

    # A master price change: the next push sends the rule's price for it only.
    changed = on_tiktok[0]
    world.call(
        catalog.update_variant,
        variant_id=_variant(world, changed.sku),
        changes=VariantUpdate(price=Decimal("2000")),
    )
    with session_scope(world.ctx, engine=world.engine) as session:
        queued = prices.start_pushes_for(
            session, ctx=world.ctx, variant_ids=[_variant(world, changed.sku)]
        )
    assert queued == 1
    with session_scope(world.ctx, engine=world.engine) as session:
        active = jobs.find_active(
            session, ctx=world.ctx, store_id=world.stores["tiktok"], kind=JobKind.PRICES
        )
    assert active is not None
    job = world.run(active.id)
    assert job is not None and job.result["updated"] == 1
    assert _channel_price(world, "tiktok", changed.sku) == Decimal("2349")  # 2000*1.125+99
    assert _channel_price(world, "tiktok", on_tiktok[1].sku) == Decimal("1224")


@pytest.mark.postgres
def test_a_rule_below_the_floor_is_refused_naming_the_listing_and_saves_nothing(
    app_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee"])
    listed = _listed(world, "shopee", 2, set())
    with session_scope(world.ctx, engine=world.engine) as session:
        session.execute(
            sa.update(ProductVariant)
            .where(ProductVariant.variant_sku == listed[1].sku)  # type: ignore[arg-type]
            .values(cost=Decimal("950"))
        )
    before = _channel_price(world, "shopee", listed[1].sku)

    with pytest.raises(ValidationFailed) as refused:
        world.call(
            prices.save_rule,
            store_id=world.stores["shopee"],
            rule=parse_rule({"markup_percent": "-10", "floor": "10"}),
        )

    assert refused.value.details == {"field": "floor", "sku": listed[1].sku}
    assert f"{listed[1].sku} would be priced 900, below cost + floor (960)" in str(
        refused.value.message
    )
    assert world.call(prices.get_rule, store_id=world.stores["shopee"]) == PriceRule()
    assert _channel_price(world, "shopee", listed[1].sku) == before  # nothing sent
