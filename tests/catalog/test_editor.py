"""What the product editor relies on: handles made from titles, safe Markdown descriptions,
field-named validation and an audit row for each change."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from storesync.catalog import service as catalog
from storesync.catalog.content.markdown import render_description
from storesync.catalog.errors import HandleTaken
from storesync.catalog.schemas import ProductUpdate, VariantInput, VariantUpdate
from storesync.core.errors import ValidationFailed
from storesync.db import session_scope
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import AuditLog


def create(engine: Engine, ctx: RequestContext, title: str, **kwargs: object):
    with session_scope(ctx, engine=engine) as session:
        return catalog.create_product(session, ctx=ctx, title=title, **kwargs)  # type: ignore[arg-type]


def test_a_blank_handle_is_made_from_the_title_and_numbered_when_taken(
    engine: Engine, owner: RequestContext
) -> None:
    first = create(engine, owner, "  Kaos Polos — Hitam (XL)! ")
    second = create(engine, owner, "Kaos polos hitam XL", sku="KAOS-2")
    odd = create(engine, owner, "☕☕", sku="CUP")

    assert first.handle == "kaos-polos-hitam-xl"
    assert second.handle == "kaos-polos-hitam-xl-2"
    assert odd.handle == "product"


def test_a_handle_given_by_the_merchant_must_be_free(engine: Engine, owner: RequestContext) -> None:
    create(engine, owner, "Mug", handle="mug")

    with pytest.raises(HandleTaken) as taken:
        create(engine, owner, "Other mug", handle="mug", sku="MUG-2")

    assert taken.value.details["handle"] == "mug"


def test_markdown_is_stored_as_written_and_rendered_without_html(
    engine: Engine, owner: RequestContext
) -> None:
    text = (
        "**Soft** cotton\n\n<script>alert(1)</script> [x](javascript:alert(1))\n\n<b onmouseover=x>"
    )
    product = create(engine, owner, "Kaos", description=text)

    html = render_description(product.description)

    assert product.description == text
    assert "<strong>Soft</strong>" in html
    assert "<script" not in html and "<b " not in html
    assert "&lt;script&gt;" in html
    assert "href=" not in html  # the javascript: link stays text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (ProductUpdate(title=" "), "title"),
        (ProductUpdate(handle="has space"), "handle"),
        (ProductUpdate(brand="b" * 121), "brand"),
        (ProductUpdate(category="c" * 121), "category"),
        (ProductUpdate(status="gone"), "status"),
        (ProductUpdate(description="d" * 20_001), "description"),
        (ProductUpdate(attributes={" ": "x"}), "attributes"),
    ],
)
def test_a_bad_product_field_is_named_and_nothing_changes(
    engine: Engine, owner: RequestContext, changes: ProductUpdate, field: str
) -> None:
    product = create(engine, owner, "Mug")

    with pytest.raises(ValidationFailed) as refused, session_scope(owner, engine=engine) as session:
        catalog.update_product(session, ctx=owner, product_id=product.id, changes=changes)

    assert refused.value.details["field"] == field
    with session_scope(owner, engine=engine) as session:
        assert catalog.get_product(session, ctx=owner, product_id=product.id) == product


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (VariantUpdate(sku="A B"), "sku"),
        (VariantUpdate(price=Decimal("-1")), "price"),
        (VariantUpdate(cost=Decimal("-1")), "cost"),
        (VariantUpdate(barcode="1" * 65), "barcode"),
        (VariantUpdate(weight_grams=-5), "weight_grams"),
        (VariantUpdate(height_mm=-1), "height_mm"),
        (VariantUpdate(options={"Color": ""}), "options"),
    ],
)
def test_a_bad_variant_field_is_named(
    engine: Engine, owner: RequestContext, changes: VariantUpdate, field: str
) -> None:
    variant = create(engine, owner, "Mug").variants[0]

    with pytest.raises(ValidationFailed) as refused, session_scope(owner, engine=engine) as session:
        catalog.update_variant(session, ctx=owner, variant_id=variant.id, changes=changes)

    assert refused.value.details["field"] == field


def test_every_editor_field_is_saved_and_audited(engine: Engine, owner: RequestContext) -> None:
    product = create(
        engine, owner, "Mug", variants=[VariantInput(sku="MUG-1", options={"Color": "Blue"})]
    )
    with session_scope(owner, engine=engine) as session:
        saved = catalog.update_product(
            session,
            ctx=owner,
            product_id=product.id,
            changes=ProductUpdate(
                handle="blue-mug",
                description="A *big* mug",
                brand="Toko",
                category="Kitchen",
                attributes={" material ": " ceramic "},
                status="draft",
            ),
        )
        variant = catalog.update_variant(
            session,
            ctx=owner,
            variant_id=product.variants[0].id,
            changes=VariantUpdate(
                name="Blue, 350 ml",
                options={"Color": "Blue", "Size": "350 ml"},
                barcode="8991234567890",
                price=Decimal("25000"),
                cost=Decimal("12000"),
                weight_grams=350,
                length_mm=90,
                width_mm=90,
                height_mm=110,
                is_active=False,
            ),
        )

    assert (saved.handle, saved.brand, saved.category, saved.status) == (
        "blue-mug",
        "Toko",
        "Kitchen",
        "draft",
    )
    assert saved.attributes == {"material": "ceramic"}
    assert (variant.options, variant.weight_grams, variant.height_mm, variant.is_active) == (
        {"Color": "Blue", "Size": "350 ml"},
        350,
        110,
        False,
    )
    with session_scope(owner, engine=engine) as session:
        actions = [
            (row.action, row.entity_id)
            for row in session.exec(
                select(AuditLog)
                .where(AuditLog.organization_id == owner.organization_id)
                .order_by(col(AuditLog.created_at), col(AuditLog.id))
            )
        ]
    assert actions == [
        ("product.create", str(product.id)),
        ("product.update", str(product.id)),
        ("variant.update", str(product.variants[0].id)),
    ]
