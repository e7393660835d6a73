"""Publishing master products to stores: the store's platform categories (cached, refreshed on
demand) and a category's attributes and rules; publish one product now or many as a job, check
first; where a product is published; a store's own title or description for it; content pushes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from storesync.api.auth import reader, writer
from storesync.api.errors import documented
from storesync.channels.schemas import CategoryDetail, ChannelCategory
from storesync.db import session_scope, writing
from storesync.sync.jobs import service as jobs
from storesync.sync.jobs.schemas import MAX_PUBLISH_PRODUCTS, JobKind
from storesync.sync.publish import service as publish
from storesync.sync.publish.categories import category_detail, category_tree
from storesync.sync.publish.checks import Problem
from storesync.sync.publish.service import PublicationDTO, PublishForm, PublishOutcome
from storesync.tenancy.api_keys import ApiCaller

router = APIRouter(tags=["publishing"])
ReadStores = Annotated[ApiCaller, reader("stores")]
ReadProducts = Annotated[ApiCaller, reader("products")]
WriteProducts = Annotated[ApiCaller, writer("products")]
Refresh = Annotated[bool, Query(description="ask the platform again instead of the cache")]


class PublishOne(PublishForm):
    model_config = ConfigDict(extra="forbid", frozen=True)

    store_id: uuid.UUID


class PublishMany(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_PUBLISH_PRODUCTS)
    form: PublishForm


class ProductSelection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_PUBLISH_PRODUCTS)


class ProductProblems(BaseModel):
    product_id: uuid.UUID
    problems: list[Problem]


class JobQueued(BaseModel):
    job_id: uuid.UUID | None  # None: a job of the kind was already queued (it reads at run time)


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title_override: str = Field(default="", max_length=255)
    description_override: str = Field(default="", max_length=20_000)


@router.get(
    "/stores/{store_id}/categories",
    response_model=list[ChannelCategory],
    responses=documented(404, 502),
)
async def list_categories(
    caller: ReadStores, store_id: uuid.UUID, refresh: Refresh = False
) -> list[ChannelCategory]:
    """The platform's category tree for the store (only leaves take listings)."""
    return await category_tree(caller.ctx, store_id, refresh=refresh)


@router.get(
    "/stores/{store_id}/categories/{category_id}",
    response_model=CategoryDetail,
    responses=documented(404, 422, 502),
)
async def get_category(
    caller: ReadStores, store_id: uuid.UUID, category_id: str, refresh: Refresh = False
) -> CategoryDetail:
    """A leaf category's attributes (required ones and their allowed values), the listing rules
    the platform enforces there and, on Shopee, the shop's logistics channels."""
    return await category_detail(caller.ctx, store_id, category_id, refresh=refresh)


@router.post(
    "/products/{product_id}/publish",
    response_model=PublishOutcome,
    status_code=201,
    responses=documented(404, 409, 422, 502),
)
async def publish_product(
    caller: WriteProducts, product_id: uuid.UUID, body: PublishOne
) -> PublishOutcome:
    """List the product on the store now: checked first (422 naming the field, nothing sent),
    then images uploaded, the listing created, linked to the master SKUs and its stock pushed.
    The platform's refusal is a 422 with its message (and its field in `details.field`)."""
    form = PublishForm.model_validate(body.model_dump(exclude={"store_id"}))
    return await publish.publish_product(
        caller.ctx, store_id=body.store_id, product_id=product_id, form=form
    )


@router.post(
    "/stores/{store_id}/publish/check",
    response_model=list[ProductProblems],
    responses=documented(404, 422, 502),
)
async def check_publish(
    caller: WriteProducts, store_id: uuid.UUID, body: PublishMany
) -> list[ProductProblems]:
    """What the platform would refuse for each product, without sending anything."""
    found = await publish.check_publish(
        caller.ctx, store_id=store_id, product_ids=body.product_ids, form=body.form
    )
    return [ProductProblems(product_id=p, problems=found[p]) for p in body.product_ids]


@router.post(
    "/stores/{store_id}/publish",
    response_model=JobQueued,
    status_code=202,
    responses=documented(404, 409, 422),
)
def publish_many(caller: WriteProducts, store_id: uuid.UUID, body: PublishMany) -> JobQueued:
    """Publish many products with one form as a `publish` sync job (live progress, a result
    per product: follow it at `/jobs/{job_id}`)."""
    with writing(caller.ctx) as session:
        job_id = publish.start_publish(
            session,
            ctx=caller.ctx,
            store_id=store_id,
            product_ids=body.product_ids,
            form=body.form,
        )
    return JobQueued(job_id=job_id)


@router.get(
    "/products/{product_id}/publications",
    response_model=list[PublicationDTO],
    responses=documented(404),
)
def list_publications(caller: ReadProducts, product_id: uuid.UUID) -> list[PublicationDTO]:
    """The stores where the product is published (or its publishing failed, with why)."""
    with session_scope(caller.ctx) as session:
        return publish.publications_of(session, ctx=caller.ctx, product_id=product_id)


@router.put(
    "/stores/{store_id}/publications/{product_id}",
    response_model=PublicationDTO,
    responses=documented(404, 422),
)
def set_override(
    caller: WriteProducts, store_id: uuid.UUID, product_id: uuid.UUID, body: Override
) -> PublicationDTO:
    """The store's own title and/or description for the product's listing ("" follows the
    master product); a content push is queued."""
    with writing(caller.ctx) as session:
        return publish.set_override(
            session,
            ctx=caller.ctx,
            store_id=store_id,
            product_id=product_id,
            title=body.title_override,
            description=body.description_override,
        )


@router.post(
    "/stores/{store_id}/content",
    response_model=JobQueued,
    status_code=202,
    responses=documented(404, 409, 422),
)
def push_content(caller: WriteProducts, store_id: uuid.UUID, body: ProductSelection) -> JobQueued:
    """Send the products' content (title, description, images, attributes, package) to their
    listings on the store as a `content` sync job."""
    with writing(caller.ctx) as session:
        job = jobs.start_job(
            session,
            ctx=caller.ctx,
            store_id=store_id,
            kind=JobKind.CONTENT.value,
            params={"product_ids": [str(p) for p in body.product_ids]},
        )
    return JobQueued(job_id=job.id)
