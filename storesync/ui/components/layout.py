"""The app frame: a sidebar on wide screens, a top bar with a drawer menu on phones."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from storesync.ui.state.auth import AuthState


@dataclass(frozen=True)
class Section:
    label: str
    route: str
    icon: str


SECTIONS = (
    Section("Dashboard", "/", "layout-dashboard"),
    Section("Products", "/products", "package"),
    Section("Inventory", "/inventory", "warehouse"),
    Section("Orders", "/orders", "shopping-cart"),
    Section("Stores", "/stores", "store"),
    Section("Sync", "/sync", "refresh-cw"),
    Section("Settings", "/settings", "settings"),
)

SIDEBAR_WIDTH = "15rem"


def _nav_link(section: Section, active: str, prefix: str) -> rx.Component:
    is_active = section.route == active
    return rx.link(
        rx.hstack(
            rx.icon(section.icon, size=18),
            rx.text(section.label, size="3", weight="medium"),
            align="center",
            spacing="3",
            padding_x="0.75rem",
            padding_y="0.6rem",
            border_radius="8px",
            width="100%",
            background=rx.cond(is_active, rx.color("accent", 4), "transparent"),
            color=rx.cond(is_active, rx.color("accent", 11), rx.color("gray", 12)),
            _hover={"background": rx.color("accent", 3)},
        ),
        href=section.route,
        id=f"{prefix}-nav-{section.label.lower()}",
        underline="none",
        width="100%",
    )


def _brand() -> rx.Component:
    return rx.hstack(
        rx.icon("boxes", size=22, color=rx.color("accent", 10)),
        rx.heading("StoreSync", size="5"),
        align="center",
        spacing="2",
    )


def _account() -> rx.Component:
    return rx.vstack(
        rx.text(AuthState.organization_name, weight="bold", size="2", id="org-name"),
        rx.text(AuthState.user_email, size="1", color_scheme="gray", id="user-email"),
        rx.badge(AuthState.role, variant="soft", id="user-role"),
        rx.button(
            rx.icon("log-out", size=16),
            "Sign out",
            on_click=AuthState.sign_out,
            variant="soft",
            color_scheme="gray",
            size="2",
            width="100%",
            id="sign-out",
        ),
        spacing="2",
        width="100%",
    )


def _nav(active: str, prefix: str) -> rx.Component:
    return rx.vstack(
        *[_nav_link(section, active, prefix) for section in SECTIONS],
        spacing="1",
        width="100%",
    )


def sidebar(active: str) -> rx.Component:
    return rx.vstack(
        _brand(),
        rx.divider(),
        _nav(active, "side"),
        rx.spacer(),
        _account(),
        id="sidebar",
        display=["none", "none", "flex"],
        position="fixed",
        left="0",
        top="0",
        height="100vh",
        width=SIDEBAR_WIDTH,
        padding="1rem",
        spacing="4",
        border_right=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
    )


def mobile_bar(active: str) -> rx.Component:
    return rx.hstack(
        _brand(),
        rx.drawer.root(
            rx.drawer.trigger(
                rx.icon_button(rx.icon("menu"), variant="soft", id="menu-button", size="3")
            ),
            rx.drawer.overlay(),
            rx.drawer.portal(
                rx.drawer.content(
                    rx.vstack(
                        rx.hstack(
                            _brand(),
                            rx.drawer.close(
                                rx.icon_button(rx.icon("x"), variant="ghost", id="menu-close")
                            ),
                            justify="between",
                            width="100%",
                        ),
                        _nav(active, "drawer"),
                        rx.divider(),
                        _account(),
                        spacing="4",
                        padding="1rem",
                        width="100%",
                    ),
                    top="0",
                    left="0",
                    height="100%",
                    width="min(18rem, 85vw)",
                    background=rx.color("gray", 1),
                    id="mobile-menu",
                ),
            ),
            direction="left",
        ),
        id="mobile-bar",
        display=["flex", "flex", "none"],
        justify="between",
        align="center",
        position="sticky",
        top="0",
        z_index="10",
        width="100%",
        padding="0.75rem 1rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
    )


def app_frame(title: str, active: str, *children: rx.Component) -> rx.Component:
    """A signed-in page: navigation plus a content column that never scrolls sideways."""
    return rx.box(
        sidebar(active),
        mobile_bar(active),
        rx.box(
            rx.heading(title, size="7", id="page-title", margin_bottom="1rem"),
            *children,
            margin_left=["0", "0", SIDEBAR_WIDTH],
            padding=["1rem", "1rem", "2rem"],
            max_width="100%",
        ),
        width="100%",
        overflow_x="hidden",
        min_height="100vh",
    )
