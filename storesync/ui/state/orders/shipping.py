"""The to-ship actions of the Orders page (a mixin of `OrdersState`): arrange shipment through
the marketplaces (one job per store, followed live), print the labels as one PDF, print a pick
list and packing slips."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import reflex as rx

from storesync.core.clock import utcnow
from storesync.core.errors import AppError
from storesync.fulfilment import labels, paperwork, shipping
from storesync.stores import service as stores
from storesync.sync.jobs import service as jobs
from storesync.sync.jobs.schemas import PROGRESS_EVENT, JobDTO, JobKind
from storesync.tenancy.context import RequestContext
from storesync.ui.format import label
from storesync.ui.state.auth import SIGN_IN_ROUTE
from storesync.ui.state.orders.rows import (
    ArrangeGroup,
    Choice,
    arrange_group,
    job_row,
    outcome_row,
    unavailable_group,
)

FINISHED = ("succeeded", "failed", "cancelled")
OPTION_TRIES = 3  # orders of a store asked for its options before giving up on the store


def _stamp() -> str:
    return utcnow().strftime("%Y%m%d-%H%M")


def _pdf(data: bytes, name: str) -> Any:
    return rx.download(data=data, filename=f"{name}-{_stamp()}.pdf", mime_type="application/pdf")


class ShippingMixin(rx.State, mixin=True):
    arrange_open: bool = False
    arrange_loading: bool = False
    arrange_groups: list[ArrangeGroup] = []
    arrange_skipped: str = ""  # chosen orders that do not wait to be arranged
    arrange_jobs: list[dict[str, str]] = []  # one per store, progress live
    arrange_results: list[dict[str, str]] = []  # each order: tracking number or the reason
    print_failures: list[dict[str, str]] = []  # orders left out of the last labels PDF
    _arrange_orders: dict[str, list[str]] = {}  # store id → its order ids in the dialog
    _arrange_slots: dict[str, dict[str, list[Choice]]] = {}  # store id → address id → slots

    if TYPE_CHECKING:  # what the host state (OrdersState) provides
        selected: list[str]
        detail: dict[str, str]

        def _ctx(self) -> RequestContext | None: ...
        def _session(self, ctx: RequestContext) -> Any: ...
        def _writing(self, ctx: RequestContext) -> Any: ...
        def _load(self, ctx: RequestContext) -> Any: ...
        def _chosen(self) -> list[dict[str, str]]: ...
        def _leave_detail(self) -> dict[str, str]: ...
        def _back_to_detail(self, ctx: RequestContext) -> None: ...
        def _refresh_detail(self, ctx: RequestContext) -> None: ...

    # -- the arrange dialog ----------------------------------------------------------------------

    @rx.var
    def arranging(self) -> bool:
        """The jobs were started: the dialog shows progress and results, not the form."""
        return len(self.arrange_jobs) > 0

    @rx.var
    def arrange_finished(self) -> bool:
        return len(self.arrange_jobs) > 0 and all(
            job["status"] in FINISHED for job in self.arrange_jobs
        )

    @rx.event
    async def open_arrange(self) -> AsyncIterator[Any]:
        """Arrange the ticked orders that wait for it: each store's options from its platform."""
        async for update in self._start_arranging(self._chosen()):
            yield update

    @rx.event
    async def arrange_detail(self) -> AsyncIterator[Any]:
        """Arrange the open order (the detail comes back when the dialog closes)."""
        async for update in self._start_arranging([self._leave_detail()]):
            yield update

    async def _start_arranging(self, chosen: Sequence[dict[str, str]]) -> AsyncIterator[Any]:
        ctx = self._ctx()
        if ctx is None:
            yield rx.redirect(SIGN_IN_ROUTE)
            return
        ready = [o for o in chosen if o.get("stage") == "to_arrange"]
        skipped = len(chosen) - len(ready)
        self.arrange_skipped = f"{skipped} not waiting to be arranged: left out" if skipped else ""
        self.arrange_groups, self.arrange_jobs, self.arrange_results = [], [], []
        self._arrange_orders = {}
        if not ready:
            yield rx.toast.warning(
                "none of the chosen orders waits to be arranged", id="toast-arrange"
            )
            self._back_to_detail(ctx)
            return
        self.arrange_open, self.arrange_loading = True, True
        yield None  # the dialog opens while the platforms are asked
        by_store: dict[str, list[dict[str, str]]] = {}
        for order in ready:
            by_store.setdefault(order["store_id"], []).append(order)
        with self._session(ctx) as session:
            names = {str(s.id): s.name for s in stores.list_stores(session, ctx=ctx)}
        groups, slots = [], {}
        for store_id, orders in by_store.items():
            group, store_slots = await self._options(ctx, store_id, names.get(store_id, ""), orders)
            groups.append(group)
            slots[store_id] = store_slots
        self._arrange_orders = {sid: [o["id"] for o in orders] for sid, orders in by_store.items()}
        self._arrange_slots = slots
        self.arrange_groups = groups
        self.arrange_loading = False

    async def _options(
        self, ctx: RequestContext, store_id: str, store: str, orders: list[dict[str, str]]
    ) -> tuple[ArrangeGroup, dict[str, list[Choice]]]:
        """The store's form from its platform's options for one of its orders (the next order
        is asked when the platform refuses one, e.g. cancelled meanwhile)."""
        numbers = [o["number"] for o in orders]
        platform = orders[0]["platform"]
        error = ""
        for order in orders[:OPTION_TRIES]:
            try:
                options = await shipping.shipping_options(ctx, order_id=uuid.UUID(order["id"]))
            except AppError as refused:
                error = error or refused.message
                continue
            return arrange_group(store_id, store, platform, numbers, options)
        return unavailable_group(store_id, store, platform, numbers, error), {}

    def _change_group(self, store_id: str, **changes: Any) -> None:
        self.arrange_groups = [
            dataclasses.replace(g, **changes) if g.store_id == store_id else g
            for g in self.arrange_groups
        ]

    @rx.event
    def set_arrange_method(self, store_id: str, method: str):
        self._change_group(store_id, method=method)

    @rx.event
    def set_arrange_address(self, store_id: str, address_id: str):
        slots = self._arrange_slots.get(store_id, {}).get(address_id, [])
        self._change_group(
            store_id, address_id=address_id, slots=slots, slot_id=slots[0].id if slots else ""
        )

    @rx.event
    def set_arrange_slot(self, store_id: str, slot_id: str):
        self._change_group(store_id, slot_id=slot_id)

    @rx.event
    def set_arrange_branch(self, store_id: str, branch_id: str):
        self._change_group(store_id, branch_id=branch_id)

    @rx.event
    def submit_arrange(self):
        """One shipments job per store with its hand-over choice; progress arrives live.
        Needs PROCESS_ORDERS and RUN_SYNC (the services check)."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN_ROUTE)
        started = []
        for group in self.arrange_groups:
            if group.error:
                continue
            if group.method == "pickup" and not group.slot_id:
                self._change_group(group.store_id, error="choose a pickup time slot")
                continue
            try:
                with self._writing(ctx) as session:
                    job = jobs.start_job(
                        session,
                        ctx=ctx,
                        store_id=uuid.UUID(group.store_id),
                        kind=JobKind.SHIPMENTS.value,
                        params=_job_params(group, self._arrange_orders.get(group.store_id, [])),
                    )
            except AppError as error:
                self._change_group(group.store_id, error=error.message)
                continue
            started.append(job_row(str(job.id), group.store, group.platform, group.count))
        if not started:
            return rx.toast.error("no shipment was arranged: see each store", id="toast-error")
        self.arrange_jobs = started
        return None

    def _follow_jobs(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        """Progress and results of the dialog's jobs, from their live events."""
        waiting = {j["job_id"] for j in self.arrange_jobs if j["status"] not in FINISHED}
        touched = {
            str(e["data"].get("job_id")) for e in events if e["type"] == PROGRESS_EVENT
        } & waiting
        if not touched:
            return
        with self._session(ctx) as session:
            found = {i: jobs.get_job(session, ctx=ctx, job_id=uuid.UUID(i)) for i in touched}
        rows, results = [], list(self.arrange_results)
        for row in self.arrange_jobs:
            job = found.get(row["job_id"])
            if job is None:
                rows.append(row)
                continue
            rows.append(_progress(row, job))
            if job.status in FINISHED:
                results.extend(_job_results(job, row))
        self.arrange_jobs, self.arrange_results = rows, results

    @rx.event
    def close_arrange(self):
        self._close_arrange()

    @rx.event
    def arrange_open_change(self, is_open: bool):
        if not is_open:  # Escape or a click outside
            self._close_arrange()

    def _close_arrange(self) -> None:
        self.arrange_open = False
        self.arrange_groups, self.arrange_jobs, self.arrange_results = [], [], []
        self._arrange_orders, self._arrange_slots = {}, {}
        ctx = self._ctx()
        if ctx is not None:
            self._back_to_detail(ctx)

    # -- documents -------------------------------------------------------------------------------

    @rx.event
    async def print_labels(self):
        """The ticked orders' labels as one PDF; orders left out are listed with the reason."""
        return await self._print([uuid.UUID(i) for i in self.selected])

    @rx.event
    async def print_detail_label(self):
        try:
            order_id = uuid.UUID(self.detail.get("id", ""))
        except ValueError:
            return rx.toast.error("open an order first", id="toast-error")
        return await self._print([order_id])

    async def _print(self, order_ids: list[uuid.UUID]) -> Any:
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN_ROUTE)
        try:
            printed = await labels.print_labels(ctx, order_ids=order_ids)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        self.print_failures = [outcome_row(o) for o in printed.failed]
        self._load(ctx)
        self._refresh_detail(ctx)
        if printed.pdf is None:
            return rx.toast.error("no label to print: see the orders left out", id="toast-error")
        left_out = f", {len(printed.failed)} left out" if printed.failed else ""
        return [
            _pdf(printed.pdf, "labels"),
            rx.toast.success(
                f"{len(printed.printed)} labels printed ({printed.pages} pages){left_out}",
                id="toast-labels",
            ),
        ]

    @rx.event
    def dismiss_print_failures(self):
        self.print_failures = []

    @rx.event
    def pick_list(self):
        """A pick list of the ticked orders: every SKU and its total, by location."""
        return self._document(paperwork.pick_list, "pick-list")

    @rx.event
    def packing_slips(self):
        return self._document(paperwork.packing_slips, "packing-slips")

    def _document(self, make: Any, name: str) -> Any:
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN_ROUTE)
        try:
            order_ids = [uuid.UUID(i) for i in self.selected]
            with self._session(ctx) as session:
                pdf = make(session, ctx=ctx, order_ids=order_ids)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error("tick the orders first", id="toast-error")
        return _pdf(pdf, name)


def _job_params(group: ArrangeGroup, order_ids: list[str]) -> dict[str, Any]:
    pickup = group.method == "pickup"
    return {
        "order_ids": order_ids,
        "method": group.method,
        "address_id": group.address_id if pickup else "",
        "slot_id": group.slot_id if pickup else "",
        "branch_id": "" if pickup else group.branch_id,
    }


def _progress(row: dict[str, str], job: JobDTO) -> dict[str, str]:
    total = job.total or int(row["total"])
    done = total if job.status == "succeeded" else job.done
    return {
        **row,
        "status": job.status,
        "status_label": label(job.status),
        "done": str(done),
        "total": str(total),
        "failed": str(job.failed),
        "percent": str(int(done * 100 / total) if total else 0),
        "error": str(job.error.get("message", ""))[:300] if job.error else "",
    }


def _job_results(job: JobDTO, row: dict[str, str]) -> list[dict[str, str]]:
    orders = job.result.get("orders") if job.result else None
    if orders:
        return [outcome_row(o, row["platform"]) for o in orders]
    reason = str(job.error.get("message", "")) if job.error else label(job.status)
    return [
        {
            "order_id": "",
            "number": row["store"],
            "platform": row["platform"],
            "ok": "",
            "tracking": "",
            "message": reason or "the job ended without a result",
        }
    ]
