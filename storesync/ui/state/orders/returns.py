"""Buyers' returns on the Orders page (a mixin of `OrdersState`): the Returns tab, and the
merchant's decision for a completed return (restock, or write off); the stock change reaches
the channels through the outbox."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import reflex as rx

from storesync.core.errors import AppError
from storesync.fulfilment import returns
from storesync.tenancy.context import RequestContext
from storesync.ui.state.auth import SIGN_IN_ROUTE
from storesync.ui.state.orders.rows import RESOLVED, return_row

PAGE_SIZE = 25
COUNTED = 100  # unresolved returns counted for the tab ("100+" beyond)


class ReturnsMixin(rx.State, mixin=True):
    returns: list[dict[str, str]] = []  # the Returns tab
    detail_returns: list[dict[str, str]] = []  # the open order's returns

    if TYPE_CHECKING:  # what the host state (OrdersState) and Paging provide
        detail: dict[str, str]

        def _ctx(self) -> RequestContext | None: ...
        def _session(self, ctx: RequestContext) -> Any: ...
        def _writing(self, ctx: RequestContext) -> Any: ...
        def _load(self, ctx: RequestContext) -> Any: ...
        def _cursor(self) -> str | None: ...
        def _paged(self, next_cursor: str | None) -> None: ...

    def _load_returns(self, session: Any, ctx: RequestContext) -> None:
        page = returns.list_returns(session, ctx=ctx, limit=PAGE_SIZE, cursor=self._cursor())
        self.returns = [return_row(r) for r in page.items]
        self._paged(page.next_cursor)

    def _load_detail_returns(self, session: Any, ctx: RequestContext, order_id: uuid.UUID) -> None:
        page = returns.list_returns(session, ctx=ctx, order_id=order_id, limit=PAGE_SIZE)
        self.detail_returns = [return_row(r) for r in page.items]

    def _count_unresolved(self, session: Any, ctx: RequestContext) -> str:
        page = returns.list_returns(session, ctx=ctx, unresolved=True, limit=COUNTED)
        return f"{COUNTED}+" if page.next_cursor else str(len(page.items))

    @rx.event
    def resolve_return(self, return_id: str, resolution: str):
        """Restock the return's units or write them off (once). Needs PROCESS_ORDERS, and
        ADJUST_STOCK to restock (the service checks)."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN_ROUTE)
        try:
            with self._writing(ctx) as session:
                done = returns.resolve_return(
                    session, ctx=ctx, return_id=uuid.UUID(return_id), resolution=resolution
                )
            self._load(ctx)
            shown = self.detail.get("id")
            if shown:
                with self._session(ctx) as session:
                    self._load_detail_returns(session, ctx, uuid.UUID(shown))
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error("that return is not available", id="toast-error")
        units = ", ".join(f"{line.sku} x{line.quantity}" for line in done.lines)
        return rx.toast.success(
            f"return {done.platform_return_id} {RESOLVED[done.resolution]}: {units}",
            id="toast-return",
        )
