"""The products page's publish dialog: the selected products listed on a store, in the
platform's category, with its attributes, logistics and package, checked before anything is
sent; then the job's progress and each product's outcome."""

from __future__ import annotations

import reflex as rx

from storesync.ui.components.to_ship import field_label
from storesync.ui.state.product_editor.publishing import PublishState


def _attribute(attribute: rx.Var[dict[str, str]]) -> rx.Component:
    field_id = "publish-attr-" + attribute["id"]
    return rx.vstack(
        rx.text(attribute["name"], size="1", weight="medium", color_scheme="gray"),
        rx.cond(
            attribute["kind"] == "pick",
            rx.select(
                PublishState.attribute_options[attribute["id"]],
                placeholder="Choose",
                on_change=lambda value: PublishState.set_attribute(attribute["id"], value),
                width="100%",
                id=field_id,
                custom_attrs={"aria-label": attribute["name"]},
            ),
            rx.input(
                on_blur=lambda value: PublishState.set_attribute(attribute["id"], value),
                width="100%",
                id=field_id,
                custom_attrs={"aria-label": attribute["name"]},
            ),
        ),
        spacing="1",
        width="100%",
        class_name="publish-attribute",
    )


def _logistics(channel: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.checkbox(
        channel["name"],
        checked=PublishState.chosen_logistics.contains(channel["id"]),
        on_change=lambda checked: PublishState.toggle_logistics(channel["id"], checked),
        class_name="publish-logistics",
    )


def _number(name: str, label: str) -> rx.Component:
    return rx.vstack(
        field_label(label, html_for=f"publish-{name}"),
        rx.input(
            id=f"publish-{name}",
            input_mode="numeric",
            on_blur=lambda value: PublishState.set_package(name, value),
            width="100%",
        ),
        spacing="1",
        min_width="6rem",
        flex="1",
    )


def _problem(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.text(
        rx.text.strong(row["product"]),
        " · ",
        rx.code(row["field"]),
        " ",
        row["message"],
        size="2",
        color_scheme="red",
        class_name="publish-problem",
    )


def _result(row: rx.Var[dict[str, str]]) -> rx.Component:
    ok = row["ok"] == "yes"
    return rx.flex(
        rx.icon(
            rx.cond(ok, "circle-check", "circle-x"),
            size=16,
            color=rx.cond(ok, rx.color("green", 10), rx.color("red", 10)),
            flex_shrink="0",
        ),
        rx.text(rx.text.strong(row["product"]), " ", row["detail"], size="2"),
        spacing="2",
        class_name="publish-result",
    )


def _form() -> rx.Component:
    return rx.box(
        rx.vstack(
            field_label("Store"),
            rx.select(
                PublishState.target_labels,
                placeholder="Choose a connected store",
                on_change=PublishState.choose_target,
                width="100%",
                id="publish-store",
                custom_attrs={"aria-label": "Store"},
            ),
            rx.cond(
                PublishState.categories.length() > 0,
                rx.vstack(
                    rx.flex(
                        field_label("Category", html_for="publish-category-search"),
                        rx.spacer(),
                        rx.button(
                            "Refresh categories",
                            type="button",
                            size="1",
                            variant="ghost",
                            on_click=PublishState.refresh_categories,
                            id="publish-refresh",
                        ),
                        width="100%",
                        align="center",
                    ),
                    rx.input(
                        placeholder="Search categories",
                        on_change=PublishState.search_categories.debounce(250),
                        width="100%",
                        id="publish-category-search",
                    ),
                    rx.select(
                        PublishState.category_labels,
                        placeholder="Choose the platform's category",
                        on_change=PublishState.choose_category,
                        width="100%",
                        id="publish-category",
                        custom_attrs={"aria-label": "Category"},
                    ),
                    spacing="1",
                    width="100%",
                ),
            ),
            rx.cond(
                PublishState.category_label != "",
                rx.vstack(
                    rx.text(PublishState.rules, size="1", color_scheme="gray", id="publish-rules"),
                    rx.grid(
                        rx.foreach(PublishState.attributes, _attribute),
                        columns=rx.breakpoints(initial="1", sm="2"),
                        spacing="3",
                        width="100%",
                        id="publish-attributes",
                    ),
                    rx.cond(
                        PublishState.logistics.length() > 0,
                        rx.vstack(
                            field_label("Logistics channels"),
                            rx.flex(
                                rx.foreach(PublishState.logistics, _logistics),
                                spacing="3",
                                wrap="wrap",
                            ),
                            spacing="1",
                            id="publish-logistics",
                        ),
                    ),
                    rx.text(
                        "Package (blank: taken from the variants)",
                        size="1",
                        weight="medium",
                        color_scheme="gray",
                    ),
                    rx.flex(
                        _number("weight_grams", "Weight (g)"),
                        _number("length_cm", "Length (cm)"),
                        _number("width_cm", "Width (cm)"),
                        _number("height_cm", "Height (cm)"),
                        spacing="2",
                        wrap="wrap",
                        width="100%",
                    ),
                    spacing="2",
                    width="100%",
                ),
            ),
            rx.box(rx.foreach(PublishState.problems, _problem), id="publish-problems"),
            rx.flex(
                rx.button(
                    "Close",
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                    on_click=PublishState.close_publish,
                    id="publish-close",
                ),
                rx.button(
                    "Check",
                    type="button",
                    variant="outline",
                    on_click=PublishState.check,
                    disabled=PublishState.category_label == "",
                    id="publish-check",
                ),
                rx.button(
                    "Publish",
                    type="button",
                    on_click=PublishState.publish,
                    disabled=PublishState.category_label == "",
                    loading=PublishState.busy,
                    id="publish-submit",
                ),
                spacing="2",
                justify="end",
                wrap="wrap",
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
        id="publish-form",
    )


def _outcome() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Publishing: ",
            PublishState.job_status,
            " ",
            PublishState.job_progress,
            size="2",
            id="publish-status",
        ),
        rx.box(rx.foreach(PublishState.results, _result), width="100%", id="publish-results"),
        rx.flex(
            rx.button(
                "Done",
                on_click=PublishState.close_publish,
                disabled=PublishState.busy,
                id="publish-done",
            ),
            justify="end",
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def publish_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                "Publish ",
                PublishState.selected.length(),
                rx.cond(PublishState.selected.length() == 1, " product", " products"),
                id="publish-title",
            ),
            rx.dialog.description(
                "Each product becomes one listing with its variants; its SKUs are linked and "
                "their stock pushed. Nothing is sent until every check passes.",
                size="2",
                color_scheme="gray",
                margin_bottom="0.75rem",
            ),
            rx.cond(
                PublishState.busy | (PublishState.job_status != ""),
                _outcome(),
                _form(),
            ),
            max_width="min(40rem, calc(100vw - 2rem))",
            id="publish-dialog",
        ),
        open=PublishState.publish_open,
        on_open_change=PublishState.publish_open_change,
    )
