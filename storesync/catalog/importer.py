"""Bulk catalog import from CSV or JSON lines: one row per variant.

Columns (CSV header names; JSON lines use the same names as object keys):

- `handle` (required): the product's stable key; rows with the same handle are its variants.
- `title` (required on a product's first row), `description`, `brand`, `category`,
  `status` (active | draft | archived, blank = active), `attributes` (a JSON object),
  `images` (http(s) URLs separated by `|`). These are product fields: a later row of the same
  handle may leave them blank (inherits) or repeat them, but may not give a different value.
- `sku` (required, unique in the file and in the organization), `variant_name`,
  `option1_name`/`option1_value` .. `option3_name`/`option3_value`, `barcode`, `price`, `cost`
  (decimal numbers, at most 4 places, not negative; blank = none), `currency` (blank = the
  organization's default), `weight_grams`, `length_mm`, `width_mm`, `height_mm` (whole
  numbers), `active` (true/false, blank = true).
- `stock:<LOCATION_CODE>` (e.g. `stock:MAIN`): on-hand at that location, a whole number; blank
  leaves that location's stock as it is.

Only `handle` and `sku` must be in the header. A column left out of the file keeps the stored
value of existing products/variants (so a file of `handle,sku,price` updates prices only); a
column that is present but blank sets the field to its empty/default value. Variants that are
not in the file are left alone (an import never deletes). A handle or SKU that belongs to a
soft-deleted product/variant brings it back.

Rows are numbered from 1 for the first data row; the header is not counted (header problems,
such as an unknown column or an unknown location code, are reported as row 0). In JSON lines,
row N is line N. The whole file is validated before anything is written; a bad row is reported
with every bad cell (`RowError(row, column, reason)`). Any bad row, and any header problem, means
nothing is written, unless `skip_invalid=True`: then the good rows are imported and the bad ones
reported (header problems still stop everything). `dry_run=True` validates and counts what would
be created/updated/unchanged and writes nothing. Importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any, Literal

from sqlmodel import Session

from storesync.catalog import import_plan as planner
from storesync.catalog.import_cells import (
    COLUMNS,
    OPTION_SLOTS,
    PRODUCT_PARSERS,
    STOCK_PREFIX,
    VARIANT_PARSERS,
    WHOLE_ROW,
    Bad,
    json_cell,
    whole,
)
from storesync.catalog.import_plan import Parsed, ProductIn, VariantIn
from storesync.catalog.schemas import (
    UPDATED_NAMED,
    ImportReport,
    currency_problem,
    key_problem,
)
from storesync.core.clock import utcnow
from storesync.tenancy.audit.record import record as audit_record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

Format = Literal["csv", "jsonl"]
PROGRESS_EVERY = 10_000


class _Validator:
    """Checks rows one at a time against the file so far and the stored catalog."""

    def __init__(self, catalog: planner.Catalog, parsed: Parsed) -> None:
        self.catalog = catalog
        self.parsed = parsed

    def stock_column(self, column: str) -> uuid.UUID | None:
        code = column[len(STOCK_PREFIX) :].strip()
        return self.catalog.locations.get(code.upper())

    def check_columns(self, row: int, columns: Iterable[str]) -> list[str]:
        """Report unknown, duplicate and unknown-location columns; return the usable ones."""
        usable: list[str] = []
        for column in columns:
            if column in usable:
                self.parsed.bad(row, column, "column given twice")
            elif column.startswith(STOCK_PREFIX):
                if self.stock_column(column) is None:
                    code = column[len(STOCK_PREFIX) :]
                    self.parsed.bad(row, column, f"unknown location code {code!r}")
                else:
                    usable.append(column)
            elif column not in COLUMNS:
                self.parsed.bad(row, column, "unknown column")
            else:
                usable.append(column)
        return usable

    def add(self, row: int, cells: dict[str, str]) -> None:
        """Validate one row (`cells`: usable column -> stripped text) and keep it."""
        errors_before = len(self.parsed.errors)
        handle = self._key(row, "handle", cells)
        sku = self._key(row, "sku", cells)
        if handle is None:
            return
        product = self._product(row, handle, cells)
        variant_fields = self._variant_fields(row, cells)
        stock = self._stock(row, cells)
        if sku is None or product is None:
            return
        self._check_sku(row, handle, sku)
        if len(self.parsed.errors) == errors_before:
            self.parsed.variants.append(VariantIn(row, handle, sku, variant_fields, stock))

    def _key(self, row: int, column: str, cells: dict[str, str]) -> str | None:
        value = cells.get(column, "")
        problem = key_problem(column, value)
        if problem:
            self.parsed.bad(row, column, problem)
            return None
        return value

    def _product_cells(self, row: int, cells: dict[str, str], *, first: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for column, (name, parse) in PRODUCT_PARSERS.items():
            if column not in cells or (not first and not cells[column]):
                continue
            try:
                values[name] = parse(cells[column])
            except Bad as bad:
                self.parsed.bad(row, column, str(bad))
        return values

    def _product(self, row: int, handle: str, cells: dict[str, str]) -> ProductIn | None:
        known = self.parsed.products.get(handle)
        if known is None:
            errors_before = len(self.parsed.errors)
            values = self._product_cells(row, cells, first=True)
            if "title" in cells and not values.get("title", "x"):
                self.parsed.bad(row, "title", "is required on a product's first row")
            elif "title" not in cells and handle not in self.catalog.products:
                self.parsed.bad(row, "title", "is required for a new product")
            known = ProductIn(handle, row, values, len(self.parsed.errors) > errors_before)
            self.parsed.products[handle] = known
            return None if known.broken else known
        if known.broken:
            reason = f"product {handle!r} is invalid on its first row (row {known.first_row})"
            self.parsed.bad(row, "handle", reason)
            return None
        for name, value in self._product_cells(row, cells, first=False).items():
            if known.fields.get(name) != value:
                column = next(c for c, (n, _) in PRODUCT_PARSERS.items() if n == name)
                reason = f"differs from the product's first row (row {known.first_row})"
                self.parsed.bad(row, column, reason)
        return known

    def _variant_fields(self, row: int, cells: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for column, (name, parse) in VARIANT_PARSERS.items():
            if column in cells:
                try:
                    values[name] = parse(cells[column])
                except Bad as bad:
                    self.parsed.bad(row, column, str(bad))
        if "currency" in cells:
            currency = cells["currency"].upper() or self.catalog.currency
            problem = currency_problem(currency)
            if problem:
                self.parsed.bad(row, "currency", problem)
            values["currency"] = currency
        if any(f"option{i}_name" in cells for i in range(1, OPTION_SLOTS + 1)):
            values["options"] = self._options(row, cells)
        return values

    def _options(self, row: int, cells: dict[str, str]) -> dict[str, str]:
        options: dict[str, str] = {}
        for slot in range(1, OPTION_SLOTS + 1):
            name = cells.get(f"option{slot}_name", "")
            value = cells.get(f"option{slot}_value", "")
            if bool(name) != bool(value):
                given, missing = ("name", "value") if name else ("value", "name")
                reason = f"is required with option{slot}_{given}"
                self.parsed.bad(row, f"option{slot}_{missing}", reason)
            elif name in options:
                self.parsed.bad(row, f"option{slot}_name", f"option {name!r} is given twice")
            elif name:
                options[name] = value
        return options

    def _stock(self, row: int, cells: dict[str, str]) -> dict[uuid.UUID, int]:
        stock: dict[uuid.UUID, int] = {}
        for column, text in cells.items():
            if not column.startswith(STOCK_PREFIX) or not text:
                continue
            try:
                quantity = whole(text)
            except Bad as bad:
                self.parsed.bad(row, column, str(bad))
                continue
            location_id = self.stock_column(column)
            if quantity is not None and location_id is not None:
                stock[location_id] = quantity
        return stock

    def _check_sku(self, row: int, handle: str, sku: str) -> None:
        first = self.parsed.first_sku_row.setdefault(sku, row)
        if first != row:
            self.parsed.bad(row, "sku", f"duplicate SKU {sku!r}: already on row {first}")
            return
        stored = self.catalog.variants.get(sku)
        if stored is None:
            return
        owner = self.catalog.handle_of.get(stored.product_id, "")
        if owner != handle:
            self.parsed.bad(row, "sku", f"SKU {sku!r} already belongs to product {owner!r}")


def _csv_rows(source: Iterable[str], validator: _Validator) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(source)
    header = next(reader, None)
    if header is None:
        validator.parsed.bad(0, WHOLE_ROW, "the file is empty (no header)")
        return
    names = [name.strip() for name in header]
    names = [n if n.startswith(STOCK_PREFIX) else n.lower() for n in names]
    usable = set(validator.check_columns(0, names))
    for required in ("handle", "sku"):
        if required not in names:
            validator.parsed.bad(0, required, "required column is missing")
    if validator.parsed.header_bad and not ({"handle", "sku"} <= usable):
        return
    indexed = [(i, name) for i, name in enumerate(names) if name in usable]
    for number, record in enumerate(reader, start=1):
        if not record or not any(cell.strip() for cell in record):
            continue
        if len(record) > len(names):
            reason = f"has {len(record)} fields, the header has {len(names)}"
            validator.parsed.bad(number, WHOLE_ROW, reason)
            continue
        yield (
            number,
            {
                name: (record[i].strip() if name != "description" else record[i])
                if i < len(record)
                else ""
                for i, name in indexed
            },
        )


def _jsonl_rows(
    source: Iterable[str], validator: _Validator
) -> Iterator[tuple[int, dict[str, str]]]:
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_float=Decimal)
        except ValueError as error:
            validator.parsed.bad(number, WHOLE_ROW, f"invalid JSON: {error}")
            continue
        if not isinstance(record, dict):
            validator.parsed.bad(number, WHOLE_ROW, "must be a JSON object")
            continue
        keys = [k if k.startswith(STOCK_PREFIX) else k.lower() for k in map(str, record)]
        usable = set(validator.check_columns(number, keys))
        cells = {key: json_cell(value) for key, value in zip(keys, record.values(), strict=True)}
        yield (
            number,
            {
                key: text if key == "description" else text.strip()
                for key, text in cells.items()
                if key in usable
            },
        )


def validate_file(
    session: Session,
    *,
    ctx: RequestContext,
    source: Iterable[str],
    fmt: Format = "csv",
    progress: Callable[[int], None] | None = None,
) -> tuple[planner.Catalog, Parsed]:
    """Read and validate the whole file against the stored catalog; writes nothing."""
    catalog = planner.load_catalog(session, ctx=ctx)
    parsed = Parsed()
    validator = _Validator(catalog, parsed)
    rows = _csv_rows(source, validator) if fmt == "csv" else _jsonl_rows(source, validator)
    for number, cells in rows:
        validator.add(number, cells)
        parsed.rows_total = number
        if progress is not None and number % PROGRESS_EVERY == 0:
            progress(number)
    planner.check_reserved(session, ctx=ctx, catalog=catalog, parsed=parsed)
    parsed.errors.sort(key=lambda e: e.row)
    return catalog, parsed


CONTENT_FIELDS = frozenset({"title", "description", "attributes", "images"})


def import_catalog(
    session: Session,
    *,
    ctx: RequestContext,
    source: Iterable[str],
    fmt: Format = "csv",
    dry_run: bool = False,
    skip_invalid: bool = False,
    reference_id: str = "",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import products, variants and on-hand stock from a CSV or JSON-lines stream (see the
    module docstring for columns and rules). Set-based: a few queries to load the catalog,
    chunked bulk inserts/updates of changed rows only, one bulk stock call. Needs
    MANAGE_CATALOG (and ADJUST_STOCK when the file sets stock)."""
    ctx.require(Permission.MANAGE_CATALOG)
    catalog, parsed = validate_file(session, ctx=ctx, source=source, fmt=fmt, progress=progress)
    report = {
        "rows_total": parsed.rows_total,
        "rows_invalid": len(parsed.bad_rows),
        "errors": parsed.errors,
        "dry_run": dry_run,
    }
    if parsed.header_bad or (parsed.errors and not skip_invalid):
        return ImportReport(**report)
    plan = planner.make_plan(catalog, parsed, ctx=ctx, now=utcnow())
    if plan.stock_lines:
        ctx.require(Permission.ADJUST_STOCK)
    applied = sum(1 for v in parsed.variants if v.row not in parsed.bad_rows)
    counts = plan.counts()
    changed = sum(n for name, n in counts.items() if not name.endswith("_unchanged"))
    if not dry_run:
        planner.write_plan(session, ctx=ctx, plan=plan, reference_id=reference_id)
    if changed and not dry_run:
        # One summary row for the whole file; the ledger keeps each stock line.
        audit_record(
            session,
            ctx=ctx,
            action="catalog.import",
            entity_type="catalog",
            entity_id=reference_id,
            after={
                "rows_total": parsed.rows_total,
                "rows_applied": applied,
                "rows_invalid": len(parsed.bad_rows),
                **counts,
            },
        )
    written = applied > 0 and not dry_run
    return ImportReport(
        **report,
        **counts,
        updated_handles=plan.updated_handles[:UPDATED_NAMED],
        rows_applied=applied,
        written=written,
        repriced_variant_ids=[u["_id"] for u in plan.variant_updates if "price" in u]
        if written
        else [],
        content_product_ids=[u["_id"] for u in plan.product_updates if CONTENT_FIELDS & set(u)]
        if written
        else [],
    )


def detect_format(filename: str) -> Format:
    """`jsonl` for .jsonl / .ndjson / .json files, otherwise `csv`."""
    lowered = filename.lower()
    return "jsonl" if lowered.endswith((".jsonl", ".ndjson", ".json")) else "csv"
