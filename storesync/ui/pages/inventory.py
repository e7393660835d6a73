"""Inventory: stock per variant and location; adjust with a reason; the ledger of a row."""

from __future__ import annotations

import reflex as rx

from storesync.tenancy.permissions import Permission
from storesync.ui.components.controls import field_label, list_row, pager, row_button, search_form
from storesync.ui.components.layout import app_frame
from storesync.ui.state.auth import may
from storesync.ui.state.inventory import InventoryState


def _figure(name: str, value: rx.Var[str]) -> rx.Component:
    return rx.vstack(
        rx.text(name, size="1", color_scheme="gray"),
        rx.text(value, size="3", weight="bold"),
        spacing="0",
        align="center",
        min_width="3.5rem",
    )


def _row(row: rx.Var[dict[str, str]]) -> rx.Component:
    return list_row(
        rx.vstack(
            rx.hstack(
                rx.text(row["sku"], weight="bold", size="2", class_name="stock-sku"),
                rx.cond(row["low"] == "yes", rx.badge("low", color_scheme="red")),
                spacing="2",
            ),
            rx.text(row["title"], " · ", row["location"], size="1", color_scheme="gray"),
            spacing="1",
            min_width="0",
            flex="1 1 14rem",  # a line of its own on a phone
        ),
        rx.hstack(
            _figure("On hand", row["on_hand"]),
            _figure("Reserved", row["reserved"]),
            rx.box(_figure("Available", row["available"]), class_name="stock-available"),
            spacing="2",
        ),
        rx.hstack(
            rx.cond(
                may(Permission.ADJUST_STOCK),
                rx.button(
                    "Adjust",
                    size="1",
                    on_click=InventoryState.start_adjust(row["item_id"]),
                    class_name="adjust-stock",
                ),
            ),
            row_button("History", InventoryState.show_history(row["item_id"]), "stock-history"),
            spacing="2",
        ),
        class_name="stock-row",
        data={"sku": row["sku"], "item-id": row["item_id"]},
    )


def _adjust_dialog() -> rx.Component:
    row = InventoryState.adjusting
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Adjust ", row["sku"]),
            rx.text("On hand ", row["on_hand"], ", reserved ", row["reserved"], size="2"),
            rx.form(
                rx.vstack(
                    field_label("Change (e.g. 5 or -3)", "delta", size="2"),
                    rx.input(id="delta", name="delta", required=True, width="100%"),
                    field_label("Reason", "reason", size="2"),
                    rx.input(
                        id="reason",
                        name="reason",
                        required=True,
                        placeholder="stock count, damaged, received…",
                        width="100%",
                    ),
                    rx.hstack(
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            on_click=InventoryState.cancel_adjust,
                        ),
                        rx.button("Save", type="submit", id="adjust-submit"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="2",
                ),
                on_submit=InventoryState.adjust,
            ),
            max_width="28rem",
            id="adjust-dialog",
        ),
        open=row.contains("item_id"),
        on_open_change=InventoryState.adjust_open_change,
    )


def _history_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.hstack(
                rx.dialog.title("Ledger of ", InventoryState.history_of),
                rx.spacer(),
                rx.icon_button(
                    rx.icon("x"),
                    variant="ghost",
                    aria_label="Close",
                    on_click=InventoryState.close_history,
                    id="history-close",
                ),
                width="100%",
            ),
            rx.foreach(
                InventoryState.history,
                lambda e: rx.vstack(
                    rx.text(e["at"], " · ", e["kind"], size="2", weight="medium"),
                    rx.text(
                        "on hand ",
                        e["on_hand"],
                        " · reserved ",
                        e["reserved"],
                        " · ",
                        e["reason"],
                        size="1",
                        color_scheme="gray",
                    ),
                    spacing="0",
                    padding_y="0.25rem",
                    class_name="ledger-row",
                ),
            ),
            max_width="32rem",
            id="history-dialog",
        ),
        open=InventoryState.history_of != "",
        on_open_change=InventoryState.history_open_change,
    )


def inventory_page() -> rx.Component:
    return app_frame(
        "Inventory",
        "/inventory",
        rx.flex(
            search_form(
                InventoryState.search_stock, input_id="stock-search", placeholder="SKU or product…"
            ),
            rx.hstack(
                rx.switch(
                    checked=InventoryState.low_only,
                    on_change=InventoryState.toggle_low,
                    id="low-only",
                ),
                field_label("Low stock only", "low-only", size="2"),
                align="center",
            ),
            spacing="3",
            wrap="wrap",
            align="center",
            margin_bottom="1rem",
        ),
        rx.card(
            rx.cond(
                InventoryState.rows.length() > 0,
                rx.foreach(InventoryState.rows, _row),
                rx.text("No stock rows match.", color_scheme="gray"),
            ),
            padding="0",
            width="100%",
            id="stock-list",
        ),
        pager(InventoryState, "stock"),
        _adjust_dialog(),
        _history_dialog(),
    )
