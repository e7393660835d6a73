"""Listings: the review queue of channel listings not yet linked to a master variant, with the
suggested matches; accept, link by SKU, unlink, ignore."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import reflex as rx

from storesync.catalog import service as catalog
from storesync.core.errors import ValidationFailed
from storesync.stores import service as stores
from storesync.sync.listings import service as listings
from storesync.sync.listings.schemas import ListingDTO
from storesync.tenancy.context import RequestContext
from storesync.ui.format import when
from storesync.ui.state.page import PageState, a_job_succeeded
from storesync.ui.state.paging import Paging

PAGE_SIZE = 25
STATUSES = ("suggested", "unmatched", "matched", "ignored")


REASONS = {
    "sku": "same SKU",
    "normalized_sku": "SKU alike (ignoring case, spaces and dashes)",
    "barcode": "same barcode",
    "title": "similar title",
}
THRESHOLD = f"{int(listings.ACCEPT_THRESHOLD * 100)}%"


def _row(listing: ListingDTO, platforms: dict[str, str]) -> dict[str, str]:
    confidence = listing.match_confidence
    sure = confidence is not None and confidence >= listings.ACCEPT_THRESHOLD
    return {
        "suggested_title": listing.suggested_title or "",
        "thumbnail": listing.suggested_thumbnail,
        "reason": REASONS.get(listing.match_method, listing.match_method.replace("_", " ")),
        "acceptable": "yes" if listing.suggested_sku and sure else "",
        "id": str(listing.id),
        "title": listing.title,
        "model": listing.model_name,
        "sku": listing.platform_sku or "(no SKU)",
        "platform": platforms.get(str(listing.store_id), ""),
        "status": listing.match_status,
        "suggested_sku": listing.suggested_sku or "",
        "confidence": f"{int(confidence * 100)}%" if confidence is not None else "",
        "method": listing.match_method,
        "linked_sku": listing.variant_sku or "",
        "pushed": (
            f"{listing.last_pushed_quantity} at {when(listing.last_pushed_at)}"
            if listing.last_pushed_at
            else ""
        ),
    }


class ListingsState(Paging, PageState):
    threshold: str = THRESHOLD
    MISSING: ClassVar[str] = "that listing is not available"
    rows: list[dict[str, str]] = []
    status: str = "suggested"
    search: str = ""

    @rx.event
    def load(self):
        return self._page_load()

    def _load(self, ctx: RequestContext) -> None:
        with self._session(ctx) as session:
            platforms = {str(s.id): s.platform for s in stores.list_stores(session, ctx=ctx)}
            page = listings.list_listings(
                session,
                ctx=ctx,
                match_status=self.status or None,
                search=self.search or None,
                limit=PAGE_SIZE,
                cursor=self._cursor(),
            )
        self.rows = [_row(listing, platforms) for listing in page.items]
        self._paged(page.next_cursor)

    def _on_events(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        if a_job_succeeded(events):
            self._load(ctx)

    @rx.event
    def set_status_filter(self, value: str):
        self.status = value if value in STATUSES else ""
        return self._restart()

    @rx.event
    def search_listings(self, form_data: dict[str, str]):
        self.search = form_data.get("search", "").strip()[:100]
        return self._restart()

    @rx.event
    def accept(self, listing_id: str):
        """Link the listing to its suggested variant (only at the threshold or above). Needs
        MANAGE_CATALOG."""

        return self._act(
            lambda session, ctx: listings.accept_suggestion(
                session, ctx=ctx, listing_id=uuid.UUID(listing_id)
            ),
            "linked to the suggested variant",
        )

    @rx.event
    def link_by_sku(self, form_data: dict[str, str]):
        """Link a listing to the master variant with exactly this SKU. Needs MANAGE_CATALOG."""
        sku = form_data.get("sku", "").strip()
        listing_id = form_data.get("listing_id", "")

        def link(session: Any, ctx: RequestContext) -> None:
            variant_id = _variant_with_sku(session, ctx, sku)
            listings.link_listing(
                session, ctx=ctx, listing_id=uuid.UUID(listing_id), variant_id=variant_id
            )

        return self._act(link, f"linked to {sku}")

    @rx.event
    def unlink(self, listing_id: str):
        return self._act(
            lambda session, ctx: listings.unlink_listing(
                session, ctx=ctx, listing_id=uuid.UUID(listing_id)
            ),
            "unlinked",
        )

    @rx.event
    def ignore(self, listing_id: str):
        return self._act(
            lambda session, ctx: listings.ignore_listing(
                session, ctx=ctx, listing_id=uuid.UUID(listing_id)
            ),
            "ignored",
        )


def _variant_with_sku(session: Any, ctx: RequestContext, sku: str) -> uuid.UUID:
    if not sku:
        raise ValidationFailed("sku", "enter the master SKU to link to")
    page = catalog.list_products(session, ctx=ctx, search=sku, limit=50)
    for product in page.items:
        for variant in product.variants:
            if variant.sku.lower() == sku.lower():
                return variant.id
    raise ValidationFailed("sku", f"no master variant has SKU {sku[:60]}")
