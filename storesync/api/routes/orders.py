"""Orders: the inbox (status, store, platform, date range, search; keyset pages) and its CSV
export, one order with its lines and timeline, and recording status changes made outside
StoreSync (with their stock effects; the marketplace is not told: acting on the marketplace is
in `fulfilment`). Every change lands on the order's timeline with source `api`."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema

from storesync.api.auth import reader, writer
from storesync.api.errors import documented
from storesync.core.clock import utcnow
from storesync.core.pagination import MAX_PAGE_SIZE, Page
from storesync.db import session_scope, writing
from storesync.orders import export as order_export
from storesync.orders import service as orders
from storesync.orders.schemas import (
    BulkStatusResult,
    OrderDetailDTO,
    OrderDTO,
    OrderSummaryDTO,
)
from storesync.orders.status import OrderStatus
from storesync.tenancy.api_keys import ApiCaller

router = APIRouter(prefix="/orders", tags=["orders"])
Read = Annotated[ApiCaller, reader("orders")]
Write = Annotated[ApiCaller, writer("orders")]

SOURCE = "api"  # the timeline's `source` of a change made through the API
MAX_BULK_ORDERS = 500
REASON_MAX = 255
# A status filter is checked by the service, which names the field `status` when it is not one.
StatusName = Annotated[
    str, WithJsonSchema({"type": "string", "enum": [s.value for s in OrderStatus]})
]

Reason = Annotated[
    str, Field(max_length=REASON_MAX, description="Why: shown on the order's timeline")
]


class StatusChange(BaseModel):
    """Move an order to `to_status`, if its lifecycle allows it (the same status is a no-op)."""

    model_config = ConfigDict(extra="forbid")

    to_status: OrderStatus
    reason: Reason = ""


class Fulfilment(BaseModel):
    """Mark an order shipped, with its tracking number."""

    model_config = ConfigDict(extra="forbid")

    tracking_number: str = Field(default="", description="At most 64 characters")
    reason: Reason = ""


class BulkStatusChange(BaseModel):
    """Move many orders to `to_status`; each succeeds or fails on its own."""

    model_config = ConfigDict(extra="forbid")

    order_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BULK_ORDERS)
    to_status: OrderStatus
    reason: Reason = ""


@dataclass(frozen=True)
class InboxFilters:
    """The inbox's filters, shared by the list and its CSV export."""

    status: list[str] | None
    store_id: uuid.UUID | None
    platform: str | None
    ordered_from: AwareDatetime | None
    ordered_to: AwareDatetime | None
    search: str | None

    def given(self) -> dict[str, Any]:
        return {
            "status": self.status or None,
            "store_id": self.store_id,
            "platform": self.platform or None,
            "ordered_from": self.ordered_from,
            "ordered_to": self.ordered_to,
            "search": self.search,
        }


def inbox_filters(
    status: Annotated[
        list[StatusName] | None,
        Query(description="Only orders in these statuses (repeat the parameter for several)"),
    ] = None,
    store_id: uuid.UUID | None = None,
    platform: Annotated[str | None, Query(description="shopee or tiktok")] = None,
    ordered_from: Annotated[
        AwareDatetime | None, Query(description="Ordered at or after (inclusive)")
    ] = None,
    ordered_to: Annotated[AwareDatetime | None, Query(description="Ordered before")] = None,
    search: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Words, each the start of an order's number (or its end), customer "
            "name, or a line's SKU or product title word; a whole order number finds that order",
        ),
    ] = None,
) -> InboxFilters:
    return InboxFilters(status, store_id, platform, ordered_from, ordered_to, search)


@router.get("", response_model=Page[OrderSummaryDTO], responses=documented(422))
def list_orders(
    caller: Read,
    filters: Annotated[InboxFilters, Depends(inbox_filters)],
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> Page[OrderSummaryDTO]:
    """The order inbox, newest first; `next_cursor` fetches the next page."""
    with session_scope(caller.ctx) as session:
        return orders.list_orders(
            session,
            ctx=caller.ctx,
            **filters.given(),
            limit=limit,
            cursor=cursor,
        )


CSV_CONTENT = {"text/csv": {"schema": {"type": "string"}}}


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The orders as CSV, streamed", "content": CSV_CONTENT},
        **documented(422),
    },
)
def export_orders(
    caller: Read, filters: Annotated[InboxFilters, Depends(inbox_filters)]
) -> StreamingResponse:
    """Every order the inbox shows for these filters, newest first, as one CSV file (UTF-8):
    order_number, platform_order_id, platform, store, status, platform_status, ordered_at,
    customer_name, recipient, carrier, tracking_number, items (`SKU x2; ...`), quantity,
    currency, total. Streamed in batches, so any number of orders may be exported. Cells that
    a spreadsheet would run as a formula start with a single quote."""
    chunks = _export_chunks(caller, **filters.given())
    header = next(chunks)  # the filters are checked here, before the response starts
    filename = order_export.export_filename(utcnow())
    return StreamingResponse(
        itertools.chain([header], chunks),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _export_chunks(caller: ApiCaller, **filters: Any) -> Iterator[str]:
    with session_scope(caller.ctx) as session:
        yield from order_export.export_rows(session, ctx=caller.ctx, **filters)


@router.get("/{order_id}", response_model=OrderDetailDTO, responses=documented(404, 422))
def get_order(caller: Read, order_id: uuid.UUID) -> OrderDetailDTO:
    """One order with its lines (and what happened to their stock) and its timeline."""
    with session_scope(caller.ctx) as session:
        return orders.get_order(session, ctx=caller.ctx, order_id=order_id)


@router.post(
    "/bulk-status",
    response_model=list[BulkStatusResult],
    responses=documented(400, 409, 413, 422),
)
def bulk_change_status(caller: Write, body: BulkStatusChange) -> list[BulkStatusResult]:
    """Record, in StoreSync only, that many orders moved (the marketplaces are not told: to
    cancel on the marketplace use `/orders/{id}/cancel`, to ship `/orders/{id}/shipment`).
    Each result (in the order of `order_ids`, duplicates once) reports its own outcome: an
    illegal transition or an unknown order fails only itself."""
    with writing(caller.ctx) as session:
        return orders.bulk_change_status(
            session,
            ctx=caller.ctx,
            order_ids=body.order_ids,
            to_status=body.to_status,
            reason=body.reason,
            source=SOURCE,
        )


@router.post(
    "/{order_id}/status",
    response_model=OrderDTO,
    responses=documented(400, 404, 409, 413, 422),
)
def change_status(caller: Write, order_id: uuid.UUID, body: StatusChange) -> OrderDTO:
    """Record, in StoreSync only, that an order moved along its lifecycle (for a change made
    outside StoreSync; the marketplace is not told: use `/orders/{id}/cancel` or
    `/orders/{id}/shipment` to act on it). Cancelling releases its reserved stock, shipping
    deducts it. A move the lifecycle forbids is a 409 (`illegal_transition`) and changes
    nothing."""
    with writing(caller.ctx) as session:
        return orders.change_status(
            session,
            ctx=caller.ctx,
            order_id=order_id,
            to_status=body.to_status,
            reason=body.reason,
            source=SOURCE,
        )


@router.post(
    "/{order_id}/fulfil",
    response_model=OrderDTO,
    responses=documented(400, 404, 409, 413, 422),
)
def fulfil_order(caller: Write, order_id: uuid.UUID, body: Fulfilment | None = None) -> OrderDTO:
    """Record, in StoreSync only, that an order was shipped outside StoreSync (its reserved
    stock leaves on-hand) with its tracking number; the body may be omitted. The marketplace
    is not told: `/orders/{id}/shipment` arranges the shipment on it. An order that may not
    ship (e.g. cancelled) is a 409."""
    given = body or Fulfilment()
    with writing(caller.ctx) as session:
        return orders.ship_order(
            session,
            ctx=caller.ctx,
            order_id=order_id,
            tracking_number=given.tracking_number,
            reason=given.reason,
            source=SOURCE,
        )
