"""Stores: connect a marketplace (the OAuth round trip), health, import products, disconnect,
the stock allocation and the price rule (previewed, then saved and sent)."""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

import reflex as rx

from storesync.channels.schemas import StoreDTO
from storesync.core.errors import AppError
from storesync.stores import allocation, oauth
from storesync.stores import service as stores
from storesync.stores.routes import callback_url
from storesync.sync.health import trouble
from storesync.sync.jobs import service as jobs
from storesync.sync.prices import service as prices
from storesync.sync.prices.rules import parse_rule
from storesync.tenancy.auth import sessions
from storesync.tenancy.context import RequestContext
from storesync.ui.format import label, money, when
from storesync.ui.state.page import PageState

PLATFORMS = ("shopee", "tiktok")


def _job_text(job: jobs.JobDTO | None) -> str:
    if job is None:
        return ""
    progress = f" {job.done}/{job.total}" if job.total else ""
    return f"{label(job.status)}{progress}"


CONDITION_LABELS = {
    "connected": "Connected",
    "trouble": "Having trouble",
    "disconnected": "Disconnected — reconnect",
}


def _allocation_text(percent: str, buffer: int) -> str:
    kept = "1 unit" if buffer == 1 else f"{buffer} units"
    return f"Shares {percent}% of stock, keeps {kept} back"


class StoresState(PageState):
    MISSING: ClassVar[str] = "that store is not available"
    stores: list[dict[str, str]] = []
    notice: str = ""
    price_preview: list[dict[str, str]] = []  # the previewed rule's prices, first PREVIEW_ROWS
    price_preview_of: str = ""  # the store they are for
    price_preview_note: str = ""
    _previewed_rule: dict[str, str] = {}

    @rx.event
    def load(self):
        return self._page_load()

    def _load(self, ctx: RequestContext) -> None:
        with self._session(ctx) as session:
            rows = []
            for store in stores.list_stores(session, ctx=ctx):
                rows.append(self._row(session, ctx, store))
        self.stores = rows

    def _row(self, session: Any, ctx: RequestContext, store: StoreDTO) -> dict[str, str]:
        metrics = stores.store_metrics(session, ctx=ctx, store_id=store.id)
        products = jobs.latest_job(session, ctx=ctx, store_id=store.id, kind="products")
        share = allocation.get_allocation(session, ctx=ctx, store_id=store.id)
        condition = stores.store_condition(session, ctx=ctx, store_id=store.id)
        rule = prices.get_rule(session, ctx=ctx, store_id=store.id)
        return {
            **{f"price_{k}": v for k, v in rule.as_settings().items()},
            "price_rule": rule.describe(),
            "share": f"{share.share_percent.normalize():f}",
            "buffer": str(share.buffer),
            "allocation": _allocation_text(f"{share.share_percent.normalize():f}", share.buffer),
            "condition": condition.state,
            "condition_label": CONDITION_LABELS[condition.state],
            "condition_message": condition.message,
            "condition_since": f"since {when(condition.since)} UTC" if condition.since else "",
            "id": str(store.id),
            "platform": store.platform,
            "name": store.name,
            "shop": store.platform_store_id,
            "status": store.status,
            "sync_status": label(store.sync_status),
            "token_expires": when(store.token_expires_at),
            "last_synced": when(store.last_synced_at) or "never",
            "last_push": when(metrics.last_push_at) or "none yet",
            "listings": f"{metrics.matched_listings}/{metrics.listings} matched",
            "orders_24h": str(metrics.orders_24h),
            "import": _job_text(products),
            "importing": "yes" if products is not None and products.active else "",
        }

    def _on_events(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        if any(e["type"].startswith(("sync_job", "store", "order.")) for e in events):
            self._load(ctx)

    def _opened(self) -> Any:
        params = self._query()
        self.notice = ""
        if params.get("error"):
            return rx.toast.error(params["error"][:200], id="toast-error")
        if params.get("connected"):
            self.notice = "Store connected. Import its products to start syncing."
        return None

    def _query(self) -> dict[str, str]:
        try:
            return dict(self.router.url.query_parameters)
        except AttributeError:
            return {}

    @rx.event
    def connect(self, platform: str):
        """Send the browser to the marketplace's authorize page; it comes back to the OAuth
        callback route, which connects the store. Needs MANAGE_STORES."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect("/signin")
        if platform not in PLATFORMS:
            return rx.toast.error(f"platform: {platform[:20]} is not supported")
        try:
            with self._writing(ctx) as session:
                browser = sessions.find_session(session, token=self._session_token())
                if browser is None:
                    return rx.redirect("/signin")
                url = oauth.begin_connect(
                    session,
                    ctx=ctx,
                    platform=platform,
                    browser_session_id=browser.id,
                    callback_url=callback_url(platform),
                )
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        # A full page load: in embedded mode the marketplace's page is on this host, and
        # rx.redirect would look for it among the app's own pages.
        return rx.call_script(f"window.location.assign({json.dumps(url)})")

    @rx.event
    def import_products(self, store_id: str):
        """Import the store's listings, matching by SKU and creating master products for the
        rest. Needs RUN_SYNC and MANAGE_CATALOG."""
        return self._on_store(
            store_id,
            lambda session, ctx, sid: jobs.start_job(
                session,
                ctx=ctx,
                store_id=sid,
                kind="products",
                params={"create_products": True},
            ),
            "product import started",
        )

    @rx.event
    def disconnect(self, store_id: str):
        return self._on_store(
            store_id,
            lambda session, ctx, sid: stores.disconnect(session, ctx=ctx, store_id=sid),
            "store disconnected",
        )

    def _on_store(self, store_id: str, action: Any, done: str) -> Any:
        return self._act(lambda session, ctx: action(session, ctx, uuid.UUID(store_id)), done)

    @rx.event
    def save_allocation(self, form_data: dict[str, str]):
        """Set the store's share of available stock and its safety buffer; listings whose
        quantity changes are pushed again. Needs MANAGE_STORES."""
        return self._on_store(
            form_data.get("store_id", ""),
            lambda session, ctx, sid: allocation.set_allocation(
                session,
                ctx=ctx,
                store_id=sid,
                share_percent=form_data.get("share_percent", ""),
                buffer=form_data.get("buffer", ""),
            ),
            "allocation saved",
        )

    @rx.event
    def preview_prices(self, form_data: dict[str, str]):
        """What the rule in the form would send: old and new price per linked listing."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect("/signin")
        try:
            store_id = uuid.UUID(form_data.get("store_id", ""))
            rule = parse_rule(dict(form_data))
            with self._session(ctx) as session:
                rows = prices.preview(session, ctx=ctx, store_id=store_id, rule=rule)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error(self.MISSING, id="toast-error")
        self.price_preview = [_preview_row(r) for r in rows[:PREVIEW_ROWS]]
        self.price_preview_of = str(store_id)
        self._previewed_rule = rule.as_settings()
        below = sum(1 for r in rows if r.problem)
        self.price_preview_note = (
            f"{len(rows)} linked listings" + (f", {below} not sent (see why)" if below else "")
            if rows
            else "No linked listings to price yet."
        )
        return None

    @rx.event
    def save_prices(self):
        """Keep the previewed rule and send its prices (a sync job on the Sync page). A rule
        that would price a listing below its floor is refused, naming it. Needs
        MANAGE_STORES."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect("/signin")
        try:
            store_id, rule = uuid.UUID(self.price_preview_of), parse_rule(self._previewed_rule)
            with self._writing(ctx) as session:
                prices.save_rule(session, ctx=ctx, store_id=store_id, rule=rule)
                prices.start_push(session, ctx=ctx, store_id=store_id)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error("preview the prices first", id="toast-error")
        self.price_preview, self.price_preview_of, self._previewed_rule = [], "", {}
        self._load(ctx)
        return rx.toast.success("price rule saved: sending the prices", id="toast-success")

    @rx.event
    def close_price_preview(self):
        self.price_preview, self.price_preview_of, self._previewed_rule = [], "", {}

    @rx.event
    async def check_health(self, store_id: str):
        """Ask the marketplace now: token valid, reachable, latency."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect("/signin")
        try:
            health = await stores.check_health(ctx=ctx, store_id=uuid.UUID(store_id))
        except (AppError, ValueError):
            return rx.toast.error("that store is not available", id="toast-error")
        self._load(ctx)
        if health.ok:
            latency = f" in {health.latency_ms:.0f} ms" if health.latency_ms is not None else ""
            return rx.toast.success(
                f"Healthy: the marketplace answered{latency}.", id="toast-health"
            )
        platform = next((s["platform"] for s in self.stores if s["id"] == store_id), "")
        code, message = trouble.split_detail(health.detail)
        return rx.toast.error(trouble.plain_words(platform, code, message), id="toast-health")


PREVIEW_ROWS = 50


def _preview_row(r: prices.PricedListing) -> dict[str, str]:
    return {
        "sku": r.sku,
        "title": r.title,
        "old": money(r.old, r.currency) if r.old is not None else "not known",
        "new": money(r.new, r.currency) if r.new is not None else "",
        "problem": r.problem,
    }
