"""Import columns and cell parsers: text in, typed value out, or `Bad(reason)` worded for a
merchant. Blank text gives the field's default. See `storesync.catalog.importer` for the rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from storesync.catalog.schemas import (
    dimension_problem,
    images_problem,
    money_problem,
    status_problem,
    text_problem,
)

WHOLE_ROW = "*"
OPTION_SLOTS = 3
STOCK_PREFIX = "stock:"
PRODUCT_COLUMNS = ("title", "description", "brand", "category", "status", "attributes", "images")
VARIANT_COLUMNS = (
    "variant_name",
    *(f"option{i}_{part}" for i in range(1, OPTION_SLOTS + 1) for part in ("name", "value")),
    "barcode",
    "price",
    "cost",
    "currency",
    "weight_grams",
    "length_mm",
    "width_mm",
    "height_mm",
    "active",
)
COLUMNS = ("handle", *PRODUCT_COLUMNS, "sku", *VARIANT_COLUMNS)
_INT = re.compile(r"^[0-9]+$")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}


class Bad(Exception):
    """One bad cell: the reason, worded for a merchant."""


def _text(field_name: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        problem = text_problem(field_name, text)
        if problem:
            raise Bad(problem)
        return text

    return parse


def _status(text: str) -> str:
    value = text.lower() or "active"
    problem = status_problem(value)
    if problem:
        raise Bad(problem)
    return value


def _json_object(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as error:
        raise Bad(f"invalid JSON: {error}") from None
    if not isinstance(value, dict):
        raise Bad("must be a JSON object")
    return value


def _images(text: str) -> list[str]:
    urls = [part.strip() for part in text.split("|") if part.strip()]
    problem = images_problem(urls)
    if problem:
        raise Bad(problem)
    return urls


def _money(text: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Bad(f"{text!r} is not a number") from None
    problem = money_problem(value)
    if problem:
        raise Bad(problem)
    return value


def whole(text: str) -> int | None:
    if not text:
        return None
    if text.startswith("-") and _INT.match(text[1:]):
        raise Bad("must not be negative")
    if not _INT.match(text):
        raise Bad(f"{text!r} is not a whole number")
    value = int(text)
    problem = dimension_problem(value)
    if problem:
        raise Bad(problem)
    return value


def _flag(text: str) -> bool:
    value = text.lower()
    if not value or value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise Bad(f"{text!r} is not true or false")


# column -> (model field, parser of the stripped cell; blank gives the field's default)
PRODUCT_PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "title": ("title", _text("title")),
    "description": ("description", lambda text: text),
    "brand": ("brand", _text("brand")),
    "category": ("category", _text("category")),
    "status": ("status", _status),
    "attributes": ("attributes", _json_object),
    "images": ("images", _images),
}
VARIANT_PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "variant_name": ("name", _text("name")),
    "barcode": ("barcode", _text("barcode")),
    "price": ("price", _money),
    "cost": ("cost", _money),
    "weight_grams": ("weight_grams", whole),
    "length_mm": ("length_mm", whole),
    "width_mm": ("width_mm", whole),
    "height_mm": ("height_mm", whole),
    "active": ("is_active", _flag),
}


def json_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=_json_number)
    return str(value)


def _json_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)
