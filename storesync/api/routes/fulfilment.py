"""Fulfilment on the marketplaces: an order's hand-over options, arranging its shipment (one
order here; many as `shipments` jobs, one per store, through `POST /jobs`), labels (one order's,
or many merged into one PDF), pick lists and packing slips, cancelling on the marketplace, and
buyers' returns with the merchant's restock or write-off. Platform refusals answer with the
platform's own message and change nothing."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from storesync.api.auth import reader, writer
from storesync.api.errors import documented
from storesync.channels.schemas import CANCEL_REASONS, ShippingOptions, ShipRequest
from storesync.core.errors import AppError, ErrorType
from storesync.core.pagination import MAX_PAGE_SIZE, Page
from storesync.db import session_scope, writing
from storesync.fulfilment import labels, paperwork, returns, shipping
from storesync.fulfilment.schemas import OrderOutcome, ReturnDTO
from storesync.orders.schemas import OrderDTO
from storesync.tenancy.api_keys import ApiCaller

router = APIRouter(tags=["fulfilment"])
Read = Annotated[ApiCaller, reader("orders")]
Write = Annotated[ApiCaller, writer("orders")]

MAX_ORDERS = 500
PDF: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A PDF document",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _pdf(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


class Shipment(BaseModel):
    """How the order is handed to the carrier: `pickup` with an address and a slot from its
    shipping options, or `dropoff` (optionally at one of the listed branches)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["pickup", "dropoff"]
    address_id: str = Field(default="", max_length=64)
    slot_id: str = Field(default="", max_length=64)
    branch_id: str = Field(default="", max_length=64)


class OrderSelection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_ORDERS)


class Cancellation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Literal["out_of_stock", "customer_request", "undeliverable_area"] = Field(
        description="; ".join(f"{k}: {v}" for k, v in CANCEL_REASONS.items())
    )


class ReturnResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: Literal["restock", "write_off"]


@router.get(
    "/orders/{order_id}/shipping-options",
    response_model=ShippingOptions,
    responses=documented(404, 409, 502, 503),
)
async def shipping_options(caller: Write, order_id: uuid.UUID) -> ShippingOptions:
    """How the marketplace lets this order be handed over now: pickup addresses with their time
    slots, drop-off branches. Only for an order waiting to ship and not yet arranged (409)."""
    return await shipping.shipping_options(caller.ctx, order_id=order_id)


@router.post(
    "/orders/{order_id}/shipment",
    response_model=OrderOutcome,
    responses=documented(400, 404, 409, 413, 502, 503),
)
async def arrange_shipment(caller: Write, order_id: uuid.UUID, body: Shipment) -> OrderOutcome:
    """Arrange the order's shipment on its marketplace and fetch its label; answers the
    tracking number. The marketplace's refusal (already arranged, cancelled, a slot it does not
    offer) is a 409 or 422 with its message, and changes nothing."""
    return await shipping.arrange_shipment(
        caller.ctx,
        order_id=order_id,
        request=ShipRequest(**body.model_dump()),
    )


@router.get(
    "/orders/{order_id}/label",
    response_class=Response,
    responses={**documented(404), **PDF},
)
def order_label(caller: Read, order_id: uuid.UUID) -> Response:
    """The order's shipping label as the marketplace printed it (404 until it was fetched:
    arrange the shipment, or print labels)."""
    with session_scope(caller.ctx) as session:
        pdf = labels.order_label(session, ctx=caller.ctx, order_id=order_id)
    return _pdf(pdf, f"label-{order_id}.pdf")


@router.post(
    "/orders/labels",
    response_class=Response,
    responses={**documented(400, 409, 413), **PDF},
)
async def print_labels(caller: Write, body: OrderSelection) -> Response:
    """The labels of these orders merged into one PDF, in the order given (a label not fetched
    yet is fetched first); the orders included are marked printed. 409 when none could be
    printed, with each order's reason in `details`."""
    printed = await labels.print_labels(caller.ctx, order_ids=body.order_ids)
    if printed.pdf is None:
        raise AppError(
            ErrorType.CONFLICT,
            "no_labels",
            "none of these orders has a label to print",
            details={
                "orders": [
                    f.model_dump(mode="json", include={"order_id", "error_message"})
                    for f in printed.failed
                ]
            },
        )
    response = _pdf(printed.pdf, "labels.pdf")
    response.headers["StoreSync-Labels-Printed"] = str(len(printed.printed))
    response.headers["StoreSync-Labels-Failed"] = str(len(printed.failed))
    return response


@router.post(
    "/orders/pick-list",
    response_class=Response,
    responses={**documented(400, 413), **PDF},
)
def pick_list(caller: Read, body: OrderSelection) -> Response:
    """A pick list PDF: every SKU of these orders with its total, by stock location."""
    with session_scope(caller.ctx) as session:
        pdf = paperwork.pick_list(session, ctx=caller.ctx, order_ids=body.order_ids)
    return _pdf(pdf, "pick-list.pdf")


@router.post(
    "/orders/packing-slips",
    response_class=Response,
    responses={**documented(400, 413), **PDF},
)
def packing_slips(caller: Read, body: OrderSelection) -> Response:
    """Packing slips PDF: one page per order, in the order given."""
    with session_scope(caller.ctx) as session:
        pdf = paperwork.packing_slips(session, ctx=caller.ctx, order_ids=body.order_ids)
    return _pdf(pdf, "packing-slips.pdf")


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderDTO,
    responses=documented(400, 404, 409, 413, 502, 503),
)
async def cancel_order(caller: Write, order_id: uuid.UUID, body: Cancellation) -> OrderDTO:
    """Cancel on the marketplace as the seller, then in StoreSync (its reserved stock is
    released). The marketplace's refusal (already shipped) answers its message and changes
    nothing."""
    return await shipping.cancel_order(caller.ctx, order_id=order_id, reason=body.reason)


@router.get("/returns", response_model=Page[ReturnDTO], responses=documented(422))
def list_returns(
    caller: Read,
    state: Annotated[
        Literal["requested", "in_progress", "completed", "cancelled", "rejected"] | None,
        Query(),
    ] = None,
    unresolved: Annotated[
        bool, Query(description="Completed returns whose units wait for restock or write-off")
    ] = False,
    order_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: str | None = None,
) -> Page[ReturnDTO]:
    """Buyers' returns and refunds as the marketplaces report them, newest first."""
    with session_scope(caller.ctx) as session:
        return returns.list_returns(
            session,
            ctx=caller.ctx,
            state=state,
            unresolved=unresolved,
            order_id=order_id,
            limit=limit,
            cursor=cursor,
        )


@router.post(
    "/returns/{return_id}/resolve",
    response_model=ReturnDTO,
    responses=documented(400, 404, 409, 413),
)
def resolve_return(caller: Write, return_id: uuid.UUID, body: ReturnResolution) -> ReturnDTO:
    """Decide once what happens to a completed return's units: `restock` adds them to on-hand
    (a `return` ledger entry, pushed to every channel), `write_off` records they are not
    sellable."""
    with writing(caller.ctx) as session:
        return returns.resolve_return(
            session, ctx=caller.ctx, return_id=return_id, resolution=body.resolution
        )
