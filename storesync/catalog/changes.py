"""What the audit log keeps of catalog edits: a variant's changed fields, and one row per product
or variant a bulk edit changed (named by its SKU or handle)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from storesync.catalog.models import Product, ProductVariant
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext

BULK_FIELDS = ("price", "cost", "is_active")  # what a bulk edit may change on a variant

Snapshot = dict[tuple[str, uuid.UUID], dict[str, Any]]


def record_variant(
    session: Session, ctx: RequestContext, variant: ProductVariant, before: dict[str, Any]
) -> None:
    """Log the variant's fields in `before` (their old values) that now differ; nothing when
    none does. `variant_sku` is logged as `sku`."""
    rename = {"variant_sku": "sku"}
    record(
        session,
        ctx=ctx,
        action="variant.update",
        entity_type="variant",
        entity_id=variant.id,
        before={rename.get(k, k): plain(v) for k, v in before.items()},
        after={rename.get(k, k): plain(getattr(variant, k)) for k in before},
    )


def bulk_snapshot(
    by_sku: Mapping[str, ProductVariant],
    by_handle: Mapping[str, Product],
    of_product: Mapping[uuid.UUID, list[ProductVariant]],
) -> Snapshot:
    """What a bulk edit may change of its targets: variants' fields, products' attributes."""
    variants = [*by_sku.values(), *(v for group in of_product.values() for v in group)]
    taken: Snapshot = {
        ("variant", v.id): {"sku": v.variant_sku, **{f: plain(getattr(v, f)) for f in BULK_FIELDS}}
        for v in variants
    }
    for product in by_handle.values():
        taken[("product", product.id)] = {
            "handle": product.handle,
            "attributes": dict(product.attributes),
        }
    return taken


def record_bulk(session: Session, ctx: RequestContext, before: Snapshot, after: Snapshot) -> None:
    """One audit row per variant or product whose snapshot changed, with its SKU or handle."""
    for (kind, entity_id), old in before.items():
        new = after[(kind, entity_id)]
        if old == new:
            continue
        name = "sku" if kind == "variant" else "handle"
        changed = [k for k in new if new[k] != old.get(k)]
        record(
            session,
            ctx=ctx,
            action=f"{kind}.update",
            entity_type=kind,
            entity_id=entity_id,
            before={k: old.get(k) for k in changed},
            after={name: new[name], **{k: new[k] for k in changed}},
        )


def plain(value: Any) -> Any:
    """An amount as its plain digits (59000.0000 as stored and 59000 as given log alike)."""
    if isinstance(value, Decimal) and value.is_finite():
        return format(value.normalize(), "f")
    return value
