"""Orders: one inbox across channels; new orders appear without a reload."""

from __future__ import annotations

import reflex as rx

from storesync.orders.status import OrderStatus
from storesync.tenancy.permissions import Permission
from storesync.ui.components.controls import pager, search_form
from storesync.ui.components.layout import app_frame
from storesync.ui.state.auth import may
from storesync.ui.state.orders import OrdersState

STATUS_COLORS = {
    "unpaid": "gray",
    "to_ship": "amber",
    "shipped": "blue",
    "delivered": "teal",
    "completed": "green",
    "cancelled": "red",
    "returned": "orange",
}


def status_badge(status: rx.Var[str], text: rx.Var[str]) -> rx.Component:
    return rx.badge(
        text,
        color_scheme=rx.match(status, *[(k, v) for k, v in STATUS_COLORS.items()], "gray"),
        variant="soft",
    )


def _filters() -> rx.Component:
    return rx.flex(
        rx.select(
            ["all", *[s.value for s in OrderStatus]],
            value=rx.cond(OrdersState.status, OrdersState.status, "all"),
            on_change=OrdersState.set_status_filter,
            id="filter-status",
        ),
        rx.select(
            ["all", "shopee", "tiktok"],
            value=rx.cond(OrdersState.platform, OrdersState.platform, "all"),
            on_change=OrdersState.set_platform_filter,
            id="filter-platform",
        ),
        search_form(
            OrdersState.search_orders,
            input_id="filter-search",
            placeholder="Order no., customer…",
            value=OrdersState.search,
        ),
        spacing="2",
        wrap="wrap",
        width="100%",
        margin_bottom="1rem",
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
                        class_name="order-select",
                    ),
                    on_click=rx.stop_propagation,
                    padding_top="0.15rem",
                ),
            ),
            rx.vstack(
                rx.hstack(
                    rx.text(row["number"], weight="bold", size="2", class_name="order-number"),
                    rx.badge(row["platform"], variant="outline", size="1"),
                    spacing="2",
                    align="center",
                ),
                rx.text(row["customer"], size="1", color_scheme="gray"),
                spacing="1",
                min_width="0",
                flex="1",
            ),
            rx.vstack(
                rx.text(row["total"], size="2", weight="medium"),
                rx.hstack(
                    status_badge(row["status"], row["status_label"]),
                    rx.text(row["ordered_at"], size="1", color_scheme="gray"),
                    spacing="2",
                    align="center",
                ),
                align="end",
                spacing="1",
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
        custom_attrs={"data-order-id": row["id"]},
    )


def _detail() -> rx.Component:
    detail = OrdersState.detail
    return rx.dialog.root(
        rx.dialog.content(
            rx.hstack(
                rx.dialog.title(detail["number"], id="detail-number"),
                rx.spacer(),
                rx.icon_button(
                    rx.icon("x"),
                    variant="ghost",
                    on_click=OrdersState.close_order,
                    id="detail-close",
                ),
                width="100%",
            ),
            rx.hstack(
                rx.badge(detail["platform"], variant="outline"),
                rx.box(status_badge(detail["status"], detail["status_label"]), id="detail-status"),
                rx.text(detail["total"], weight="bold"),
                spacing="2",
                wrap="wrap",
            ),
            rx.text(detail["customer"], " · ", detail["ordered_at"], size="2", color_scheme="gray"),
            rx.heading("Items", size="3", margin_top="1rem"),
            rx.foreach(
                OrdersState.detail_items,
                lambda item: rx.hstack(
                    rx.vstack(
                        rx.text(item["title"], size="2"),
                        rx.text(item["sku"], " · ", item["stock"], size="1", color_scheme="gray"),
                        spacing="0",
                    ),
                    rx.spacer(),
                    rx.text("x ", item["quantity"], size="2"),
                    rx.text(item["price"], size="2"),
                    width="100%",
                    class_name="detail-item",
                ),
            ),
            rx.heading("Timeline", size="3", margin_top="1rem"),
            rx.foreach(
                OrdersState.detail_events,
                lambda event: rx.text(
                    event["at"], " · ", event["change"], " · ", event["source"], size="1"
                ),
            ),
            rx.cond(
                may(Permission.PROCESS_ORDERS)
                & ((detail["status"] == "to_ship") | (detail["status"] == "unpaid")),
                rx.form(
                    rx.hstack(
                        rx.input(
                            name="tracking_number",
                            placeholder="Tracking number (optional)",
                            id="tracking-number",
                            flex="1",
                        ),
                        rx.button("Fulfil", type="submit", id="fulfil"),
                        width="100%",
                        margin_top="1rem",
                    ),
                    on_submit=OrdersState.fulfil,
                ),
            ),
            max_width="36rem",
            id="order-detail",
        ),
        open=detail.contains("id"),
    )


def _bulk_bar() -> rx.Component:
    return rx.cond(
        OrdersState.selected.length() > 0,
        rx.flex(
            rx.text(OrdersState.selected.length(), " selected", size="2", id="bulk-count"),
            rx.button(
                "Mark shipped",
                size="1",
                on_click=OrdersState.bulk_status("shipped"),
                id="bulk-shipped",
            ),
            rx.button(
                "Cancel orders",
                size="1",
                color_scheme="red",
                variant="soft",
                on_click=OrdersState.bulk_status("cancelled"),
                id="bulk-cancelled",
            ),
            rx.button(
                "Clear",
                size="1",
                variant="ghost",
                on_click=OrdersState.clear_selection,
            ),
            spacing="2",
            wrap="wrap",
            align="center",
            margin_bottom="0.5rem",
            id="bulk-bar",
        ),
    )


def orders_page() -> rx.Component:
    return app_frame(
        "Orders",
        "/orders",
        _filters(),
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
                OrdersState.rows.length() > 0,
                rx.foreach(OrdersState.rows, _order_row),
                rx.text("No orders match.", color_scheme="gray", id="orders-empty"),
            ),
            padding="0",
            width="100%",
            id="orders-list",
        ),
        pager(OrdersState, "orders", back="Newer", on="Older"),
        _detail(),
    )
