"""Listings: the review queue (suggested and unmatched listings) and every listing's link."""

from __future__ import annotations

import reflex as rx

from storesync.tenancy.permissions import Permission
from storesync.ui.components.controls import list_row, pager, row_button, search_form
from storesync.ui.components.layout import app_frame
from storesync.ui.state.auth import may
from storesync.ui.state.listings import STATUSES, ListingsState


def _actions(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.cond(
        may(Permission.MANAGE_CATALOG),
        rx.flex(
            rx.cond(
                row["acceptable"] == "yes",
                rx.button(
                    "Accept ",
                    row["suggested_sku"],
                    size="1",
                    on_click=ListingsState.accept(row["id"]),
                    class_name="accept-suggestion",
                ),
                rx.cond(
                    row["suggested_sku"] != "",
                    rx.badge(
                        "Review: link by hand",
                        color_scheme="amber",
                        variant="soft",
                        class_name="review-suggestion",
                    ),
                ),
            ),
            rx.cond(
                (row["status"] == "unmatched") | (row["status"] == "suggested"),
                rx.form(
                    rx.hstack(
                        rx.input(type="hidden", name="listing_id", value=row["id"]),
                        rx.input(name="sku", placeholder="master SKU", size="1", width="9rem"),
                        rx.button("Link", size="1", type="submit", variant="soft"),
                        spacing="1",
                    ),
                    on_submit=ListingsState.link_by_sku,
                    reset_on_submit=True,
                    class_name="link-form",
                ),
            ),
            rx.cond(
                (row["status"] == "matched") | (row["status"] == "ignored"),
                row_button(
                    rx.cond(row["status"] == "ignored", "Restore", "Unlink"),
                    ListingsState.unlink(row["id"]),
                    "unlink-listing",
                    color_scheme="gray",
                ),
                row_button(
                    "Ignore", ListingsState.ignore(row["id"]), "ignore-listing", color_scheme="gray"
                ),
            ),
            spacing="2",
            wrap="wrap",
            align="center",
        ),
    )


def _suggestion(row: rx.Var[dict[str, str]]) -> rx.Component:
    """The suggested master product (thumbnail, title, SKU) and why, with how sure."""
    return rx.hstack(
        rx.cond(
            row["thumbnail"] != "",
            rx.image(
                src=row["thumbnail"],
                width="40px",
                height="40px",
                object_fit="cover",
                border_radius="4px",
                alt=row["suggested_title"],
                class_name="suggestion-thumb",
            ),
        ),
        rx.vstack(
            rx.text(
                "Suggested: ",
                rx.text.strong(row["suggested_title"], class_name="suggestion-title"),
                " (",
                row["suggested_sku"],
                ")",
                size="1",
            ),
            rx.text(
                row["reason"],
                ", ",
                row["confidence"],
                " sure",
                size="1",
                color_scheme="gray",
                class_name="suggestion-reason",
            ),
            spacing="0",
            min_width="0",
        ),
        spacing="2",
        align="center",
        class_name="suggestion",
    )


def _row(row: rx.Var[dict[str, str]]) -> rx.Component:
    return list_row(
        rx.vstack(
            rx.hstack(
                rx.badge(row["platform"], variant="outline"),
                rx.text(row["sku"], weight="bold", size="2"),
                spacing="2",
                wrap="wrap",
            ),
            rx.text(row["title"], " ", row["model"], size="1", color_scheme="gray"),
            rx.cond(row["suggested_sku"] != "", _suggestion(row)),
            rx.cond(
                row["linked_sku"] != "",
                rx.text("Linked to ", row["linked_sku"], size="1", color_scheme="green"),
            ),
            rx.cond(
                row["pushed"] != "",
                rx.text("Stock sent: ", row["pushed"], size="1", color_scheme="gray"),
            ),
            spacing="1",
            min_width="0",
            flex="1 1 16rem",
        ),
        _actions(row),
        class_name="listing-row",
        data={"sku": row["sku"], "status": row["status"]},
    )


def listings_page() -> rx.Component:
    return app_frame(
        "Listings",
        "/listings",
        rx.flex(
            rx.select(
                list(STATUSES),
                value=ListingsState.status,
                on_change=ListingsState.set_status_filter,
                id="listing-status",
                custom_attrs={"aria-label": "Filter by status"},
            ),
            search_form(
                ListingsState.search_listings,
                input_id="listing-search",
                placeholder="Title, SKU, item id…",
            ),
            spacing="2",
            wrap="wrap",
            margin_bottom="0.5rem",
        ),
        rx.text(
            "Suggestions at ",
            ListingsState.threshold,
            " or more can be accepted as they are; lower ones need a review: link them by hand.",
            size="1",
            color_scheme="gray",
            margin_bottom="1rem",
            id="accept-threshold",
        ),
        rx.card(
            rx.cond(
                ListingsState.rows.length() > 0,
                rx.foreach(ListingsState.rows, _row),
                rx.text("Nothing here.", color_scheme="gray", id="listings-empty"),
            ),
            padding="0",
            width="100%",
            id="listings",
        ),
        pager(ListingsState, "listings"),
    )
