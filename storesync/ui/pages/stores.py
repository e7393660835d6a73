"""Stores: connected marketplaces, their health and the products import."""

from __future__ import annotations

import reflex as rx

from storesync.tenancy.permissions import Permission
from storesync.ui.components.controls import field_label
from storesync.ui.components.layout import app_frame
from storesync.ui.state.auth import may
from storesync.ui.state.stores import StoresState


def _fact(name: str, value: rx.Var[str] | str, key: str) -> rx.Component:
    return rx.hstack(
        rx.text(name, size="1", color_scheme="gray", min_width="6.5rem"),
        rx.text(value, size="2", class_name=f"store-{key}"),
        spacing="2",
    )


def _allocation_form(store: rx.Var[dict[str, str]]) -> rx.Component:
    """The share of available stock this store is offered, and the units held back."""
    return rx.form(
        rx.flex(
            rx.input(type="hidden", name="store_id", value=store["id"]),
            field_label("Share %", "share-" + store["id"], size="1"),
            rx.input(
                id="share-" + store["id"],
                name="share_percent",
                default_value=store["share"],
                width="4.5rem",
                size="1",
                class_name="allocation-share",
            ),
            field_label("Buffer", "buffer-" + store["id"], size="1"),
            rx.input(
                id="buffer-" + store["id"],
                name="buffer",
                default_value=store["buffer"],
                width="4rem",
                size="1",
                class_name="allocation-buffer",
            ),
            rx.button(
                "Save", size="1", type="submit", variant="soft", class_name="allocation-save"
            ),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        on_submit=StoresState.save_allocation,
        reset_on_submit=False,
    )


def _price_input(store: rx.Var[dict[str, str]], label: str, name: str) -> list[rx.Component]:
    field_id = name + "-" + store["id"]
    return [
        field_label(label, field_id, size="1"),
        rx.input(
            id=field_id,
            name=name,
            default_value=store["price_" + name],
            width="5rem",
            size="1",
            input_mode="decimal",
            class_name="price-" + name.replace("_", "-"),
        ),
    ]


def _price_form(store: rx.Var[dict[str, str]]) -> rx.Component:
    """The store's price rule: master price x (1 + markup %) + amount, never below cost +
    floor; previewed before it is saved."""
    return rx.form(
        rx.flex(
            rx.input(type="hidden", name="store_id", value=store["id"]),
            *_price_input(store, "Markup %", "markup_percent"),
            *_price_input(store, "Plus", "add"),
            *_price_input(store, "Floor over cost", "floor"),
            rx.button(
                "Preview prices",
                size="1",
                type="submit",
                variant="soft",
                class_name="price-preview",
            ),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        on_submit=StoresState.preview_prices,
        reset_on_submit=False,
    )


def _price_preview() -> rx.Component:
    """The previewed rule's old and new price per listing, and the button that keeps it."""
    return rx.vstack(
        rx.text(StoresState.price_preview_note, size="1", class_name="price-preview-note"),
        rx.box(
            rx.foreach(
                StoresState.price_preview,
                lambda row: rx.flex(
                    rx.text(row["sku"], size="1", weight="medium", overflow_wrap="anywhere"),
                    rx.text(row["old"], " → ", row["new"], size="1", white_space="nowrap"),
                    rx.cond(
                        row["problem"] != "",
                        rx.text(row["problem"], size="1", color_scheme="red"),
                    ),
                    justify="between",
                    gap="2",
                    wrap="wrap",
                    class_name="price-row",
                    custom_attrs={"data-sku": row["sku"]},
                ),
            ),
            max_height="16rem",
            overflow_y="auto",
            width="100%",
            tab_index=0,  # a scrolled list the keyboard can reach
            custom_attrs={"role": "region", "aria-label": "Price preview"},
        ),
        rx.flex(
            rx.button(
                "Save and send prices", size="1", on_click=StoresState.save_prices, id="price-save"
            ),
            rx.button("Close", size="1", variant="soft", on_click=StoresState.close_price_preview),
            spacing="2",
        ),
        width="100%",
        spacing="2",
        class_name="price-preview-panel",
    )


def _store_card(store: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("store", size=20),
                rx.heading(store["name"], size="4"),
                rx.badge(store["platform"], variant="outline"),
                rx.badge(
                    store["condition_label"],
                    color_scheme=rx.match(
                        store["condition"], ("connected", "green"), ("trouble", "amber"), "red"
                    ),
                    class_name="store-status",
                    custom_attrs={"data-condition": store["condition"]},
                ),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.cond(
                store["condition"] != "connected",
                rx.callout(
                    rx.vstack(
                        rx.text(store["condition_message"], class_name="store-trouble"),
                        rx.text(store["condition_since"], size="1", class_name="store-since"),
                        spacing="1",
                    ),
                    icon="triangle-alert",
                    color_scheme=rx.cond(store["condition"] == "trouble", "amber", "red"),
                    size="1",
                    width="100%",
                ),
            ),
            _fact("Shop id", store["shop"], "shop"),
            _fact("Sync", store["sync_status"], "sync"),
            _fact("Last synced", store["last_synced"], "last-synced"),
            _fact("Last push received", store["last_push"], "last-push"),
            _fact("Token expires", store["token_expires"], "token"),
            _fact("Listings", store["listings"], "listings"),
            _fact("Orders (24 h)", store["orders_24h"], "orders"),
            _fact("Stock offered", store["allocation"], "allocation"),
            rx.cond(store["import"], _fact("Import", store["import"], "import")),
            rx.flex(
                rx.cond(
                    may(Permission.MANAGE_CATALOG),
                    rx.button(
                        rx.icon("download", size=16),
                        "Import products",
                        on_click=StoresState.import_products(store["id"]),
                        loading=store["importing"] == "yes",
                        class_name="import-products",
                        custom_attrs={"data-platform": store["platform"]},
                    ),
                ),
                rx.cond(
                    (store["condition"] == "disconnected") & may(Permission.MANAGE_STORES),
                    rx.button(
                        rx.icon("plug", size=16),
                        "Reconnect",
                        on_click=StoresState.connect(store["platform"]),
                        color_scheme="red",
                        class_name="reconnect-store",
                    ),
                ),
                rx.button(
                    "Check health",
                    on_click=StoresState.check_health(store["id"]),
                    variant="soft",
                    class_name="check-health",
                ),
                rx.cond(
                    may(Permission.MANAGE_STORES),
                    rx.button(
                        "Disconnect",
                        on_click=StoresState.disconnect(store["id"]),
                        variant="soft",
                        color_scheme="red",
                        class_name="disconnect-store",
                    ),
                ),
                spacing="2",
                wrap="wrap",
            ),
            rx.cond(may(Permission.MANAGE_STORES), _allocation_form(store)),
            rx.text(
                "Prices: ",
                store["price_rule"],
                size="1",
                color_scheme="gray",
                class_name="price-rule",
            ),
            rx.cond(may(Permission.MANAGE_STORES), _price_form(store)),
            rx.cond(StoresState.price_preview_of == store["id"], _price_preview()),
            spacing="2",
        ),
        width="100%",
        class_name="store-card",
        custom_attrs={"data-platform": store["platform"]},
    )


def stores_page() -> rx.Component:
    return app_frame(
        "Stores",
        "/stores",
        rx.cond(
            StoresState.notice,
            rx.callout(StoresState.notice, icon="circle-check", id="stores-notice", width="100%"),
        ),
        rx.cond(
            may(Permission.MANAGE_STORES),
            rx.flex(
                rx.button(
                    rx.icon("plus", size=16),
                    "Connect Shopee",
                    on_click=StoresState.connect("shopee"),
                    id="connect-shopee",
                ),
                rx.button(
                    rx.icon("plus", size=16),
                    "Connect TikTok Shop",
                    on_click=StoresState.connect("tiktok"),
                    id="connect-tiktok",
                ),
                spacing="2",
                wrap="wrap",
                margin_y="1rem",
            ),
        ),
        rx.cond(
            StoresState.stores.length() > 0,
            rx.grid(
                rx.foreach(StoresState.stores, _store_card),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="4",
                width="100%",
            ),
            rx.text("No store connected yet.", color_scheme="gray", id="stores-empty"),
        ),
    )
