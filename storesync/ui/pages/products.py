"""Products: search, filter and page through the catalog; edit products and variants; bulk
status; publish to a store; CSV import (validated first, with a progress bar and an error
report) and export."""

from __future__ import annotations

import reflex as rx

from storesync.catalog.schemas import PRODUCT_STATUSES
from storesync.tenancy.permissions import Permission
from storesync.ui.components.controls import (
    labelled_upload,
    list_row,
    pager,
    row_button,
    search_form,
)
from storesync.ui.components.layout import app_frame
from storesync.ui.components.product_editor import product_editor
from storesync.ui.components.publish_dialog import publish_dialog
from storesync.ui.state.auth import may
from storesync.ui.state.product_editor.publishing import PublishState
from storesync.ui.state.product_editor.state import ProductEditorState
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


def _thumb(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.box(
        rx.cond(
            row["thumb"] != "",
            rx.image(src=row["thumb"], alt="", width="100%", height="100%", object_fit="cover"),
            rx.center(rx.icon("image", size=18, color=rx.color("gray", 8)), height="100%"),
        ),
        width="48px",
        height="48px",
        flex_shrink="0",
        border_radius="6px",
        overflow="hidden",
        background=rx.color("gray", 3),
        class_name="product-thumb",
    )


def _sku_chip(sku: rx.Var[str]) -> rx.Component:
    # One SKU never breaks inside; a long one is cut with an ellipsis (its full text on hover).
    return rx.code(
        sku,
        size="1",
        variant="ghost",
        white_space="nowrap",
        max_width="100%",
        overflow="hidden",
        text_overflow="ellipsis",
        title=sku,
        class_name="product-sku",
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
                    aria_label="Select product",
                ),
            ),
            _thumb(row),
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
            rx.flex(
                rx.text(row["variants_label"], size="1", color_scheme="gray", white_space="nowrap"),
                rx.foreach(row["skus"].split(" "), _sku_chip),
                rx.text(row["more_skus"], size="1", color_scheme="gray"),
                spacing="2",
                wrap="wrap",
                align="center",
                min_width="0",
                max_width="100%",
                class_name="product-skus",
            ),
            rx.text(row["price"], size="2", class_name="product-price"),
            spacing="0",
            flex="1 1 10rem",
            min_width="0",
        ),
        rx.vstack(
            rx.text(
                row["available"],
                " available",
                size="1",
                class_name="product-stock",
                white_space="nowrap",
            ),
            rx.text(row["channels"], size="1", color_scheme="gray", class_name="product-channels"),
            spacing="0",
            flex="1 1 8rem",
            min_width="0",
        ),
        rx.hstack(
            _status_badge(row["status"]),
            rx.cond(
                CAN_EDIT,
                row_button("Edit", ProductEditorState.start_edit(row["id"]), "edit-product"),
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
            custom_attrs={"aria-label": "Filter by status"},
        ),
        rx.cond(
            CAN_EDIT,
            rx.button(
                rx.icon("plus", size=16),
                "New product",
                on_click=ProductEditorState.start_create,
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
                labelled_upload(
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
                    label="CSV file to import",
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
                    custom_attrs={"aria-label": "New status"},
                ),
                rx.button("Set status", type="submit", id="bulk-apply"),
                rx.button(
                    "Publish to store",
                    type="button",
                    variant="outline",
                    on_click=PublishState.open_publish,
                    id="bulk-publish",
                ),
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


def products_page() -> rx.Component:
    return app_frame(
        "Products",
        "/products",
        _toolbar(),
        rx.cond(CAN_EDIT, _import_card()),
        _bulk_bar(),
        _list(),
        pager(ProductsState, "products"),
        product_editor(),
        publish_dialog(),
    )
