"""Sign-in and sign-up pages (one card layout)."""

from __future__ import annotations

import reflex as rx

from storesync.ui.state.auth import SIGN_IN_ROUTE, SIGN_UP_ROUTE, AuthState


def _field(label: str, name: str, kind: str = "text", **props: object) -> list[rx.Component]:
    return [
        rx.text(label, as_="label", html_for=name, size="2", weight="medium"),
        rx.input(id=name, name=name, type=kind, required=True, size="3", width="100%", **props),
    ]


def _card(
    prefix: str, submit: str, handler: object, fields: list[rx.Component], footer: rx.Component
) -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
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
                    *fields,
                    rx.cond(
                        AuthState.error,
                        rx.callout(
                            AuthState.error,
                            icon="triangle-alert",
                            color_scheme="red",
                            id=f"{prefix}-error",
                            width="100%",
                        ),
                    ),
                    rx.button(submit, type="submit", size="3", width="100%", id=f"{prefix}-submit"),
                    footer,
                    spacing="3",
                    width="100%",
                ),
                on_submit=handler,
                reset_on_submit=False,
                width="100%",
            ),
            width="100%",
            max_width="24rem",
            size="4",
        ),
        min_height="100vh",
        padding="1rem",
        background=rx.color("accent", 2),
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
        rx.text(
            "New to StoreSync? ",
            rx.link("Create an account", href=SIGN_UP_ROUTE, id="to-signup"),
            size="2",
        ),
    )


def signup_page() -> rx.Component:
    return _card(
        "signup",
        "Create account",
        AuthState.sign_up,
        [
            *_field("Business name", "organization", placeholder="Toko Kita"),
            *_field("Your name", "full_name", auto_complete="name"),
            *_field(
                "Email", "email", "email", placeholder="you@shop.com", auto_complete="username"
            ),
            *_field(
                "Password (8+ characters)", "password", "password", auto_complete="new-password"
            ),
        ],
        rx.text(
            "Have an account? ", rx.link("Sign in", href=SIGN_IN_ROUTE, id="to-signin"), size="2"
        ),
    )
