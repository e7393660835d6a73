"""Inventory errors carry their data; callers branch on type, never on text."""

from __future__ import annotations

import uuid

from storesync.core.errors import AppError, ErrorType


class InsufficientStock(AppError):
    def __init__(self, *, variant_id: uuid.UUID, requested: int, available: int) -> None:
        super().__init__(
            ErrorType.CONFLICT,
            "insufficient_stock",
            f"only {available} available of variant {variant_id}, {requested} requested",
            details={
                "variant_id": str(variant_id),
                "requested": requested,
                "available": available,
            },
        )
        self.variant_id = variant_id
        self.requested = requested
        self.available = available
