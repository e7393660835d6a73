"""Controls every list page uses: a search box, a pager over a `Paging` state, rows and their
small action buttons."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.components.component import Component
from reflex.components.el.elements.forms import Input


def field_label(text: Any, html_for: str | rx.Var[str], **props: Any) -> rx.Component:
    """A visible label tied to its control: a `<label for=...>` styled as Radix text (Reflex
    turns `html_for` on `rx.text` into CSS, so the label would name nothing)."""
    return rx.text(rx.el.label(text, html_for=html_for), as_child=True, **props)


def labelled_upload(*children: Any, label: str, **props: Any) -> rx.Component:
    """`rx.upload` whose hidden file input is named `label` for screen readers (Reflex gives its
    props to the drop zone, so the input itself would have no name)."""
    upload = rx.upload(*children, **props)
    found = _file_inputs(upload)
    if not found:
        raise RuntimeError("rx.upload no longer renders a file input to label")
    for file_input in found:
        file_input.custom_attrs["aria-label"] = label
    return upload


def _file_inputs(component: Component) -> list[Component]:
    inputs = [component] if isinstance(component, Input) else []
    for child in component.children:
        if isinstance(child, Component):
            inputs.extend(_file_inputs(child))
    return inputs


def search_form(
    on_submit: Any, *, input_id: str, placeholder: str, value: Any = ""
) -> rx.Component:
    """A search box; Enter or the button submits `{"search": ...}` to `on_submit`."""
    return rx.form(
        rx.hstack(
            rx.input(
                name="search",
                placeholder=placeholder,
                default_value=value,
                id=input_id,
                width="100%",
            ),
            rx.button(
                rx.icon("search", size=16),
                type="submit",
                aria_label="Search",
                id=f"{input_id}-submit",
            ),
            width="100%",
        ),
        on_submit=on_submit,
        reset_on_submit=False,
        flex="1",
        min_width="12rem",
    )


def pager(state: Any, prefix: str, *, back: str = "Previous", on: str = "Next") -> rx.Component:
    """Previous / page number / next for a state with the `Paging` mixin; ids
    `<prefix>-previous`, `<prefix>-page`, `<prefix>-next`."""
    return rx.hstack(
        rx.button(
            back,
            on_click=state.previous_page,
            disabled=state.page_number <= 1,
            variant="soft",
            id=f"{prefix}-previous",
        ),
        rx.text("Page ", state.page_number, size="2", id=f"{prefix}-page"),
        rx.button(
            on,
            on_click=state.next_page,
            disabled=~state.next_cursor.bool(),
            variant="soft",
            id=f"{prefix}-next",
        ),
        justify="center",
        align="center",
        spacing="3",
        margin_top="1rem",
    )


ROW_BORDER = f"1px solid {rx.color('gray', 4)}"


def row_button(label: Any, on_click: Any, class_name: str, **props: Any) -> rx.Component:
    """A list row's small action button (soft unless `props` say otherwise)."""
    return rx.button(
        label, size="1", on_click=on_click, class_name=class_name, **{"variant": "soft", **props}
    )


def list_row(*children: Any, class_name: str, data: dict[str, Any], **props: Any) -> rx.Component:
    """One row of a list page: its parts side by side, wrapping on a phone; `data` becomes
    data-* attributes (what the browser tests find rows by)."""
    return rx.flex(
        *children,
        spacing="3",
        wrap="wrap",
        align="center",
        justify="between",
        padding="0.75rem",
        border_bottom=ROW_BORDER,
        class_name=class_name,
        custom_attrs={f"data-{name}": value for name, value in data.items()},
        **props,
    )
