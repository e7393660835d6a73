"""Products: search, filter and page through the catalog; edit products and variants; bulk
status; CSV import (validated first, with a progress bar and an error report) and export."""

from __future__ import annotations

import reflex as rx

from storesync.catalog.schemas import PRODUCT_STATUSES
from storesync.tenancy.permissions import Permission
from storesync.ui.components.controls import list_row, pager, row_button, search_form
from storesync.ui.components.layout import app_frame
from storesync.ui.state.auth import may
from storesync.ui.state.products import UPLOAD_ID, ProductsState

STATUS_COLORS = {"active": "green", "draft": "gray", "archived": "orange"}
CAN_EDIT = may(Permission.MANAGE_CATALOG)


def _status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(status, *STATUS_COLORS.items(), "gray"),
        variant="soft",
        class_name="product-status",
    )


def _row(row: rx.Var[dict[str, str]]) -> rx.Component:
    return list_row(
        rx.hstack(
            rx.cond(
                CAN_EDIT,
                rx.checkbox(
                    checked=ProductsState.selected.contains(row["id"]),
                    on_change=lambda checked: ProductsState.toggle_selected(row["id"], checked),
                    class_name="product-select",
                ),
            ),
            rx.vstack(
                rx.text(row["title"], weight="bold", size="2", class_name="product-title"),
                rx.text(row["handle"], size="1", color_scheme="gray", class_name="product-handle"),
                spacing="0",
                min_width="0",
            ),
            align="center",
            spacing="3",
            flex="1 1 14rem",  # a line of its own on a phone
            min_width="0",
        ),
        rx.vstack(
            rx.text(
                row["variants_label"],
                " · ",
                row["skus"],
                size="1",
                color_scheme="gray",
                class_name="product-skus",
                word_break="break-all",
            ),
            rx.text(row["price"], size="2", class_name="product-price"),
            spacing="0",
            flex="1 1 10rem",
            min_width="0",
        ),
        rx.hstack(
            _status_badge(row["status"]),
            rx.cond(
                CAN_EDIT,
                row_button("Edit", ProductsState.start_edit(row["id"]), "edit-product"),
            ),
            spacing="2",
            align="center",
            justify="end",
            min_width="8rem",
        ),
        class_name="product-row",
        data={"handle": row["handle"], "status": row["status"]},
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        search_form(
            ProductsState.search_products,
            input_id="product-search",
            placeholder="Title, handle or SKU…",
            value=ProductsState.search,
        ),
        rx.select(
            ["all", *PRODUCT_STATUSES],
            value=rx.cond(ProductsState.status, ProductsState.status, "all"),
            on_change=ProductsState.set_status_filter,
            id="status-filter",
        ),
        rx.cond(
            CAN_EDIT,
            rx.button(
                rx.icon("plus", size=16),
                "New product",
                on_click=ProductsState.start_create,
                id="new-product",
            ),
        ),
        rx.button(
            rx.icon("download", size=16),
            "Export CSV",
            variant="soft",
            on_click=ProductsState.export_csv,
            id="export-csv",
        ),
        spacing="3",
        wrap="wrap",
        align="center",
        margin_bottom="1rem",
    )


def _import_errors() -> rx.Component:
    return rx.cond(
        ProductsState.import_errors.length() > 0,
        rx.vstack(
            rx.hstack(
                rx.text("Problems found", weight="bold", size="2"),
                rx.spacer(),
                rx.button(
                    rx.icon("file-down", size=14),
                    "Download error report",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=ProductsState.download_error_report,
                    id="download-errors",
                ),
                width="100%",
                wrap="wrap",
            ),
            rx.box(
                rx.foreach(
                    ProductsState.import_errors,
                    lambda e: rx.text(
                        "Row ",
                        e["row"],
                        " · ",
                        e["field"],
                        ": ",
                        e["message"],
                        size="1",
                        class_name="import-error",
                        custom_attrs={"data-row": e["row"], "data-field": e["field"]},
                    ),
                ),
                max_height="12rem",
                overflow_y="auto",
                width="100%",
            ),
            width="100%",
            spacing="2",
            id="import-errors",
        ),
    )


def _import_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text("Import a CSV", weight="bold"),
            rx.text(
                "One row per variant: handle, title, status, sku, price… (the export's columns). "
                "The whole file is checked first; a file with any bad row imports nothing.",
                size="1",
                color_scheme="gray",
            ),
            rx.flex(
                rx.upload(
                    rx.hstack(
                        rx.icon("upload", size=16),
                        rx.cond(
                            rx.selected_files(UPLOAD_ID).length() > 0,
                            rx.text(rx.selected_files(UPLOAD_ID)[0], size="2", id="import-file"),
                            rx.text("Choose or drop a CSV file", size="2"),
                        ),
                        align="center",
                        spacing="2",
                    ),
                    id=UPLOAD_ID,
                    accept={"text/csv": [".csv"]},
                    max_files=1,
                    multiple=False,
                    border=f"1px dashed {rx.color('gray', 7)}",
                    border_radius="8px",
                    padding="0.6rem 0.9rem",
                    cursor="pointer",
                    flex="1 1 14rem",
                    min_width="0",
                ),
                rx.button(
                    "Import",
                    on_click=ProductsState.upload_catalog(rx.upload_files(upload_id=UPLOAD_ID)),
                    disabled=ProductsState.importing,
                    id="import-submit",
                ),
                spacing="3",
                wrap="wrap",
                align="center",
                width="100%",
            ),
            rx.cond(
                ProductsState.importing,
                rx.vstack(
                    rx.text(ProductsState.import_phase, "…", size="1"),
                    rx.progress(value=ProductsState.progress, max=100, width="100%"),
                    width="100%",
                    spacing="1",
                    id="import-progress",
                    custom_attrs={"data-progress": ProductsState.progress},
                ),
            ),
            rx.cond(
                ProductsState.import_summary != "",
                rx.text(ProductsState.import_summary, size="2", id="import-summary"),
            ),
            _import_errors(),
            spacing="2",
            width="100%",
        ),
        width="100%",
        margin_bottom="1rem",
        id="import-card",
    )


def _bulk_bar() -> rx.Component:
    return rx.cond(
        CAN_EDIT & (ProductsState.selected.length() > 0),
        rx.form(
            rx.flex(
                rx.text(ProductsState.selected.length(), " selected", size="2", id="bulk-count"),
                rx.select(
                    list(PRODUCT_STATUSES),
                    name="bulk_status",
                    default_value="archived",
                    id="bulk-status",
                ),
                rx.button("Set status", type="submit", id="bulk-apply"),
                rx.button(
                    "Clear",
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                    on_click=ProductsState.clear_selection,
                    id="bulk-clear",
                ),
                spacing="3",
                wrap="wrap",
                align="center",
            ),
            on_submit=ProductsState.bulk_set_status,
            reset_on_submit=False,
            margin_bottom="1rem",
            id="bulk-bar",
        ),
    )


def _list() -> rx.Component:
    return rx.card(
        rx.cond(
            CAN_EDIT & (ProductsState.rows.length() > 0),
            rx.hstack(
                rx.checkbox(
                    checked=ProductsState.page_selected,
                    on_change=ProductsState.select_page,
                    id="select-page",
                ),
                rx.text("Select this page", size="1", color_scheme="gray"),
                align="center",
                padding="0.5rem 0.75rem",
                border_bottom=f"1px solid {rx.color('gray', 4)}",
            ),
        ),
        rx.cond(
            ProductsState.rows.length() > 0,
            rx.foreach(ProductsState.rows, _row),
            rx.text("No products match.", color_scheme="gray", padding="0.75rem"),
        ),
        padding="0",
        width="100%",
        id="product-list",
    )


def _field(label: str, name: str, default: rx.Var[str] | str = "", **props) -> rx.Component:
    """A labelled input; the service's message for this field shows under it."""
    return rx.vstack(
        rx.text(label, as_="label", html_for=f"field-{name}", size="2"),
        rx.input(id=f"field-{name}", name=name, default_value=default, width="100%", **props),
        rx.cond(
            ProductsState.field_errors.contains(name),
            rx.text(
                ProductsState.field_errors[name],
                color_scheme="red",
                size="1",
                id=f"error-{name}",
                class_name="field-error",
            ),
        ),
        spacing="1",
        width="100%",
    )


def _status_field(default: rx.Var[str] | str) -> rx.Component:
    return rx.vstack(
        rx.text("Status", size="2"),
        rx.select(list(PRODUCT_STATUSES), name="status", default_value=default, id="field-status"),
        rx.cond(
            ProductsState.field_errors.contains("status"),
            rx.text(
                ProductsState.field_errors["status"],
                color_scheme="red",
                size="1",
                id="error-status",
                class_name="field-error",
            ),
        ),
        spacing="1",
    )


def _buttons(submit_id: str, cancel=ProductsState.close_editor, cancel_text="Cancel"):
    return rx.hstack(
        rx.button(cancel_text, type="button", variant="soft", on_click=cancel),
        rx.button("Save", type="submit", id=submit_id),
        justify="end",
        width="100%",
    )


def _create_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.dialog.title("New product"),
            _field("Title", "title", required=True),
            _field("Handle (its key, no spaces)", "handle", placeholder="blue-mug"),
            _status_field("active"),
            rx.text("First variant", weight="bold", size="2", margin_top="0.5rem"),
            _field("SKU", "sku", placeholder="MUG-BLUE"),
            _field("Price", "price", placeholder="25000", input_mode="decimal"),
            _buttons("product-save"),
            spacing="2",
        ),
        on_submit=ProductsState.create_product,
        reset_on_submit=False,
        id="create-form",
    )


def _product_form() -> rx.Component:
    editing = ProductsState.editing
    return rx.vstack(
        rx.form(
            rx.vstack(
                rx.dialog.title("Edit ", editing["handle"]),
                _field("Title", "title", editing["title"], required=True),
                _status_field(editing["status"]),
                _buttons("product-save"),
                spacing="2",
            ),
            on_submit=ProductsState.update_product,
            reset_on_submit=False,
            id="product-form",
            width="100%",
        ),
        rx.text("Variants", weight="bold", size="2"),
        rx.foreach(
            ProductsState.editing_variants,
            lambda v: rx.hstack(
                rx.text(v["sku"], size="2", weight="medium", word_break="break-all"),
                rx.text(v["price"], size="1", color_scheme="gray"),
                rx.spacer(),
                rx.button(
                    "Edit",
                    size="1",
                    variant="soft",
                    on_click=ProductsState.start_edit_variant(v["id"]),
                    class_name="edit-variant",
                    custom_attrs={"data-sku": v["sku"]},
                ),
                width="100%",
                align="center",
                class_name="variant-row",
            ),
        ),
        spacing="2",
        width="100%",
    )


def _variant_form() -> rx.Component:
    editing = ProductsState.editing
    return rx.form(
        rx.vstack(
            rx.dialog.title("Variant ", editing["variant_sku"]),
            _field("SKU", "sku", editing["variant_sku"]),
            _field("Price (blank: no price)", "price", editing["variant_price"]),
            _buttons("variant-save", ProductsState.back_to_product, "Back"),
            spacing="2",
        ),
        on_submit=ProductsState.update_variant,
        reset_on_submit=False,
        id="variant-form",
    )


def _editor() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.match(
                ProductsState.mode,
                ("create", _create_form()),
                ("product", _product_form()),
                ("variant", _variant_form()),
                rx.fragment(),
            ),
            max_width="30rem",
            id="product-editor",
        ),
        open=ProductsState.mode != "",
        on_open_change=ProductsState.editor_open_change,
    )


def products_page() -> rx.Component:
    return app_frame(
        "Products",
        "/products",
        _toolbar(),
        rx.cond(CAN_EDIT, _import_card()),
        _bulk_bar(),
        _list(),
        pager(ProductsState, "products"),
        _editor(),
    )
