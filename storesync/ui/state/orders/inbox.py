"""The order inbox: filters, shipping-stage tabs with live counts, keyset pages, selection and
the order detail; the marketplace actions come from the mixins."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar
from urllib.parse import urlencode

import reflex as rx

from storesync.catalog.content import images as catalog_images
from storesync.core.errors import AppError
from storesync.fulfilment import paperwork
from storesync.fulfilment import shipping as fulfilment
from storesync.orders import service as orders
from storesync.orders.status import OrderStatus, ShippingStage
from storesync.tenancy.context import RequestContext
from storesync.ui.state.auth import SIGN_IN_ROUTE
from storesync.ui.state.orders.cancelling import CancelMixin
from storesync.ui.state.orders.returns import ReturnsMixin
from storesync.ui.state.orders.rows import (
    detail_row,
    event_rows,
    item_rows,
    items_brief,
    items_lines,
    order_row,
    recipient,
)
from storesync.ui.state.orders.shipping import ShippingMixin
from storesync.ui.state.page import PageState
from storesync.ui.state.paging import Paging

PAGE_SIZE = 25
STAGES = tuple(s.value for s in ShippingStage)
TABS = ("all", *STAGES, "returns")
STATUSES = tuple(s.value for s in OrderStatus)
PLATFORMS = ("shopee", "tiktok")
EXPORT_ROUTE = "/exports/orders.csv"
SNAPSHOT = ("id", "store_id", "number", "platform", "status", "stage")  # kept per ticked order


class OrdersState(ShippingMixin, CancelMixin, ReturnsMixin, Paging, PageState):
    MISSING: ClassVar[str] = "that order is not available"
    rows: list[dict[str, str]] = []
    tab: str = "all"  # all, a shipping stage, or returns
    status: str = ""
    platform: str = ""
    search: str = ""
    counts: dict[str, str] = {}  # tab → how many orders (returns: waiting for a decision)
    waiting_new: int = 0  # orders that arrived while a later page is shown
    detail: dict[str, str] = {}
    detail_items: list[dict[str, str]] = []
    detail_events: list[dict[str, str]] = []
    detail_recipient: list[str] = []
    selected: list[str] = []  # order ids ticked for a bulk action
    _picked: dict[str, dict[str, str]] = {}  # ticked order id → what the actions need of it
    _return_to: str = ""  # the order whose detail an action dialog replaced

    @rx.event
    def load(self):
        # a dialog is not a place to come back to: a reload or a visit opens the page closed
        self._close_detail()
        self._return_to = ""
        self.cancel_open, self.cancel_orders, self.cancel_results = False, [], []
        self.cancel_busy = False
        self.arrange_open, self.arrange_loading = False, False
        self.arrange_groups, self.arrange_jobs, self.arrange_results = [], [], []
        asked = str(self.router.url.query_parameters.get("q", "") or "").strip()[:200]
        if asked:  # a link to an order (the activity feed's): show it
            self.search, self.status, self.platform, self.tab = asked, "", "", "all"
            self.cursors = []
        return self._page_load()

    # -- reading ---------------------------------------------------------------------------------

    def _load(self, ctx: RequestContext) -> None:
        with self._session(ctx) as session:
            self._count(session, ctx)
            if self.tab == "returns":
                self._load_returns(session, ctx)
                return
            page = orders.list_orders(
                session,
                ctx=ctx,
                status=self.status or None,
                platform=self.platform or None,
                search=self.search or None,
                stage=self.tab if self.tab in STAGES else None,
                limit=PAGE_SIZE,
                cursor=self._cursor(),
            )
            shown = [o.id for o in page.items]
            picks = paperwork.pick_items(session, ctx=ctx, order_ids=shown) if shown else []
            first_sku: dict[str, str] = {}
            for pick in picks:
                first_sku.setdefault(pick.order_id, pick.sku)
            thumbs = catalog_images.thumbnails_of_skus(
                session, ctx=ctx, skus=list(first_sku.values())
            )
        brief, lines = items_brief(picks), items_lines(picks)
        self.rows = [
            {
                **order_row(o, brief.get(str(o.id), ""), lines.get(str(o.id), "")),
                "thumb": thumbs.get(first_sku.get(str(o.id), ""), ""),
            }
            for o in page.items
        ]
        self._paged(page.next_cursor)
        if not self.cursors:
            self.waiting_new = 0
        fresh = {r["id"]: _snapshot(r) for r in self.rows if r["id"] in self._picked}
        if fresh:  # a ticked order moved on (arranged, printed): keep its snapshot true
            self._picked = {**self._picked, **fresh}

    def _count(self, session: Any, ctx: RequestContext) -> None:
        stages = fulfilment.stage_counts(session, ctx=ctx)
        self.counts = {
            **{stage: str(n) for stage, n in stages.items()},
            "returns": self._count_unresolved(session, ctx),
        }

    def _on_events(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        try:
            self._follow_jobs(ctx, events)
        finally:
            self._on_order_events(ctx, events)

    def _on_order_events(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        changed = [e for e in events if str(e["type"]).startswith("order.")]
        if not changed:
            return
        if self.cursors:  # a later page stays put; the tabs still count
            self.waiting_new += sum(1 for e in changed if e["type"] == "order.created")
            with self._session(ctx) as session:
                self._count(session, ctx)
        else:
            self._load(ctx)
        shown = self.detail.get("id")
        if shown and any(e["data"].get("order_id") == shown for e in changed):
            self._open(ctx, uuid.UUID(shown))

    @rx.var
    def export_href(self) -> str:
        """The CSV export of what the filters show."""
        query = {
            "status": self.status,
            "platform": self.platform,
            "stage": self.tab if self.tab in STAGES else "",
            "q": self.search,
        }
        wanted = urlencode({k: v for k, v in query.items() if v})
        return f"{EXPORT_ROUTE}?{wanted}" if wanted else EXPORT_ROUTE

    # -- filters and tabs ------------------------------------------------------------------------

    @rx.event
    def show_tab(self, tab: str):
        self.tab = tab if tab in TABS else "all"
        if self.tab != "all":
            self.status = ""  # a shipping stage is a part of to_ship
        return self._restart()

    @rx.event
    def search_orders(self, form_data: dict[str, str]):
        self.search = form_data.get("search", "").strip()[:100]
        return self._restart()

    @rx.event
    def set_status_filter(self, value: str):
        self.status = value if value in STATUSES else ""
        if self.status:
            self.tab = "all"
        return self._restart()

    @rx.event
    def set_platform_filter(self, value: str):
        self.platform = value if value in PLATFORMS else ""
        return self._restart()

    @rx.event
    def first_page(self):
        return self._restart()

    # -- selection -------------------------------------------------------------------------------

    @rx.var
    def page_selected(self) -> bool:
        """Every order shown is ticked."""
        return bool(self.rows) and all(r["id"] in self.selected for r in self.rows)

    @rx.event
    def toggle_selected(self, order_id: str, ticked: bool):
        row = next((r for r in self.rows if r["id"] == order_id), None)
        self._tick([row] if row else [], ticked, [order_id])

    @rx.event
    def toggle_page(self, ticked: bool):
        self._tick(self.rows, ticked, [r["id"] for r in self.rows])

    def _tick(self, rows: list[dict[str, str]], ticked: bool, ids: list[str]) -> None:
        rest = [i for i in self.selected if i not in ids]
        kept = {i: o for i, o in self._picked.items() if i not in ids}
        if ticked:
            self.selected = [*rest, *(r["id"] for r in rows)]
            self._picked = {**kept, **{r["id"]: _snapshot(r) for r in rows}}
        else:
            self.selected, self._picked = rest, kept

    @rx.event
    def clear_selection(self):
        self.selected, self._picked, self.print_failures = [], {}, []

    def _chosen(self) -> list[dict[str, str]]:
        return [self._picked[i] for i in self.selected if i in self._picked]

    # -- the order detail ------------------------------------------------------------------------

    @rx.event
    def open_order(self, order_id: str):
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN_ROUTE)
        try:
            self._open(ctx, uuid.UUID(order_id))
        except (AppError, ValueError):
            return rx.toast.error(self.MISSING, id="toast-error")
        return None

    def _open(self, ctx: RequestContext, order_id: uuid.UUID) -> None:
        with self._session(ctx) as session:
            order = orders.get_order(session, ctx=ctx, order_id=order_id)
            self._load_detail_returns(session, ctx, order_id)
        self.detail = detail_row(order)
        self.detail_items = item_rows(order)
        self.detail_events = event_rows(order)
        self.detail_recipient = recipient(order)

    def _refresh_detail(self, ctx: RequestContext) -> None:
        shown = self.detail.get("id")
        if shown:
            self._open(ctx, uuid.UUID(shown))

    @rx.event
    def close_order(self):
        self._close_detail()

    @rx.event
    def detail_open_change(self, is_open: bool):
        if not is_open:  # Escape or a click outside
            self._close_detail()

    def _close_detail(self) -> None:
        self.detail, self.detail_items, self.detail_events = {}, [], []
        self.detail_recipient, self.detail_returns = [], []

    def _leave_detail(self) -> dict[str, str]:
        """An action dialog takes the detail's place; it comes back when the dialog closes."""
        order = _snapshot(self.detail)
        self._return_to = order["id"]
        self._close_detail()
        return order

    def _back_to_detail(self, ctx: RequestContext) -> None:
        order_id, self._return_to = self._return_to, ""
        if order_id:
            try:
                self._open(ctx, uuid.UUID(order_id))
            except AppError:
                self._close_detail()


def _snapshot(row: dict[str, str]) -> dict[str, str]:
    return {k: row.get(k, "") for k in SNAPSHOT}
