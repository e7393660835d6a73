"""Dashboard and the sections still to come (each lands with its issue)."""

from __future__ import annotations

import reflex as rx

from storesync.ui.components.layout import SECTIONS, Section, app_frame

_KPIS = (
    ("Orders today", "shopping-cart"),
    ("Revenue today", "wallet"),
    ("Low stock", "triangle-alert"),
    ("Stores in sync", "refresh-cw"),
)


def _kpi(label: str, icon: str) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.icon(icon, size=20, color=rx.color("accent", 10)),
            rx.vstack(
                rx.text(label, size="2", color_scheme="gray"),
                rx.heading("—", size="6"),
                spacing="1",
            ),
            align="center",
            spacing="3",
        ),
        width="100%",
    )


def dashboard_page() -> rx.Component:
    return app_frame(
        "Dashboard",
        "/",
        rx.grid(
            *[_kpi(label, icon) for label, icon in _KPIS],
            columns=rx.breakpoints(initial="1", sm="2", lg="4"),
            spacing="4",
            width="100%",
        ),
        rx.card(
            rx.text(
                "Connect a store to start: orders, stock and sync health appear here live.",
                color_scheme="gray",
            ),
            margin_top="1rem",
            width="100%",
        ),
    )


def section_page(section: Section) -> rx.Component:
    return app_frame(
        section.label,
        section.route,
        rx.card(
            rx.text(f"{section.label} is on its way.", color_scheme="gray"),
            width="100%",
        ),
    )


COMING_SOON = tuple(s for s in SECTIONS if s.route != "/")
