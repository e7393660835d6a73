"""Products and variants: list (search, status, keyset pages), get, create, update, delete,
variants, bulk update."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from storesync.api.auth import reader, writer
from storesync.api.errors import documented
from storesync.catalog import service as catalog
from storesync.catalog.schemas import (
    BulkResult,
    BulkUpdateItem,
    ProductDTO,
    ProductUpdate,
    VariantDTO,
    VariantInput,
    VariantUpdate,
)
from storesync.core.pagination import MAX_PAGE_SIZE, Page
from storesync.db import session_scope, writing
from storesync.sync.prices import service as prices
from storesync.sync.publish import service as publish
from storesync.tenancy.api_keys import ApiCaller

router = APIRouter(prefix="/products", tags=["products"])
PACKAGE_FIELDS = {"weight_grams", "length_mm", "width_mm", "height_mm"}
Read = Annotated[ApiCaller, reader("products")]
Write = Annotated[ApiCaller, writer("products")]


class ProductCreate(BaseModel):
    """A new product; without `variants` it gets one variant whose SKU is `sku` (or the handle
    upper-cased)."""

    model_config = ConfigDict(extra="forbid")

    handle: str
    title: str
    description: str = ""
    brand: str = ""
    category: str = ""
    status: str = "active"
    attributes: dict[str, Any] = {}
    images: list[str] = []
    variants: list[VariantInput] = []
    sku: str | None = None


class BulkUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BulkUpdateItem] = Field(max_length=catalog.MAX_BULK_ITEMS)


@router.get("", response_model=Page[ProductDTO], responses=documented(422))
def list_products(
    caller: Read,
    search: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> Page[ProductDTO]:
    """Products by handle, each with its variants; `next_cursor` fetches the next page."""
    with session_scope(caller.ctx) as session:
        return catalog.list_products(
            session, ctx=caller.ctx, search=search, status=status, limit=limit, cursor=cursor
        )


@router.get("/{product_id}", response_model=ProductDTO, responses=documented(404, 422))
def get_product(caller: Read, product_id: uuid.UUID) -> ProductDTO:
    with session_scope(caller.ctx) as session:
        return catalog.get_product(session, ctx=caller.ctx, product_id=product_id)


@router.post(
    "", response_model=ProductDTO, status_code=201, responses=documented(400, 409, 413, 422)
)
def create_product(caller: Write, body: ProductCreate) -> ProductDTO:
    """Create a product with its variants (handle and SKUs unique in the organization)."""
    with writing(caller.ctx) as session:
        fields = body.model_dump(exclude={"variants"})
        return catalog.create_product(session, ctx=caller.ctx, variants=body.variants, **fields)


@router.patch(
    "/{product_id}", response_model=ProductDTO, responses=documented(400, 404, 409, 413, 422)
)
def update_product(caller: Write, product_id: uuid.UUID, body: ProductUpdate) -> ProductDTO:
    """Change the fields given; the others stay. A change of title, description or attributes
    is sent on to every store where the product is published (a `content` job per store)."""
    with writing(caller.ctx) as session:
        before = publish.content_of(session, product_id)
        saved = catalog.update_product(session, ctx=caller.ctx, product_id=product_id, changes=body)
        if publish.content_of(session, product_id) != before:
            publish.start_content_pushes_for(session, ctx=caller.ctx, product_ids=[product_id])
        return saved


@router.delete("/{product_id}", response_model=ProductDTO, responses=documented(404, 409, 422))
def delete_product(caller: Write, product_id: uuid.UUID) -> ProductDTO:
    """Delete a product and its variants (their handle and SKUs stay reserved)."""
    with writing(caller.ctx) as session:
        return catalog.delete_product(session, ctx=caller.ctx, product_id=product_id)


@router.post(
    "/{product_id}/variants",
    response_model=VariantDTO,
    status_code=201,
    responses=documented(400, 404, 409, 413, 422),
)
def create_variant(caller: Write, product_id: uuid.UUID, body: VariantInput) -> VariantDTO:
    with writing(caller.ctx) as session:
        return catalog.create_variant(session, ctx=caller.ctx, product_id=product_id, variant=body)


@router.patch(
    "/variants/{variant_id}",
    response_model=VariantDTO,
    responses=documented(400, 404, 409, 413, 422),
)
def update_variant(caller: Write, variant_id: uuid.UUID, body: VariantUpdate) -> VariantDTO:
    """A given `price` is sent on to every channel that sells the variant (each store's price
    push is queued, and reads the store's price rule when it runs); a weight or size to every
    store where its product is published (a `content` job)."""
    with writing(caller.ctx) as session:
        saved = catalog.update_variant(session, ctx=caller.ctx, variant_id=variant_id, changes=body)
        if "price" in body.model_fields_set:
            prices.start_pushes_for(session, ctx=caller.ctx, variant_ids=[variant_id])
        if body.model_fields_set & PACKAGE_FIELDS:
            publish.start_content_pushes_for(
                session, ctx=caller.ctx, product_ids=[saved.product_id]
            )
        return saved


@router.post("/bulk", response_model=BulkResult, responses=documented(400, 409, 413, 422))
def bulk_update(caller: Write, body: BulkUpdate) -> BulkResult:
    """Price, cost, active flag and attributes of many variants (by `sku`) or products (by
    `handle`); each item reports its own outcome."""
    with writing(caller.ctx) as session:
        result = catalog.bulk_update(session, ctx=caller.ctx, items=body.items)
        prices.start_pushes_for(session, ctx=caller.ctx, variant_ids=result.repriced_variant_ids)
        return result
