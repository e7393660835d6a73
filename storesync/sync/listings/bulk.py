"""What the listing import, the review queue and product creation share: the tables they write
set-based (`storesync.core.bulk`), their chunk size, and the store check."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import Session

from storesync.catalog.models import Product, ProductVariant
from storesync.channels.models import ChannelListing, Store
from storesync.core.errors import NotFound
from storesync.core.models import table_of
from storesync.tenancy.context import RequestContext

CHUNK = 1000
LISTINGS = table_of(ChannelListing)
VARIANTS = table_of(ProductVariant)
PRODUCTS = table_of(Product)
STORES = table_of(Store)


def require_store(session: Session, ctx: RequestContext, store_id: uuid.UUID) -> None:
    """`NotFound` unless the store belongs to the caller's organization."""
    found = session.execute(
        sa.select(STORES.c.id).where(
            STORES.c.id == store_id, STORES.c.organization_id == ctx.organization_id
        )
    ).first()
    if found is None:
        raise NotFound("store", store_id)
