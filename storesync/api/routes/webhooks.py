"""Outbound webhooks: subscribe a URL to events, list and delete subscriptions, resume a paused
one, and list deliveries with their outcome."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from storesync.api.auth import reader, writer
from storesync.api.errors import documented
from storesync.core.pagination import MAX_PAGE_SIZE, Page
from storesync.db import session_scope, writing
from storesync.notifications import webhooks
from storesync.notifications.webhooks import DeliveryDTO, NewSubscriptionDTO, SubscriptionDTO
from storesync.tenancy.api_keys import ApiCaller

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
Read = Annotated[ApiCaller, reader("webhooks")]
Write = Annotated[ApiCaller, writer("webhooks")]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="Where deliveries are POSTed (http or https)")
    events: list[str] = Field(description=f"Any of: {', '.join(webhooks.EVENT_TYPES)}")
    description: str = ""


@router.get("/subscriptions", response_model=list[SubscriptionDTO], responses=documented())
def list_subscriptions(caller: Read) -> list[SubscriptionDTO]:
    with session_scope(caller.ctx) as session:
        return webhooks.list_subscriptions(session, ctx=caller.ctx)


@router.post(
    "/subscriptions",
    response_model=NewSubscriptionDTO,
    status_code=201,
    responses=documented(400, 409, 413),
)
def create_subscription(caller: Write, body: SubscriptionCreate) -> NewSubscriptionDTO:
    """Subscribe a URL; the answer carries the signing secret, shown this once."""
    with writing(caller.ctx) as session:
        return webhooks.create_subscription(
            session,
            ctx=caller.ctx,
            url=body.url,
            events=body.events,
            description=body.description,
        )


@router.delete(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionDTO,
    responses=documented(404, 409),
)
def delete_subscription(caller: Write, subscription_id: uuid.UUID) -> SubscriptionDTO:
    with writing(caller.ctx) as session:
        return webhooks.delete_subscription(
            session, ctx=caller.ctx, subscription_id=subscription_id
        )


@router.post(
    "/subscriptions/{subscription_id}/resume",
    response_model=SubscriptionDTO,
    responses=documented(404, 409),
)
def resume_subscription(caller: Write, subscription_id: uuid.UUID) -> SubscriptionDTO:
    """Send to a paused subscription again; what waited goes out."""
    with writing(caller.ctx) as session:
        return webhooks.resume_subscription(
            session, ctx=caller.ctx, subscription_id=subscription_id
        )


@router.get("/deliveries", response_model=Page[DeliveryDTO], responses=documented())
def list_deliveries(
    caller: Read,
    subscription_id: uuid.UUID | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> Page[DeliveryDTO]:
    """Deliveries, newest first, with attempts, last status code and error."""
    with session_scope(caller.ctx) as session:
        return webhooks.list_deliveries(
            session,
            ctx=caller.ctx,
            subscription_id=subscription_id,
            status=status,
            limit=limit,
            cursor=cursor,
        )
