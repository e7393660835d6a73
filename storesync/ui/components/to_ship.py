"""The Orders page's to-ship dialog, arrange shipment (per store: pickup with an address and a
slot, or drop-off at a branch; then live progress and each order's result), the orders left out
of a labels PDF, and the small parts the order dialogs share."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import FunctionStringVar

from storesync.ui.components import controls
from storesync.ui.state.orders import OrdersState


def field_label(text: str, **props: Any) -> rx.Component:
    """A small grey label; with `html_for`, a `<label>` that names its control."""
    html_for = props.pop("html_for", None)
    props.pop("as_", None)
    style = {"size": "1", "weight": "medium", "color_scheme": "gray", **props}
    if html_for is None:
        return rx.text(text, **style)
    return controls.field_label(text, html_for, **style)


def choice_select(
    choices: Any, value: Any, on_change: Any, *, name: str, placeholder: str, class_name: str
) -> rx.Component:
    """A select of `Choice`s (id, label), named `name` for screen readers."""
    return rx.select.root(
        rx.select.trigger(
            placeholder=placeholder, aria_label=name, width="100%", class_name=class_name
        ),
        rx.select.content(
            rx.foreach(choices, lambda c: rx.select.item(c.label, value=c.id)),
            position="popper",
        ),
        value=value,
        on_change=on_change,
    )


def result_line(row: rx.Var[dict[str, str]], class_name: str) -> rx.Component:
    """One order's outcome: its tracking number, or the platform's reason."""
    ok = row["ok"] == "yes"
    return rx.flex(
        rx.icon(
            rx.cond(ok, "circle-check", "circle-x"),
            size=16,
            color=rx.cond(ok, rx.color("green", 10), rx.color("red", 10)),
            flex_shrink="0",
            margin_top="2px",
        ),
        rx.text(row["number"], weight="bold", size="2", class_name="result-number"),
        rx.text(
            rx.cond(
                ok, rx.cond(row["tracking"] != "", row["tracking"], row["message"]), row["message"]
            ),
            size="2",
            color_scheme=rx.cond(ok, "gray", "red"),
            class_name="result-detail",
            overflow_wrap="anywhere",
            min_width="0",
            flex="1 1 12rem",
        ),
        spacing="2",
        wrap="wrap",
        align="start",
        padding_y="0.35rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name=class_name,
        custom_attrs={"data-ok": row["ok"], "data-number": row["number"]},
    )


# -- arrange shipment --------------------------------------------------------------------------


def _pickup(group: Any) -> rx.Component:
    return rx.vstack(
        field_label("Pickup address"),
        choice_select(
            group.addresses,
            group.address_id,
            lambda v: OrdersState.set_arrange_address(group.store_id, v),
            name="Pickup address",
            placeholder="Choose an address",
            class_name="arrange-address",
        ),
        field_label("Pickup time"),
        rx.cond(
            group.slots.length() > 0,
            choice_select(
                group.slots,
                group.slot_id,
                lambda v: OrdersState.set_arrange_slot(group.store_id, v),
                name="Pickup time",
                placeholder="Choose a time slot",
                class_name="arrange-slot",
            ),
            rx.text("No pickup time offered for this address.", size="2", color_scheme="red"),
        ),
        spacing="1",
        width="100%",
    )


def _dropoff(group: Any) -> rx.Component:
    return rx.cond(
        group.branches.length() > 0,
        rx.vstack(
            field_label("Drop-off branch"),
            choice_select(
                group.branches,
                group.branch_id,
                lambda v: OrdersState.set_arrange_branch(group.store_id, v),
                name="Drop-off branch",
                placeholder="Choose a branch",
                class_name="arrange-branch",
            ),
            spacing="1",
            width="100%",
        ),
        rx.text("Drop the parcels at any branch of the carrier.", size="2", color_scheme="gray"),
    )


def _group(group: Any) -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.text(group.store, weight="bold", size="2"),
            rx.badge(group.platform, variant="outline", size="1"),
            rx.cond(group.carrier != "", rx.badge(group.carrier, variant="soft", size="1")),
            rx.text(
                group.count,
                rx.cond(group.count == 1, " order", " orders"),
                size="1",
                color_scheme="gray",
                class_name="arrange-count",
            ),
            spacing="2",
            wrap="wrap",
            align="center",
        ),
        rx.text(group.orders, size="1", color_scheme="gray", overflow_wrap="anywhere"),
        rx.cond(
            group.methods.length() > 0,
            rx.vstack(
                field_label("Hand over by"),
                rx.radio_group.root(
                    rx.flex(
                        rx.foreach(
                            group.methods,
                            lambda m: rx.text(
                                rx.flex(
                                    rx.radio_group.item(value=m.id, class_name=f"method-{m.id}"),
                                    m.label,
                                    spacing="2",
                                    align="center",
                                ),
                                as_="label",
                                size="2",
                            ),
                        ),
                        spacing="4",
                        wrap="wrap",
                    ),
                    value=group.method,
                    on_change=lambda v: OrdersState.set_arrange_method(group.store_id, v),
                    class_name="arrange-method",
                    aria_label="Hand over by",
                ),
                spacing="1",
                width="100%",
            ),
        ),
        rx.match(
            group.method,
            ("pickup", _pickup(group)),
            ("dropoff", _dropoff(group)),
            rx.fragment(),
        ),
        rx.cond(
            group.error != "",
            rx.callout(
                group.error,
                icon="triangle-alert",
                color_scheme="red",
                size="1",
                width="100%",
                class_name="arrange-error",
            ),
        ),
        spacing="2",
        width="100%",
        padding="0.75rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
        class_name="arrange-group",
        custom_attrs={"data-platform": group.platform, "data-store-id": group.store_id},
    )


def _job(job: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.text(job["store"], weight="medium", size="2"),
            rx.badge(job["status_label"], size="1", class_name="arrange-job-status"),
            rx.text(job["done"], "/", job["total"], size="1", color_scheme="gray"),
            rx.cond(
                job["failed"] != "0",
                rx.text(job["failed"], " failed", size="1", color_scheme="red"),
            ),
            spacing="2",
            wrap="wrap",
            align="center",
        ),
        rx.cond(
            (job["status"] == "queued") | (job["status"] == "running"),
            # a number, not the row's text: Radix warns on a string value ("0")
            rx.progress(value=_number(job["percent"]), max=100, width="100%"),
        ),
        rx.cond(job["error"] != "", rx.text(job["error"], size="1", color_scheme="red")),
        spacing="1",
        width="100%",
        class_name="arrange-job",
        custom_attrs={"data-platform": job["platform"], "data-status": job["status"]},
    )


def _number(text: rx.Var[str]) -> rx.Var[int]:
    return FunctionStringVar.create("Number").call(text).to(int)


def _arrange_form() -> rx.Component:
    return rx.vstack(
        rx.cond(
            OrdersState.arrange_loading,
            rx.flex(
                rx.spinner(),
                rx.text("Asking the marketplaces…", size="2"),
                spacing="2",
                align="center",
            ),
            rx.foreach(OrdersState.arrange_groups, _group),
        ),
        rx.cond(
            OrdersState.arrange_skipped != "",
            rx.text(
                OrdersState.arrange_skipped, size="1", color_scheme="gray", id="arrange-skipped"
            ),
        ),
        rx.flex(
            rx.button(
                "Cancel",
                variant="soft",
                color_scheme="gray",
                on_click=OrdersState.close_arrange,
                id="arrange-cancel",
            ),
            rx.button(
                "Arrange shipment",
                on_click=OrdersState.submit_arrange,
                disabled=OrdersState.arrange_loading,
                id="arrange-submit",
            ),
            spacing="2",
            justify="end",
            wrap="wrap",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def _arrange_progress() -> rx.Component:
    return rx.vstack(
        rx.foreach(OrdersState.arrange_jobs, _job),
        rx.cond(
            OrdersState.arrange_results.length() > 0,
            rx.box(
                field_label("Results"),
                rx.foreach(OrdersState.arrange_results, lambda r: result_line(r, "arrange-result")),
                width="100%",
                id="arrange-results",
            ),
        ),
        rx.flex(
            rx.button(
                rx.cond(OrdersState.arrange_finished, "Done", "Close (jobs go on)"),
                on_click=OrdersState.close_arrange,
                variant=rx.cond(OrdersState.arrange_finished, "solid", "soft"),
                id="arrange-close",
            ),
            justify="end",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def arrange_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Arrange shipment"),
            rx.dialog.description(
                "Each store's orders are handed over as its marketplace offers.",
                size="2",
                color_scheme="gray",
                margin_bottom="0.75rem",
            ),
            rx.cond(OrdersState.arranging, _arrange_progress(), _arrange_form()),
            max_width="min(34rem, calc(100vw - 2rem))",
            id="arrange-dialog",
        ),
        open=OrdersState.arrange_open,
        on_open_change=OrdersState.arrange_open_change,
    )


def print_failures() -> rx.Component:
    """Orders left out of the last labels PDF, with the reason."""
    return rx.cond(
        OrdersState.print_failures.length() > 0,
        rx.callout.root(
            rx.flex(
                rx.callout.icon(rx.icon("printer")),
                rx.vstack(
                    rx.text("Left out of the labels PDF", weight="bold", size="2"),
                    rx.foreach(
                        OrdersState.print_failures, lambda r: result_line(r, "print-failure")
                    ),
                    spacing="1",
                    flex="1",
                    min_width="0",
                ),
                rx.icon_button(
                    rx.icon("x", size=14),
                    variant="ghost",
                    size="1",
                    aria_label="Dismiss",
                    on_click=OrdersState.dismiss_print_failures,
                    id="print-failures-close",
                ),
                spacing="2",
                align="start",
                width="100%",
            ),
            color_scheme="amber",
            margin_bottom="0.5rem",
            id="print-failures",
        ),
    )
