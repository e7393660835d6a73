"""The product editor on the products page (a substate of it): create a product from its title,
edit every product and variant field, manage the images (upload, from a URL, order, main,
delete), and see stock per location and the product's listings per channel (read-only)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import reflex as rx

from storesync.catalog import service as catalog
from storesync.catalog.content import images as catalog_images
from storesync.catalog.models import ProductVariant
from storesync.catalog.schemas import ProductDTO, ProductUpdate, VariantInput
from storesync.core.errors import AppError
from storesync.db import writing
from storesync.sync.prices import service as prices
from storesync.sync.publish import service as publish
from storesync.tenancy.context import RequestContext
from storesync.ui.state.product_editor.views import (
    decimal_field,
    image_rows,
    listing_rows,
    pairs_field,
    product_form,
    publication_rows,
    stock_rows,
    variant_changes,
    variant_input,
    variant_row,
)
from storesync.ui.state.products import SIGN_IN, ProductsState

IMAGE_UPLOAD_ID = "product-image-upload"
PACKAGE_FIELDS = ("weight_grams", "length_mm", "width_mm", "height_mm")
MAX_UPLOAD_FILES = 20


class ProductEditorState(ProductsState):
    # mode: "" (closed) | "create" | "product" | "variant"
    mode: str = ""
    product: dict[str, str] = {}
    product_images: list[dict[str, str]] = []
    product_variants: list[dict[str, str]] = []
    variant: dict[str, str] = {}
    stock: list[dict[str, str]] = []
    listings: list[dict[str, str]] = []
    publications: list[dict[str, str]] = []  # the stores it is published to
    field_errors: dict[str, str] = {}  # the service's message per field it named
    image_busy: bool = False

    # Opening and closing --------------------------------------------------------------------

    @rx.event
    def start_create(self):
        self.mode, self.product, self.field_errors = "create", {}, {}

    @rx.event
    def start_edit(self, product_id: str):
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN)
        try:
            with self._session(ctx) as session:
                product = catalog.get_product(session, ctx=ctx, product_id=uuid.UUID(product_id))
                self.stock = stock_rows(session, ctx, product)
                self.listings = listing_rows(session, ctx, product)
                self.publications = publication_rows(session, ctx, product)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error(self.MISSING, id="toast-error")
        self._show_product(product)
        self.mode, self.field_errors = "product", {}
        return None

    @rx.event
    def start_edit_variant(self, variant_id: str):
        found = next((v for v in self.product_variants if v["id"] == variant_id), None)
        if found is not None:
            self.variant, self.mode, self.field_errors = found, "variant", {}

    @rx.event
    def start_new_variant(self):
        if self.product.get("id"):
            self.variant, self.mode, self.field_errors = {"active": "active"}, "variant", {}

    @rx.event
    def back_to_product(self):
        self.mode, self.field_errors = "product", {}

    @rx.event
    def editor_open_change(self, is_open: bool):
        if not is_open:
            self._close()

    @rx.event
    def close_editor(self):
        self._close()

    def _close(self) -> None:
        self.mode, self.product, self.variant, self.field_errors = "", {}, {}, {}
        self.product_images, self.product_variants, self.stock, self.listings = [], [], [], []
        self.publications = []

    def _show_product(self, product: ProductDTO) -> None:
        self.product = product_form(product)
        self.product_images = image_rows(product.gallery)
        thumbs = {image.id: image.thumb_src for image in product.gallery}
        self.product_variants = [variant_row(v, thumbs) for v in product.variants]

    # Saving fields ----------------------------------------------------------------------------

    @rx.event
    def create_product(self, form_data: dict[str, str]):
        """A product with its first variant; a blank handle is made from the title, a blank
        SKU from the handle. A bad value shows next to its field and nothing is saved."""

        def create(session: Any, ctx: RequestContext) -> Any:
            title = form_data.get("title", "")
            handle = form_data.get("handle", "").strip()
            if not handle and title.strip():
                handle = catalog.handle_from_title(session, ctx=ctx, title=title)
            sku = form_data.get("sku", "").strip() or handle.upper()
            return catalog.create_product(
                session,
                ctx=ctx,
                handle=handle,
                title=title,
                status=form_data.get("status", "active"),
                variants=[
                    VariantInput(sku=sku, price=decimal_field("price", form_data.get("price", "")))
                ],
            )

        return self._save(form_data, create, "product created")

    @rx.event
    def update_product(self, form_data: dict[str, str]):
        product_id = self.product.get("id", "")
        return self._save(
            form_data,
            lambda session, ctx: _update_product(session, ctx, uuid.UUID(product_id), form_data),
            "product saved",
        )

    @rx.event
    def save_override(self, form_data: dict[str, str]):
        """A store's own title and description for the product's listing ("" follows the
        product); the store's content push is queued."""
        ctx, product_id = self._ctx(), self.product.get("id", "")
        if ctx is None:
            return rx.redirect(SIGN_IN)
        try:
            with self._writing(ctx) as session:
                publish.set_override(
                    session,
                    ctx=ctx,
                    store_id=uuid.UUID(form_data.get("store_id", "")),
                    product_id=uuid.UUID(product_id),
                    title=form_data.get("title_override", ""),
                    description=form_data.get("description_override", ""),
                )
                product = catalog.get_product(session, ctx=ctx, product_id=uuid.UUID(product_id))
                self.publications = publication_rows(session, ctx, product)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error(self.MISSING, id="toast-error")
        return rx.toast.success("channel title saved", id="toast-success")

    @rx.event
    def update_variant(self, form_data: dict[str, str]):
        """Save the variant form: a change to the variant, or a new one (no id yet)."""
        variant_id, product_id = self.variant.get("id", ""), self.product.get("id", "")
        if not variant_id:
            return self._save(
                form_data,
                lambda session, ctx: catalog.create_variant(
                    session,
                    ctx=ctx,
                    product_id=uuid.UUID(product_id),
                    variant=variant_input(form_data),
                ),
                "variant added",
            )
        was, vid = self.variant.get("price_input", ""), uuid.UUID(variant_id)
        return self._save(
            form_data,
            lambda session, ctx: _update_variant(session, ctx, vid, form_data, was),
            "variant saved",
        )

    def _save(self, form_data: dict[str, str], write: Callable[[Any, Any], Any], done: str):
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN)
        self.field_errors = {}
        try:
            with self._writing(ctx) as session:
                write(session, ctx)
        except AppError as error:
            field = str(error.details.get("field", ""))
            if field in form_data:
                self.field_errors = {field: error.message}
                return None
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error("choose a product to edit", id="toast-error")
        self._close()
        self._load(ctx)
        return rx.toast.success(done, id="toast-success")

    # Images -----------------------------------------------------------------------------------

    @rx.event
    async def upload_images(self, files: list[rx.UploadFile]):
        """Add the dropped or chosen pictures, in order; each is checked on its own."""
        ctx, product_id = self._ctx(), self.product.get("id", "")
        if ctx is None:
            return rx.redirect(SIGN_IN)
        if not files or not product_id:
            return rx.toast.error("choose an image first", id="toast-error")
        contents = [await f.read() for f in files[:MAX_UPLOAD_FILES]]
        self.image_busy = True
        try:
            for data in contents:
                product = await asyncio.to_thread(_add_image, ctx, uuid.UUID(product_id), data)
                self._show_product(product)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        finally:
            self.image_busy = False
        # (The drop hands its files straight to this handler: there is no selection to clear.)
        self._load(ctx)
        added = f"{len(contents)} image" + ("" if len(contents) == 1 else "s")
        return rx.toast.success(f"{added} added", id="toast-success")

    @rx.event
    async def add_image_url(self, form_data: dict[str, str]):
        """Download a picture from a public web address (the service refuses local ones)."""
        ctx, product_id = self._ctx(), self.product.get("id", "")
        if ctx is None:
            return rx.redirect(SIGN_IN)
        url = form_data.get("image_url", "").strip()
        if not url or not product_id:
            return rx.toast.error("url: paste an image's web address", id="toast-error")
        self.image_busy = True
        try:
            product = await asyncio.to_thread(_add_image_url, ctx, uuid.UUID(product_id), url)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        finally:
            self.image_busy = False
        self._show_product(product)
        self._load(ctx)
        return rx.toast.success("image added", id="toast-success")

    @rx.event
    def move_image(self, image_id: str, offset: int):
        return self._image_change(
            lambda session, ctx, pid: catalog_images.move_image(
                session, ctx=ctx, product_id=pid, image_id=image_id, offset=int(offset)
            )
        )

    @rx.event
    def make_main_image(self, image_id: str):
        return self._image_change(
            lambda session, ctx, pid: catalog_images.set_main_image(
                session, ctx=ctx, product_id=pid, image_id=image_id
            )
        )

    @rx.event
    def delete_image(self, image_id: str):
        return self._image_change(
            lambda session, ctx, pid: catalog_images.delete_image(
                session, ctx=ctx, product_id=pid, image_id=image_id
            ),
            "image deleted",
        )

    def _image_change(
        self, change: Callable[[Any, RequestContext, uuid.UUID], ProductDTO], done: str = ""
    ):
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN)
        try:
            with self._writing(ctx) as session:
                product = change(session, ctx, uuid.UUID(self.product.get("id", "")))
                # The channels where it is published get the new pictures and their order.
                publish.start_content_pushes_for(session, ctx=ctx, product_ids=[product.id])
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        except ValueError:
            return rx.toast.error(self.MISSING, id="toast-error")
        self._show_product(product)
        self._load(ctx)
        return rx.toast.success(done, id="toast-success") if done else None


def _update_product(
    session: Any, ctx: RequestContext, product_id: uuid.UUID, form: dict[str, str]
) -> None:
    """Save the product; its content goes to every store where it is published (the stores'
    content pushes are queued in the same transaction) when what they show changed."""
    before = publish.content_of(session, product_id)
    catalog.update_product(
        session,
        ctx=ctx,
        product_id=product_id,
        changes=ProductUpdate(
            title=form.get("title", ""),
            handle=form.get("handle", ""),
            description=form.get("description", ""),
            brand=form.get("brand", ""),
            category=form.get("category", ""),
            status=form.get("status", ""),
            attributes=pairs_field("attributes", form.get("attributes", "")),
        ),
    )
    if publish.content_of(session, product_id) != before:
        publish.start_content_pushes_for(session, ctx=ctx, product_ids=[product_id])


def _update_variant(
    session: Any, ctx: RequestContext, variant_id: uuid.UUID, form: dict[str, str], was: str
) -> None:
    """Save the variant; a new master price goes to every channel that sells it, a new weight
    or size to every store where its product is published (the stores' price and content
    pushes are queued in the same transaction)."""
    stored = session.get(ProductVariant, variant_id)
    package = tuple(getattr(stored, f, None) for f in PACKAGE_FIELDS) if stored else ()
    saved = catalog.update_variant(
        session, ctx=ctx, variant_id=variant_id, changes=variant_changes(form)
    )
    before = Decimal(was) if was else None
    if saved.price != before:
        prices.start_pushes_for(session, ctx=ctx, variant_ids=[variant_id])
    if tuple(getattr(saved, f) for f in PACKAGE_FIELDS) != package:
        publish.start_content_pushes_for(session, ctx=ctx, product_ids=[saved.product_id])


def _add_image(ctx: RequestContext, product_id: uuid.UUID, data: bytes) -> ProductDTO:
    # In a thread: checking and resizing a photo takes a moment; the event loop keeps serving.
    with writing(ctx) as session:
        product = catalog_images.add_image(session, ctx=ctx, product_id=product_id, data=data)
        publish.start_content_pushes_for(session, ctx=ctx, product_ids=[product_id])
        return product


def _add_image_url(ctx: RequestContext, product_id: uuid.UUID, url: str) -> ProductDTO:
    # Download before the transaction: a slow server must not hold the write lock.
    return _add_image(ctx, product_id, catalog_images.fetch_image(url))
