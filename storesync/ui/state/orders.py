"""The order inbox: filters, keyset pages, order detail, fulfil; new orders arrive live."""

from __future__ import annotations

import uuid
from typing import Any

import reflex as rx

from storesync.core.errors import AppError
from storesync.orders import service as orders
from storesync.orders.schemas import OrderDetailDTO, OrderSummaryDTO
from storesync.tenancy.context import RequestContext
from storesync.ui.format import label, money, when
from storesync.ui.state.page import PageState
from storesync.ui.state.paging import Paging

PAGE_SIZE = 25


def _row(order: OrderSummaryDTO | OrderDetailDTO) -> dict[str, str]:
    return {
        "id": str(order.id),
        "number": order.order_number or order.platform_order_id,
        "platform": order.platform,
        "customer": order.customer_name,
        "status": str(order.status),
        "status_label": label(str(order.status)),
        "total": money(order.total, order.currency),
        "ordered_at": when(order.ordered_at),
    }


def _detail(order: OrderDetailDTO) -> dict[str, str]:
    return {
        **_row(order),
        "tracking": order.tracking_number,
        "oversold": "yes" if order.has_oversold_items else "",
    }


class OrdersState(Paging, PageState):
    rows: list[dict[str, str]] = []
    status: str = ""
    platform: str = ""
    search: str = ""
    waiting_new: int = 0  # orders that arrived while a later page is shown
    detail: dict[str, str] = {}
    detail_items: list[dict[str, str]] = []
    detail_events: list[dict[str, str]] = []
    selected: list[str] = []  # order ids ticked for a bulk change

    @rx.event
    def load(self):
        return self._page_load()

    def _load(self, ctx: RequestContext) -> None:
        cursor = self._cursor()
        with self._session(ctx) as session:
            page = orders.list_orders(
                session,
                ctx=ctx,
                status=self.status or None,
                platform=self.platform or None,
                search=self.search or None,
                limit=PAGE_SIZE,
                cursor=cursor or None,
            )
        self.rows = [_row(order) for order in page.items]
        self._paged(page.next_cursor)
        if not self.cursors:
            self.waiting_new = 0

    def _on_events(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        changed = [e for e in events if str(e["type"]).startswith("order.")]
        if not changed:
            return
        if self.cursors:
            self.waiting_new += sum(1 for e in changed if e["type"] == "order.created")
        else:
            self._load(ctx)
        shown = self.detail.get("id")
        if shown and any(e["data"].get("order_id") == shown for e in changed):
            self._open(ctx, uuid.UUID(shown))

    @rx.event
    def search_orders(self, form_data: dict[str, str]):
        self.search = form_data.get("search", "").strip()[:100]
        return self._restart()

    @rx.event
    def set_status_filter(self, value: str):
        self.status = "" if value == "all" else value
        return self._restart()

    @rx.event
    def set_platform_filter(self, value: str):
        self.platform = "" if value == "all" else value
        return self._restart()

    @rx.event
    def first_page(self):
        return self._restart()

    @rx.event
    def open_order(self, order_id: str):
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect("/signin")
        try:
            self._open(ctx, uuid.UUID(order_id))
        except (AppError, ValueError):
            return rx.toast.error("that order is not available")
        return None

    def _open(self, ctx: RequestContext, order_id: uuid.UUID) -> None:
        with self._session(ctx) as session:
            order = orders.get_order(session, ctx=ctx, order_id=order_id)
        self.detail = _detail(order)
        self.detail_items = [
            {
                "sku": item.sku,
                "title": item.title,
                "quantity": str(item.quantity),
                "price": money(item.unit_price, item.currency),
                "stock": label(str(item.stock_status)),
            }
            for item in order.items
        ]
        self.detail_events = [
            {
                "at": when(event.created_at),
                "change": f"{label(event.from_status) or 'new'} → {label(event.to_status)}",
                "source": event.source,
                "reason": event.reason,
            }
            for event in order.events
        ]

    @rx.event
    def close_order(self):
        self.detail, self.detail_items, self.detail_events = {}, [], []

    @rx.event
    def fulfil(self, form_data: dict[str, str]):
        """Mark the open order shipped (stock leaves on-hand); needs PROCESS_ORDERS."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect("/signin")
        order_id = self.detail.get("id", "")
        try:
            with self._writing(ctx) as session:
                orders.ship_order(
                    session,
                    ctx=ctx,
                    order_id=uuid.UUID(order_id),
                    tracking_number=form_data.get("tracking_number", ""),
                    reason="fulfilled in StoreSync",
                )
            self._open(ctx, uuid.UUID(order_id))
            self._load(ctx)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error("open an order first")
        return rx.toast.success("order marked shipped", id="toast-success")

    @rx.event
    def toggle_selected(self, order_id: str, ticked: bool):
        rest = [i for i in self.selected if i != order_id]
        self.selected = [*rest, order_id] if ticked else rest

    @rx.event
    def clear_selection(self):
        self.selected = []

    @rx.event
    def bulk_status(self, to_status: str):
        """Move the ticked orders to `to_status`; each succeeds or fails on its own. Needs
        PROCESS_ORDERS."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect("/signin")
        try:
            ids = [uuid.UUID(i) for i in self.selected]
            with self._writing(ctx) as session:
                results = orders.bulk_change_status(
                    session,
                    ctx=ctx,
                    order_ids=ids,
                    to_status=to_status,
                    reason="bulk change in StoreSync",
                )
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error("tick the orders to change first", id="toast-error")
        self.selected = []
        self._load(ctx)
        failed = [r for r in results if not r.ok]
        done = len(results) - len(failed)
        if failed:
            first = failed[0].error_message or failed[0].error_code or "refused"
            return rx.toast.warning(
                f"{done} changed, {len(failed)} refused: {first}", id="toast-bulk"
            )
        return rx.toast.success(f"{done} orders changed", id="toast-bulk")
