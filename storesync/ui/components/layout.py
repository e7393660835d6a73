"""The app frame: a sidebar on wide screens, a top bar with a drawer menu on phones."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from storesync.tenancy.permissions import Permission
from storesync.ui.state.auth import AuthState, may
from storesync.ui.state.page import PageState


@dataclass(frozen=True)
class Section:
    label: str
    route: str
    icon: str


SECTIONS = (
    Section("Dashboard", "/", "layout-dashboard"),
    Section("Products", "/products", "package"),
    Section("Listings", "/listings", "link"),
    Section("Inventory", "/inventory", "warehouse"),
    Section("Orders", "/orders", "shopping-cart"),
    Section("Stores", "/stores", "store"),
    Section("Sync", "/sync", "refresh-cw"),
    Section("Settings", "/settings", "settings"),
)
# Shown to owners and admins only (Permission.VIEW_AUDIT), after the sections everyone sees.
AUDIT = Section("Audit", "/audit", "scroll-text")

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


def bell(prefix: str) -> rx.Component:
    """The notification bell: unread count; opening it lists the latest."""
    # The trigger is the button itself (aria-expanded belongs on a button, not on a box); the
    # count sits beside it in a box of its own.
    return rx.box(
        rx.popover.root(
            rx.popover.trigger(
                rx.icon_button(
                    rx.icon("bell", size=18),
                    variant="ghost",
                    aria_label="Notifications",
                    id=f"{prefix}-bell",
                ),
            ),
            _notifications(prefix),
            on_open_change=PageState.open_notifications,
        ),
        rx.cond(
            PageState.unread > 0,
            rx.badge(
                PageState.unread,
                color_scheme="red",
                variant="solid",
                radius="full",
                size="1",
                position="absolute",
                top="-6px",
                right="-8px",
                pointer_events="none",  # a click on the count opens the bell
                class_name="unread-count",
            ),
        ),
        position="relative",
    )


def _notifications(prefix: str) -> rx.Component:
    return rx.popover.content(
        rx.vstack(
            rx.hstack(
                rx.text("Notifications", weight="bold"),
                rx.spacer(),
                rx.button(
                    "Mark all read",
                    size="1",
                    variant="soft",
                    on_click=PageState.mark_all_read,
                    id=f"{prefix}-mark-read",
                ),
                width="100%",
            ),
            rx.cond(
                PageState.notes.length() > 0,
                rx.foreach(
                    PageState.notes,
                    lambda n: rx.vstack(
                        rx.text(
                            n["title"],
                            size="2",
                            weight=rx.cond(n["unread"] == "yes", "bold", "regular"),
                        ),
                        rx.text(n["at"], " · ", n["body"], size="1", color_scheme="gray"),
                        spacing="0",
                        class_name="notification",
                    ),
                ),
                rx.text("Nothing yet.", size="2", color_scheme="gray"),
            ),
            spacing="2",
            max_height="60vh",
            overflow_y="auto",
        ),
        width="min(22rem, 90vw)",
    )


def live_alert() -> rx.Component:
    """A notification that arrived while the page was open, until dismissed."""
    return rx.cond(
        PageState.alert.contains("title"),
        rx.callout.root(
            rx.hstack(
                rx.callout.icon(rx.icon("bell-ring")),
                rx.vstack(
                    rx.text(PageState.alert["title"], weight="bold", size="2"),
                    rx.text(PageState.alert["body"], size="1"),
                    spacing="0",
                    flex="1",
                    min_width="0",
                ),
                rx.icon_button(
                    rx.icon("x", size=14),
                    variant="ghost",
                    size="1",
                    on_click=PageState.dismiss_alert,
                    aria_label="Dismiss",
                    id="live-alert-close",
                ),
                align="start",
                width="100%",
            ),
            color_scheme=rx.cond(PageState.alert["severity"] == "error", "red", "blue"),
            position="fixed",
            bottom="1rem",
            right="1rem",
            max_width="min(24rem, calc(100vw - 2rem))",
            z_index="50",
            id="live-alert",
        ),
    )


def _brand() -> rx.Component:
    return rx.hstack(
        rx.icon("boxes", size=22, color=rx.color("accent", 10)),
        rx.heading("StoreSync", size="5"),
        align="center",
        spacing="2",
    )


def _switcher(prefix: str) -> rx.Component:
    """Members of several organizations pick the one they work in."""
    return rx.cond(
        AuthState.organizations.length() > 1,  # type: ignore[attr-defined]
        rx.select.root(
            rx.select.trigger(width="100%", aria_label="Organization", id=f"org-switch-{prefix}"),
            rx.select.content(
                rx.foreach(
                    AuthState.organizations,
                    lambda org: rx.select.item(org["name"], value=org["id"]),
                )
            ),
            value=AuthState.organization_id,
            on_change=AuthState.switch_organization,
            size="2",
        ),
    )


def _account(prefix: str) -> rx.Component:
    return rx.vstack(
        _switcher(prefix),
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
        rx.cond(may(Permission.VIEW_AUDIT), _nav_link(AUDIT, active, prefix)),
        spacing="1",
        width="100%",
    )


def sidebar(active: str) -> rx.Component:
    return rx.vstack(
        rx.hstack(_brand(), rx.spacer(), bell("side"), width="100%", align="center"),
        rx.divider(),
        _nav(active, "side"),
        rx.spacer(),
        _account("side"),
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
        rx.spacer(),
        bell("mobile"),
        rx.drawer.root(
            rx.drawer.trigger(
                rx.icon_button(
                    rx.icon("menu"), variant="soft", aria_label="Menu", id="menu-button", size="3"
                )
            ),
            rx.drawer.overlay(),
            rx.drawer.portal(
                rx.drawer.content(
                    rx.vstack(
                        rx.hstack(
                            _brand(),
                            rx.drawer.close(
                                rx.icon_button(
                                    rx.icon("x"),
                                    variant="ghost",
                                    aria_label="Close menu",
                                    id="menu-close",
                                )
                            ),
                            justify="between",
                            width="100%",
                        ),
                        _nav(active, "drawer"),
                        rx.divider(),
                        _account("drawer"),
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
        live_alert(),
        width="100%",
        overflow_x="hidden",
        min_height="100vh",
    )
