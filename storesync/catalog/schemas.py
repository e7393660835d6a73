"""Catalog DTOs, service inputs, and the field rules the service and the importer share.

The rules return a reason (`"must not be negative"`) or `None`, so the service can raise
`ValidationFailed(field, reason)` and the importer can report `RowError(row, column, reason)`
with the same wording.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from storesync.core.errors import ValidationFailed
from storesync.core.schemas import DTO

PRODUCT_STATUSES = ("active", "draft", "archived")
MEDIA_PREFIX = "/media/"
MAX_OPTIONS = 3
MAX_MONEY = Decimal(10) ** 14  # Numeric(18, 4)
MONEY_PLACES = 4
MAX_DIMENSION = 2**31 - 1
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_URL = re.compile(r"^https?://\S+$")
_TEXT_LIMITS = {
    "handle": 120,
    "title": 255,
    "brand": 120,
    "category": 120,
    "sku": 100,
    "name": 255,
    "barcode": 64,
    "description": 20_000,
}


class VariantDTO(DTO):
    id: uuid.UUID
    product_id: uuid.UUID
    sku: str = Field(validation_alias=AliasChoices("sku", "variant_sku"))
    name: str
    options: dict[str, str]
    barcode: str
    price: Decimal | None
    cost: Decimal | None
    currency: str
    weight_grams: int | None
    length_mm: int | None
    width_mm: int | None
    height_mm: int | None
    image_id: str = ""  # one of the product's images; blank: the product's main image
    is_active: bool
    created_at: datetime
    updated_at: datetime | None


class ProductImageDTO(DTO):
    """One picture of a product. A stored image has `key` / `thumb_key` (served at
    `/media/<key>`); an image known only by its URL (CSV import, API) has `key == ""`."""

    id: str
    key: str = ""
    thumb_key: str = ""
    width: int = 0
    height: int = 0
    alt: str = ""
    url: str = ""

    @property
    def src(self) -> str:
        return f"{MEDIA_PREFIX}{self.key}" if self.key else self.url

    @property
    def thumb_src(self) -> str:
        return f"{MEDIA_PREFIX}{self.thumb_key}" if self.thumb_key else self.src


def image_entry(raw: Any) -> dict[str, Any]:
    """One element of `Product.images` as a dict: older rows (and the importer) keep bare URLs,
    which get a stable id made from the URL."""
    if isinstance(raw, dict):
        return raw
    url = str(raw)
    return {"id": "url-" + hashlib.sha256(url.encode()).hexdigest()[:12], "url": url}


class ProductDTO(DTO):
    id: uuid.UUID
    handle: str
    title: str
    description: str
    brand: str
    category: str
    status: str
    attributes: dict[str, Any]
    # The images as URLs (the API's and the CSV's view), and in full, in order: the first is
    # the main image.
    images: list[str]
    gallery: list[ProductImageDTO] = Field(
        default=[], validation_alias=AliasChoices("gallery", "images")
    )
    created_at: datetime
    updated_at: datetime | None
    deleted_at: datetime | None
    variants: list[VariantDTO] = []

    @field_validator("images", mode="before")
    @classmethod
    def _image_urls(cls, value: Any) -> list[str]:
        return [ProductImageDTO.model_validate(image_entry(v)).src for v in value or []]

    @field_validator("gallery", mode="before")
    @classmethod
    def _image_entries(cls, value: Any) -> list[Any]:
        return [v if isinstance(v, ProductImageDTO) else image_entry(v) for v in value or []]

    @property
    def main_image(self) -> ProductImageDTO | None:
        return self.gallery[0] if self.gallery else None


class VariantInput(BaseModel):
    """A new variant. `currency=None` takes the organization's default currency."""

    model_config = ConfigDict(frozen=True)

    sku: str
    name: str = ""
    options: dict[str, str] = {}
    barcode: str = ""
    price: Decimal | None = None
    cost: Decimal | None = None
    currency: str | None = None
    weight_grams: int | None = None
    length_mm: int | None = None
    width_mm: int | None = None
    height_mm: int | None = None
    is_active: bool = True


class VariantUpdate(BaseModel):
    """Changes to a variant: only the fields given are applied (`price=None` clears a price)."""

    model_config = ConfigDict(frozen=True)

    sku: str | None = None
    name: str | None = None
    options: dict[str, str] | None = None
    barcode: str | None = None
    price: Decimal | None = None
    cost: Decimal | None = None
    currency: str | None = None
    weight_grams: int | None = None
    length_mm: int | None = None
    width_mm: int | None = None
    height_mm: int | None = None
    image_id: str | None = None  # one of the product's image ids; "" for none of its own
    is_active: bool | None = None


class ProductUpdate(BaseModel):
    """Changes to a product: only the fields given are applied."""

    model_config = ConfigDict(frozen=True)

    handle: str | None = None
    title: str | None = None
    description: str | None = None
    brand: str | None = None
    category: str | None = None
    status: str | None = None
    attributes: dict[str, Any] | None = None
    images: list[str] | None = None


class BulkUpdateItem(BaseModel):
    """One item of a bulk update, aimed at a variant (`sku`) or at a product (`handle`).

    Aimed at a variant: `price`, `cost`, `is_active` change that variant. Aimed at a product:
    they change every (non-deleted) variant of it, and `attributes` are merged into the
    product's attributes (a key given as `None` is removed). Only the fields given are applied.
    """

    model_config = ConfigDict(frozen=True)

    sku: str | None = None
    handle: str | None = None
    price: Decimal | None = None
    cost: Decimal | None = None
    is_active: bool | None = None
    attributes: dict[str, Any] | None = None


class BulkItemResult(DTO):
    index: int
    ref: str
    ok: bool
    code: str = ""
    message: str = ""


class BulkResult(DTO):
    items: list[BulkItemResult]
    succeeded: int
    failed: int
    # The variants whose price changed, for their channels' price push (not sent to callers).
    repriced_variant_ids: list[uuid.UUID] = Field(default=[], exclude=True)


class RowError(DTO):
    """A problem with one row (1-based data row; 0 is the header) and column of an import."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


UPDATED_NAMED = 20


class ImportReport(DTO):
    """What an import did (or, in a dry run, would do). `rows_applied` counts the valid rows that
    were (would be) imported: 0 when bad rows stopped the import."""

    rows_total: int = 0
    rows_invalid: int = 0
    rows_applied: int = 0
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    variants_unchanged: int = 0
    stock_changed: int = 0
    # The handles of the existing products the file changed (a row whose handle is already
    # taken merges into that product): the first UPDATED_NAMED of them.
    updated_handles: list[str] = []
    dry_run: bool = False
    written: bool = False
    errors: list[RowError] = []
    # What the channels must be sent (not shown to callers): the variants whose price changed
    # and the products whose title, description, attributes or images did.
    repriced_variant_ids: list[uuid.UUID] = Field(default=[], exclude=True)
    content_product_ids: list[uuid.UUID] = Field(default=[], exclude=True)

    @property
    def created(self) -> int:
        return self.products_created + self.variants_created

    @property
    def updated(self) -> int:
        return self.products_updated + self.variants_updated


# Field rules -------------------------------------------------------------------------------


def text_problem(field: str, value: str, *, required: bool = False) -> str | None:
    if required and not value.strip():
        return "is required"
    limit = _TEXT_LIMITS.get(field)
    if limit is not None and len(value) > limit:
        return f"must be at most {limit} characters"
    return None


def key_problem(field: str, value: str) -> str | None:
    """Handles and SKUs: required, no surrounding or inner whitespace, bounded length."""
    if not value:
        return "is required"
    if any(ch.isspace() for ch in value):
        return "must not contain spaces"
    return text_problem(field, value)


def money_problem(value: Decimal | None) -> str | None:
    if value is None:
        return None
    if not value.is_finite():
        return "must be a number"
    if value < 0:
        return "must not be negative"
    if value >= MAX_MONEY:
        return "is too large"
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MONEY_PLACES:
        return f"must have at most {MONEY_PLACES} decimal places"
    return None


def dimension_problem(value: int | None) -> str | None:
    if value is None:
        return None
    if value < 0:
        return "must not be negative"
    if value > MAX_DIMENSION:
        return "is too large"
    return None


def currency_problem(value: str) -> str | None:
    return None if _CURRENCY.match(value) else "must be a 3-letter ISO code such as IDR"


def status_problem(value: str) -> str | None:
    return None if value in PRODUCT_STATUSES else f"must be one of {', '.join(PRODUCT_STATUSES)}"


def options_problem(options: dict[str, str]) -> str | None:
    if len(options) > MAX_OPTIONS:
        return f"at most {MAX_OPTIONS} options"
    for name, value in options.items():
        if not name.strip() or not str(value).strip():
            return "option names and values must not be empty"
    return None


def images_problem(images: list[str]) -> str | None:
    for url in images:
        if not _URL.match(url) or "|" in url:
            return f"{url!r} is not an http(s) URL"
    return None


Rule = Callable[[Any], str | None]
VARIANT_RULES: dict[str, Rule] = {
    "sku": lambda v: key_problem("sku", v),
    "name": lambda v: text_problem("name", v),
    "barcode": lambda v: text_problem("barcode", v),
    "options": options_problem,
    "price": money_problem,
    "cost": money_problem,
    "currency": currency_problem,
    "weight_grams": dimension_problem,
    "length_mm": dimension_problem,
    "width_mm": dimension_problem,
    "height_mm": dimension_problem,
}
PRODUCT_RULES: dict[str, Rule] = {
    "handle": lambda v: key_problem("handle", v),
    "title": lambda v: text_problem("title", v, required=True),
    "brand": lambda v: text_problem("brand", v),
    "category": lambda v: text_problem("category", v),
    "description": lambda v: text_problem("description", v),
    "status": status_problem,
    "images": images_problem,
}


def check_fields(rules: Mapping[str, Rule], values: Mapping[str, Any]) -> None:
    """Raise `ValidationFailed` naming the first field whose rule finds a problem."""
    for field, value in values.items():
        rule = rules.get(field)
        problem = rule(value) if rule is not None else None
        if problem:
            raise ValidationFailed(field, problem)


def clean_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Trim keys and text the way the importer does, upper-case currencies."""
    for field in ("sku", "handle", "title", "name", "barcode", "brand", "category", "image_id"):
        if isinstance(values.get(field), str):
            values[field] = values[field].strip()
    if isinstance(values.get("currency"), str):
        values["currency"] = values["currency"].strip().upper()
    return values
