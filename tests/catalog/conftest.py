"""Catalog fixtures: a fresh organization per test on SQLite and (marked) PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.catalog.models import Product, ProductVariant
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.inventory.models import InventoryItem, InventoryTransaction
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.factories import token


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The migrated SQLite database, or PostgreSQL as the RLS-restricted app role."""
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    return request.getfixturevalue(name)


def new_org(engine: Engine) -> RequestContext:
    """An organization (with location MAIN) and its owner's context."""
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(
            session, email=f"owner-{token()}@example.com", password="correct horse"
        )
        org = tenancy.create_organization(session, name=f"Toko {token()}", owner_user_id=user.id)
    return RequestContext(user_id=user.id, organization_id=org.id, role=Role.OWNER)


@pytest.fixture
def owner(engine: Engine) -> RequestContext:
    return new_org(engine)


def viewer_of(ctx: RequestContext) -> RequestContext:
    return RequestContext(
        user_id=ctx.user_id, organization_id=ctx.organization_id, role=Role.VIEWER
    )


@dataclass(frozen=True)
class Counts:
    products: int
    variants: int
    stock_items: int
    ledger_rows: int


def counts(engine: Engine, ctx: RequestContext) -> Counts:
    """How many catalog and stock rows the organization has."""
    values = []
    with session_scope(ctx, engine=engine) as session:
        for model in (Product, ProductVariant, InventoryItem, InventoryTransaction):
            table = table_of(model)
            values.append(
                session.execute(
                    sa.select(sa.func.count()).where(table.c.organization_id == ctx.organization_id)
                ).scalar_one()
            )
    return Counts(*values)


HEADER = [
    "handle",
    "title",
    "brand",
    "sku",
    "option1_name",
    "option1_value",
    "price",
    "cost",
    "weight_grams",
    "attributes",
    "stock:MAIN",
]


def catalog_rows(variants: int, *, prefix: str = "kaos") -> list[dict[str, str]]:
    """`variants` good rows: products of 4 sizes each."""
    sizes = ("S", "M", "L", "XL")
    rows = []
    for index in range(variants):
        product, size = divmod(index, len(sizes))
        rows.append(
            {
                "handle": f"{prefix}-{product:05d}",
                "title": f"Kaos {product}",
                "brand": "Maju",
                "sku": f"{prefix.upper()}-{product:05d}-{sizes[size]}",
                "option1_name": "Size",
                "option1_value": sizes[size],
                "price": f"{59000 + product}.50",
                "cost": "31000",
                "weight_grams": str(200 + size),
                "attributes": '{"material": "cotton"}',
                "stock:MAIN": str(index % 7),
            }
        )
    return rows


def to_csv(rows: Iterable[dict[str, str]], header: Sequence[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
