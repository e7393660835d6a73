"""DTOs and vocabulary of sync jobs: kinds, statuses, each kind's params and their checks, a
job as the UI sees it, a store's sync status and schedule."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from storesync.core.errors import ValidationFailed
from storesync.core.schemas import DTO


class JobKind(StrEnum):
    PRODUCTS = "products"  # import the channel's listings and auto-match them
    INVENTORY = "inventory"  # push stock for every matched listing (or given variants)
    ORDERS = "orders"  # fetch orders from the cursor, or a since/until window
    RECONCILE = "reconcile"  # compare channel stock with ours and repair drift
    BACKFILL = "backfill"  # after an outage: the gap's orders, then stock re-pushed
    SHIPMENTS = "shipments"  # arrange the shipment of the given orders, and fetch their labels
    PRICES = "prices"  # send the store's price rule's prices for its linked listings
    PUBLISH = "publish"  # list the given master products on the store (one form for all)
    CONTENT = "content"  # send the given master products' content to their listings


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
RETRYABLE_STATUSES = (JobStatus.FAILED, JobStatus.CANCELLED)
PROGRESS_EVENT = "sync_job.progress"


# -- params --------------------------------------------------------------------------------------


def job_kind(kind: str) -> JobKind:
    """The kind named, or `ValidationFailed`."""
    try:
        return JobKind(kind)
    except ValueError:
        raise ValidationFailed(
            "kind", f"must be one of {', '.join(k.value for k in JobKind)}"
        ) from None


_ALLOWED = {
    JobKind.PRODUCTS: {"create_products"},
    JobKind.INVENTORY: {"variant_ids"},
    JobKind.ORDERS: {"since", "until"},
    JobKind.RECONCILE: set(),
    JobKind.BACKFILL: {"since", "until"},
    JobKind.SHIPMENTS: {"order_ids", "method", "address_id", "slot_id", "branch_id"},
    JobKind.PRICES: set(),
    JobKind.PUBLISH: {"product_ids", "form"},
    JobKind.CONTENT: {"product_ids"},
}
MAX_SHIPMENT_ORDERS = 500
MAX_PUBLISH_PRODUCTS = 500


def validate_params(kind: JobKind, params: Mapping[str, Any]) -> dict[str, Any]:
    """The params of a `kind` job, checked and in JSON form; `ValidationFailed` names the bad
    one and nothing is queued."""
    unknown = sorted(set(params) - _ALLOWED[kind])
    if unknown:
        raise ValidationFailed(f"params.{unknown[0]}", f"is not a parameter of a {kind} job")
    clean: dict[str, Any] = {}
    if "create_products" in params:
        if not isinstance(params["create_products"], bool):
            raise ValidationFailed("params.create_products", "must be true or false")
        clean["create_products"] = params["create_products"]
    if "variant_ids" in params:
        clean["variant_ids"] = _uuid_list(params["variant_ids"])
    if kind is JobKind.SHIPMENTS:
        clean.update(_shipment_params(params))
    if kind in (JobKind.PUBLISH, JobKind.CONTENT):
        clean["product_ids"] = _uuid_list(params.get("product_ids"), "product_ids")
        if len(clean["product_ids"]) > MAX_PUBLISH_PRODUCTS:
            raise ValidationFailed("params.product_ids", f"at most {MAX_PUBLISH_PRODUCTS} products")
    if kind is JobKind.PUBLISH:
        # The publish form (category, attributes, logistics, package) is checked by
        # `sync.publish` before the job is queued, and again per product when it runs.
        if not isinstance(params.get("form"), dict):
            raise ValidationFailed("params.form", "must be the publish form")
        clean["form"] = dict(params["form"])
    for name in ("since", "until"):
        if params.get(name) is not None:
            clean[name] = _instant(name, params[name]).isoformat()
    if kind is JobKind.BACKFILL and "since" not in clean:
        raise ValidationFailed("params.since", "a back-fill needs the start of its window")
    if "since" in clean and "until" in clean and clean["since"] >= clean["until"]:
        raise ValidationFailed("params.until", "must be after since")
    return clean


def _uuid_list(value: Any, name: str = "variant_ids") -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise ValidationFailed(f"params.{name}", "must be a non-empty list of ids")
    try:
        return sorted({str(uuid.UUID(str(v))) for v in value})
    except ValueError:
        raise ValidationFailed(f"params.{name}", "holds a value that is not an id") from None


def _shipment_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A shipments job: which orders, and how they are handed over (pickup needs the address
    and slot the platform offered; drop-off may name a branch)."""
    order_ids = _uuid_list(params.get("order_ids"), "order_ids")
    if len(order_ids) > MAX_SHIPMENT_ORDERS:
        raise ValidationFailed("params.order_ids", f"at most {MAX_SHIPMENT_ORDERS} orders")
    method = params.get("method")
    if method not in ("pickup", "dropoff"):
        raise ValidationFailed("params.method", "must be pickup or dropoff")
    clean: dict[str, Any] = {"order_ids": order_ids, "method": method}
    for name in ("address_id", "slot_id", "branch_id"):
        value = params.get(name) or ""
        if not isinstance(value, str) or len(value) > 64:
            raise ValidationFailed(f"params.{name}", "must be text of at most 64 characters")
        clean[name] = value
    if method == "pickup" and not (clean["address_id"] and clean["slot_id"]):
        raise ValidationFailed("params.slot_id", "a pickup needs the address and a time slot")
    return clean


def _instant(name: str, value: Any) -> datetime:
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(f"params.{name}", "must be an ISO 8601 date and time") from None
    if parsed.tzinfo is None:
        raise ValidationFailed(f"params.{name}", "must carry a time zone (e.g. +00:00)")
    return parsed


def param_instant(params: Mapping[str, Any], name: str) -> datetime | None:
    """A validated `since`/`until` param back as a datetime (None when absent)."""
    raw = params.get(name)
    return datetime.fromisoformat(raw) if raw else None


class JobDTO(DTO):
    id: uuid.UUID
    organization_id: uuid.UUID
    store_id: uuid.UUID | None
    kind: str
    status: str
    phase: str
    total: int
    done: int
    failed: int
    params: dict[str, Any]
    result: dict[str, Any]
    error: dict[str, Any]
    retries: int
    cancel_requested: bool
    requested_by: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def event(self) -> dict[str, Any]:
        """The `sync_job.progress` payload: small, ids as strings."""
        return {
            "job_id": str(self.id),
            "store_id": str(self.store_id) if self.store_id else None,
            "kind": self.kind,
            "status": self.status,
            "phase": self.phase,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
        }


class ScheduleDTO(DTO):
    """A store's schedule: minutes between order polls and hours between reconciliations
    (None = off), and when each is next due."""

    store_id: uuid.UUID
    orders_minutes: int | None
    reconcile_hours: int | None
    next_orders_at: datetime | None
    next_reconcile_at: datetime | None


class StoreSyncStatusDTO(DTO):
    """What the store page shows: running or queued jobs, the latest job of each kind, the last
    successful sync and, during an outage, since when the store has been unhealthy."""

    store_id: uuid.UUID
    active: list[JobDTO]
    latest: dict[str, JobDTO]
    last_synced_at: datetime | None
    unhealthy_since: datetime | None
