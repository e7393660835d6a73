"""Settings: organization, members and API keys."""

from __future__ import annotations

import reflex as rx

from storesync.notifications.webhooks import EVENT_TYPES
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


def _key(key: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.text(key["name"], weight="medium", size="2", class_name="api-key-name"),
            rx.text(
                "ssk_",
                key["prefix"],
                "_… · ",
                key["scopes"],
                " · ",
                key["role"],
                " · ",
                key["used"],
                size="1",
                color_scheme="gray",
            ),
            spacing="0",
            min_width="0",
            flex="1",
        ),
        rx.cond(
            key["revoked"] == "yes",
            rx.badge("revoked", color_scheme="gray", class_name="api-key-revoked"),
            row_button(
                "Revoke", SettingsState.revoke_key(key["id"]), "api-key-revoke", color_scheme="red"
            ),
        ),
        spacing="2",
        wrap="wrap",
        align="center",
        padding="0.6rem 0",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name="api-key-row",
        custom_attrs={"data-prefix": key["prefix"]},
    )


def _new_key_form() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.input(
                name="name",
                placeholder="What it is for (e.g. ERP sync)",
                required=True,
                id="api-key-name",
                flex="2",
                min_width="12rem",
            ),
            rx.input(
                name="scopes",
                placeholder="scopes: read write orders:write ...",
                default_value="read",
                id="api-key-scopes",
                flex="2",
                min_width="12rem",
            ),
            rx.select(
                ["admin", "staff", "viewer"], name="role", default_value="admin", id="api-key-role"
            ),
            rx.button("Create key", type="submit", id="api-key-create"),
            spacing="2",
            wrap="wrap",
            width="100%",
        ),
        on_submit=SettingsState.create_key,
        reset_on_submit=True,
        width="100%",
        margin_top="1rem",
    )


def _api_keys() -> rx.Component:
    return rx.card(
        rx.heading("API keys", size="3"),
        rx.text(
            "Your other systems call StoreSync's API (/api/v1, docs at ",
            rx.link("/api/v1/docs", href="/api/v1/docs", is_external=True),
            ") with a key: Authorization: Bearer <key>.",
            size="1",
            color_scheme="gray",
        ),
        rx.cond(
            SettingsState.new_key != "",
            rx.callout(
                rx.vstack(
                    rx.text("Copy this key now: it is not shown again.", size="2"),
                    rx.code(SettingsState.new_key, id="api-key-secret", word_break="break-all"),
                    spacing="1",
                ),
                color_scheme="green",
                margin_top="0.75rem",
            ),
        ),
        rx.foreach(SettingsState.keys, _key),
        _new_key_form(),
        width="100%",
        margin_top="1rem",
        id="api-keys",
    )


def _subscription(sub: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.text(
                sub["url"],
                weight="medium",
                size="2",
                class_name="webhook-url",
                word_break="break-all",
            ),
            rx.text(
                sub["events"], " · ", sub["status"], sub["failing"], size="1", color_scheme="gray"
            ),
            spacing="0",
            min_width="0",
            flex="1",
        ),
        rx.cond(
            sub["status"] == "paused",
            row_button("Resume", SettingsState.resume_subscription(sub["id"]), "webhook-resume"),
        ),
        row_button(
            "Delete",
            SettingsState.delete_subscription(sub["id"]),
            "webhook-delete",
            color_scheme="red",
        ),
        spacing="2",
        wrap="wrap",
        align="center",
        padding="0.6rem 0",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name="webhook-row",
    )


def _delivery(delivery: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.flex(
        rx.badge(delivery["status"], class_name="webhook-delivery-status"),
        rx.text(delivery["event"], size="1", weight="medium"),
        rx.text(delivery["at"], " · ", delivery["detail"], size="1", color_scheme="gray"),
        spacing="2",
        wrap="wrap",
        align="center",
        padding="0.3rem 0",
        class_name="webhook-delivery",
    )


def _webhooks() -> rx.Component:
    return rx.card(
        rx.heading("Webhooks", size="3"),
        rx.text(
            "StoreSync POSTs the events you choose (",
            ", ".join(EVENT_TYPES),
            ") to your URL, signed with HMAC-SHA256 (StoreSync-Signature), and retries until "
            "it lands.",
            size="1",
            color_scheme="gray",
        ),
        rx.cond(
            SettingsState.new_secret != "",
            rx.callout(
                rx.vstack(
                    rx.text("Signing secret, shown once:", size="2"),
                    rx.code(SettingsState.new_secret, id="webhook-secret", word_break="break-all"),
                    spacing="1",
                ),
                color_scheme="green",
                margin_top="0.75rem",
            ),
        ),
        rx.foreach(SettingsState.subscriptions, _subscription),
        rx.form(
            rx.flex(
                rx.input(
                    name="url",
                    placeholder="https://your-system.example.com/storesync",
                    required=True,
                    id="webhook-url",
                    flex="3",
                    min_width="14rem",
                ),
                rx.input(
                    name="events",
                    default_value="order.created",
                    id="webhook-events",
                    flex="2",
                    min_width="12rem",
                ),
                rx.button("Subscribe", type="submit", id="webhook-subscribe"),
                spacing="2",
                wrap="wrap",
                width="100%",
            ),
            on_submit=SettingsState.subscribe,
            reset_on_submit=True,
            width="100%",
            margin_top="1rem",
        ),
        rx.cond(
            SettingsState.deliveries.length() > 0,
            rx.vstack(
                rx.text("Recent deliveries", size="2", weight="medium", margin_top="1rem"),
                rx.foreach(SettingsState.deliveries, _delivery),
                spacing="0",
                width="100%",
            ),
        ),
        width="100%",
        margin_top="1rem",
        id="webhooks",
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
        rx.cond(may(Permission.MANAGE_SETTINGS), _api_keys()),
        rx.cond(may(Permission.MANAGE_SETTINGS), _webhooks()),
    )
