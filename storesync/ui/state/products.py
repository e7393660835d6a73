"""Products: the catalog list (search, status filter, keyset pages), the product and variant
editor, bulk status changes, CSV export, and CSV import with a validating dry run."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

import reflex as rx

from storesync.catalog import exporter, importer
from storesync.catalog import service as catalog
from storesync.catalog.schemas import PRODUCT_STATUSES, ImportReport, ProductUpdate
from storesync.core.errors import AppError
from storesync.db import session_scope
from storesync.sync.prices import service as prices
from storesync.sync.publish import service as publish
from storesync.tenancy.context import RequestContext
from storesync.ui.state.page import PageState, a_job_succeeded
from storesync.ui.state.paging import Paging
from storesync.ui.state.product_editor.views import list_extras, product_row

PAGE_SIZE = 25
UPLOAD_ID = "catalog-upload"
MAX_IMPORT_BYTES = 20 * 1024 * 1024
SIGN_IN = "/signin"


class ProductsState(Paging, PageState):
    rows: list[dict[str, str]] = []
    search: str = ""
    status: str = ""
    selected: list[str] = []  # product ids, kept across pages
    # The editor is a substate: storesync.ui.state.product_editor.
    # The import: progress 0..100, the outcome, and the per-row errors of a refused file.
    importing: bool = False
    import_phase: str = ""
    progress: int = 0
    import_summary: str = ""
    import_errors: list[dict[str, str]] = []
    _upload_text: str = ""

    @rx.event
    def load(self):
        return self._page_load()

    @rx.var
    def page_selected(self) -> bool:
        return bool(self.rows) and all(r["id"] in self.selected for r in self.rows)

    def _load(self, ctx: RequestContext) -> None:
        with self._session(ctx) as session:
            page = catalog.list_products(
                session,
                ctx=ctx,
                search=self.search or None,
                status=self.status or None,
                limit=PAGE_SIZE,
                cursor=self._cursor(),
            )
            extras = list_extras(session, ctx, page.items)
        self.rows = [product_row(p, extras) for p in page.items]
        self._paged(page.next_cursor)

    def _on_events(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        # A finished store import may have brought products; nothing else changes the catalog
        # behind this page's back.
        if a_job_succeeded(events):
            self._load(ctx)

    # List: search, filter, pages, selection -------------------------------------------------

    @rx.event
    def search_products(self, form_data: dict[str, str]):
        self.search = form_data.get("search", "").strip()[:100]
        return self._restart()

    @rx.event
    def set_status_filter(self, value: str):
        self.status = value if value in PRODUCT_STATUSES else ""
        return self._restart()

    @rx.event
    def toggle_selected(self, product_id: str, checked: bool):
        rest = [p for p in self.selected if p != product_id]
        self.selected = [*rest, product_id] if checked else rest

    @rx.event
    def select_page(self, checked: bool):
        on_page = {r["id"] for r in self.rows}
        rest = [p for p in self.selected if p not in on_page]
        self.selected = rest + sorted(on_page) if checked else rest

    @rx.event
    def clear_selection(self):
        self.selected = []

    @rx.event
    def bulk_set_status(self, form_data: dict[str, str]):
        """Set the status of every selected product in ONE transaction: a refusal (role,
        bad status, a product deleted meanwhile) changes none of them."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN)
        status = form_data.get("bulk_status", "")
        if not self.selected:
            return rx.toast.error("choose products first", id="toast-error")
        try:
            ids = [uuid.UUID(p) for p in self.selected]
            changes = ProductUpdate(status=status)
            with self._writing(ctx) as session:
                for product_id in ids:
                    catalog.update_product(session, ctx=ctx, product_id=product_id, changes=changes)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error("a selected product is not available", id="toast-error")
        self.selected = []
        self._load(ctx)
        return rx.toast.success(f"{len(ids)} products set to {status}", id="toast-success")

    # Export -------------------------------------------------------------------------------

    @rx.event
    def export_csv(self):
        """The whole catalog in the importer's format, built in memory and sent over the
        websocket: fine for thousands of variants; a very large catalog wants a streamed
        HTTP download instead."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN)
        out = io.StringIO()
        try:
            with self._session(ctx) as session:
                exporter.export_catalog(session, ctx=ctx, out=out)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        return rx.download(data=out.getvalue(), filename="catalog.csv")

    # Import -------------------------------------------------------------------------------

    @rx.event
    async def upload_catalog(self, files: list[rx.UploadFile]):
        """Keep the uploaded CSV (backend only) and start the import in the background."""
        if self.importing:
            return None
        if not files:
            return rx.toast.error("choose a CSV file first", id="toast-error")
        data = await files[0].read()
        if len(data) > MAX_IMPORT_BYTES:
            return rx.toast.error("the file is larger than 20 MB", id="toast-error")
        try:
            self._upload_text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return rx.toast.error("the file is not UTF-8 text", id="toast-error")
        self.importing, self.progress, self.import_phase = True, 0, "Checking the file"
        self.import_summary, self.import_errors = "", []
        return [rx.clear_selected_files(UPLOAD_ID), ProductsState.run_import]

    @rx.event(background=True)
    async def run_import(self):
        """A validating dry run first: a file with any bad row writes nothing and its row
        errors are listed and offered as a CSV report. Otherwise the real import."""
        async with self:
            ctx, text, self._upload_text = self._ctx(), self._upload_text, ""
            if ctx is None or not text:
                self.importing = False
                return
        total = max(text.count("\n"), 1)
        try:
            checked = await self._run_with_progress(ctx, text, total, dry_run=True, span=(0, 45))
            if checked.errors:
                async with self:
                    self._finish_refused(checked)
                return
            async with self:
                self.import_phase = "Importing"
            report = await self._run_with_progress(ctx, text, total, dry_run=False, span=(45, 95))
        except AppError as error:
            async with self:
                self.importing, self.import_phase, self.progress = False, "", 0
            yield rx.toast.error(error.message, id="toast-error")
            return
        summary = _summary(report)
        async with self:
            self.importing, self.import_phase, self.progress = False, "", 100
            self.import_summary = summary
            self.cursors = []
            self._load(ctx)
        yield rx.toast.success(summary, id="toast-success")

    async def _run_with_progress(
        self, ctx: RequestContext, text: str, total: int, *, dry_run: bool, span: tuple[int, int]
    ) -> ImportReport:
        """Run the blocking import in a thread; the bar moves from span[0] to span[1] as the
        importer reads the file's lines."""
        lines = _LineCounter(text)
        work = asyncio.ensure_future(asyncio.to_thread(_import, ctx, lines, dry_run))
        start, end = span
        while not work.done():
            await asyncio.wait({work}, timeout=0.2)
            async with self:
                self.progress = start + (end - start) * min(lines.read, total) // total
        return work.result()

    def _finish_refused(self, report: ImportReport) -> None:
        self.importing, self.import_phase, self.progress = False, "", 0
        self.import_errors = [
            {"row": str(e.row), "field": e.column, "message": e.reason} for e in report.errors
        ]
        self.import_summary = (
            f"Nothing was imported: {report.rows_invalid or len(report.errors)} "
            f"of {report.rows_total} rows have problems"
        )

    @rx.event
    def download_error_report(self):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["row", "field", "message"])
        writer.writerows([e["row"], e["field"], e["message"]] for e in self.import_errors)
        return rx.download(data=out.getvalue(), filename="import-errors.csv")


class _LineCounter:
    """The CSV text as lines, counting how many the importer has read (read from another
    thread to move the progress bar; an int assignment is atomic)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.read = 0

    def __iter__(self) -> Iterator[str]:
        for line in io.StringIO(self.text, newline=""):
            self.read += 1
            yield line


def _import(ctx: RequestContext, source: _LineCounter, dry_run: bool) -> ImportReport:
    """Import the file; new prices and content go on to the channels that sell the products
    (their stores' price and content pushes are queued in the same transaction)."""
    with session_scope(ctx, write_lock=not dry_run) as session:
        report = importer.import_catalog(
            session, ctx=ctx, source=source, fmt="csv", dry_run=dry_run, skip_invalid=False
        )
        prices.start_pushes_for(session, ctx=ctx, variant_ids=report.repriced_variant_ids)
        publish.start_content_pushes_for(session, ctx=ctx, product_ids=report.content_product_ids)
        return report


def _summary(report: ImportReport) -> str:
    text = (
        f"Imported {report.rows_applied} rows: {report.products_created} products created, "
        f"{report.products_updated} updated; {report.variants_created} variants created, "
        f"{report.variants_updated} updated"
    )
    if report.updated_handles:
        # a row whose handle is taken merges into that product: say which ones changed
        more = report.products_updated - len(report.updated_handles)
        named = ", ".join(report.updated_handles) + (f" and {more} more" if more > 0 else "")
        text += f". Updated existing products: {named}"
    return text
