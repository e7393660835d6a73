"""Audit log: filters (actor, entity, dates), the entries newest first in pages, the CSV link."""

from __future__ import annotations

import reflex as rx

from storesync.ui.components.controls import field_label, list_row, pager
from storesync.ui.components.layout import app_frame
from storesync.ui.state.audit import ENTITY_TYPES, AuditState, entity_label

FIELD_WIDTH = "min(100%, 13rem)"


def _labelled(text: str, control: rx.Component, html_for: str) -> rx.Component:
    return rx.vstack(
        field_label(text, html_for, size="1", color_scheme="gray"),
        control,
        spacing="1",
        width=FIELD_WIDTH,
    )


def _entity_select() -> rx.Component:
    return rx.el.select(
        rx.el.option("Any entity", value=""),
        *[rx.el.option(entity_label(kind), value=kind) for kind in ENTITY_TYPES],
        name="entity_type",
        id="audit-filter-entity",
        default_value=AuditState.filters["entity_type"],
        style={
            "width": "100%",
            "height": "2rem",
            "border_radius": "6px",
            "padding": "0 0.5rem",
            "border": f"1px solid {rx.color('gray', 7)}",
            "background": rx.color("gray", 1),
        },
    )


def _filters() -> rx.Component:
    values = AuditState.filters
    return rx.form(
        rx.flex(
            _labelled(
                "Actor",
                rx.input(
                    name="actor",
                    id="audit-filter-actor",
                    placeholder="email or API key",
                    default_value=values["actor"],
                    width="100%",
                ),
                "audit-filter-actor",
            ),
            _labelled("Entity", _entity_select(), "audit-filter-entity"),
            _labelled(
                "Entity id",
                rx.input(
                    name="entity_id",
                    id="audit-filter-entity-id",
                    default_value=values["entity_id"],
                    width="100%",
                ),
                "audit-filter-entity-id",
            ),
            _labelled(
                "From",
                rx.input(
                    type="date",
                    name="from",
                    id="audit-filter-from",
                    default_value=values["from"],
                    width="100%",
                ),
                "audit-filter-from",
            ),
            _labelled(
                "To",
                rx.input(
                    type="date",
                    name="to",
                    id="audit-filter-to",
                    default_value=values["to"],
                    width="100%",
                ),
                "audit-filter-to",
            ),
            rx.hstack(
                rx.button("Filter", type="submit", id="audit-filter-submit"),
                rx.button(
                    "Clear",
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                    on_click=AuditState.clear_filters,
                    id="audit-filter-clear",
                ),
                rx.button(
                    rx.el.a(
                        rx.icon("download", size=16),
                        "Download CSV",
                        href=AuditState.csv_href,
                        download="audit.csv",
                        reload_document=True,  # the server's file, not a page of the app
                        id="audit-csv",
                    ),
                    as_child=True,
                    variant="soft",
                    color_scheme="gray",
                ),
                spacing="2",
                wrap="wrap",
                align="end",
            ),
            spacing="3",
            wrap="wrap",
            align="end",
        ),
        on_submit=AuditState.apply_filters,
        reset_on_submit=False,
        id="audit-filters",
        margin_bottom="1rem",
    )


def _row(row: rx.Var[dict[str, str]]) -> rx.Component:
    return list_row(
        rx.vstack(
            rx.hstack(
                rx.text(row["at"], size="1", color_scheme="gray", class_name="audit-time"),
                rx.badge(row["action"], variant="soft", class_name="audit-action"),
                spacing="2",
                wrap="wrap",
                align="center",
            ),
            rx.text(row["actor"], weight="bold", size="2", class_name="audit-actor"),
            rx.text(
                row["entity_type"],
                " ",
                row["entity_id"],
                size="1",
                color_scheme="gray",
                class_name="audit-entity",
                word_break="break-all",
            ),
            spacing="1",
            min_width="0",
            flex="1 1 16rem",
        ),
        rx.vstack(
            rx.text(row["change"], size="2", class_name="audit-change", word_break="break-word"),
            rx.cond(
                row["client_address"] != "",
                rx.text(
                    "from ",
                    row["client_address"],
                    size="1",
                    color_scheme="gray",
                    class_name="audit-address",
                ),
            ),
            spacing="1",
            min_width="0",
            flex="2 1 18rem",
        ),
        class_name="audit-row",
        data={"id": row["id"], "action": row["action"]},
    )


def audit_page() -> rx.Component:
    return app_frame(
        "Audit log",
        "/audit",
        rx.cond(
            AuditState.allowed,
            rx.box(
                _filters(),
                rx.text(
                    "Times in ", AuditState.zone, size="1", color_scheme="gray", id="audit-zone"
                ),
                rx.card(
                    rx.cond(
                        AuditState.rows.length() > 0,
                        rx.foreach(AuditState.rows, _row),
                        rx.text("No changes match.", color_scheme="gray", id="audit-empty"),
                    ),
                    padding="0",
                    width="100%",
                    id="audit-table",
                    margin_top="0.5rem",
                ),
                pager(AuditState, "audit", back="Newer", on="Older"),
                width="100%",
            ),
            rx.callout(
                "Only owners and admins can see the audit log.",
                icon="lock",
                id="audit-forbidden",
            ),
        ),
    )
