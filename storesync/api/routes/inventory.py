"""TODO: inventory routes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/inventory", tags=["inventory"])
