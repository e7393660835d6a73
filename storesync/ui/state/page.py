"""The base of every signed-in page's state: the session check, live updates and error toasts.

Handlers re-validate the session cookie on every event and services check the role, so a
browser that crafts an event it has no button for (a viewer adjusting stock) gets a refusal.
Methods starting with `_` are not event handlers: the browser cannot call them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import reflex as rx

from storesync.core.errors import AppError
from storesync.db import session_scope, writing
from storesync.notifications import service as notifications
from storesync.tenancy.context import RequestContext
from storesync.ui.format import when
from storesync.ui.relay import relay
from storesync.ui.state.auth import SIGN_IN_ROUTE, AuthState

T = TypeVar("T")


def a_job_succeeded(events: list[dict[str, Any]]) -> bool:
    """Whether a sync job finished well among these live events (an import may have brought
    listings or products)."""
    return any(
        e["type"] == "sync_job.progress" and e["data"].get("status") == "succeeded" for e in events
    )


class PageState(AuthState):
    """Subclass per page: define `load` (see below), override `_load` and `_on_events`.

    Holds what every signed-in page shows in its frame: the notification bell and the live
    alert (a notification that arrived while the page was open)."""

    MISSING: ClassVar[str] = "that item is not available"  # an id from the browser is not one
    unread: int = 0
    notes: list[dict[str, str]] = []
    alert: dict[str, str] = {}

    @rx.event
    def open_notifications(self, is_open: bool):
        ctx = self._ctx()
        if ctx is None or not is_open:
            return None
        with self._session(ctx) as session:
            found = notifications.list_notifications(session, ctx=ctx, limit=15)
        self.notes = [
            {
                "title": n.title,
                "body": n.body,
                "severity": n.severity,
                "at": when(n.created_at),
                "unread": "" if n.read_at else "yes",
            }
            for n in found
        ]
        return None

    @rx.event
    def mark_all_read(self):
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN_ROUTE)
        try:
            with self._writing(ctx) as session:
                notifications.mark_all_read(session, ctx=ctx)
        except AppError as error:  # the database stayed busy: nothing was marked
            return rx.toast.error(error.message, id="toast-error")
        self.unread = 0
        self.notes = [{**n, "unread": ""} for n in self.notes]
        return None

    @rx.event
    def dismiss_alert(self):
        self.alert = {}

    def _count_unread(self, ctx: RequestContext) -> None:
        with self._session(ctx) as session:
            self.unread = notifications.unread_count(session, ctx=ctx)

    # Each page state declares its own `load` event (`return self._page_load()`): Reflex binds
    # an event handler to the state class that defines it, so one inherited from here would run
    # on this base state's instance, not the page's.
    def _page_load(self) -> Any:
        """on_load: check the session, load the page, and follow the organization's events."""
        ctx = self._current_context()
        if ctx is None:
            return rx.redirect(self._sign_in_then_back())
        self._load_identity(ctx.user_id, ctx)
        relay.watch(self.router.session.client_token, ctx.organization_id, type(self))
        self._count_unread(ctx)
        result = self._guarded(lambda: self._load(ctx))
        return result if result is not None else self._opened()

    def _load(self, ctx: RequestContext) -> Any:
        """Read what the page shows (override); also runs on live events."""
        return None

    def _opened(self) -> Any:
        """Once per page load, after `_load` (override): e.g. a toast from the URL."""
        return None

    async def _on_live(self, events: list[dict[str, Any]]) -> None:
        """Called by the relay with this organization's latest events."""
        ctx = self._current_context()
        if ctx is None:  # signed out meanwhile: stop following
            relay.forget(self.router.session.client_token)
            return
        with contextlib.suppress(AppError):  # the next event or reload shows it
            self._on_events(ctx, events)
        raised = [e["data"] for e in events if e["type"] == "notification"]
        if raised:
            latest = raised[-1]
            self.alert = {
                "title": str(latest.get("title", "")),
                "body": str(latest.get("body", "")),
                "severity": str(latest.get("severity", "info")),
            }
            self._count_unread(ctx)

    def _on_events(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        """React to live events (override); the default reloads the page."""
        self._load(ctx)

    def _ctx(self) -> RequestContext | None:
        return self._current_context()

    def _reload(self) -> Any:
        """Read the page again (after a filter or page change)."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN_ROUTE)
        return self._guarded(lambda: self._load(ctx))

    def _act(self, action: Callable[[Any, RequestContext], object], done: str) -> Any:
        """Run one service call in a transaction, reload the page, and say how it went: the
        AppError's message, `MISSING` for an id the browser sent that is not a UUID, or
        `done`."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN_ROUTE)
        try:
            with self._writing(ctx) as session:
                action(session, ctx)
            self._load(ctx)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error(self.MISSING, id="toast-error")
        return rx.toast.success(done, id="toast-success")

    def _guarded(self, action: Callable[[], T]) -> Any:
        """Run `action`; an AppError becomes an error toast (its message names the field)."""
        try:
            return action()
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")

    def _session(self, ctx: RequestContext):
        """A transaction that reads (a page load)."""
        return session_scope(ctx)

    def _writing(self, ctx: RequestContext):
        """A transaction that changes something (`db.writing`). On SQLite (embedded) it begins
        with the write lock: one that read first and wrote later failed at once ("database is
        locked") whenever a worker committed in between, and the merchant's change was lost.
        Still busy after the wait, it is an AppError: the handler's toast says so."""
        return writing(ctx)
