"""Orders: one inbox across channels, new orders live; the day's shipping work by stage (to
arrange, to print, to hand over) with bulk actions through the marketplaces; returns."""

from __future__ import annotations

import reflex as rx

from storesync.tenancy.permissions import Permission
from storesync.ui.components.cancel_dialog import cancel_dialog
from storesync.ui.components.controls import pager, search_form
from storesync.ui.components.layout import app_frame
from storesync.ui.components.order_detail import (
    detail_dialog,
    return_row,
    stage_badge,
    status_badge,
)
from storesync.ui.components.to_ship import (
    arrange_dialog,
    field_label,
    print_failures,
)
from storesync.ui.state.auth import may
from storesync.ui.state.orders import OrdersState

TABS = (
    ("all", "All"),
    ("to_arrange", "To arrange"),
    ("to_print", "To print"),
    ("to_hand_over", "To hand over"),
    ("returns", "Returns"),
)
STATUS_OPTIONS = (
    ("all", "All statuses"),
    ("unpaid", "Unpaid"),
    ("to_ship", "To ship"),
    ("shipped", "Shipped"),
    ("delivered", "Delivered"),
    ("completed", "Completed"),
    ("cancelled", "Cancelled"),
    ("returned", "Returned"),
)
CHANNEL_OPTIONS = (("all", "All channels"), ("shopee", "Shopee"), ("tiktok", "TikTok Shop"))


def _tab(key: str, text: str) -> rx.Component:
    active = OrdersState.tab == key
    return rx.button(
        text,
        rx.cond(
            OrdersState.counts.contains(key),
            rx.badge(
                OrdersState.counts[key],
                variant=rx.cond(active, "solid", "soft"),
                radius="full",
                size="1",
                class_name="tab-count",
            ),
        ),
        variant=rx.cond(active, "solid", "soft"),
        color_scheme=rx.cond(active, "accent", "gray"),
        size="2",
        on_click=OrdersState.show_tab(key),
        role="tab",
        aria_selected=rx.cond(active, "true", "false"),
        id=f"tab-{key}",
    )


def _tabs() -> rx.Component:
    return rx.flex(
        *[_tab(key, text) for key, text in TABS],
        spacing="2",
        wrap="wrap",
        role="tablist",
        aria_label="Orders by shipping stage",
        margin_bottom="1rem",
        id="order-tabs",
    )


def _labelled_select(
    label: str, options: tuple[tuple[str, str], ...], value: rx.Var, on_change, id_: str
) -> rx.Component:
    return rx.vstack(
        field_label(label, as_="label", html_for=id_),
        rx.select.root(
            # its own name: both filters show "All …" when nothing is chosen
            rx.select.trigger(id=id_, min_width="9rem", aria_label=f"Filter by {label.lower()}"),
            rx.select.content(*[rx.select.item(text, value=key) for key, text in options]),
            value=rx.cond(value != "", value, "all"),
            on_change=on_change,
        ),
        spacing="1",
    )


def _filters() -> rx.Component:
    return rx.flex(
        _labelled_select(
            "Status",
            STATUS_OPTIONS,
            OrdersState.status,
            OrdersState.set_status_filter,
            "filter-status",
        ),
        _labelled_select(
            "Channel",
            CHANNEL_OPTIONS,
            OrdersState.platform,
            OrdersState.set_platform_filter,
            "filter-platform",
        ),
        rx.vstack(
            field_label("Search", as_="label", html_for="filter-search"),
            search_form(
                OrdersState.search_orders,
                input_id="filter-search",
                placeholder="Order no., customer, SKU, product…",
                value=OrdersState.search,
            ),
            spacing="1",
            flex="1 1 16rem",
        ),
        rx.button(
            rx.el.a(
                rx.icon("download", size=16),
                "Export CSV",
                href=OrdersState.export_href,
                download="orders.csv",
                reload_document=True,  # the server's file, not a page of the app
                id="export-csv",
            ),
            as_child=True,
            variant="soft",
            color_scheme="gray",
        ),
        spacing="3",
        wrap="wrap",
        align="end",
        width="100%",
        margin_bottom="1rem",
    )


def _bulk_button(text: str, icon: str, on_click, id_: str, **props) -> rx.Component:
    return rx.button(
        rx.icon(icon, size=14),
        text,
        size="1",
        on_click=on_click,
        id=id_,
        **{"variant": "soft", **props},
    )


def _bulk_bar() -> rx.Component:
    return rx.cond(
        (OrdersState.selected.length() > 0) & may(Permission.PROCESS_ORDERS),
        rx.flex(
            rx.text(
                OrdersState.selected.length(),
                " selected",
                size="2",
                weight="medium",
                id="bulk-count",
            ),
            _bulk_button(
                "Arrange shipment",
                "truck",
                OrdersState.open_arrange,
                "bulk-arrange",
                variant="solid",
            ),
            _bulk_button("Print labels", "printer", OrdersState.print_labels, "bulk-labels"),
            _bulk_button("Pick list", "list-checks", OrdersState.pick_list, "bulk-pick-list"),
            _bulk_button(
                "Packing slips", "file-text", OrdersState.packing_slips, "bulk-packing-slips"
            ),
            _bulk_button(
                "Cancel orders", "ban", OrdersState.open_cancel, "bulk-cancel", color_scheme="red"
            ),
            rx.button(
                "Clear",
                size="1",
                variant="ghost",
                on_click=OrdersState.clear_selection,
                id="bulk-clear",
            ),
            spacing="2",
            wrap="wrap",
            align="center",
            padding="0.5rem",
            margin_bottom="0.5rem",
            border_radius="8px",
            background=rx.color("accent", 2),
            position="sticky",
            top=["4.5rem", "4.5rem", "0"],
            z_index="5",
            id="bulk-bar",
        ),
    )


def _shipping_line(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.cond(
        (row["carrier"] != "") | (row["tracking"] != ""),
        rx.text(
            rx.icon("truck", size=12, display="inline", margin_right="0.25rem"),
            row["carrier"],
            rx.cond((row["carrier"] != "") & (row["tracking"] != ""), " · ", ""),
            rx.text.span(row["tracking"], class_name="order-tracking"),
            size="1",
            color_scheme="gray",
            overflow_wrap="anywhere",
        ),
    )


def _order_row(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.box(
        rx.flex(
            rx.cond(
                may(Permission.PROCESS_ORDERS),
                rx.box(
                    rx.checkbox(
                        checked=OrdersState.selected.contains(row["id"]),
                        on_change=lambda ticked: OrdersState.toggle_selected(row["id"], ticked),
                        aria_label="Select order " + row["number"],
                        class_name="order-select",
                    ),
                    on_click=rx.stop_propagation,
                    padding_top="0.15rem",
                ),
            ),
            rx.cond(
                row["thumb"] != "",
                rx.image(
                    src=row["thumb"],
                    alt="",  # the SKUs beside it say what it shows
                    width="2.5rem",
                    height="2.5rem",
                    object_fit="cover",
                    border_radius="4px",
                    flex_shrink="0",
                    class_name="order-thumb",
                ),
            ),
            rx.vstack(
                rx.flex(
                    rx.text(
                        row["number"],
                        weight="bold",
                        size="2",
                        class_name="order-number",
                        overflow_wrap="anywhere",
                    ),
                    rx.badge(
                        row["platform"], variant="outline", size="1", class_name="order-channel"
                    ),
                    stage_badge(row["stage"], row["stage_label"]),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.text(row["customer"], size="1", color_scheme="gray"),
                rx.cond(
                    row["items"] != "", rx.text(row["items"], size="1", class_name="order-items")
                ),
                rx.cond(
                    row["lines"] != "",
                    rx.text(
                        row["lines"],
                        size="1",
                        color_scheme="gray",
                        overflow_wrap="anywhere",
                        class_name="order-lines",
                    ),
                ),
                _shipping_line(row),
                spacing="1",
                min_width="0",
                flex="1",
            ),
            rx.vstack(
                rx.text(
                    row["total"],
                    size="2",
                    weight="medium",
                    white_space="nowrap",
                    class_name="order-total",
                ),
                status_badge(row["status"], row["status_label"]),
                rx.text(row["ordered_at"], size="1", color_scheme="gray", white_space="nowrap"),
                align="end",
                spacing="1",
                flex_shrink="0",  # the amount keeps its width; the left column wraps instead
            ),
            justify="between",
            spacing="2",
            width="100%",
        ),
        on_click=OrdersState.open_order(row["id"]),
        cursor="pointer",
        padding="0.75rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        _hover={"background": rx.color("accent", 2)},
        class_name="order-row",
        custom_attrs={
            "data-order-id": row["id"],
            "data-stage": row["stage"],
            "data-platform": row["platform"],
        },
    )


def _orders_list() -> rx.Component:
    return rx.fragment(
        _filters(),
        print_failures(),
        _bulk_bar(),
        rx.cond(
            OrdersState.waiting_new > 0,
            rx.button(
                OrdersState.waiting_new,
                " new orders: show",
                on_click=OrdersState.first_page,
                variant="soft",
                id="show-new",
                margin_bottom="0.5rem",
            ),
        ),
        rx.card(
            rx.cond(
                may(Permission.PROCESS_ORDERS) & (OrdersState.rows.length() > 0),
                rx.flex(
                    rx.checkbox(
                        "Select all on this page",
                        checked=OrdersState.page_selected,
                        on_change=OrdersState.toggle_page,
                        size="1",
                        id="select-page",
                    ),
                    padding="0.5rem 0.75rem",
                    border_bottom=f"1px solid {rx.color('gray', 4)}",
                ),
            ),
            rx.cond(
                OrdersState.rows.length() > 0,
                rx.foreach(OrdersState.rows, _order_row),
                rx.text(
                    "No orders match.", color_scheme="gray", id="orders-empty", padding="0.75rem"
                ),
            ),
            padding="0",
            width="100%",
            id="orders-list",
        ),
        pager(OrdersState, "orders", back="Newer", on="Older"),
    )


def _returns_list() -> rx.Component:
    return rx.fragment(
        rx.card(
            rx.cond(
                OrdersState.returns.length() > 0,
                rx.foreach(OrdersState.returns, return_row),
                rx.text("No returns yet.", color_scheme="gray", id="returns-empty"),
            ),
            padding="0 0.75rem",
            width="100%",
            id="returns-list",
        ),
        pager(OrdersState, "returns", back="Newer", on="Older"),
    )


def orders_page() -> rx.Component:
    return app_frame(
        "Orders",
        "/orders",
        _tabs(),
        rx.cond(OrdersState.tab == "returns", _returns_list(), _orders_list()),
        detail_dialog(),
        arrange_dialog(),
        cancel_dialog(),
    )
