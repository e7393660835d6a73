"""Bulk import: whole-file validation, all-or-nothing unless skip_invalid, dry runs, idempotence.

Runs on SQLite and on PostgreSQL (as the RLS-restricted app role)."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.catalog import service as catalog
from storesync.catalog.importer import import_catalog
from storesync.catalog.models import Product, ProductVariant
from storesync.catalog.schemas import ImportReport, RowError
from storesync.core.errors import PermissionDenied
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.inventory.models import InventoryItem
from storesync.tenancy.context import RequestContext
from tests.catalog.conftest import catalog_rows, counts, to_csv, viewer_of


def run_import(engine: Engine, ctx: RequestContext, text: str, **options: object) -> ImportReport:
    with session_scope(ctx, engine=engine) as session:
        return import_catalog(session, ctx=ctx, source=io.StringIO(text), **options)  # type: ignore[arg-type]


def file_with_three_bad_rows() -> str:
    rows = catalog_rows(1000)
    rows[9]["price"] = "-5"
    rows[499]["weight_grams"] = "abc"
    rows[998]["sku"] = rows[0]["sku"]
    return to_csv(rows)


THREE_ERRORS = [
    RowError(row=10, column="price", reason="must not be negative"),
    RowError(row=500, column="weight_grams", reason="'abc' is not a whole number"),
    RowError(row=999, column="sku", reason="duplicate SKU 'KAOS-00000-S': already on row 1"),
]


def test_three_bad_rows_among_1000_are_reported_exactly_and_nothing_is_written(
    engine: Engine, owner: RequestContext
) -> None:
    before = counts(engine, owner)

    report = run_import(engine, owner, file_with_three_bad_rows())

    assert report.errors == THREE_ERRORS
    assert report.rows_total == 1000
    assert report.rows_invalid == 3
    assert report.written is False
    assert report.created == 0 and report.updated == 0 and report.stock_changed == 0
    assert counts(engine, owner) == before


def test_skip_invalid_imports_the_997_good_rows_and_reports_the_3_bad(
    engine: Engine, owner: RequestContext
) -> None:
    before = counts(engine, owner)

    report = run_import(engine, owner, file_with_three_bad_rows(), skip_invalid=True)

    after = counts(engine, owner)
    assert report.errors == THREE_ERRORS
    assert report.written is True
    assert report.rows_applied == 997
    assert (report.products_created, report.variants_created) == (250, 997)
    assert after.products == before.products + 250
    assert after.variants == before.variants + 997
    assert after.stock_items == before.stock_items + 997
    with session_scope(owner, engine=engine) as session:
        skus = set(
            session.execute(
                sa.select(table_of(ProductVariant).c.variant_sku).where(
                    table_of(ProductVariant).c.organization_id == owner.organization_id
                )
            ).scalars()
        )
    assert "KAOS-00002-M" not in skus  # row 10, negative price
    assert "KAOS-00124-XL" not in skus  # row 500, bad weight
    assert "KAOS-00249-L" not in skus  # row 999, its SKU duplicated row 1's
    assert "KAOS-00000-S" in skus


def test_reimporting_the_same_file_changes_nothing(engine: Engine, owner: RequestContext) -> None:
    text = to_csv(catalog_rows(1000))
    first = run_import(engine, owner, text)
    after_first = counts(engine, owner)

    again = run_import(engine, owner, text)

    assert (first.products_created, first.variants_created) == (250, 1000)
    assert first.stock_changed == 1000
    assert again.errors == []
    assert (again.created, again.updated, again.stock_changed) == (0, 0, 0)
    assert (again.products_unchanged, again.variants_unchanged) == (250, 1000)
    assert again.updated_handles == []
    assert counts(engine, owner) == after_first  # no new rows, no new ledger rows


def test_dry_run_reports_what_would_change_and_writes_nothing(
    engine: Engine, owner: RequestContext
) -> None:
    run_import(engine, owner, to_csv(catalog_rows(8)))
    rows = catalog_rows(12)
    rows[0]["price"] = "1"  # an update
    rows[1]["stock:MAIN"] = "40"  # a stock change
    before = counts(engine, owner)

    report = run_import(engine, owner, to_csv(rows), dry_run=True)

    assert report.dry_run is True and report.written is False
    assert (report.products_created, report.products_updated, report.products_unchanged) == (
        1,
        0,
        2,
    )
    assert (report.variants_created, report.variants_updated, report.variants_unchanged) == (
        4,
        1,
        7,
    )
    assert report.stock_changed == 5
    assert counts(engine, owner) == before


def test_dry_run_with_bad_rows_predicts_that_nothing_would_be_written(
    engine: Engine, owner: RequestContext
) -> None:
    rows = catalog_rows(4)
    rows[2]["cost"] = "12,5"

    report = run_import(engine, owner, to_csv(rows), dry_run=True)

    assert report.errors == [RowError(row=3, column="cost", reason="'12,5' is not a number")]
    assert report.created == 0 and report.written is False


def test_header_problems_stop_the_import_even_with_skip_invalid(
    engine: Engine, owner: RequestContext
) -> None:
    header = ["handle", "title", "sku", "colour", "stock:WH9"]
    text = "handle,title,sku,colour,stock:WH9\nkaos,Kaos,KAOS,red,4\n"
    before = counts(engine, owner)

    report = run_import(engine, owner, text, skip_invalid=True)

    assert header[3] == "colour"
    assert report.errors == [
        RowError(row=0, column="colour", reason="unknown column"),
        RowError(row=0, column="stock:WH9", reason="unknown location code 'WH9'"),
    ]
    assert report.written is False
    assert counts(engine, owner) == before


def test_missing_required_column_is_a_header_error(engine: Engine, owner: RequestContext) -> None:
    report = run_import(engine, owner, "handle,title\nkaos,Kaos\n")

    assert report.errors == [RowError(row=0, column="sku", reason="required column is missing")]
    assert report.rows_total == 0


def test_row_level_problems_name_row_column_and_reason(
    engine: Engine, owner: RequestContext
) -> None:
    text = (
        "handle,title,sku,price,attributes,images,status,option1_name,option1_value,stock:MAIN\n"
        "a,A,A-1,10,{bad json},,active,,,1\n"  # 1
        "b,,B-1,10,,,,,,1\n"  # 2 title missing on the product's first row
        "b,B,B-2,10,,,,,,1\n"  # 3 its product is invalid
        "c,C,,10,,,,,,1\n"  # 4 sku missing
        "d,D,D-1,abc,,ftp://x,,,,-2\n"  # 5 three bad cells
        "e,E,E-1,1.23456,,,,Size,,1\n"  # 6 precision, option without value
        "e,Other,E-2,1,,,,,,1\n"  # 7 product field differs from its first row
        "f,F,F-1,1,,,gone,,,1\n"  # 8 unknown status
    )

    report = run_import(engine, owner, text)

    assert report.errors == [
        RowError(row=1, column="attributes", reason=report.errors[0].reason),
        RowError(row=2, column="title", reason="is required on a product's first row"),
        RowError(row=3, column="handle", reason="product 'b' is invalid on its first row (row 2)"),
        RowError(row=4, column="sku", reason="is required"),
        RowError(row=5, column="images", reason="'ftp://x' is not an http(s) URL"),
        RowError(row=5, column="price", reason="'abc' is not a number"),
        RowError(row=5, column="stock:MAIN", reason="must not be negative"),
        RowError(row=6, column="price", reason="must have at most 4 decimal places"),
        RowError(row=6, column="option1_value", reason="is required with option1_name"),
        RowError(row=7, column="title", reason="differs from the product's first row (row 6)"),
        RowError(row=8, column="status", reason="must be one of active, draft, archived"),
    ]
    assert report.errors[0].reason.startswith("invalid JSON")
    assert report.rows_invalid == 8


def test_sku_of_another_product_is_a_conflict_and_nothing_is_written(
    engine: Engine, owner: RequestContext
) -> None:
    with session_scope(owner, engine=engine) as session:
        catalog.create_product(session, ctx=owner, handle="topi", title="Topi", sku="TOPI-1")
    before = counts(engine, owner)

    report = run_import(engine, owner, "handle,title,sku\nkaos,Kaos,KAOS-1\nkaos,,TOPI-1\n")

    assert report.errors == [
        RowError(row=2, column="sku", reason="SKU 'TOPI-1' already belongs to product 'topi'")
    ]
    assert counts(engine, owner) == before


def test_a_file_without_some_columns_updates_only_the_columns_it_has(
    engine: Engine, owner: RequestContext
) -> None:
    run_import(engine, owner, to_csv(catalog_rows(4)))

    report = run_import(engine, owner, "handle,sku,price\nkaos-00000,KAOS-00000-M,75000\n")

    assert (report.variants_updated, report.variants_unchanged, report.products_unchanged) == (
        1,
        0,
        1,
    )
    with session_scope(owner, engine=engine) as session:
        page = catalog.list_products(session, ctx=owner)
    variants = {v.sku: v for v in page.items[0].variants}
    assert variants["KAOS-00000-M"].price == 75000
    assert variants["KAOS-00000-M"].options == {"Size": "M"}  # untouched
    assert variants["KAOS-00000-M"].weight_grams == 201
    assert variants["KAOS-00000-S"].price == 59000.5
    assert page.items[0].title == "Kaos 0"


def test_import_brings_back_a_soft_deleted_product(engine: Engine, owner: RequestContext) -> None:
    text = to_csv(catalog_rows(2))
    run_import(engine, owner, text)
    with session_scope(owner, engine=engine) as session:
        product = catalog.list_products(session, ctx=owner).items[0]
        catalog.delete_product(session, ctx=owner, product_id=product.id)

    report = run_import(engine, owner, text)

    assert (report.products_updated, report.variants_updated, report.created) == (1, 2, 0)
    assert report.updated_handles == [product.handle]  # named: the row merged into it
    with session_scope(owner, engine=engine) as session:
        restored = catalog.get_product(session, ctx=owner, product_id=product.id)
    assert [v.sku for v in restored.variants] == ["KAOS-00000-M", "KAOS-00000-S"]


def test_stock_below_what_orders_reserved_is_a_row_error(
    engine: Engine, owner: RequestContext
) -> None:
    run_import(engine, owner, to_csv(catalog_rows(2)))
    items = table_of(InventoryItem)
    with session_scope(owner, engine=engine) as session:
        session.execute(
            sa.update(items)
            .where(items.c.organization_id == owner.organization_id)
            .values(on_hand=5, reserved=3)
        )
    rows = catalog_rows(2)
    rows[0]["stock:MAIN"] = "3"  # equal to reserved: fine
    rows[1]["stock:MAIN"] = "2"
    before = counts(engine, owner)

    report = run_import(engine, owner, to_csv(rows))

    assert report.errors == [
        RowError(row=2, column="stock:MAIN", reason="2 is below the 3 reserved by open orders")
    ]
    assert counts(engine, owner) == before


def test_json_lines_import_like_csv(engine: Engine, owner: RequestContext) -> None:
    lines = [
        {
            "handle": "kaos",
            "title": "Kaos",
            "sku": "KAOS-S",
            "price": 59000.5,
            "attributes": {"material": "cotton", "gsm": 180.5},
            "images": ["https://img.example.com/1.jpg"],
            "option1_name": "Size",
            "option1_value": "S",
            "active": False,
            "stock:MAIN": 4,
        },
        {"handle": "kaos", "sku": "KAOS-M", "price": "59000.50", "stock:MAIN": 0},
        {"handle": "kaos", "sku": "KAOS-L", "price": -1},
        {"handle": "kaos", "sku": "KAOS-XL", "stock:WH9": 1, "colour": "red"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n"

    report = run_import(engine, owner, text, fmt="jsonl", skip_invalid=True)

    assert report.errors == [
        RowError(row=3, column="price", reason="must not be negative"),
        RowError(row=4, column="stock:WH9", reason="unknown location code 'WH9'"),
        RowError(row=4, column="colour", reason="unknown column"),
    ]
    with session_scope(owner, engine=engine) as session:
        product = catalog.list_products(session, ctx=owner).items[0]
        levels = inventory.stock_levels(
            session, ctx=owner, variant_ids=[v.id for v in product.variants]
        )
    small = next(v for v in product.variants if v.sku == "KAOS-S")
    assert product.attributes == {"material": "cotton", "gsm": 180.5}
    assert product.images == ["https://img.example.com/1.jpg"]
    assert small.price == 59000.5 and small.is_active is False and small.options == {"Size": "S"}
    assert sorted(v.sku for v in product.variants) == ["KAOS-M", "KAOS-S"]
    assert sorted(level.on_hand for level in levels) == [0, 4]


def test_viewer_may_not_import_and_nothing_is_written(
    engine: Engine, owner: RequestContext
) -> None:
    before = counts(engine, owner)

    with pytest.raises(PermissionDenied):
        run_import(engine, viewer_of(owner), to_csv(catalog_rows(4)))

    assert counts(engine, owner) == before


def test_import_touches_only_the_callers_organization(
    engine: Engine, owner: RequestContext
) -> None:
    from tests.catalog.conftest import new_org

    other = new_org(engine)
    run_import(engine, other, to_csv(catalog_rows(4)))

    report = run_import(engine, owner, to_csv(catalog_rows(4)))

    assert (report.products_created, report.variants_created) == (1, 4)
    assert counts(engine, other).variants == 4
    with session_scope(owner, engine=engine) as session:
        handles = (
            session.execute(
                sa.select(table_of(Product).c.organization_id).where(
                    table_of(Product).c.handle == "kaos-00000"
                )
            )
            .scalars()
            .all()
        )
    assert owner.organization_id in handles


def test_a_price_file_names_the_repriced_variants_and_a_title_change_its_product(
    engine: Engine, owner: RequestContext
) -> None:
    """`handle,sku,price` is the bulk price update: the report names the variants whose price
    changed (their channels' price push is queued by the caller) and the products whose
    content changed (their content push); a dry run and an unchanged price name none."""
    run_import(engine, owner, to_csv(catalog_rows(3)))
    with session_scope(owner, engine=engine) as session:
        ids = dict(
            session.execute(
                sa.select(ProductVariant.variant_sku, ProductVariant.id).where(  # type: ignore[call-overload]
                    ProductVariant.organization_id == owner.organization_id
                )
            ).all()
        )
        product_of = dict(
            session.execute(
                sa.select(Product.handle, Product.id).where(  # type: ignore[call-overload]
                    Product.organization_id == owner.organization_id
                )
            ).all()
        )
    first, second = sorted(ids)[:2]
    handle = catalog_rows(3)[0]["handle"]
    same = catalog_rows(3)[1]["price"]  # every variant of the product has this price
    prices = f"handle,sku,price\n{handle},{first},99999\n{handle},{second},{same}\n"

    dry = run_import(engine, owner, prices, dry_run=True)
    report = run_import(engine, owner, prices)
    titled = run_import(engine, owner, f"handle,sku,title\n{handle},{first},Kaos Baru\n")

    assert (dry.repriced_variant_ids, dry.content_product_ids) == ([], [])
    assert report.variants_updated == 1
    assert report.repriced_variant_ids == [ids[first]]
    assert report.content_product_ids == []
    assert "repriced_variant_ids" not in report.model_dump()
    assert titled.repriced_variant_ids == []
    assert titled.content_product_ids == [product_of[handle]]
