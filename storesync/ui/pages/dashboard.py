"""Dashboard: today's figures, sync health, charts and the activity feed (kept: it survives a
reload)."""

from __future__ import annotations

import reflex as rx

from storesync.ui.components.layout import SECTIONS, Section, app_frame
from storesync.ui.state.dashboard import DashboardState

_KPIS = (
    ("Orders today", "orders_today", "shopping-cart"),
    ("Revenue today", "revenue_today", "wallet"),
    ("Orders (7 days)", "orders_7d", "calendar"),
    ("Revenue (7 days)", "revenue_7d", "trending-up"),
    ("Low stock", "low_stock", "triangle-alert"),
    ("Oversells (7 days)", "oversells_7d", "circle-alert"),
    ("Stores active", "stores_ok", "refresh-cw"),
)


def _kpi(label: str, key: str, icon: str) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.icon(icon, size=20, color=rx.color("accent", 10)),
            rx.vstack(
                rx.text(label, size="2", color_scheme="gray"),
                rx.heading(DashboardState.kpis[key], size="5", id=f"kpi-{key}"),
                spacing="1",
                min_width="0",
            ),
            align="center",
            spacing="3",
        ),
        width="100%",
    )


def _chart() -> rx.Component:
    return rx.card(
        rx.heading("Orders per channel, 30 days", size="3", margin_bottom="0.5rem"),
        rx.recharts.bar_chart(
            rx.recharts.bar(data_key="shopee", fill="#ee4d2d", stack_id="a"),
            rx.recharts.bar(data_key="tiktok", fill="#25f4ee", stack_id="a"),
            rx.recharts.x_axis(data_key="day"),
            rx.recharts.y_axis(allow_decimals=False, width=32),
            rx.recharts.legend(),
            data=DashboardState.chart,
            width="100%",
            height=220,
        ),
        width="100%",
        id="chart-orders",
    )


def _list_card(title: str, items: rx.Var, render, empty: str, id_: str) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.card(
        rx.heading(title, size="3", margin_bottom="0.5rem"),
        rx.cond(
            items.length() > 0,
            rx.foreach(items, render),
            rx.text(empty, color_scheme="gray", size="2"),
        ),
        width="100%",
        id=id_,
    )


def _feed_item(item: rx.Var[dict[str, str]]) -> rx.Component:
    """One activity: when, what, and a link to the order, SKU or store it is about."""
    return rx.flex(
        rx.text(item["at"], size="1", color_scheme="gray", white_space="nowrap"),
        rx.cond(
            item["channel"] != "",
            rx.badge(item["channel"], variant="outline", size="1"),
        ),
        rx.cond(
            item["link"] != "",
            rx.link(item["text"], href=item["link"], size="2", class_name="feed-link"),
            rx.text(item["text"], size="2"),
        ),
        spacing="2",
        align="center",
        wrap="wrap",
        min_width="0",
        class_name="feed-item",
        custom_attrs={"data-subject": item["subject"]},
    )


def dashboard_page() -> rx.Component:
    return app_frame(
        "Dashboard",
        "/",
        rx.text(
            "Days start at midnight ",
            DashboardState.timezone,
            " (Settings)",
            size="1",
            color_scheme="gray",
            id="dashboard-timezone",
        ),
        rx.grid(
            *[_kpi(label, key, icon) for label, key, icon in _KPIS],
            columns=rx.breakpoints(initial="1", sm="2", lg="4"),
            spacing="3",
            width="100%",
        ),
        rx.grid(
            _chart(),
            _list_card(
                "Recent activity",
                DashboardState.feed,
                _feed_item,
                "Orders, stock pushes and syncs appear here as they happen.",
                "activity-feed",
            ),
            _list_card(
                "Stores",
                DashboardState.stores,
                lambda s: rx.hstack(
                    rx.badge(s["platform"], variant="outline"),
                    rx.text(s["name"], size="2"),
                    rx.spacer(),
                    rx.badge(
                        s["status"],
                        color_scheme=rx.cond(s["status"] == "connected", "green", "red"),
                    ),
                    rx.text(s["sync"], size="1", color_scheme="gray"),
                    width="100%",
                ),
                "No store connected yet: connect one under Stores.",
                "store-health",
            ),
            _list_card(
                "Top products, 30 days",
                DashboardState.top_products,
                lambda p: rx.hstack(
                    rx.text(p["title"], size="2", trim="both", min_width="0"),
                    rx.spacer(),
                    rx.text("x ", p["quantity"], size="2"),
                    width="100%",
                ),
                "No sales yet.",
                "top-products",
            ),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="3",
            width="100%",
            margin_top="1rem",
        ),
    )


def section_page(section: Section) -> rx.Component:
    return app_frame(
        section.label,
        section.route,
        rx.card(
            rx.text(f"{section.label} is on its way.", color_scheme="gray"),
            width="100%",
        ),
    )


BUILT = {"/", "/products", "/orders", "/stores", "/inventory", "/settings", "/sync", "/listings"}
COMING_SOON = tuple(s for s in SECTIONS if s.route not in BUILT)
