"""Cancelling orders on their marketplaces (a mixin of `OrdersState`): the merchant picks a
reason the platforms accept; each order is cancelled on its platform, then in StoreSync (which
releases its reservations), or keeps everything as it was with the platform's reason shown."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import reflex as rx

from storesync.channels.schemas import CANCEL_REASONS
from storesync.core.errors import AppError
from storesync.fulfilment import shipping
from storesync.tenancy.context import RequestContext
from storesync.ui.state.auth import SIGN_IN_ROUTE
from storesync.ui.state.orders.rows import CANCELLABLE

MAX_CANCEL = 100  # one dialog; each order is a marketplace call


class CancelMixin(rx.State, mixin=True):
    cancel_open: bool = False
    cancel_orders: list[dict[str, str]] = []  # id, number, platform
    cancel_reason: str = ""
    cancel_skipped: str = ""  # chosen orders that can no longer be cancelled
    cancel_done: int = 0  # orders answered so far (the dialog counts them live)
    cancel_busy: bool = False
    cancel_results: list[dict[str, str]] = []  # each order: cancelled, or the platform's reason

    if TYPE_CHECKING:  # what the host state (OrdersState) provides

        def _ctx(self) -> RequestContext | None: ...
        def _load(self, ctx: RequestContext) -> Any: ...
        def _chosen(self) -> list[dict[str, str]]: ...
        def _leave_detail(self) -> dict[str, str]: ...
        def _back_to_detail(self, ctx: RequestContext) -> None: ...

    @rx.event
    def open_cancel(self):
        """Cancel the ticked orders that have not shipped."""
        return self._start_cancelling(self._chosen())

    @rx.event
    def cancel_detail(self):
        """Cancel the open order (the detail comes back when the dialog closes)."""
        return self._start_cancelling([self._leave_detail()])

    def _start_cancelling(self, chosen: Sequence[dict[str, str]]) -> Any:
        ready = [o for o in chosen if o.get("status") in CANCELLABLE][:MAX_CANCEL]
        skipped = len(chosen) - len(ready)
        self.cancel_skipped = f"{skipped} already shipped or closed: left out" if skipped else ""
        self.cancel_orders = [
            {"id": o["id"], "number": o["number"], "platform": o["platform"]} for o in ready
        ]
        self.cancel_reason, self.cancel_done, self.cancel_results = "", 0, []
        if not ready:
            ctx = self._ctx()
            if ctx is not None:
                self._back_to_detail(ctx)
            return rx.toast.warning("none of the chosen orders can be cancelled", id="toast-cancel")
        self.cancel_open = True
        return None

    @rx.event
    def set_cancel_reason(self, reason: str):
        self.cancel_reason = reason if reason in CANCEL_REASONS else ""

    @rx.event
    async def submit_cancel(self) -> AsyncIterator[Any]:
        """Cancel each order on its marketplace with the chosen reason, one after the other;
        the dialog lists every order's outcome. Needs PROCESS_ORDERS (the service checks)."""
        ctx = self._ctx()
        if ctx is None:
            yield rx.redirect(SIGN_IN_ROUTE)
            return
        if self.cancel_reason not in CANCEL_REASONS:
            yield rx.toast.error("reason: choose why the orders are cancelled", id="toast-error")
            return
        self.cancel_busy, self.cancel_done, self.cancel_results = True, 0, []
        yield None
        for order in self.cancel_orders:
            self.cancel_results = [*self.cancel_results, await self._cancel_one(ctx, order)]
            self.cancel_done += 1
            yield None  # the count moves on screen
        self.cancel_busy = False
        self._load(ctx)
        refused = [r for r in self.cancel_results if not r["ok"]]
        done = len(self.cancel_results) - len(refused)
        if refused:
            yield rx.toast.error(
                f"{done} cancelled, {len(refused)} refused: {refused[0]['message']}",
                id="toast-cancel",
            )
        else:
            yield rx.toast.success(f"{done} cancelled on the marketplace", id="toast-cancel")

    async def _cancel_one(self, ctx: RequestContext, order: dict[str, str]) -> dict[str, str]:
        try:
            await shipping.cancel_order(
                ctx, order_id=uuid.UUID(order["id"]), reason=self.cancel_reason
            )
        except AppError as error:
            return {**order, "ok": "", "tracking": "", "message": error.message}
        return {**order, "ok": "yes", "tracking": "", "message": "cancelled"}

    @rx.event
    def close_cancel(self):
        self._close_cancel()

    @rx.event
    def cancel_open_change(self, is_open: bool):
        if not is_open and not self.cancel_busy:  # Escape or a click outside
            self._close_cancel()

    def _close_cancel(self) -> None:
        self.cancel_open, self.cancel_orders, self.cancel_results = False, [], []
        self.cancel_reason, self.cancel_done = "", 0
        ctx = self._ctx()
        if ctx is not None:
            self._back_to_detail(ctx)
