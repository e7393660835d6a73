"""Inventory: stock per variant and location, adjust with a reason, ledger history, low stock."""

from __future__ import annotations

import uuid
from typing import Any

import reflex as rx

from storesync.core.errors import AppError, ValidationFailed
from storesync.inventory import queries
from storesync.inventory import service as inventory
from storesync.tenancy.context import RequestContext
from storesync.ui.format import label, when
from storesync.ui.state.page import PageState
from storesync.ui.state.paging import Paging

PAGE_SIZE = 25


class InventoryState(Paging, PageState):
    rows: list[dict[str, str]] = []
    search: str = ""
    low_only: bool = False
    adjusting: dict[str, str] = {}  # the row being adjusted
    history: list[dict[str, str]] = []
    history_of: str = ""

    @rx.event
    def load(self):
        # a dialog is not a place to come back to: a reload or a visit opens the page closed
        self.adjusting, self.history, self.history_of = {}, [], ""
        asked = str(self.router.url.query_parameters.get("q", "") or "").strip()[:200]
        if asked:  # a link to a SKU (the activity feed's): show it
            self.search, self.low_only, self.cursors = asked[:100], False, []
        return self._page_load()

    def _load(self, ctx: RequestContext) -> None:
        with self._session(ctx) as session:
            page = queries.list_stock(
                session,
                ctx=ctx,
                search=self.search or None,
                low_only=self.low_only,
                limit=PAGE_SIZE,
                cursor=self._cursor(),
            )
        self.rows = [
            {
                "item_id": str(r.inventory_item_id),
                "variant_id": str(r.variant_id),
                "location_id": str(r.location_id),
                "sku": r.sku,
                "title": r.title,
                "location": r.location,
                "on_hand": str(r.on_hand),
                "reserved": str(r.reserved),
                "available": str(r.available),
                "low": "yes" if r.available <= r.reorder_point else "",
            }
            for r in page.items
        ]
        self._paged(page.next_cursor)

    def _on_events(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        if any(str(e["type"]).startswith(("order.", "stock.")) for e in events):
            self._load(ctx)

    @rx.event
    def search_stock(self, form_data: dict[str, str]):
        self.search = form_data.get("search", "").strip()[:100]
        return self._restart()

    @rx.event
    def toggle_low(self, value: bool):
        self.low_only = bool(value)
        return self._restart()

    @rx.event
    def start_adjust(self, item_id: str):
        self.adjusting = next((r for r in self.rows if r["item_id"] == item_id), {})

    @rx.event
    def cancel_adjust(self):
        self.adjusting = {}

    @rx.event
    def adjust_open_change(self, is_open: bool):
        if not is_open:  # Escape or a click outside
            self.adjusting = {}

    @rx.event
    def adjust(self, form_data: dict[str, str]):
        """Change on-hand by a signed amount with a reason; needs ADJUST_STOCK (the service
        refuses a viewer even when the browser sends the event by hand)."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect("/signin")
        row = self.adjusting
        try:
            delta = _whole_number(form_data.get("delta", ""))
            with self._writing(ctx) as session:
                level = inventory.adjust_stock(
                    session,
                    ctx=ctx,
                    variant_id=uuid.UUID(row.get("variant_id", "")),
                    location_id=uuid.UUID(row.get("location_id", "")),
                    delta=delta,
                    reason=form_data.get("reason", ""),
                )
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error("choose a stock row to adjust", id="toast-error")
        self.adjusting = {}
        self._load(ctx)
        return rx.toast.success(f"on hand is now {level.on_hand}", id="toast-success")

    @rx.event
    def show_history(self, item_id: str):
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect("/signin")
        try:
            with self._session(ctx) as session:
                page = inventory.stock_history(
                    session, ctx=ctx, inventory_item_id=uuid.UUID(item_id), limit=50
                )
        except (AppError, ValueError):
            return rx.toast.error("that stock row is not available", id="toast-error")
        self.history_of = next((r["sku"] for r in self.rows if r["item_id"] == item_id), "")
        self.history = [
            {
                "at": when(e.created_at),
                "kind": label(e.kind),
                "on_hand": f"{e.on_hand_delta:+d} → {e.on_hand_after}",
                "reserved": f"{e.reserved_delta:+d} → {e.reserved_after}",
                "reason": e.reason,
            }
            for e in page.items
        ]
        return None

    @rx.event
    def close_history(self):
        self.history, self.history_of = [], ""

    @rx.event
    def history_open_change(self, is_open: bool):
        if not is_open:  # Escape or a click outside
            self.history, self.history_of = [], ""


def _whole_number(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValidationFailed("delta", "must be a whole number, e.g. 5 or -3") from None
