"""Export: the importer's format, canonical order, and export -> import -> export round trips."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from sqlalchemy.engine import Engine

from storesync.catalog import service as catalog
from storesync.catalog.exporter import export_catalog
from storesync.catalog.importer import import_catalog
from storesync.catalog.schemas import BulkUpdateItem, VariantInput
from storesync.db import session_scope
from storesync.tenancy.context import RequestContext
from tests.catalog.conftest import catalog_rows, counts, new_org, to_csv

MESSY_CSV = (
    "handle,title,description,brand,category,status,attributes,images,sku,variant_name,"
    "option1_name,option1_value,option2_name,option2_value,barcode,price,cost,currency,"
    "weight_grams,length_mm,width_mm,height_mm,active,stock:MAIN\n"
    'kemeja,"Kemeja, Batik ""Parang""","Line one\nline two, with comma",Batik Co,Shirts,'
    'draft,"{""motif"": ""parang"", ""sizes"": [1, 2]}",'
    "https://img.example.com/a.jpg|https://img.example.com/b.jpg,KMJ-S-BLU,Small blue,"
    "Size,S,Colour,Biru,8991234567890,125000.75,60000.1234,IDR,300,700,500,20,true,0\n"
    "kemeja,,,,,,,,KMJ-M-BLU,,Size,M,Colour,Biru,,125000.75,,IDR,310,,,,false,\n"
    "tas,Tas Kulit ☕,,,,archived,,,TAS,,,,,,,0,,SGD,,,,,true,12\n"
)


def export_text(engine: Engine, ctx: RequestContext) -> str:
    out = io.StringIO()
    with session_scope(ctx, engine=engine) as session:
        export_catalog(session, ctx=ctx, out=out)
    return out.getvalue()


def import_text(engine: Engine, ctx: RequestContext, text: str) -> None:
    with session_scope(ctx, engine=engine) as session:
        report = import_catalog(session, ctx=ctx, source=io.StringIO(text))
    assert report.errors == []


def test_export_lists_every_live_variant_with_its_stock(
    engine: Engine, owner: RequestContext
) -> None:
    import_text(engine, owner, MESSY_CSV)

    rows = list(csv.DictReader(io.StringIO(export_text(engine, owner))))

    assert [r["sku"] for r in rows] == ["KMJ-M-BLU", "KMJ-S-BLU", "TAS"]
    small = rows[1]
    assert small["title"] == 'Kemeja, Batik "Parang"'
    assert small["description"] == "Line one\nline two, with comma"
    assert small["attributes"] == '{"motif": "parang", "sizes": [1, 2]}'
    assert (small["price"], small["cost"], small["stock:MAIN"]) == ("125000.75", "60000.1234", "0")
    assert rows[0]["title"] == 'Kemeja, Batik "Parang"'  # product fields on every row
    assert (rows[0]["active"], rows[0]["stock:MAIN"]) == ("false", "")
    assert (rows[2]["price"], rows[2]["currency"], rows[2]["status"]) == ("0", "SGD", "archived")


def test_export_then_import_into_a_fresh_organization_round_trips(
    engine: Engine, owner: RequestContext
) -> None:
    import_text(engine, owner, MESSY_CSV)
    import_text(engine, owner, to_csv(catalog_rows(40)))
    with session_scope(owner, engine=engine) as session:
        made = catalog.create_product(
            session,
            ctx=owner,
            handle="service-made",
            title="Made by the service",
            variants=[VariantInput(sku="SM-1", price=Decimal("9.9")), VariantInput(sku="SM-2")],
        )
        catalog.bulk_update(
            session, ctx=owner, items=[BulkUpdateItem(sku="KAOS-00003-L", is_active=False)]
        )
        gone = catalog.create_product(session, ctx=owner, handle="gone", title="Gone")
        catalog.delete_product(session, ctx=owner, product_id=gone.id)
    exported = export_text(engine, owner)
    fresh = new_org(engine)

    import_text(engine, fresh, exported)

    assert export_text(engine, fresh) == exported
    assert "gone" not in exported.splitlines()[-1]
    assert counts(engine, fresh).variants == 3 + 40 + len(made.variants)


def test_reimporting_an_export_changes_nothing(engine: Engine, owner: RequestContext) -> None:
    import_text(engine, owner, MESSY_CSV)
    exported = export_text(engine, owner)
    before = counts(engine, owner)

    with session_scope(owner, engine=engine) as session:
        report = import_catalog(session, ctx=owner, source=io.StringIO(exported))

    assert (report.created, report.updated, report.stock_changed) == (0, 0, 0)
    assert counts(engine, owner) == before


def test_empty_catalog_exports_a_header_only(engine: Engine, owner: RequestContext) -> None:
    text = export_text(engine, owner)

    assert text.splitlines() == [text.splitlines()[0]]
    assert text.startswith("handle,title,") and text.rstrip().endswith("active,stock:MAIN")
