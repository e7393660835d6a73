"""The Reflex app: pages and their guards."""

from __future__ import annotations

import functools

import reflex as rx

from storesync.core.logs import configure_logging
from storesync.settings import get_settings
from storesync.ui import mounts
from storesync.ui.pages.audit import audit_page
from storesync.ui.pages.dashboard import COMING_SOON, dashboard_page, section_page
from storesync.ui.pages.inventory import inventory_page
from storesync.ui.pages.listings import listings_page
from storesync.ui.pages.orders import orders_page
from storesync.ui.pages.products import products_page
from storesync.ui.pages.settings import settings_page
from storesync.ui.pages.signin import (
    RESET_ROUTE,
    WELCOME_ROUTE,
    reset_page,
    signin_page,
    signup_page,
    welcome_page,
)
from storesync.ui.pages.stores import stores_page
from storesync.ui.pages.sync import sync_page
from storesync.ui.state.account import AccountState
from storesync.ui.state.audit import AuditState
from storesync.ui.state.auth import SIGN_IN_ROUTE, SIGN_UP_ROUTE, AuthState
from storesync.ui.state.dashboard import DashboardState
from storesync.ui.state.inventory import InventoryState
from storesync.ui.state.listings import ListingsState
from storesync.ui.state.orders import OrdersState
from storesync.ui.state.products import ProductsState
from storesync.ui.state.settings import SettingsState
from storesync.ui.state.stores import StoresState
from storesync.ui.state.sync import SyncState

configure_logging(
    get_settings().log_level, get_settings().log_format
)  # this module is loaded by the backend process

app = rx.App(
    head_components=[
        rx.el.meta(name="viewport", content="width=device-width, initial-scale=1"),
        # assets/ is served at the root; favicon.ico stays for browsers that ask for it anyway
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
    ],
    stylesheets=["/a11y.css"],  # the accent's contrast (assets/a11y.css)
)
app.add_page(
    signin_page,
    route=SIGN_IN_ROUTE,
    title="Sign in · StoreSync",
    on_load=AuthState.redirect_if_signed_in,
)
app.add_page(
    signup_page,
    route=SIGN_UP_ROUTE,
    title="Create account · StoreSync",
    on_load=AccountState.open_form,
)
app.add_page(
    reset_page,
    route=RESET_ROUTE,
    title="Reset password · StoreSync",
    on_load=AccountState.open_form,
)
app.add_page(
    welcome_page, route=WELCOME_ROUTE, title="Welcome · StoreSync", on_load=AccountState.open_link
)
for _page, _route, _title, _load in (
    (dashboard_page, "/", "Dashboard", DashboardState.load),
    (orders_page, "/orders", "Orders", OrdersState.load),
    (products_page, "/products", "Products", ProductsState.load),
    (stores_page, "/stores", "Stores", StoresState.load),
    (inventory_page, "/inventory", "Inventory", InventoryState.load),
    (settings_page, "/settings", "Settings", SettingsState.load),
    (sync_page, "/sync", "Sync", SyncState.load),
    (listings_page, "/listings", "Listings", ListingsState.load),
    (audit_page, "/audit", "Audit log", AuditState.load),
):
    app.add_page(_page, route=_route, title=f"{_title} · StoreSync", on_load=_load)
for _section in COMING_SOON:
    app.add_page(
        functools.partial(section_page, _section),
        route=_section.route,
        title=f"{_section.label} · StoreSync",
        on_load=AuthState.require_session,
    )

mounts.install(app)
