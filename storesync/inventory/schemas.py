"""Inventory DTOs."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from storesync.core.schemas import DTO


class LocationDTO(DTO):
    id: uuid.UUID
    code: str
    name: str
    is_default: bool
    is_active: bool


class StockLevelDTO(DTO):
    inventory_item_id: uuid.UUID
    variant_id: uuid.UUID
    location_id: uuid.UUID
    on_hand: int
    reserved: int
    available: int
    reorder_point: int


class LedgerEntryDTO(DTO):
    id: uuid.UUID
    inventory_item_id: uuid.UUID
    kind: str
    on_hand_delta: int
    reserved_delta: int
    on_hand_after: int
    reserved_after: int
    reason: str
    reference_type: str
    reference_id: str
    actor_user_id: uuid.UUID | None
    created_at: datetime


class ReservationDTO(DTO):
    id: uuid.UUID
    order_item_id: uuid.UUID
    inventory_item_id: uuid.UUID
    quantity: int
    status: str


class StockAdjustment(BaseModel):
    """One line of a batch adjustment."""

    model_config = ConfigDict(frozen=True)

    variant_id: uuid.UUID
    location_id: uuid.UUID
    delta: int
    reason: str


class LedgerMismatch(DTO):
    organization_id: uuid.UUID
    inventory_item_id: uuid.UUID
    on_hand: int
    ledger_on_hand: int
    reserved: int
    ledger_reserved: int
