"""Channel listings: import a store's listings, match them to master variants, and the review
queue (link, unlink, ignore, list).

The import writes set-based while it pages the channel, so 100,000 listings take about as long
as the rate-limited paging: the store's listings and the organization's variants are loaded
once, the channel's variants are written in chunks of bulk INSERTs and executemany UPDATEs of
changed rows only, and matching runs in memory (`listings.matching`). Only a unique exact
SKU links automatically; every other candidate waits in the review queue as a suggestion.

Linking a listing records its variant in the session's `stock_touched` set, so the outbox
queues a stock push to the channel in the same transaction.
"""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storesync.catalog.models import Product
from storesync.channels.connections import open_adapter
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, NotFound, ValidationFailed
from storesync.core.models import table_of
from storesync.core.pagination import (
    Page,
    clamp_limit,
    contains_pattern,
    decode_cursor,
    encode_cursor,
)
from storesync.db import session_scope
from storesync.inventory.items import touch
from storesync.settings import Settings
from storesync.sync.jobs.progress import ProgressSink, no_progress
from storesync.sync.listings.bulk import CHUNK, LISTINGS, VARIANTS, require_store
from storesync.sync.listings.products import create_products_from_listings
from storesync.sync.listings.schemas import MATCH_STATUSES, ListingDTO, ListingImportReport
from storesync.sync.listings.upsert import Fetched, ListingUpsert, load_index, load_listings
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

PRODUCTS = table_of(Product)
# A suggestion this sure (or surer) may be accepted as it stands; below it a person links by hand.
ACCEPT_THRESHOLD = Decimal("0.80")

Progress = Callable[[int, int | None], None]


def _queue_counts(session: Session, ctx: RequestContext, store_id: uuid.UUID) -> dict[str, int]:
    rows = session.execute(
        sa.select(LISTINGS.c.match_status, sa.func.count())
        .where(LISTINGS.c.organization_id == ctx.organization_id, LISTINGS.c.store_id == store_id)
        .group_by(LISTINGS.c.match_status)
    )
    return {status: count for status, count in rows}


async def _fetch_chunks(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    settings: Settings | None,
    sink: ProgressSink,
) -> AsyncIterator[list[Fetched]]:
    """Every variant the store's channel lists, in chunks of CHUNK (the last one shorter).

    The store's credentials are read in a short session of its own. `sink` (a job's progress
    sink, which may raise `JobCancelled`) hears every product, in phase "fetch" (total unknown:
    0)."""
    with session_scope(ctx, engine=session.get_bind()) as own:  # type: ignore[arg-type]
        require_store(own, ctx, store_id)
        adapter = open_adapter(own, ctx=ctx, store_id=store_id, settings=settings)
    chunk: list[Fetched] = []
    done = 0
    try:
        async for product in adapter.fetch_products():
            chunk.extend(Fetched.of(variant) for variant in product.variants)
            done += len(product.variants)
            sink(phase="fetch", done=done, total=0)
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    finally:
        await adapter.connection.http.client.aclose()


async def import_listings(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID,
    settings: Settings | None = None,
    create_products: bool = False,
    progress: Progress | None = None,
    sink: ProgressSink = no_progress,
) -> ListingImportReport:
    """Fetch every listing of a connected store, then upsert one `channel_listing` per channel
    variant (bulk inserts, and updates of changed rows only) and match new and still-unmatched
    listings: a unique exact SKU links automatically, other candidates become suggestions
    (`listings.matching`). With `create_products`, listings left unmatched become master
    products (`create_products_from_listings`).

    Writing overlaps paging: each chunk of CHUNK variants is written in a worker thread while
    the next pages are fetched (a rate-limited fetch is mostly waiting), one chunk at a time, so
    the session is never used by two threads at once. The import is still one transaction: a
    failed or cancelled fetch leaves nothing written once the caller rolls back.

    `progress(fetched, None)` is called after every chunk and `progress(done, done)` at the
    end; `sink` hears phase "fetch" after every product, then "write" once the last page is in.
    Linked variants are added to the session's `stock_touched`. Needs RUN_SYNC (and
    MANAGE_CATALOG with `create_products`); flushes, never commits."""
    ctx.require(Permission.RUN_SYNC)
    if create_products:
        ctx.require(Permission.MANAGE_CATALOG)
    upsert = ListingUpsert(
        session,
        ctx,
        store_id,
        index=load_index(session, ctx=ctx),
        stored=load_listings(session, ctx, store_id),
    )
    writing: asyncio.Future[None] | None = None
    fetched = 0
    try:
        async for chunk in _fetch_chunks(
            session, ctx=ctx, store_id=store_id, settings=settings, sink=sink
        ):
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(asyncio.to_thread(upsert.write, chunk))
            fetched += len(chunk)
            # What the import has built so far lives until it ends: moved out of the cyclic
            # collector's sight, a full collection no longer walks it again and again (each
            # walk stalled the paging for 100-250 ms). Undone below.
            gc.freeze()
            if progress is not None:
                progress(fetched, None)
        sink(phase="write", done=upsert.fetched, total=fetched)
        if writing is not None:
            await writing
    finally:
        gc.unfreeze()
        if writing is not None and not writing.done():
            # The caller rolls back next: let the thread's write end first.
            await asyncio.wait([writing])
    touch(session, upsert.linked)
    made = 0
    if create_products:
        made = create_products_from_listings(session, ctx=ctx, store_id=store_id)
    session.flush()
    if progress is not None:
        progress(upsert.fetched, upsert.fetched)
    sink(phase="write", done=upsert.fetched, total=upsert.fetched)
    queue = _queue_counts(session, ctx, store_id)
    return ListingImportReport(
        store_id=store_id,
        fetched=upsert.fetched,
        created=upsert.created,
        updated=upsert.updated,
        unchanged=upsert.unchanged,
        matched=upsert.auto_linked,
        suggested=queue.get("suggested", 0),
        unmatched=queue.get("unmatched", 0),
        created_products=made,
    )


# -- the review queue ---------------------------------------------------------------------------


def _listing_query() -> sa.Select[Any]:
    linked = VARIANTS.alias("linked_variant")
    suggested = VARIANTS.alias("suggested_variant")
    product = PRODUCTS.alias("suggested_product")
    return sa.select(
        LISTINGS,
        linked.c.variant_sku.label("variant_sku"),
        suggested.c.variant_sku.label("suggested_sku"),
        product.c.title.label("suggested_title"),
        product.c.images.label("suggested_images"),
    ).select_from(
        LISTINGS.outerjoin(linked, linked.c.id == LISTINGS.c.variant_id)
        .outerjoin(suggested, suggested.c.id == LISTINGS.c.suggested_variant_id)
        .outerjoin(product, product.c.id == suggested.c.product_id)
    )


def thumbnail(images: Any) -> str:
    """The URL of a product's first image's thumbnail, or "" when it has none."""
    first = images[0] if isinstance(images, list) and images else None
    key = first.get("thumb_key") if isinstance(first, dict) else None
    return f"/media/{key}" if isinstance(key, str) and key else ""


def _dto(row: Any) -> ListingDTO:
    values = dict(row._mapping)
    values["location_id"] = str((values.get("raw") or {}).get("location_id") or "")
    values["suggested_thumbnail"] = thumbnail(values.pop("suggested_images", None))
    return ListingDTO.model_validate(values)


def get_listing(session: Session, *, ctx: RequestContext, listing_id: uuid.UUID) -> ListingDTO:
    """One listing with the SKUs of its linked and suggested variants. Needs READ."""
    ctx.require(Permission.READ)
    row = session.execute(
        _listing_query().where(
            LISTINGS.c.id == listing_id, LISTINGS.c.organization_id == ctx.organization_id
        )
    ).first()
    if row is None:
        raise NotFound("listing", listing_id)
    return _dto(row)


def listings_of_variants(
    session: Session, *, ctx: RequestContext, variant_ids: Sequence[uuid.UUID]
) -> list[ListingDTO]:
    """The channel listings linked to any of `variant_ids` (a product's, a page of products'):
    where each is sold and in what state, by store then title. Needs READ."""
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


def _set_match(
    session: Session,
    ctx: RequestContext,
    listing_id: uuid.UUID,
    values: dict[str, Any],
    action: str,
) -> ListingDTO:
    before = get_listing(session, ctx=ctx, listing_id=listing_id)
    result = session.execute(
        sa.update(LISTINGS)
        .where(LISTINGS.c.id == listing_id, LISTINGS.c.organization_id == ctx.organization_id)
        .values(**values, updated_at=utcnow())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("listing", listing_id)
    session.flush()
    after = get_listing(session, ctx=ctx, listing_id=listing_id)
    record(
        session,
        ctx=ctx,
        action=action,
        entity_type="listing",
        entity_id=listing_id,
        before={"match_status": before.match_status, "variant_sku": before.variant_sku},
        after={"match_status": after.match_status, "variant_sku": after.variant_sku},
    )
    return after


def _cleared(status: str) -> dict[str, Any]:
    return {
        "variant_id": None,
        "suggested_variant_id": None,
        "match_confidence": None,
        "match_method": "",
        "match_status": status,
    }


def accept_suggestion(
    session: Session, *, ctx: RequestContext, listing_id: uuid.UUID
) -> ListingDTO:
    """Link a listing to its suggested variant. Only a suggestion at `ACCEPT_THRESHOLD` or
    above may be accepted as it stands; a lower one is refused (`suggestion_needs_review`) and
    a person links the listing by hand. Needs MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    listing = get_listing(session, ctx=ctx, listing_id=listing_id)
    if listing.suggested_variant_id is None:
        raise NotFound("suggestion", listing_id)
    confidence = listing.match_confidence or Decimal(0)
    if confidence < ACCEPT_THRESHOLD:
        raise AppError(
            ErrorType.VALIDATION,
            "suggestion_needs_review",
            f"this suggestion is {int(confidence * 100)}% sure; below "
            f"{int(ACCEPT_THRESHOLD * 100)}% link the listing by hand",
            details={"confidence": str(confidence), "threshold": str(ACCEPT_THRESHOLD)},
        )
    values = {
        **_cleared("matched"),
        "variant_id": listing.suggested_variant_id,
        "match_method": "accepted",
        "match_confidence": listing.match_confidence,
    }
    accepted = _set_match(session, ctx, listing_id, values, "listing.accept")
    touch(session, [listing.suggested_variant_id])
    return accepted


def link_listing(
    session: Session, *, ctx: RequestContext, listing_id: uuid.UUID, variant_id: uuid.UUID
) -> ListingDTO:
    """Link a listing to a master variant by hand (method "manual"), clearing any suggestion;
    the variant's stock is then pushed to the channel. Needs MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    live = session.execute(
        sa.select(VARIANTS.c.id).where(
            VARIANTS.c.id == variant_id,
            VARIANTS.c.organization_id == ctx.organization_id,
            VARIANTS.c.deleted_at.is_(None),
        )
    ).first()
    if live is None:
        raise NotFound("variant", variant_id)
    values = {**_cleared("matched"), "variant_id": variant_id, "match_method": "manual"}
    listing = _set_match(session, ctx, listing_id, values, "listing.link")
    touch(session, [variant_id])
    return listing


def unlink_listing(session: Session, *, ctx: RequestContext, listing_id: uuid.UUID) -> ListingDTO:
    """Detach a listing from its variant (or take it out of "ignored"): it is unmatched again
    and no longer receives stock. Needs MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    return _set_match(session, ctx, listing_id, _cleared("unmatched"), "listing.unlink")


def ignore_listing(session: Session, *, ctx: RequestContext, listing_id: uuid.UUID) -> ListingDTO:
    """Keep a listing out of matching and stock sync (and out of the review queue). Needs
    MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    return _set_match(session, ctx, listing_id, _cleared("ignored"), "listing.ignore")


def list_listings(
    session: Session,
    *,
    ctx: RequestContext,
    store_id: uuid.UUID | None = None,
    match_status: str | None = None,
    search: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ListingDTO]:
    """Listings ordered by title (variants of one item together), keyset-paginated. Filters:
    store, match status (matched / unmatched / suggested / ignored), and `search`, a
    case-insensitive substring of the title, model name, SKU or platform item id. Needs READ."""
    ctx.require(Permission.READ)
    size = clamp_limit(limit)
    query = _listing_query().where(LISTINGS.c.organization_id == ctx.organization_id)
    if store_id is not None:
        query = query.where(LISTINGS.c.store_id == store_id)
    if match_status is not None:
        if match_status not in MATCH_STATUSES:
            raise ValidationFailed("match_status", f"must be one of {', '.join(MATCH_STATUSES)}")
        query = query.where(LISTINGS.c.match_status == match_status)
    if search and search.strip():
        pattern = contains_pattern(search.strip())
        query = query.where(
            sa.or_(
                *(
                    LISTINGS.c[name].ilike(pattern, escape="\\")
                    for name in ("title", "model_name", "platform_sku", "platform_item_id")
                )
            )
        )
    if cursor:
        title, last_id = decode_cursor(cursor, parts=2)
        try:
            after = uuid.UUID(str(last_id))
        except ValueError:
            raise ValidationFailed("cursor", "is not a valid page cursor") from None
        query = query.where(
            sa.or_(
                LISTINGS.c.title > (title or ""),
                sa.and_(LISTINGS.c.title == (title or ""), LISTINGS.c.id > after),
            )
        )
    rows = session.execute(query.order_by(LISTINGS.c.title, LISTINGS.c.id).limit(size + 1)).all()
    items = [_dto(row) for row in rows[:size]]
    next_cursor = encode_cursor(items[-1].title, items[-1].id) if len(rows) > size else None
    return Page[ListingDTO](items=items, next_cursor=next_cursor)
