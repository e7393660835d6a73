"""An order as the Orders page shows it: status and shipping-stage badges, a return's row, and
the order detail (recipient as the platform gives it, shipping, items, returns, timeline, and
the marketplace actions: arrange shipment, print the label, cancel)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from storesync.tenancy.permissions import Permission
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
STAGE_COLORS = {"to_arrange": "amber", "to_print": "violet", "to_hand_over": "cyan"}
RETURN_COLORS = {"completed": "green", "cancelled": "gray", "rejected": "red"}
BORDER = f"1px solid {rx.color('gray', 4)}"


def status_badge(status: rx.Var[str], text: rx.Var[str]) -> rx.Component:
    return rx.badge(
        text,
        color_scheme=rx.match(status, *STATUS_COLORS.items(), "gray"),
        variant="soft",
        class_name="order-status",
    )


def stage_badge(stage: rx.Var[str], text: rx.Var[str]) -> rx.Component:
    return rx.cond(
        stage != "",
        rx.badge(
            text,
            color_scheme=rx.match(stage, *STAGE_COLORS.items(), "gray"),
            variant="outline",
            class_name="order-stage",
        ),
    )


def return_row(row: rx.Var[dict[str, str]]) -> rx.Component:
    """A buyer's return: order, state, reason, lines, refund; restock or write off once it is
    completed."""
    return rx.flex(
        rx.vstack(
            rx.flex(
                rx.button(
                    row["number"],
                    on_click=OrdersState.open_order(row["order_id"]),
                    variant="ghost",
                    size="2",
                    font_weight="bold",
                    margin="0",
                    class_name="return-order",
                ),
                rx.badge(row["platform"], variant="outline", size="1"),
                rx.badge(
                    row["state_label"],
                    color_scheme=rx.match(row["state"], *RETURN_COLORS.items(), "amber"),
                    size="1",
                    class_name="return-state",
                ),
                rx.cond(
                    row["resolution"] != "",
                    rx.badge(
                        row["resolution"],
                        size="1",
                        variant="outline",
                        class_name="return-resolution",
                    ),
                ),
                spacing="2",
                wrap="wrap",
                align="center",
            ),
            rx.text(row["lines"], size="2", class_name="return-lines", overflow_wrap="anywhere"),
            rx.text(
                row["reason"],
                rx.cond(row["refund"] != "", rx.text.span(" · refund ", row["refund"])),
                size="1",
                color_scheme="gray",
            ),
            spacing="1",
            min_width="0",
            flex="1 1 14rem",
        ),
        rx.cond(
            (row["decidable"] == "yes") & may(Permission.PROCESS_ORDERS),
            rx.flex(
                rx.cond(
                    may(Permission.ADJUST_STOCK),
                    rx.button(
                        "Restock",
                        size="1",
                        on_click=OrdersState.resolve_return(row["id"], "restock"),
                        class_name="return-restock",
                    ),
                ),
                rx.button(
                    "Write off",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=OrdersState.resolve_return(row["id"], "write_off"),
                    class_name="return-write-off",
                ),
                spacing="2",
            ),
        ),
        spacing="2",
        wrap="wrap",
        align="center",
        justify="between",
        padding_y="0.6rem",
        border_bottom=BORDER,
        width="100%",
        class_name="return-row",
        custom_attrs={"data-return-id": row["id"], "data-order-id": row["order_id"]},
    )


def _fact(name: str, value: Any, id_: str) -> rx.Component:
    return rx.cond(
        value != "",
        rx.flex(
            rx.text(name, size="1", color_scheme="gray", min_width="7rem"),
            rx.text(value, size="2", id=id_, overflow_wrap="anywhere"),
            spacing="2",
            align="baseline",
        ),
    )


def _section(title: str, *children: Any, **props: Any) -> rx.Component:
    return rx.vstack(
        rx.heading(title, size="3"),
        *children,
        spacing="1",
        width="100%",
        margin_top="1rem",
        **props,
    )


def _shipping() -> rx.Component:
    detail = OrdersState.detail
    return rx.flex(
        _section(
            "Ship to",
            rx.foreach(OrdersState.detail_recipient, lambda line: rx.text(line, size="2")),
            rx.cond(
                OrdersState.detail_recipient.length() == 0,
                rx.text("The marketplace gave no address.", size="2", color_scheme="gray"),
            ),
            id="detail-recipient",
            flex="1 1 14rem",
        ),
        _section(
            "Shipping",
            _fact("Carrier", detail["carrier"], "detail-carrier"),
            _fact("Tracking", detail["tracking"], "detail-tracking"),
            _fact("Package", detail["package"], "detail-package"),
            _fact("Hand over", detail["handover"], "detail-handover"),
            _fact("Arranged", detail["arranged_at"], "detail-arranged"),
            _fact("Label printed", detail["label_printed_at"], "detail-printed"),
            rx.cond(
                (detail["carrier"] == "")
                & (detail["tracking"] == "")
                & (detail["arranged_at"] == ""),
                rx.text("Not arranged yet.", size="2", color_scheme="gray"),
            ),
            flex="1 1 14rem",
        ),
        spacing="4",
        wrap="wrap",
        width="100%",
    )


def _actions() -> rx.Component:
    detail = OrdersState.detail
    return rx.cond(
        may(Permission.PROCESS_ORDERS),
        rx.flex(
            rx.cond(
                detail["stage"] == "to_arrange",
                rx.button(
                    rx.icon("truck", size=16),
                    "Arrange shipment",
                    on_click=OrdersState.arrange_detail,
                    id="detail-arrange",
                ),
            ),
            rx.cond(
                (detail["stage"] == "to_print") | (detail["stage"] == "to_hand_over"),
                rx.button(
                    rx.icon("printer", size=16),
                    rx.cond(detail["stage"] == "to_print", "Print label", "Print label again"),
                    on_click=OrdersState.print_detail_label,
                    variant="soft",
                    id="detail-print",
                ),
            ),
            rx.cond(
                detail["cancellable"] == "yes",
                rx.button(
                    rx.icon("ban", size=16),
                    "Cancel order",
                    on_click=OrdersState.cancel_detail,
                    color_scheme="red",
                    variant="soft",
                    id="detail-cancel",
                ),
            ),
            spacing="2",
            wrap="wrap",
            margin_top="1rem",
        ),
    )


def _item(item: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.text(item["title"], size="2"),
            rx.text(
                item["sku"],
                " · ",
                item["stock"],
                size="1",
                color_scheme="gray",
                class_name="detail-item-stock",
            ),
            spacing="0",
            min_width="0",
            flex="1",
        ),
        rx.text("x ", item["quantity"], size="2", white_space="nowrap"),
        rx.text(item["price"], size="2", white_space="nowrap"),
        spacing="3",
        align="center",
        width="100%",
        class_name="detail-item",
    )


def detail_dialog() -> rx.Component:
    detail = OrdersState.detail
    return rx.dialog.root(
        rx.dialog.content(
            rx.flex(
                rx.dialog.title(
                    detail["number"], id="detail-number", margin="0", overflow_wrap="anywhere"
                ),
                rx.icon_button(
                    rx.icon("x"),
                    variant="ghost",
                    aria_label="Close",
                    on_click=OrdersState.close_order,
                    id="detail-close",
                ),
                justify="between",
                align="center",
                spacing="2",
                width="100%",
            ),
            rx.flex(
                rx.badge(detail["platform"], variant="outline"),
                rx.box(status_badge(detail["status"], detail["status_label"]), id="detail-status"),
                rx.box(stage_badge(detail["stage"], detail["stage_label"]), id="detail-stage"),
                rx.text(detail["total"], weight="bold"),
                spacing="2",
                wrap="wrap",
                align="center",
                margin_top="0.5rem",
            ),
            rx.text(detail["customer"], " · ", detail["ordered_at"], size="2", color_scheme="gray"),
            _actions(),
            _shipping(),
            _section("Items", rx.foreach(OrdersState.detail_items, _item)),
            rx.cond(
                OrdersState.detail_returns.length() > 0,
                _section(
                    "Returns",
                    rx.foreach(OrdersState.detail_returns, return_row),
                    id="detail-returns",
                ),
            ),
            _section(
                "Timeline",
                rx.foreach(
                    OrdersState.detail_events,
                    lambda event: rx.text(
                        event["at"],
                        " · ",
                        event["change"],
                        rx.cond(event["reason"] != "", rx.text.span(" · ", event["reason"])),
                        " · ",
                        event["source"],
                        size="1",
                        class_name="timeline-event",
                    ),
                ),
            ),
            max_width="min(40rem, calc(100vw - 2rem))",
            id="order-detail",
        ),
        open=detail.contains("id"),
        on_open_change=OrdersState.detail_open_change,
    )
