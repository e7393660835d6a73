"""Sign-in page."""

from __future__ import annotations

import reflex as rx

from storesync.ui.state.auth import AuthState


def signin_page() -> rx.Component:
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
                    rx.text("Email", as_="label", html_for="email", size="2", weight="medium"),
                    rx.input(
                        id="email",
                        name="email",
                        type="email",
                        placeholder="you@shop.com",
                        required=True,
                        auto_complete="username",
                        size="3",
                        width="100%",
                    ),
                    rx.text(
                        "Password", as_="label", html_for="password", size="2", weight="medium"
                    ),
                    rx.input(
                        id="password",
                        name="password",
                        type="password",
                        required=True,
                        auto_complete="current-password",
                        size="3",
                        width="100%",
                    ),
                    rx.cond(
                        AuthState.error,
                        rx.callout(
                            AuthState.error,
                            icon="triangle-alert",
                            color_scheme="red",
                            id="signin-error",
                            width="100%",
                        ),
                    ),
                    rx.button("Sign in", type="submit", size="3", width="100%", id="signin-submit"),
                    spacing="3",
                    width="100%",
                ),
                on_submit=AuthState.sign_in,
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
