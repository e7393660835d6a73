"""Stores and their listings: the connected stores (one, its health checked on the marketplace
now, its metrics, its price rule previewed and saved) and the listing review queue (store, match
status, search; keyset pages) with link, unlink and ignore."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from storesync.api.auth import reader, writer
from storesync.api.errors import documented
from storesync.channels.schemas import StoreDTO, StoreHealthDTO, StoreMetricsDTO
from storesync.core.pagination import MAX_PAGE_SIZE, Page
from storesync.db import session_scope, writing
from storesync.stores import service as stores
from storesync.sync.listings import service as listings
from storesync.sync.listings.schemas import ListingDTO
from storesync.sync.prices import service as prices
from storesync.sync.prices.rules import PriceRule, parse_rule
from storesync.sync.prices.service import PricedListing
from storesync.tenancy.api_keys import ApiCaller

router = APIRouter()
ReadStores = Annotated[ApiCaller, reader("stores")]
ReadListings = Annotated[ApiCaller, reader("listings")]
WriteListings = Annotated[ApiCaller, writer("listings")]
WriteStores = Annotated[ApiCaller, writer("stores")]


class ListingLink(BaseModel):
    """The master variant a listing sells: its stock is pushed to the channel from now on."""

    model_config = ConfigDict(extra="forbid")

    variant_id: uuid.UUID


# -- stores --------------------------------------------------------------------------------------


@router.get("/stores", response_model=list[StoreDTO], tags=["stores"], responses=documented())
def list_stores(caller: ReadStores) -> list[StoreDTO]:
    """The organization's stores, oldest first (never their credentials)."""
    with session_scope(caller.ctx) as session:
        return stores.list_stores(session, ctx=caller.ctx)


@router.get(
    "/stores/{store_id}", response_model=StoreDTO, tags=["stores"], responses=documented(404)
)
def get_store(caller: ReadStores, store_id: uuid.UUID) -> StoreDTO:
    with session_scope(caller.ctx) as session:
        return stores.get_store(session, ctx=caller.ctx, store_id=store_id)


@router.get(
    "/stores/{store_id}/health",
    response_model=StoreHealthDTO,
    tags=["stores"],
    responses=documented(404, 502, 503),
)
async def check_store_health(caller: ReadStores, store_id: uuid.UUID) -> StoreHealthDTO:
    """Ask the marketplace now: token valid, API reachable, latency, token expiry and circuit
    state. A failed check is an answer (`ok` false, `detail` says why), not an error."""
    return await stores.check_health(ctx=caller.ctx, store_id=store_id)


@router.get(
    "/stores/{store_id}/metrics",
    response_model=StoreMetricsDTO,
    tags=["stores"],
    responses=documented(404),
)
def store_metrics(caller: ReadStores, store_id: uuid.UUID) -> StoreMetricsDTO:
    """Listings (and how many are matched), orders in 24 h, last sync, sync error rate."""
    with session_scope(caller.ctx) as session:
        return stores.store_metrics(session, ctx=caller.ctx, store_id=store_id)


# -- listings ------------------------------------------------------------------------------------


@router.get(
    "/listings", response_model=Page[ListingDTO], tags=["listings"], responses=documented(422)
)
def list_listings(
    caller: ReadListings,
    store_id: uuid.UUID | None = None,
    match_status: str | None = None,
    search: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> Page[ListingDTO]:
    """The review queue: listings by title, filtered by store, `match_status` (matched,
    unmatched, suggested, ignored) and `search` (title, model name, SKU or item id);
    `next_cursor` fetches the next page."""
    with session_scope(caller.ctx) as session:
        return listings.list_listings(
            session,
            ctx=caller.ctx,
            store_id=store_id,
            match_status=match_status,
            search=search,
            limit=limit,
            cursor=cursor,
        )


@router.get(
    "/listings/{listing_id}",
    response_model=ListingDTO,
    tags=["listings"],
    responses=documented(404),
)
def get_listing(caller: ReadListings, listing_id: uuid.UUID) -> ListingDTO:
    """One listing with the SKUs of its linked and suggested variants."""
    with session_scope(caller.ctx) as session:
        return listings.get_listing(session, ctx=caller.ctx, listing_id=listing_id)


@router.post(
    "/listings/{listing_id}/link",
    response_model=ListingDTO,
    tags=["listings"],
    responses=documented(400, 404, 409, 413, 422),
)
def link_listing(caller: WriteListings, listing_id: uuid.UUID, body: ListingLink) -> ListingDTO:
    """Link the listing to a master variant by hand (method `manual`), clearing any suggestion;
    the variant's stock is then pushed to the channel. 404 for an unknown listing or variant."""
    with writing(caller.ctx) as session:
        return listings.link_listing(
            session, ctx=caller.ctx, listing_id=listing_id, variant_id=body.variant_id
        )


@router.post(
    "/listings/{listing_id}/unlink",
    response_model=ListingDTO,
    tags=["listings"],
    responses=documented(404, 409),
)
def unlink_listing(caller: WriteListings, listing_id: uuid.UUID) -> ListingDTO:
    """Detach the listing from its variant (or take it out of `ignored`): it is unmatched again
    and no longer receives stock."""
    with writing(caller.ctx) as session:
        return listings.unlink_listing(session, ctx=caller.ctx, listing_id=listing_id)


@router.post(
    "/listings/{listing_id}/ignore",
    response_model=ListingDTO,
    tags=["listings"],
    responses=documented(404, 409),
)
def ignore_listing(caller: WriteListings, listing_id: uuid.UUID) -> ListingDTO:
    """Keep the listing out of matching, stock sync and the review queue."""
    with writing(caller.ctx) as session:
        return listings.ignore_listing(session, ctx=caller.ctx, listing_id=listing_id)


# -- prices --------------------------------------------------------------------------------------


class PriceRuleIn(BaseModel):
    """master price x (1 + markup_percent / 100) + add, rounded the currency's way; a listing
    it would price below its variant's cost + floor is refused, named."""

    model_config = ConfigDict(extra="forbid")

    markup_percent: Decimal = Decimal(0)
    add: Decimal = Decimal(0)
    floor: Decimal = Decimal(0)

    def rule(self) -> PriceRule:
        return parse_rule(self.model_dump())


class PriceRuleOut(BaseModel):
    markup_percent: Decimal
    add: Decimal
    floor: Decimal
    description: str
    push_queued: bool = False


def _rule_out(rule: PriceRule, queued: bool = False) -> PriceRuleOut:
    return PriceRuleOut(
        markup_percent=rule.markup_percent,
        add=rule.add,
        floor=rule.floor,
        description=rule.describe(),
        push_queued=queued,
    )


@router.get(
    "/stores/{store_id}/price-rule",
    response_model=PriceRuleOut,
    tags=["stores"],
    responses=documented(404),
)
def get_price_rule(caller: ReadStores, store_id: uuid.UUID) -> PriceRuleOut:
    """The store's price rule (the master price as it is, until one is saved)."""
    with session_scope(caller.ctx) as session:
        return _rule_out(prices.get_rule(session, ctx=caller.ctx, store_id=store_id))


@router.post(
    "/stores/{store_id}/price-rule/preview",
    response_model=list[PricedListing],
    tags=["stores"],
    responses=documented(404, 422),
)
def preview_price_rule(
    caller: ReadStores, store_id: uuid.UUID, body: PriceRuleIn
) -> list[PricedListing]:
    """What the rule would send: each linked listing's channel price now and the rule's, with
    why a price would not be sent (`problem`). Saves nothing."""
    with session_scope(caller.ctx) as session:
        return prices.preview(session, ctx=caller.ctx, store_id=store_id, rule=body.rule())


@router.put(
    "/stores/{store_id}/price-rule",
    response_model=PriceRuleOut,
    tags=["stores"],
    responses=documented(404, 409, 422),
)
def save_price_rule(caller: WriteStores, store_id: uuid.UUID, body: PriceRuleIn) -> PriceRuleOut:
    """Keep the rule and queue the price push (a `prices` sync job; `push_queued` false when
    one is already queued or running: it reads the rule when it runs). Refused (422, naming the
    listing's SKU in `details.sku`) when a listing would go below its cost + floor."""
    rule = body.rule()
    with writing(caller.ctx) as session:
        prices.save_rule(session, ctx=caller.ctx, store_id=store_id, rule=rule)
        queued = prices.start_push(session, ctx=caller.ctx, store_id=store_id)
    return _rule_out(rule, queued)
