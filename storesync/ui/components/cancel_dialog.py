"""The Orders page's cancel dialog: the merchant picks a reason the platforms accept, each order
is cancelled on its marketplace, and every order's outcome is listed (the platform's reason when
it refuses)."""

from __future__ import annotations

import reflex as rx

from storesync.channels.schemas import CANCEL_REASONS
from storesync.ui.components.to_ship import field_label, result_line
from storesync.ui.state.orders import OrdersState


def _cancel_form() -> rx.Component:
    return rx.vstack(
        rx.text(
            rx.foreach(OrdersState.cancel_orders, lambda o: rx.text.span(o["number"], " ")),
            size="2",
            overflow_wrap="anywhere",
            id="cancel-orders",
        ),
        rx.cond(
            OrdersState.cancel_skipped != "",
            rx.text(OrdersState.cancel_skipped, size="1", color_scheme="gray"),
        ),
        field_label("Reason", as_="label", html_for="cancel-reason"),
        rx.select.root(
            rx.select.trigger(
                placeholder="Why are they cancelled?", width="100%", id="cancel-reason"
            ),
            rx.select.content(
                *[rx.select.item(text, value=key) for key, text in CANCEL_REASONS.items()],
                position="popper",
            ),
            value=OrdersState.cancel_reason,
            on_change=OrdersState.set_cancel_reason,
        ),
        rx.flex(
            rx.button(
                "Keep orders",
                variant="soft",
                color_scheme="gray",
                on_click=OrdersState.close_cancel,
                id="cancel-keep",
            ),
            rx.button(
                "Cancel on marketplace",
                color_scheme="red",
                on_click=OrdersState.submit_cancel,
                disabled=OrdersState.cancel_reason == "",
                loading=OrdersState.cancel_busy,
                id="cancel-submit",
            ),
            spacing="2",
            justify="end",
            wrap="wrap",
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def _cancel_outcome() -> rx.Component:
    return rx.vstack(
        rx.text(
            OrdersState.cancel_done,
            " of ",
            OrdersState.cancel_orders.length(),
            " answered",
            size="2",
            id="cancel-progress",
        ),
        rx.box(
            rx.foreach(OrdersState.cancel_results, lambda r: result_line(r, "cancel-result")),
            width="100%",
            id="cancel-results",
        ),
        rx.flex(
            rx.button(
                "Done",
                on_click=OrdersState.close_cancel,
                disabled=OrdersState.cancel_busy,
                id="cancel-close",
            ),
            justify="end",
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def cancel_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                # the count, before anything runs: nothing happens until the merchant confirms
                "Cancel ",
                OrdersState.cancel_orders.length(),
                rx.cond(OrdersState.cancel_orders.length() == 1, " order?", " orders?"),
                id="cancel-title",
            ),
            rx.dialog.description(
                "Each order is cancelled on its marketplace first; its reserved stock is released.",
                size="2",
                color_scheme="gray",
                margin_bottom="0.75rem",
            ),
            rx.cond(
                OrdersState.cancel_busy | (OrdersState.cancel_results.length() > 0),
                _cancel_outcome(),
                _cancel_form(),
            ),
            max_width="min(30rem, calc(100vw - 2rem))",
            id="cancel-dialog",
        ),
        open=OrdersState.cancel_open,
        on_open_change=OrdersState.cancel_open_change,
    )
