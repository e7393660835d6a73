"""Base for DTOs: immutable, built from ORM rows, safe to hold in UI state."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DTO(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)
