"""Sync: start a sync per store, watch jobs progress live, cancel, retry, read errors."""

from __future__ import annotations

import reflex as rx

from storesync.tenancy.permissions import Permission
from storesync.ui.components.controls import pager, row_button
from storesync.ui.components.layout import app_frame
from storesync.ui.state.auth import may
from storesync.ui.state.sync import KINDS, SyncState

STATUS_COLORS = {
    "queued": "gray",
    "running": "blue",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "orange",
}


def _starter(store: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.flex(
        rx.text(store["name"], weight="medium", size="2", min_width="10rem"),
        rx.flex(
            *[
                rx.button(
                    kind.title(),
                    size="1",
                    variant="soft",
                    on_click=SyncState.start(store["id"], kind),
                    class_name=f"start-{kind}",
                )
                for kind in KINDS
            ],
            spacing="2",
            wrap="wrap",
        ),
        spacing="2",
        wrap="wrap",
        align="center",
        class_name="sync-store",
        custom_attrs={"data-platform": store["platform"]},
    )


def _job(job: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.box(
        rx.flex(
            rx.hstack(
                rx.text(job["kind"], weight="bold", size="2"),
                rx.text(job["store"], size="2", color_scheme="gray"),
                rx.badge(
                    job["status_label"],
                    color_scheme=rx.match(job["status"], *STATUS_COLORS.items(), "gray"),
                    class_name="job-status",
                ),
                spacing="2",
                wrap="wrap",
            ),
            rx.text(job["created"], size="1", color_scheme="gray"),
            justify="between",
            wrap="wrap",
            spacing="2",
        ),
        rx.cond(
            job["active"] == "yes",
            rx.hstack(
                rx.progress(value=job["percent"].to(int), max=100, width="100%"),
                rx.text(job["phase"], " ", job["progress"], size="1", white_space="nowrap"),
                width="100%",
                align="center",
                margin_top="0.4rem",
            ),
            rx.text(job["phase"], " ", job["progress"], size="1", color_scheme="gray"),
        ),
        rx.cond(
            job["counts"] != "",
            rx.text(job["counts"], size="1", class_name="job-counts"),
        ),
        rx.cond(
            job["error"] != "",
            rx.text(job["error"], size="1", color_scheme="red", class_name="job-error"),
        ),
        rx.cond(
            job["failures"] != "",
            rx.el.details(
                rx.el.summary(
                    rx.text(job["failures_title"], size="1", color_scheme="red", as_="span"),
                    cursor="pointer",
                ),
                rx.text(
                    job["failures"],
                    size="1",
                    white_space="pre-wrap",
                    overflow_wrap="anywhere",
                    max_height="12rem",
                    overflow_y="auto",
                    class_name="job-failure-list",
                ),
                class_name="job-failures",
            ),
        ),
        rx.hstack(
            rx.cond(
                (job["active"] == "yes") & may(Permission.RUN_SYNC),
                rx.button(
                    "Cancel",
                    size="1",
                    color_scheme="red",
                    variant="soft",
                    on_click=SyncState.cancel(job["id"]),
                    class_name="job-cancel",
                ),
            ),
            rx.cond(
                (job["retryable"] == "yes") & may(Permission.RUN_SYNC),
                row_button("Retry", SyncState.retry(job["id"]), "job-retry"),
            ),
            margin_top="0.4rem",
        ),
        padding="0.75rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name="job-row",
        custom_attrs={"data-job-id": job["id"]},
    )


def sync_page() -> rx.Component:
    return app_frame(
        "Sync",
        "/sync",
        rx.cond(
            may(Permission.RUN_SYNC),
            rx.card(
                rx.heading("Start a sync", size="3", margin_bottom="0.5rem"),
                rx.cond(
                    SyncState.stores.length() > 0,
                    rx.vstack(rx.foreach(SyncState.stores, _starter), spacing="3"),
                    rx.text("Connect a store first.", color_scheme="gray", size="2"),
                ),
                width="100%",
                margin_bottom="1rem",
            ),
        ),
        rx.card(
            rx.heading("Jobs", size="3", margin_bottom="0.5rem"),
            rx.cond(
                SyncState.jobs.length() > 0,
                rx.foreach(SyncState.jobs, _job),
                rx.text("No sync has run yet.", color_scheme="gray", size="2"),
            ),
            padding="0.5rem",
            width="100%",
            id="jobs",
        ),
        pager(SyncState, "jobs", back="Newer", on="Older"),
    )
