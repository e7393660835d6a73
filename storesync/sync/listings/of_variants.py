"""The channel listings of some master variants (a product's, a page of products'): where each
is sold and in what state."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import Session

from storesync.sync.listings.bulk import LISTINGS
from storesync.sync.listings.schemas import ListingDTO
from storesync.sync.listings.service import _dto, _listing_query
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission


def listings_of_variants(
    session: Session, *, ctx: RequestContext, variant_ids: Sequence[uuid.UUID]
) -> list[ListingDTO]:
    """Listings linked to any of `variant_ids`, by store then title. Needs READ."""
    ctx.require(Permission.READ)
    if not variant_ids:
        return []
    rows = session.execute(
        _listing_query()
        .where(
            LISTINGS.c.organization_id == ctx.organization_id,
            LISTINGS.c.variant_id.in_(list(variant_ids)),
        )
        .order_by(LISTINGS.c.store_id, LISTINGS.c.title, LISTINGS.c.id)
    ).all()
    return [_dto(row) for row in rows]
