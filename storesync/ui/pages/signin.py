"""The signed-out pages, on one card layout: sign in, sign up (confirmed by email), forgotten
password, and `/welcome`, where every emailed link lands."""

from __future__ import annotations

import reflex as rx

from storesync.tenancy.auth import emails
from storesync.ui.components.controls import field_label
from storesync.ui.state.account import AccountState
from storesync.ui.state.auth import SIGN_IN_ROUTE, SIGN_UP_ROUTE, AuthState

RESET_ROUTE = "/reset"
WELCOME_ROUTE = emails.WELCOME_ROUTE


def _field(label: str, name: str, kind: str = "text", **props: object) -> list[rx.Component]:
    return [
        field_label(label, name, size="2", weight="medium"),
        rx.input(id=name, name=name, type=kind, required=True, size="3", width="100%", **props),
    ]


def _brand() -> list[rx.Component]:
    return [
        rx.hstack(
            rx.icon("boxes", size=28, color=rx.color("accent", 10)),
            rx.heading("StoreSync", size="7"),
            align="center",
            spacing="2",
        ),
        rx.text(
            "One catalog, one stock count, every marketplace in step.",
            color_scheme="gray",
            size="2",
        ),
    ]


def _messages(prefix: str, state: type[AuthState] = AuthState) -> list[rx.Component]:
    return [
        rx.cond(
            state.error,
            rx.callout(
                state.error,
                icon="triangle-alert",
                color_scheme="red",
                id=f"{prefix}-error",
                width="100%",
            ),
        ),
        rx.cond(
            state.notice,
            rx.callout(state.notice, icon="mail", id=f"{prefix}-notice", width="100%"),
        ),
    ]


def _frame(*children: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(*children, width="100%", max_width="24rem", size="4"),
        min_height="100vh",
        padding="1rem",
        background=rx.color("accent", 2),
    )


def _form(
    prefix: str,
    submit: str,
    handler: object,
    fields: list[rx.Component],
    state: type[AuthState] = AuthState,
) -> rx.Component:
    return rx.form(
        rx.vstack(
            *fields,
            *_messages(prefix, state),
            rx.button(submit, type="submit", size="3", width="100%", id=f"{prefix}-submit"),
            spacing="3",
            width="100%",
        ),
        on_submit=handler,
        reset_on_submit=False,
        width="100%",
    )


def _card(
    prefix: str,
    submit: str,
    handler: object,
    fields: list[rx.Component],
    footer: rx.Component,
    state: type[AuthState] = AuthState,
) -> rx.Component:
    return _frame(
        rx.vstack(
            *_brand(),
            _form(prefix, submit, handler, fields, state),
            footer,
            spacing="3",
            width="100%",
        )
    )


def signin_page() -> rx.Component:
    return _card(
        "signin",
        "Sign in",
        AuthState.sign_in,
        [
            *_field(
                "Email", "email", "email", placeholder="you@shop.com", auto_complete="username"
            ),
            *_field("Password", "password", "password", auto_complete="current-password"),
        ],
        rx.vstack(
            rx.link("Forgot your password?", href=RESET_ROUTE, id="to-reset", size="2"),
            rx.text(
                "New to StoreSync? ",
                rx.link(
                    "Create an account", href=SIGN_UP_ROUTE, id="to-signup", underline="always"
                ),
                size="2",
            ),
            spacing="2",
        ),
    )


def _done_or(form: rx.Component) -> rx.Component:
    """The form, or once it is sent only the notice (and the way back)."""
    return rx.cond(
        AccountState.done,
        rx.vstack(*_messages("sent", AccountState), spacing="3", width="100%"),
        form,
    )


def _back_to_sign_in() -> rx.Component:
    return rx.text(
        "Have an account? ",
        rx.link("Sign in", href=SIGN_IN_ROUTE, id="to-signin", underline="always"),
        size="2",
    )


def signup_page() -> rx.Component:
    form = _form(
        "signup",
        "Create account",
        AccountState.sign_up,
        [
            *_field("Business name", "organization", placeholder="Toko Kita"),
            *_field("Your name", "full_name", auto_complete="name"),
            *_field(
                "Email", "email", "email", placeholder="you@shop.com", auto_complete="username"
            ),
            rx.text("We email you a link to choose your password.", size="1", color_scheme="gray"),
        ],
        AccountState,
    )
    return _frame(
        rx.vstack(*_brand(), _done_or(form), _back_to_sign_in(), spacing="3", width="100%")
    )


def reset_page() -> rx.Component:
    form = _form(
        "reset",
        "Email me a link",
        AccountState.request_reset,
        [
            rx.heading("Forgot your password?", size="4"),
            *_field(
                "Email", "email", "email", placeholder="you@shop.com", auto_complete="username"
            ),
        ],
        AccountState,
    )
    return _frame(
        rx.vstack(*_brand(), _done_or(form), _back_to_sign_in(), spacing="3", width="100%")
    )


def _password(label: str = "Password (8+ characters)") -> list[rx.Component]:
    return _field(label, "password", "password", auto_complete="new-password")


def _choose_password(heading: str, lead: str, submit: str, handler: object) -> rx.Component:
    """A link's form that asks only for a password (a confirmed sign-up, a reset)."""
    return _form(
        "welcome",
        submit,
        handler,
        [
            rx.heading(heading, size="4"),
            rx.text(lead, rx.text.strong(AccountState.link_email), "."),
            *_password(),
        ],
        AccountState,
    )


def _welcome_signup() -> rx.Component:
    return _choose_password(
        "Welcome to StoreSync",
        "Choose a password for ",
        "Create my account",
        AccountState.finish_signup,
    )


def _welcome_reset() -> rx.Component:
    return rx.cond(
        AccountState.done,
        rx.vstack(*_messages("welcome", AccountState), width="100%"),
        _choose_password(
            "Choose a new password", "For ", "Set new password", AccountState.reset_password
        ),
    )


def _invitation_text() -> rx.Component:
    return rx.text(
        "You are invited to ",
        rx.text.strong(AccountState.link_organization, id="invite-organization"),
        " as ",
        rx.text.strong(AccountState.link_role),
        ".",
    )


def _welcome_invite() -> rx.Component:
    new_login = _form(
        "welcome",
        "Join",
        AccountState.accept_as_new,
        [
            rx.heading("Join your team", size="4"),
            _invitation_text(),
            rx.text("Create the login for ", rx.text.strong(AccountState.link_email), "."),
            *_field("Your name", "full_name", auto_complete="name"),
            *_password(),
        ],
        AccountState,
    )
    as_invited = rx.vstack(
        rx.heading("Join your team", size="4"),
        _invitation_text(),
        *_messages("welcome", AccountState),
        rx.button(
            "Accept invitation",
            on_click=AccountState.accept_signed_in,
            size="3",
            width="100%",
            id="accept-invitation",
        ),
        spacing="3",
        width="100%",
    )
    sign_in_first = rx.vstack(
        rx.heading("Join your team", size="4"),
        _invitation_text(),
        rx.text(
            AccountState.link_email,
            " already has a StoreSync account: sign in with it to accept.",
        ),
        rx.cond(
            AccountState.user_email,
            rx.text(
                "You are signed in as ",
                AccountState.user_email,
                ".",
                id="welcome-other-account",
                color_scheme="red",
            ),
        ),
        rx.link(
            rx.button("Sign in to accept", size="3", width="100%"),
            href=f"{SIGN_IN_ROUTE}?next=" + AccountState.welcome_path,
            id="welcome-sign-in",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )
    return rx.cond(
        AccountState.user_email == AccountState.link_email,
        as_invited,
        rx.cond(AccountState.link_has_account, sign_in_first, new_login),
    )


def welcome_page() -> rx.Component:
    body = rx.match(
        AccountState.link_purpose,
        ("signup", _welcome_signup()),
        ("invite", _welcome_invite()),
        ("reset", _welcome_reset()),
        rx.cond(
            AccountState.link_error,
            rx.callout(
                AccountState.link_error,
                icon="triangle-alert",
                color_scheme="red",
                id="welcome-invalid",
                width="100%",
            ),
            rx.spinner(),
        ),
    )
    return _frame(rx.vstack(*_brand(), body, _back_to_sign_in(), spacing="3", width="100%"))
