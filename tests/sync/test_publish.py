"""Publishing master products to the sandbox Shopee and TikTok stores: checked before any call
(naming the field, nothing created), images uploaded, the listing created with its variants,
linked to the master SKUs at once and its stock pushed; one listing however many publish the
same product at once; a master content change reaches both channels (a store's own title
stays); a bulk publish job reports each product."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlalchemy.engine import Engine

from storesync.catalog import service as catalog
from storesync.catalog.content import images
from storesync.catalog.schemas import ProductUpdate, VariantInput
from storesync.channels.models import ChannelListing
from storesync.channels.schemas import (
    AttributeValue,
    CategoryDetail,
    ChannelAttribute,
    DraftAttribute,
    DraftVariant,
    ListingDraft,
    ListingRules,
    LogisticsChannel,
)
from storesync.core.errors import ValidationFailed
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.storage import LocalStorage
from storesync.sync.jobs.schemas import JobKind
from storesync.sync.models import Publication
from storesync.sync.publish import service as publish
from storesync.sync.publish.categories import category_detail, category_tree
from storesync.sync.publish.checks import problems
from storesync.sync.publish.service import PublishForm
from storesync.sync.push.dispatch import push_store
from tests.sandbox.conftest import RunningSandbox
from tests.sync.listings_fixtures import shop
from tests.sync.test_jobs import World, make_world

T_SHIRTS = "100101"
BRAND = DraftAttribute(
    attribute_id="100010", values=[AttributeValue(value_id="0", name="No Brand")]
)
COTTON = DraftAttribute(
    attribute_id="100020", values=[AttributeValue(value_id="2001", name="Cotton")]
)
TITLE = "Kaos Polos Cotton Combed 30s Premium"


def _rules(**overrides: object) -> ListingRules:
    values: dict[str, object] = {
        "title_min": 10,
        "title_max": 40,
        "description_max": 100,
        "images_min": 1,
        "images_max": 2,
        "image_max_bytes": 1000,
        "price_min": Decimal("100"),
        "price_max": Decimal("9999"),
        "stock_min": 0,
        "stock_max": 99,
        "max_variants": 2,
        "needs_logistics": True,
        **overrides,
    }
    return ListingRules.model_validate(values)


def test_every_rule_the_platform_would_refuse_is_named_before_any_call() -> None:
    detail = CategoryDetail(
        category_id="1",
        attributes=[
            ChannelAttribute(
                attribute_id="b",
                name="Brand",
                required=True,
                values=[AttributeValue(value_id="0", name="No Brand")],
            ),
            ChannelAttribute(attribute_id="s", name="Style", required=False),
        ],
        rules=_rules(),
        logistics=[LogisticsChannel(channel_id="8003", name="SPX", max_weight_grams=500)],
    )
    draft = ListingDraft(
        title="short",
        description="x" * 101,
        category_id="1",
        currency="IDR",
        images=[],
        attributes=[
            DraftAttribute(attribute_id="s", values=[AttributeValue(value_id="", name="Casual")]),
            DraftAttribute(attribute_id="zz", values=[AttributeValue(value_id="", name="?")]),
        ],
        variants=[
            DraftVariant(sku="A", options={"Color": "Black"}, price=Decimal("50"), quantity=0),
            DraftVariant(sku="B", options={"Color": "Black"}, price=Decimal("500"), quantity=100),
            DraftVariant(sku="C", options={"Color": "White"}, price=Decimal("500"), quantity=0),
        ],
        weight_grams=600,
        logistics_ids=["8003", "9999"],
    )

    found = [(p.field, p.message) for p in problems(draft, detail, [900, 1500, 10])]

    assert found == [
        ("title", "must be 10 to 40 characters (it has 5)"),
        ("description", "must be at most 100 characters"),
        ("images", "needs 1 to 2 images (the product has 3)"),
        ("images", "image 2 is 0.0 MB; the limit is 0 MB"),
        ("attributes.Brand", "is required in this category"),
        ("attributes.zz", "is not an attribute of this category"),
        ("variants", "at most 2 variants on this channel"),
        ("variants.A.price", "50 is outside 100 to 9999"),
        ("variants.B.stock", "must be 0 to 99"),
        ("variants.B.options", "two variants have the same options"),
        ("weight_grams", "SPX carries at most 500 g"),
        ("logistics_ids", "channel 9999 is not enabled for this shop"),
    ]
    fine = draft.model_copy(
        update={
            "title": TITLE,
            "description": "ok",
            "attributes": [
                DraftAttribute(attribute_id="b", values=[AttributeValue(value_id="0", name="No")])
            ],
            "variants": draft.variants[2:],
            "weight_grams": 400,
            "logistics_ids": ["8003"],
        }
    )
    assert problems(fine, detail, [900]) == []


def _png(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 320), color).save(out, "PNG")
    return out.getvalue()


def _product(world: World, storage: LocalStorage, sku: str = "KPC") -> uuid.UUID:
    with session_scope(world.ctx, engine=world.engine) as session:
        product = catalog.create_product(
            session,
            ctx=world.ctx,
            title=TITLE,
            description="Kaos polos bahan cotton combed 30s, adem dan nyaman dipakai.",
            variants=[
                VariantInput(
                    sku=f"{sku}-BLK",
                    options={"Color": "Black"},
                    price=Decimal("45000"),
                    weight_grams=200,
                    length_mm=300,
                    width_mm=250,
                    height_mm=21,
                ),
                VariantInput(
                    sku=f"{sku}-WHT",
                    options={"Color": "White"},
                    price=Decimal("47000"),
                    weight_grams=210,
                ),
            ],
        )
        images.add_image(
            session, ctx=world.ctx, product_id=product.id, data=_png("navy"), storage=storage
        )
        main = inventory.default_location(session, ctx=world.ctx).id
        for v, units in zip(product.variants, (12, 7), strict=True):
            inventory.adjust_stock(
                session,
                ctx=world.ctx,
                variant_id=v.id,
                location_id=main,
                delta=units,
                reason="count",
            )
    return product.id


def _form(platform: str) -> PublishForm:
    return PublishForm(
        category_id=T_SHIRTS,
        attributes=[BRAND, COTTON],
        logistics_ids=["8003"] if platform == "shopee" else [],
    )


def _listings(world: World, store_id: uuid.UUID) -> list[tuple[str, str, str]]:
    with session_scope(world.ctx, engine=world.engine) as session:
        rows = session.execute(
            sa.select(
                ChannelListing.platform_sku,
                ChannelListing.match_status,
                ChannelListing.match_method,
            )  # type: ignore[call-overload]
            .where(ChannelListing.store_id == store_id, ChannelListing.match_method == "published")
            .order_by(ChannelListing.platform_sku)
        ).all()
    return [tuple(r) for r in rows]


def _channel_item(world: World, platform: str, item_id: str):
    return shop(world.sandbox, platform).items[item_id]


@pytest.mark.postgres
def test_a_product_is_published_to_both_channels_linked_pushed_and_kept_in_step(
    app_engine: Engine,
    running_sandbox: RunningSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee", "tiktok"])
    storage = LocalStorage(tmp_path / "media")
    monkeypatch.setattr("storesync.sync.publish.service.get_storage", lambda: storage)
    product_id = _product(world, storage)

    tree = asyncio.run(
        category_tree(world.ctx, world.stores["shopee"], settings=world.cfg, engine=world.engine)
    )
    assert any(c.category_id == T_SHIRTS and c.leaf for c in tree)
    detail = asyncio.run(
        category_detail(
            world.ctx, world.stores["tiktok"], T_SHIRTS, settings=world.cfg, engine=world.engine
        )
    )
    assert {a.name for a in detail.attributes if a.required} == {"Brand", "Material"}

    items = {}
    for platform in ("shopee", "tiktok"):
        store_id = world.stores[platform]
        outcome = asyncio.run(
            publish.publish_product(
                world.ctx,
                store_id=store_id,
                product_id=product_id,
                form=_form(platform),
                settings=world.cfg,
                engine=world.engine,
                storage=storage,
            )
        )
        assert outcome.ok and outcome.listings == 2
        assert _listings(world, store_id) == [
            ("KPC-BLK", "matched", "published"),
            ("KPC-WHT", "matched", "published"),
        ]
        asyncio.run(
            push_store(
                organization_id=world.org,
                store_id=store_id,
                settings=world.cfg,
                engine=world.engine,
            )
        )
        item = _channel_item(world, platform, outcome.platform_item_id)
        items[platform] = outcome.platform_item_id
        assert item.title == TITLE
        assert len(item.images) == 1
        assert {m.sku: (m.price, m.stock) for m in item.models} == {
            "KPC-BLK": (Decimal("45000"), 12),
            "KPC-WHT": (Decimal("47000"), 7),
        }

    # Published once per store: again is refused before any call.
    with pytest.raises(ValidationFailed) as again:
        asyncio.run(
            publish.publish_product(
                world.ctx,
                store_id=world.stores["shopee"],
                product_id=product_id,
                form=_form("shopee"),
                settings=world.cfg,
                engine=world.engine,
                storage=storage,
            )
        )
    assert again.value.details["field"] == "product_id"
    assert "already published" in again.value.message

    # TikTok keeps its own title; a master title change reaches Shopee, the description both.
    with session_scope(world.ctx, engine=world.engine) as session:
        publish.set_override(
            session,
            ctx=world.ctx,
            store_id=world.stores["tiktok"],
            product_id=product_id,
            title="Kaos Polos TikTok Edition Cotton 30s",
            description="",
        )
        catalog.update_product(
            session,
            ctx=world.ctx,
            product_id=product_id,
            changes=ProductUpdate(
                title="Kaos Polos Combed 30s Baru", description="Deskripsi baru yang lebih panjang."
            ),
        )
        assert (
            publish.start_content_pushes_for(session, ctx=world.ctx, product_ids=[product_id]) == 1
        )
    for platform in ("shopee", "tiktok"):
        with session_scope(world.ctx, engine=world.engine) as session:
            from storesync.sync.jobs import service as jobs

            active = jobs.find_active(
                session, ctx=world.ctx, store_id=world.stores[platform], kind=JobKind.CONTENT
            )
        assert active is not None
        job = world.run(active.id)
        assert job is not None and job.status == "succeeded", job
        assert (job.result["updated"], job.result["failed"]) == (1, 0), job.result["failures"]
    assert _channel_item(world, "shopee", items["shopee"]).title == "Kaos Polos Combed 30s Baru"
    assert (
        _channel_item(world, "tiktok", items["tiktok"]).title
        == "Kaos Polos TikTok Edition Cotton 30s"
    )
    for platform in ("shopee", "tiktok"):
        assert (
            _channel_item(world, platform, items[platform]).description
            == "Deskripsi baru yang lebih panjang."
        )


@pytest.mark.postgres
def test_a_refused_draft_sends_nothing_and_two_publishes_at_once_make_one_listing(
    app_engine: Engine,
    running_sandbox: RunningSandbox,
    tmp_path: Path,
) -> None:
    world = make_world(app_engine, running_sandbox, ["tiktok"])
    storage = LocalStorage(tmp_path / "media")
    product_id = _product(world, storage, sku="DUO")
    store_id = world.stores["tiktok"]
    before = len(shop(world.sandbox, "tiktok").items)

    with pytest.raises(ValidationFailed) as refused:
        asyncio.run(
            publish.publish_product(
                world.ctx,
                store_id=store_id,
                product_id=product_id,
                form=PublishForm(category_id=T_SHIRTS, attributes=[BRAND]),
                settings=world.cfg,
                engine=world.engine,
                storage=storage,
            )
        )
    assert refused.value.details["field"] == "attributes.Material"
    assert len(shop(world.sandbox, "tiktok").items) == before
    with session_scope(world.ctx, engine=world.engine) as session:
        assert (
            session.execute(sa.select(sa.func.count()).select_from(Publication)).scalar_one() == 0
        )

    async def both() -> list[object]:
        return await asyncio.gather(
            *[
                publish.publish_product(
                    world.ctx,
                    store_id=store_id,
                    product_id=product_id,
                    form=_form("tiktok"),
                    settings=world.cfg,
                    engine=world.engine,
                    storage=storage,
                )
                for _ in range(2)
            ],
            return_exceptions=True,
        )

    results = asyncio.run(both())
    published = [r for r in results if isinstance(r, publish.PublishOutcome)]
    refusals = [r for r in results if isinstance(r, ValidationFailed)]
    assert len(published) == 1 and len(refusals) == 1, results
    assert len(shop(world.sandbox, "tiktok").items) == before + 1
    assert _listings(world, store_id) == [
        ("DUO-BLK", "matched", "published"),
        ("DUO-WHT", "matched", "published"),
    ]


@pytest.mark.postgres
def test_a_bulk_publish_job_reports_each_product(
    app_engine: Engine,
    running_sandbox: RunningSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world(app_engine, running_sandbox, ["shopee"])
    storage = LocalStorage(tmp_path / "media")
    monkeypatch.setattr("storesync.sync.publish.service.get_storage", lambda: storage)
    good = _product(world, storage, sku="GOOD")
    with session_scope(world.ctx, engine=world.engine) as session:
        bare = catalog.create_product(
            session,
            ctx=world.ctx,
            title="Produk Tanpa Gambar Sama Sekali",
            variants=[VariantInput(sku="BARE-1", price=Decimal("1000"), weight_grams=100)],
        ).id
        job_id = publish.start_publish(
            session,
            ctx=world.ctx,
            store_id=world.stores["shopee"],
            product_ids=[good, bare],
            form=_form("shopee"),
        )
    job = world.run(job_id)
    assert job is not None and job.status == "succeeded", job
    assert (job.result["published"], job.result["failed"], job.result["listings"]) == (1, 1, 2)
    assert job.result["failures"] == [
        {
            "item": "product Produk Tanpa Gambar Sama Sekali",
            "code": "images",
            "message": "images: images: needs 1 to 9 images (the product has 0)",
        }
    ]


@pytest.mark.postgres
def test_a_publish_that_stopped_is_taken_over_only_once_its_claim_is_stale(
    app_engine: Engine, running_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    world = make_world(app_engine, running_sandbox, ["tiktok"])
    storage = LocalStorage(tmp_path / "media")
    product_id = _product(world, storage, sku="STALE")
    store_id = world.stores["tiktok"]
    now = datetime.now(UTC)
    with session_scope(world.ctx, engine=world.engine) as session:
        session.add(
            Publication(
                organization_id=world.org,
                store_id=store_id,
                product_id=product_id,
                status="publishing",
                category_id=T_SHIRTS,
                claimed_at=now - timedelta(minutes=5),
            )
        )

    def publish_now() -> publish.PublishOutcome:
        return asyncio.run(
            publish.publish_product(
                world.ctx,
                store_id=store_id,
                product_id=product_id,
                form=_form("tiktok"),
                settings=world.cfg,
                engine=world.engine,
                storage=storage,
            )
        )

    with pytest.raises(ValidationFailed) as busy:
        publish_now()
    assert "being published" in busy.value.message
    with session_scope(world.ctx, engine=world.engine) as session:
        session.execute(
            sa.update(Publication)
            .where(Publication.product_id == product_id)  # type: ignore[arg-type]
            .values(claimed_at=now - timedelta(minutes=16))
        )
    outcome = publish_now()
    assert (outcome.ok, outcome.listings) == (True, 2)
    with session_scope(world.ctx, engine=world.engine) as session:
        rows = session.execute(
            sa.select(Publication.status, Publication.platform_item_id)  # type: ignore[call-overload]
        ).all()
    assert [tuple(r) for r in rows] == [("published", outcome.platform_item_id)]
