"""Settings: organization, members and invitations, your account, API keys and webhooks."""

from __future__ import annotations

import zoneinfo
from typing import Any

import reflex as rx

from storesync.notifications.webhooks import EVENT_TYPES
from storesync.tenancy.permissions import Permission, Role
from storesync.ui.components.controls import field_label, row_button
from storesync.ui.components.layout import app_frame
from storesync.ui.state.auth import AuthState, may
from storesync.ui.state.settings import SettingsState

ROLES = [r.value for r in Role]
TIMEZONES = sorted(zoneinfo.available_timezones())  # update_organization checks the choice


# -- shapes every section shares ------------------------------------------------------------------


def _label(text: str, control: rx.Component, id: str, flex: str) -> rx.Component:
    """A control with its visible label above it."""
    return rx.vstack(
        field_label(text, id, size="1", weight="medium", color_scheme="gray"),
        control,
        spacing="1",
        flex=flex,
        min_width="12rem",
    )


def _field(
    label: str, name: str, placeholder: str, id: str, flex: str = "2", **props: Any
) -> rx.Component:
    """A labelled text input on an inline form's row."""
    return _label(
        label, rx.input(name=name, placeholder=placeholder, id=id, width="100%", **props), id, flex
    )


def _role_select(default: str, id: str) -> rx.Component:
    return _label(
        "Role",
        rx.select(
            ["viewer", "staff", "admin"],
            name="role",
            default_value=default,
            id=id,
            aria_label="Role",
            width="100%",
        ),
        id,
        "0",
    )


def _inline_form(handler: Any, *controls: rx.Component, **props: Any) -> rx.Component:
    """A form whose controls share one row, wrapping on a phone."""
    after = props.pop("after", None)
    return rx.form(
        rx.flex(*controls, spacing="2", wrap="wrap", align="end", width="100%"),
        *([after] if after is not None else []),
        on_submit=handler,
        reset_on_submit=props.pop("reset_on_submit", True),
        width="100%",
        margin_top=props.pop("margin_top", "1rem"),
        **props,
    )


def _row(
    title: rx.Component, detail: rx.Component, *actions: rx.Component, **props: Any
) -> rx.Component:
    """A list row: what it is (title, detail line), then its buttons."""
    return rx.flex(
        rx.vstack(title, detail, spacing="0", min_width="0", flex="1"),
        *actions,
        spacing="2",
        wrap="wrap",
        align="center",
        padding="0.6rem 0",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        **props,
    )


def _detail(*parts: Any, **props: Any) -> rx.Component:
    return rx.text(*parts, size="1", color_scheme="gray", **props)


# -- members and invitations ---------------------------------------------------------------------


def _member(member: rx.Var[dict[str, str]]) -> rx.Component:
    return _row(
        rx.text(member["email"], weight="medium", size="2", class_name="member-email"),
        _detail(member["name"]),
        rx.cond(
            may(Permission.MANAGE_MEMBERS) & (member["me"] != "yes"),
            rx.hstack(
                rx.select(
                    ROLES,
                    value=member["role"],
                    on_change=lambda role: SettingsState.change_role(member["user_id"], role),
                    size="1",
                    aria_label="Role of " + member["email"],
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
        class_name="member-row",
    )


def _invite() -> rx.Component:
    return _inline_form(
        SettingsState.invite,
        _field(
            "Email",
            "email",
            "email of the person to invite",
            "invite-email",
            type="email",
            required=True,
        ),
        _role_select("staff", "invite-role"),
        rx.button("Send invitation", type="submit", id="invite-submit"),
        after=_detail(
            "They join when they open the emailed link (new people choose their password there)."
        ),
    )


def _invitation(invitation: rx.Var[dict[str, str]]) -> rx.Component:
    return _row(
        rx.text(invitation["email"], size="2", class_name="invitation-email"),
        _detail(
            invitation["role"],
            " · invited by ",
            invitation["by"],
            " · expires ",
            invitation["expires"],
        ),
        row_button(
            "Revoke",
            SettingsState.revoke_invitation(invitation["id"]),
            "invitation-revoke",
            color_scheme="red",
        ),
        class_name="invitation-row",
    )


def _invitations() -> rx.Component:
    return rx.cond(
        SettingsState.invitations.length() > 0,  # type: ignore[attr-defined]
        rx.vstack(
            rx.text("Pending invitations", weight="medium", size="2", margin_top="1rem"),
            rx.foreach(SettingsState.invitations, _invitation),
            spacing="0",
            width="100%",
            id="invitations",
        ),
    )


# -- the signed-in person's own account ----------------------------------------------------------


def _browser_session(item: rx.Var[dict[str, str]]) -> rx.Component:
    return _row(
        rx.text(
            item["browser"],
            rx.cond(item["current"] == "yes", " (this browser)", ""),
            size="2",
            weight="medium",
        ),
        _detail(item["where"], " · signed in ", item["since"], " · last seen ", item["seen"]),
        rx.cond(
            item["current"] == "yes",
            rx.fragment(),
            row_button("Sign out", SettingsState.end_session(item["id"]), "session-end"),
        ),
        class_name="session-row",
    )


def _account() -> rx.Component:
    return rx.card(
        rx.heading("Your account", size="3"),
        rx.text(AuthState.user_email, size="2", color_scheme="gray"),
        _inline_form(
            SettingsState.change_password,
            _field(
                "Current password",
                "current_password",
                "current password",
                "current-password",
                flex="1",
                type="password",
                auto_complete="current-password",
                required=True,
            ),
            _field(
                "New password",
                "new_password",
                "new password (8+ characters)",
                "new-password",
                flex="1",
                type="password",
                auto_complete="new-password",
                required=True,
            ),
            rx.button("Change password", type="submit", id="change-password"),
            margin_top="0.5rem",
        ),
        rx.text("Signed-in browsers", weight="medium", size="2", margin_top="1rem"),
        rx.foreach(SettingsState.my_sessions, _browser_session),
        width="100%",
        margin_bottom="1rem",
        id="account",
    )


# -- organization ---------------------------------------------------------------------------------


def _organization_form() -> rx.Component:
    return _inline_form(
        SettingsState.save_organization,
        _field(
            "Organization name",
            "name",
            "Business name",
            "org-name-input",
            default_value=SettingsState.organization["name"],
        ),
        _field(
            "Time zone",
            "timezone",
            "type to search, e.g. Asia/Jakarta",
            "org-timezone",
            flex="1",
            default_value=SettingsState.organization["timezone"],
            auto_complete="off",
            custom_attrs={"list": "timezones"},  # the browser filters the list as one types
        ),
        rx.el.datalist(*[rx.el.option(value=zone) for zone in TIMEZONES], id="timezones"),
        rx.button("Save", type="submit", id="org-save"),
        reset_on_submit=False,
        margin_top="0.5rem",
        key=SettingsState.organization["name"],
    )


# -- API keys and webhooks ------------------------------------------------------------------------


def _key(key: rx.Var[dict[str, str]]) -> rx.Component:
    return _row(
        rx.text(key["name"], weight="medium", size="2", class_name="api-key-name"),
        _detail(
            "ssk_", key["prefix"], "_… · ", key["scopes"], " · ", key["role"], " · ", key["used"]
        ),
        rx.cond(
            key["revoked"] == "yes",
            rx.badge("revoked", color_scheme="gray", class_name="api-key-revoked"),
            row_button(
                "Revoke", SettingsState.revoke_key(key["id"]), "api-key-revoke", color_scheme="red"
            ),
        ),
        class_name="api-key-row",
        custom_attrs={"data-prefix": key["prefix"]},
    )


def _new_key_form() -> rx.Component:
    return _inline_form(
        SettingsState.create_key,
        _field("Name", "name", "What it is for (e.g. ERP sync)", "api-key-name", required=True),
        _field(
            "Scopes",
            "scopes",
            "read write orders:write ...",
            "api-key-scopes",
            default_value="read",
        ),
        _role_select("admin", "api-key-role"),
        rx.button("Create key", type="submit", id="api-key-create"),
    )


def _shown_once(secret: rx.Var[str], label: str, id: str) -> rx.Component:
    return rx.cond(
        secret != "",
        rx.callout(
            rx.vstack(
                rx.text(label, size="2"),
                rx.code(secret, id=id, word_break="break-all"),
                spacing="1",
            ),
            color_scheme="green",
            margin_top="0.75rem",
        ),
    )


def _api_keys() -> rx.Component:
    return rx.card(
        rx.heading("API keys", size="3"),
        _detail(
            "Your other systems call StoreSync's API (/api/v1, docs at ",
            rx.link("/api/v1/docs", href="/api/v1/docs", is_external=True, underline="always"),
            ") with a key: Authorization: Bearer <key>.",
        ),
        _shown_once(
            SettingsState.new_key, "Copy this key now: it is not shown again.", "api-key-secret"
        ),
        rx.foreach(SettingsState.keys, _key),
        _new_key_form(),
        width="100%",
        margin_top="1rem",
        id="api-keys",
    )


def _subscription(sub: rx.Var[dict[str, str]]) -> rx.Component:
    return _row(
        rx.text(
            sub["url"], weight="medium", size="2", class_name="webhook-url", word_break="break-all"
        ),
        _detail(sub["events"], " · ", sub["status"], sub["failing"]),
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
        class_name="webhook-row",
    )


def _delivery(delivery: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.flex(
        rx.badge(delivery["status"], class_name="webhook-delivery-status"),
        rx.text(delivery["event"], size="1", weight="medium"),
        _detail(delivery["at"], " · ", delivery["detail"]),
        spacing="2",
        wrap="wrap",
        align="center",
        padding="0.3rem 0",
        class_name="webhook-delivery",
    )


def _webhooks() -> rx.Component:
    return rx.card(
        rx.heading("Webhooks", size="3"),
        _detail(
            "StoreSync POSTs the events you choose (",
            ", ".join(EVENT_TYPES),
            ") to your URL, signed with HMAC-SHA256 (StoreSync-Signature), and retries until "
            "it lands.",
        ),
        _shown_once(SettingsState.new_secret, "Signing secret, shown once:", "webhook-secret"),
        rx.foreach(SettingsState.subscriptions, _subscription),
        _inline_form(
            SettingsState.subscribe,
            _field(
                "URL",
                "url",
                "https://your-system.example.com/storesync",
                "webhook-url",
                flex="3",
                required=True,
            ),
            _field("Events", "events", "", "webhook-events", default_value="order.created"),
            rx.button("Subscribe", type="submit", id="webhook-subscribe"),
        ),
        rx.cond(
            SettingsState.deliveries.length() > 0,  # type: ignore[attr-defined]
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
            _detail(
                "Currency ",
                SettingsState.organization["currency"],
                " · time zone ",
                SettingsState.organization["timezone"],
                id="settings-org-detail",
            ),
            rx.cond(
                # drawn once the organization is here: its arrival would redraw the form and
                # drop what was typed
                may(Permission.MANAGE_SETTINGS) & (SettingsState.organization["name"] != ""),
                _organization_form(),
            ),
            width="100%",
            margin_bottom="1rem",
        ),
        rx.card(
            rx.heading("Members", size="3"),
            rx.foreach(SettingsState.members, _member),
            rx.cond(may(Permission.INVITE_MEMBERS), rx.fragment(_invitations(), _invite())),
            width="100%",
            id="members",
            margin_bottom="1rem",
        ),
        _account(),
        rx.cond(may(Permission.MANAGE_SETTINGS), _api_keys()),
        rx.cond(may(Permission.MANAGE_SETTINGS), _webhooks()),
    )
