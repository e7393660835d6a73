"""The set-based half of the importer: load the stored catalog in a few queries, decide what to
create/update/leave alone, and write it in chunked bulk statements.

Kept apart from `importer` (which reads and validates rows) so each stays small.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storesync.catalog.errors import ImportConflict
from storesync.catalog.models import Product, ProductVariant
from storesync.core.bulk import insert_rows
from storesync.core.ids import new_id
from storesync.core.models import table_of
from storesync.inventory import service as inventory
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import Organization

if TYPE_CHECKING:
    from storesync.catalog.importer import Parsed

CHUNK = 2000
PRODUCTS = table_of(Product)
VARIANTS = table_of(ProductVariant)
PRODUCT_DEFAULTS: dict[str, Any] = {
    "title": "",
    "description": "",
    "brand": "",
    "category": "",
    "status": "active",
    "attributes": {},
    "images": [],
}
VARIANT_DEFAULTS: dict[str, Any] = {
    "name": "",
    "options": {},
    "barcode": "",
    "price": None,
    "cost": None,
    "weight_grams": None,
    "length_mm": None,
    "width_mm": None,
    "height_mm": None,
    "is_active": True,
}

StockKey = tuple[uuid.UUID, uuid.UUID]


@dataclass
class Catalog:
    """What the organization has now, keyed the way an import file refers to it."""

    products: dict[str, Row[Any]]
    variants: dict[str, Row[Any]]
    handle_of: dict[uuid.UUID, str]
    locations: dict[str, uuid.UUID]
    currency: str
    levels: dict[StockKey, tuple[int, int]] = field(default_factory=dict)


@dataclass
class Plan:
    product_inserts: list[dict[str, Any]] = field(default_factory=list)
    product_updates: list[dict[str, Any]] = field(default_factory=list)
    products_unchanged: int = 0
    variant_inserts: list[dict[str, Any]] = field(default_factory=list)
    variant_updates: list[dict[str, Any]] = field(default_factory=list)
    variants_unchanged: int = 0
    stock_lines: list[tuple[uuid.UUID, uuid.UUID, int]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "products_created": len(self.product_inserts),
            "products_updated": len(self.product_updates),
            "products_unchanged": self.products_unchanged,
            "variants_created": len(self.variant_inserts),
            "variants_updated": len(self.variant_updates),
            "variants_unchanged": self.variants_unchanged,
            "stock_changed": len(self.stock_lines),
        }


def load_catalog(session: Session, *, ctx: RequestContext) -> Catalog:
    """Every product and variant of the organization (deleted ones too: their handles and SKUs
    are taken), in one query each, plus its active locations."""
    org = ctx.organization_id
    product_columns = [
        PRODUCTS.c[name] for name in ("id", "handle", "deleted_at", *PRODUCT_DEFAULTS)
    ]
    products = {
        row.handle: row
        for row in session.execute(
            sa.select(*product_columns).where(PRODUCTS.c.organization_id == org)
        )
    }
    variant_columns = [
        VARIANTS.c[name]
        for name in ("id", "product_id", "variant_sku", "deleted_at", "currency", *VARIANT_DEFAULTS)
    ]
    variants = {
        row.variant_sku: row
        for row in session.execute(
            sa.select(*variant_columns).where(VARIANTS.c.organization_id == org)
        )
    }
    currency = session.execute(
        sa.select(table_of(Organization).c.default_currency).where(
            table_of(Organization).c.id == org
        )
    ).scalar_one_or_none()
    return Catalog(
        products=products,
        variants=variants,
        handle_of={row.id: handle for handle, row in products.items()},
        locations={loc.code.upper(): loc.id for loc in inventory.list_locations(session, ctx=ctx)},
        currency=currency or "IDR",
    )


def check_reserved(
    session: Session, *, ctx: RequestContext, catalog: Catalog, parsed: Parsed
) -> None:
    """Load the stock of stored variants the file sets, and refuse (as row errors) on-hand
    below what orders have reserved."""
    wanted = [
        catalog.variants[v.sku].id for v in parsed.variants if v.stock and v.sku in catalog.variants
    ]
    for start in range(0, len(wanted), CHUNK):
        for level in inventory.stock_levels(
            session, ctx=ctx, variant_ids=wanted[start : start + CHUNK]
        ):
            catalog.levels[(level.variant_id, level.location_id)] = (level.on_hand, level.reserved)
    code_of = {location_id: code for code, location_id in catalog.locations.items()}
    for variant in parsed.variants:
        stored = catalog.variants.get(variant.sku)
        if stored is None:
            continue
        for location_id, quantity in variant.stock.items():
            reserved = catalog.levels.get((stored.id, location_id), (0, 0))[1]
            if quantity < reserved:
                reason = f"{quantity} is below the {reserved} reserved by open orders"
                parsed.bad(variant.row, f"stock:{code_of[location_id]}", reason)


def _changes(stored: Row[Any], fields: dict[str, Any]) -> dict[str, Any]:
    changes = {name: value for name, value in fields.items() if getattr(stored, name) != value}
    if stored.deleted_at is not None:
        changes["deleted_at"] = None
    return changes


def _plan_products(
    catalog: Catalog, parsed: Parsed, plan: Plan, *, org: uuid.UUID, now: datetime
) -> dict[str, uuid.UUID]:
    wanted = {v.handle for v in parsed.variants if v.row not in parsed.bad_rows}
    ids: dict[str, uuid.UUID] = {}
    for handle in sorted(wanted):
        fields = parsed.products[handle].fields
        stored = catalog.products.get(handle)
        if stored is None:
            ids[handle] = new_id()
            plan.product_inserts.append(
                {
                    **PRODUCT_DEFAULTS,
                    **fields,
                    "id": ids[handle],
                    "organization_id": org,
                    "created_at": now,
                    "handle": handle,
                    "updated_at": None,
                    "deleted_at": None,
                }
            )
            continue
        ids[handle] = stored.id
        changes = _changes(stored, fields)
        if changes:
            plan.product_updates.append({**changes, "_id": stored.id, "updated_at": now})
        else:
            plan.products_unchanged += 1
    return ids


def make_plan(catalog: Catalog, parsed: Parsed, *, ctx: RequestContext, now: datetime) -> Plan:
    """Decide, from the valid rows only, what to insert, what to update and which on-hand
    lines differ from what is stored; touches no database."""
    plan = Plan()
    org = ctx.organization_id
    product_ids = _plan_products(catalog, parsed, plan, org=org, now=now)
    for variant in parsed.variants:
        if variant.row in parsed.bad_rows:
            continue
        stored = catalog.variants.get(variant.sku)
        if stored is None:
            variant_id = new_id()
            plan.variant_inserts.append(
                {
                    **VARIANT_DEFAULTS,
                    "currency": catalog.currency,
                    **variant.fields,
                    "id": variant_id,
                    "organization_id": org,
                    "created_at": now,
                    "product_id": product_ids[variant.handle],
                    "variant_sku": variant.sku,
                    "updated_at": None,
                    "deleted_at": None,
                }
            )
        else:
            variant_id = stored.id
            changes = _changes(stored, variant.fields)
            if changes:
                plan.variant_updates.append({**changes, "_id": stored.id, "updated_at": now})
            else:
                plan.variants_unchanged += 1
        for location_id, quantity in variant.stock.items():
            current = catalog.levels.get((variant_id, location_id))
            if current is None or current[0] != quantity:
                plan.stock_lines.append((variant_id, location_id, quantity))
    return plan


def _update_many(
    session: Session, table: sa.Table, rows: Sequence[dict[str, Any]], org: uuid.UUID
) -> None:
    """Executemany UPDATE by id; rows are grouped by the set of columns they change."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    for group in groups.values():
        statement = sa.update(table).where(
            table.c.id == sa.bindparam("_id"), table.c.organization_id == org
        )
        for start in range(0, len(group), CHUNK):
            session.execute(statement, group[start : start + CHUNK])


def write_plan(
    session: Session, *, ctx: RequestContext, plan: Plan, reference_id: str = ""
) -> None:
    """Write the plan in the caller's transaction: products, variants, then on-hand."""
    org = ctx.organization_id
    try:
        insert_rows(session, PRODUCTS, plan.product_inserts, chunk=CHUNK)
        _update_many(session, PRODUCTS, plan.product_updates, org)
        insert_rows(session, VARIANTS, plan.variant_inserts, chunk=CHUNK)
        _update_many(session, VARIANTS, plan.variant_updates, org)
    except IntegrityError:
        raise ImportConflict() from None
    if plan.stock_lines:
        inventory.set_on_hand_bulk(
            session,
            ctx=ctx,
            lines=plan.stock_lines,
            reason="catalog import",
            reference_type="import",
            reference_id=reference_id[:64],
        )
    session.flush()
