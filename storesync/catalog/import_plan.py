"""The set-based half of the importer: load the stored catalog in a few queries, decide what to
create/update/leave alone, and write it in chunked bulk statements.

Kept apart from `importer` (which reads and validates rows into a `Parsed`) so each stays small;
`importer` builds on this module, never the other way round.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storesync.catalog.bulk import (
    PRODUCT_DEFAULTS,
    PRODUCTS,
    VARIANT_DEFAULTS,
    VARIANTS,
    org_currency,
    product_row,
    variant_row,
)
from storesync.catalog.errors import ImportConflict
from storesync.catalog.schemas import RowError
from storesync.core.bulk import insert_rows, update_rows
from storesync.inventory import service as inventory
from storesync.tenancy.context import RequestContext

CHUNK = 2000

StockKey = tuple[uuid.UUID, uuid.UUID]


@dataclass(slots=True)
class ProductIn:
    handle: str
    first_row: int
    fields: dict[str, Any]
    broken: bool = False


@dataclass(slots=True)
class VariantIn:
    row: int
    handle: str
    sku: str
    fields: dict[str, Any]
    stock: dict[uuid.UUID, int]


@dataclass
class Parsed:
    """Everything validation learnt: products by handle, variant rows, errors."""

    products: dict[str, ProductIn] = field(default_factory=dict)
    variants: list[VariantIn] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    bad_rows: set[int] = field(default_factory=set)
    header_bad: bool = False
    rows_total: int = 0
    first_sku_row: dict[str, int] = field(default_factory=dict)

    def bad(self, row: int, column: str, reason: str) -> None:
        self.errors.append(RowError(row=row, column=column, reason=reason))
        if row == 0:
            self.header_bad = True
        else:
            self.bad_rows.add(row)


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
    updated_handles: list[str] = field(default_factory=list)  # existing products the file changes

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
    return Catalog(
        products=products,
        variants=variants,
        handle_of={row.id: handle for handle, row in products.items()},
        locations={loc.code.upper(): loc.id for loc in inventory.list_locations(session, ctx=ctx)},
        currency=org_currency(session, ctx),
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
    if "images" in fields:
        # The file's images are URLs: the product's uploaded (stored) images stay, first.
        kept = [i for i in stored.images or [] if isinstance(i, dict) and i.get("key")]
        fields = {**fields, "images": kept + list(fields["images"])}
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
            row = product_row(organization_id=org, now=now, handle=handle, fields=fields)
            plan.product_inserts.append(row)
            ids[handle] = row["id"]
            continue
        ids[handle] = stored.id
        changes = _changes(stored, fields)
        if changes:
            plan.product_updates.append({**changes, "_id": stored.id, "updated_at": now})
            plan.updated_handles.append(handle)
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
            row = variant_row(
                organization_id=org,
                now=now,
                product_id=product_ids[variant.handle],
                sku=variant.sku,
                currency=catalog.currency,
                fields=variant.fields,
            )
            plan.variant_inserts.append(row)
            variant_id = row["id"]
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


def write_plan(
    session: Session, *, ctx: RequestContext, plan: Plan, reference_id: str = ""
) -> None:
    """Write the plan in the caller's transaction: products, variants, then on-hand."""
    org = ctx.organization_id
    try:
        insert_rows(session, PRODUCTS, plan.product_inserts, chunk=CHUNK)
        update_rows(session, PRODUCTS, plan.product_updates, organization_id=org, chunk=CHUNK)
        insert_rows(session, VARIANTS, plan.variant_inserts, chunk=CHUNK)
        update_rows(session, VARIANTS, plan.variant_updates, organization_id=org, chunk=CHUNK)
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
