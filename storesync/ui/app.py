"""The Reflex app: pages and their guards."""

from __future__ import annotations

import functools

import reflex as rx

from storesync.ui import mounts
from storesync.ui.pages.dashboard import COMING_SOON, dashboard_page, section_page
from storesync.ui.pages.signin import signin_page
from storesync.ui.state.auth import SIGN_IN_ROUTE, AuthState

app = rx.App(
    head_components=[rx.el.meta(name="viewport", content="width=device-width, initial-scale=1")],
)
app.add_page(
    signin_page,
    route=SIGN_IN_ROUTE,
    title="Sign in · StoreSync",
    on_load=AuthState.redirect_if_signed_in,
)
app.add_page(
    dashboard_page, route="/", title="Dashboard · StoreSync", on_load=AuthState.require_session
)
for _section in COMING_SOON:
    app.add_page(
        functools.partial(section_page, _section),
        route=_section.route,
        title=f"{_section.label} · StoreSync",
        on_load=AuthState.require_session,
    )

mounts.install(app)
