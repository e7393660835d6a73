"""The live relay: ONE event-bus subscription per backend process, fanning each organization's
events out to the pages of that organization open on this process (shared/REFLEX.md).

A page registers its tab (`watch`) when it loads, with the page state that reacts to events.
The relay keeps no task per tab: one task reads the bus, one fans out. Events are gathered for
`WINDOW_SECONDS` and each tab gets them in one state update, so a burst of sales costs one page
refresh per tab, not one per sale. A tab whose websocket is gone (closed, navigated away) is
dropped at the next fan-out or housekeeping pass, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from storesync.core.events import Event, get_bus

if TYPE_CHECKING:
    import reflex as rx

log = logging.getLogger(__name__)

WINDOW_SECONDS = 0.1  # gather events this long before a fan-out
HOUSEKEEPING_SECONDS = 2.0  # drop closed tabs at least this often
RECONNECT_SECONDS = 1.0  # wait after the bus failed before subscribing again


class LivePage(Protocol):
    async def _on_live(self, events: list[dict[str, Any]]) -> None: ...


@dataclass(frozen=True)
class Watch:
    organization_id: str
    state: type[Any]  # the page state class (a PageState subclass)
    since: float


class Relay:
    def __init__(self) -> None:
        self._watches: dict[str, Watch] = {}
        self._queue: asyncio.Queue[Event] | None = None
        self.subscriptions = 0  # bus subscriptions open now (1 while the app runs)
        self.fanouts = 0  # state updates sent to tabs so far

    # -- registering tabs (called from page on_load handlers) ------------------------------------

    def watch(self, token: str, organization_id: object, state: type[Any]) -> None:
        """The tab `token` shows `state`'s page of `organization_id` (from its verified session,
        never from the browser): it gets that organization's events until it goes away."""
        if token:
            self._watches[token] = Watch(str(organization_id), state, time.monotonic())

    def forget(self, token: str) -> None:
        self._watches.pop(token, None)

    def watching(self, organization_id: object | None = None) -> int:
        if organization_id is None:
            return len(self._watches)
        wanted = str(organization_id)
        return sum(1 for w in self._watches.values() if w.organization_id == wanted)

    def stats(self) -> dict[str, int]:
        """Counts only (no tokens, no organizations): for the leak test and operators."""
        try:
            tasks = len(asyncio.all_tasks())
        except RuntimeError:
            tasks = 0
        return {
            "subscriptions": self.subscriptions,
            "watches": len(self._watches),
            "tasks": tasks,
            "fanouts": self.fanouts,
        }

    # -- the lifespan task ----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: rx.App) -> AsyncIterator[None]:
        self._queue = asyncio.Queue()
        reader = asyncio.create_task(self._read_bus(), name="storesync-relay-bus")
        fanout = asyncio.create_task(self._fan_out(app), name="storesync-relay-fanout")
        try:
            yield
        finally:
            for task in (reader, fanout):
                task.cancel()
            await asyncio.gather(reader, fanout, return_exceptions=True)
            self._queue = None

    async def _read_bus(self) -> None:
        assert self._queue is not None
        while True:
            try:
                self.subscriptions += 1
                try:
                    async for event in get_bus().subscribe(None):
                        self._queue.put_nowait(event)
                finally:
                    self.subscriptions -= 1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live relay lost the event bus; subscribing again")
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _fan_out(self, app: rx.App) -> None:
        assert self._queue is not None
        while True:
            try:
                first = await asyncio.wait_for(self._queue.get(), HOUSEKEEPING_SECONDS)
            except TimeoutError:
                self._drop_closed(app)
                continue
            await asyncio.sleep(WINDOW_SECONDS)
            batch = [first]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._deliver(app, batch)
            except Exception:
                log.exception("live relay could not deliver %d events", len(batch))

    def _connected(self, app: rx.App) -> set[str]:
        namespace = app.event_namespace
        return set(namespace.token_to_sid) if namespace is not None else set()

    def _drop_closed(self, app: rx.App) -> None:
        connected = self._connected(app)
        grace = time.monotonic() - HOUSEKEEPING_SECONDS  # a tab registers as it connects
        for token, watch in list(self._watches.items()):
            if token not in connected and watch.since < grace:
                self._watches.pop(token, None)

    async def _deliver(self, app: rx.App, batch: list[Event]) -> None:
        import reflex as rx

        by_org: dict[str, list[dict[str, Any]]] = {}
        for event in batch:
            by_org.setdefault(event.organization_id, []).append(
                {"type": event.type, "data": event.data, "at": event.at}
            )
        self._drop_closed(app)
        for token, watch in list(self._watches.items()):
            events = by_org.get(watch.organization_id)
            if not events:
                continue
            try:
                async with app.modify_state(
                    rx.BaseStateToken(ident=token, cls=watch.state)
                ) as root:
                    page = await root.get_state(watch.state)
                    await page._on_live(events)
                self.fanouts += 1
            except Exception:
                log.exception("live relay could not update a %s tab", watch.state.__name__)


relay = Relay()
