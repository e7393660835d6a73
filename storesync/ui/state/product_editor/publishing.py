"""Publishing the selected products to a store (a substate of the products page): choose the
store and the platform's category, fill the category's attributes (required ones marked, the
platform's allowed values offered), Shopee's logistics channels and the package, check what the
platform would refuse, then publish as a sync job and follow it to its per-product results."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import reflex as rx

from storesync.channels.schemas import AttributeValue, CategoryDetail, DraftAttribute
from storesync.core.errors import AppError, ValidationFailed
from storesync.stores import service as stores
from storesync.sync.jobs import service as jobs
from storesync.sync.publish import service as publish
from storesync.sync.publish.categories import category_detail, category_tree, leaf_path
from storesync.sync.publish.service import PublishForm
from storesync.ui.state.products import SIGN_IN, ProductsState

FOLLOW_SECONDS = 180  # how long the dialog follows its job (the Sync page shows it after)
POLL_SECONDS = 0.5
PACKAGE_FIELDS = ("weight_grams", "length_cm", "width_cm", "height_cm")


class PublishState(ProductsState):
    publish_open: bool = False
    targets: list[dict[str, str]] = []  # connected stores
    target_id: str = ""
    target_platform: str = ""
    categories: list[dict[str, str]] = []  # leaves: id, label ("Fashion > Men > T-Shirts")
    category_label: str = ""
    attributes: list[dict[str, str]] = []  # id, name, required ("yes"/""), kind (pick/text)
    attribute_options: dict[str, list[str]] = {}  # attribute id → allowed value names
    attribute_values: dict[str, str] = {}  # attribute id → chosen name (or text)
    logistics: list[dict[str, str]] = []  # Shopee channels: id, name
    chosen_logistics: list[str] = []
    rules: str = ""  # what the platform allows, in one line
    problems: list[dict[str, str]] = []  # product, field, message
    busy: bool = False
    job_status: str = ""
    job_progress: str = ""
    results: list[dict[str, str]] = []  # product, ok, item or field: message
    category_search: str = ""
    package: dict[str, str] = {}  # weight_grams, length_cm, width_cm, height_cm as typed
    _category_id: str = ""
    _detail: dict[str, Any] = {}

    @rx.var
    def target_labels(self) -> list[str]:
        return [t["label"] for t in self.targets]

    @rx.var
    def category_labels(self) -> list[str]:
        """The leaves whose path holds every word searched (the first 100)."""
        words = self.category_search.lower().split()
        found = [c["label"] for c in self.categories if all(w in c["label"].lower() for w in words)]
        return found[:100]

    @rx.event
    def search_categories(self, text: str):
        self.category_search = text[:100]

    @rx.event
    def open_publish(self):
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN)
        with self._session(ctx) as session:
            connected = [s for s in stores.list_stores(session, ctx=ctx) if s.status == "connected"]
        self.targets = [
            {"id": str(s.id), "label": f"{s.name} ({s.platform})", "platform": s.platform}
            for s in connected
        ]
        self._reset_form()
        self.package = {}
        self.target_id = self.target_platform = ""
        self.categories = []
        self.publish_open = True
        return None

    @rx.event
    def close_publish(self):
        self.publish_open = False

    @rx.event
    def publish_open_change(self, is_open: bool):
        if not is_open and not self.busy:
            self.publish_open = False

    @rx.event
    def set_package(self, name: str, value: str):
        if name in PACKAGE_FIELDS:
            self.package = {**self.package, name: value.strip()[:10]}

    def _reset_form(self) -> None:
        self.category_label = self.rules = ""
        self._category_id = ""
        self._detail = {}
        self.attributes, self.attribute_options, self.attribute_values = [], {}, {}
        self.logistics, self.chosen_logistics = [], []
        self.problems, self.results = [], []
        self.job_status = self.job_progress = ""

    @rx.event
    async def choose_target(self, label: str):
        found = next((t for t in self.targets if t["label"] == label), None)
        if found is None:
            return rx.toast.error("choose one of the connected stores", id="toast-error")
        self.target_id, self.target_platform = found["id"], found["platform"]
        self._reset_form()
        self.package = {}
        return await self._categories(refresh=False)

    @rx.event
    async def refresh_categories(self):
        return await self._categories(refresh=True)

    async def _categories(self, *, refresh: bool) -> Any:
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN)
        try:
            tree = await category_tree(ctx, uuid.UUID(self.target_id), refresh=refresh)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error("choose a store first", id="toast-error")
        self.categories = sorted(
            (
                {"id": c.category_id, "label": leaf_path(tree, c.category_id)}
                for c in tree
                if c.leaf
            ),
            key=lambda c: c["label"],
        )
        return None

    @rx.event
    async def choose_category(self, label: str):
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN)
        found = next((c for c in self.categories if c["label"] == label), None)
        if found is None:
            return rx.toast.error("choose one of the platform's categories", id="toast-error")
        try:
            detail = await category_detail(ctx, uuid.UUID(self.target_id), found["id"])
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        self._reset_form()
        self._category_id, self.category_label = found["id"], label
        self._detail = detail.model_dump(mode="json")
        self.attributes = [
            {
                "id": a.attribute_id,
                "name": a.name + (" *" if a.required else ""),
                "required": "yes" if a.required else "",
                "kind": "pick" if a.values else "text",
            }
            for a in detail.attributes
        ]
        self.attribute_options = {
            a.attribute_id: [v.name for v in a.values] for a in detail.attributes if a.values
        }
        self.logistics = [{"id": c.channel_id, "name": c.name} for c in detail.logistics]
        self.chosen_logistics = [c.channel_id for c in detail.logistics[:1]]
        r = detail.rules
        self.rules = (
            f"title {r.title_min}-{r.title_max} characters · {r.images_min}-{r.images_max} "
            f"images of at most {r.image_max_bytes // 1048576} MB · price {r.price_min:,}-"
            f"{r.price_max:,} · at most {r.max_variants} variants"
            + (" · package weight and size needed" if r.needs_package else "")
        )
        return None

    @rx.event
    def set_attribute(self, attribute_id: str, value: str):
        self.attribute_values = {**self.attribute_values, attribute_id: value[:200]}

    @rx.event
    def toggle_logistics(self, channel_id: str, checked: bool):
        rest = [c for c in self.chosen_logistics if c != channel_id]
        self.chosen_logistics = [*rest, channel_id] if checked else rest

    def _form(self) -> PublishForm:
        detail = CategoryDetail.model_validate(self._detail)
        chosen = []
        for attribute in detail.attributes:
            value = self.attribute_values.get(attribute.attribute_id, "").strip()
            if not value:
                continue
            match = next((v for v in attribute.values if v.name == value), None)
            chosen.append(
                DraftAttribute(
                    attribute_id=attribute.attribute_id,
                    values=[match or AttributeValue(value_id="", name=value)],
                )
            )
        return PublishForm(
            category_id=self._category_id,
            attributes=chosen,
            logistics_ids=self.chosen_logistics,
            weight_grams=_whole(self.package.get("weight_grams")),
            length_cm=_whole(self.package.get("length_cm")),
            width_cm=_whole(self.package.get("width_cm")),
            height_cm=_whole(self.package.get("height_cm")),
        )

    @rx.event
    async def check(self):
        """What the platform would refuse for each selected product; nothing is sent."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN)
        if not self._category_id:
            return rx.toast.error("category: choose the platform's category", id="toast-error")
        try:
            form = self._form()
            ids = [uuid.UUID(p) for p in self.selected]
            found = await publish.check_publish(
                ctx, store_id=uuid.UUID(self.target_id), product_ids=ids, form=form
            )
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError as error:
            return rx.toast.error(str(error).splitlines()[0][:200], id="toast-error")
        titles = self._titles()
        self.problems = [
            {"product": titles.get(str(p), str(p)), "field": x.field, "message": x.message}
            for p in ids
            for x in found[p]
        ]
        if not self.problems:
            return rx.toast.success(
                "ready to publish: nothing would be refused", id="toast-success"
            )
        return None

    def _titles(self) -> dict[str, str]:
        return {r["id"]: r.get("title", "") for r in self.rows}

    @rx.event
    async def publish(self):
        """Queue the publish job for the selected products and follow it here."""
        ctx = self._ctx()
        if ctx is None:
            yield rx.redirect(SIGN_IN)
            return
        if not self._category_id:
            yield rx.toast.error("category: choose the platform's category", id="toast-error")
            return
        try:
            form = self._form()
            ids = [uuid.UUID(p) for p in self.selected]
            with self._writing(ctx) as session:
                job_id = publish.start_publish(
                    session, ctx=ctx, store_id=uuid.UUID(self.target_id), product_ids=ids, form=form
                )
        except AppError as error:
            yield rx.toast.error(error.message, id="toast-error")
            return
        except ValueError as error:
            yield rx.toast.error(str(error).splitlines()[0][:200], id="toast-error")
            return
        self.busy, self.results, self.problems = True, [], []
        self.job_status = "queued"
        yield
        waited = 0.0
        while waited < FOLLOW_SECONDS:
            await asyncio.sleep(POLL_SECONDS)
            waited += POLL_SECONDS
            with self._session(ctx) as session:
                job = jobs.get_job(session, ctx=ctx, job_id=job_id)
            self.job_status = job.status
            self.job_progress = f"{job.done}/{job.total}" if job.total else ""
            if not job.active:
                self._results(job.result or {}, job.error or {})
                break
            yield
        self.busy = False
        self.selected = (
            [] if self.job_status == "succeeded" and not self.problems else self.selected
        )
        self._load(ctx)
        yield

    def _results(self, result: dict[str, Any], error: dict[str, Any]) -> None:
        rows = []
        for outcome in result.get("products") or []:
            ok = bool(outcome.get("ok"))
            detail = (
                f"listed as item {outcome.get('platform_item_id', '')}, "
                f"{outcome.get('listings', 0)} SKUs linked"
                if ok
                else f"{outcome.get('field') or 'refused'}: {outcome.get('message', '')}"
            )
            rows.append(
                {
                    "product": str(outcome.get("title", "")),
                    "ok": "yes" if ok else "",
                    "detail": detail,
                }
            )
        if error.get("message"):
            rows.append({"product": "", "ok": "", "detail": str(error["message"])[:300]})
        self.results = rows


def _whole(raw: str | None) -> int | None:
    text = (raw or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValidationFailed("package", f"{text[:20]!r} is not a whole number")
    return int(text)
