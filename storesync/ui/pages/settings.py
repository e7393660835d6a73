"""Settings: organization and members."""

from __future__ import annotations

import reflex as rx

from storesync.tenancy.permissions import Permission, Role
from storesync.ui.components.controls import row_button
from storesync.ui.components.layout import app_frame
from storesync.ui.state.auth import AuthState, may
from storesync.ui.state.settings import SettingsState

ROLES = [r.value for r in Role]


def _member(member: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.text(member["email"], weight="medium", size="2", class_name="member-email"),
            rx.text(member["name"], size="1", color_scheme="gray"),
            spacing="0",
            min_width="0",
            flex="1",
        ),
        rx.cond(
            may(Permission.MANAGE_MEMBERS) & (member["me"] != "yes"),
            rx.hstack(
                rx.select(
                    ROLES,
                    value=member["role"],
                    on_change=lambda role: SettingsState.change_role(member["user_id"], role),
                    size="1",
                    class_name="member-role-select",
                ),
                row_button(
                    "Remove",
                    SettingsState.remove_member(member["user_id"]),
                    "member-remove",
                    color_scheme="red",
                ),
                spacing="2",
            ),
            rx.badge(member["role"], class_name="member-role"),
        ),
        spacing="2",
        wrap="wrap",
        align="center",
        padding="0.6rem 0",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name="member-row",
    )


def _invite() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.input(
                name="email",
                type="email",
                placeholder="email",
                required=True,
                id="invite-email",
                flex="2",
                min_width="12rem",
            ),
            rx.input(
                name="password",
                type="password",
                placeholder="first password (new people)",
                id="invite-password",
                flex="2",
                min_width="12rem",
            ),
            rx.select(
                ["viewer", "staff", "admin"], name="role", default_value="staff", id="invite-role"
            ),
            rx.button("Add member", type="submit", id="invite-submit"),
            spacing="2",
            wrap="wrap",
            width="100%",
        ),
        on_submit=SettingsState.add_member,
        reset_on_submit=True,
        width="100%",
        margin_top="1rem",
    )


def _organization_form() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.input(
                name="name",
                default_value=SettingsState.organization["name"],
                placeholder="Business name",
                id="org-name-input",
                flex="2",
                min_width="12rem",
            ),
            rx.input(
                name="timezone",
                default_value=SettingsState.organization["timezone"],
                placeholder="Asia/Jakarta",
                id="org-timezone",
                flex="1",
                min_width="9rem",
            ),
            rx.button("Save", type="submit", id="org-save"),
            spacing="2",
            wrap="wrap",
            width="100%",
        ),
        on_submit=SettingsState.save_organization,
        reset_on_submit=False,
        width="100%",
        margin_top="0.5rem",
        key=SettingsState.organization["name"],
    )


def settings_page() -> rx.Component:
    return app_frame(
        "Settings",
        "/settings",
        rx.card(
            rx.heading("Organization", size="3"),
            rx.text(AuthState.organization_name, size="2", id="settings-org"),
            rx.text(
                "Currency ",
                SettingsState.organization["currency"],
                " · time zone ",
                SettingsState.organization["timezone"],
                size="1",
                color_scheme="gray",
            ),
            rx.cond(may(Permission.MANAGE_SETTINGS), _organization_form()),
            width="100%",
            margin_bottom="1rem",
        ),
        rx.card(
            rx.heading("Members", size="3"),
            rx.foreach(SettingsState.members, _member),
            rx.cond(may(Permission.MANAGE_MEMBERS), _invite()),
            width="100%",
            id="members",
        ),
    )
