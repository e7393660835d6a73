"""Controls every list page uses: a search box and a pager over a `Paging` state."""

from __future__ import annotations

from typing import Any

import reflex as rx


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
            rx.button(rx.icon("search", size=16), type="submit", id=f"{input_id}-submit"),
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
