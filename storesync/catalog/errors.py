"""Catalog errors carry their data; callers branch on `code`, never on text."""

from __future__ import annotations

import uuid

from storesync.core.errors import AppError, ErrorType


class SkuTaken(AppError):
    """Another variant of the organization already uses this SKU (deleted ones included)."""

    def __init__(self, *, sku: str, variant_id: uuid.UUID, handle: str) -> None:
        super().__init__(
            ErrorType.CONFLICT,
            "sku_taken",
            f"sku: {sku!r} is already used by a variant of product {handle!r}",
            details={"field": "sku", "sku": sku, "variant_id": str(variant_id), "handle": handle},
        )
        self.sku = sku
        self.variant_id = variant_id


class HandleTaken(AppError):
    """Another product of the organization already has this handle (deleted ones included)."""

    def __init__(self, *, handle: str, product_id: uuid.UUID, deleted: bool) -> None:
        where = "a deleted product" if deleted else "another product"
        super().__init__(
            ErrorType.CONFLICT,
            "handle_taken",
            f"handle: {handle!r} is already used by {where}",
            details={
                "field": "handle",
                "handle": handle,
                "product_id": str(product_id),
                "deleted": deleted,
            },
        )
        self.handle = handle
        self.product_id = product_id


class ImportConflict(AppError):
    """The catalog changed under a running import (a concurrent writer took a SKU or handle)."""

    def __init__(self) -> None:
        super().__init__(
            ErrorType.CONFLICT,
            "import_conflict",
            "the catalog changed while the import ran (a SKU or handle was taken): run it again",
            retryable=True,
        )
