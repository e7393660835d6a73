"""Audit log: who changed what, newest first, filtered by actor, entity and date, in keyset
pages; the same filters download as CSV. Owners and admins only."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import reflex as rx

from storesync.tenancy.audit import queries as audit
from storesync.tenancy.audit.queries import AuditEntryDTO
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission
from storesync.ui.state.page import PageState
from storesync.ui.state.paging import Paging

PAGE_SIZE = 25
EXPORT_ROUTE = "/exports/audit.csv"
# What the entity filter offers (the entity types the services log).
ENTITY_TYPES = (
    "product",
    "variant",
    "catalog",
    "stock",
    "location",
    "order",
    "return",
    "store",
    "listing",
    "sync_job",
    "member",
    "api_key",
    "organization",
    "webhook_subscription",
)
FILTERS = ("actor", "entity_type", "entity_id", "from", "to")


def _row(entry: AuditEntryDTO, zone: ZoneInfo) -> dict[str, str]:
    return {
        "id": str(entry.id),
        "at": entry.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        "actor": entry.actor or "(unknown)",
        "action": entry.action,
        "entity_type": entity_label(entry.entity_type),
        "entity_id": entry.entity_id,
        "change": audit.summary(entry),
        "client_address": entry.client_address,
    }


def entity_label(entity_type: str) -> str:
    return entity_type.replace("_", " ")


class AuditState(Paging, PageState):
    rows: list[dict[str, str]] = []
    filters: dict[str, str] = dict.fromkeys(FILTERS, "")
    allowed: bool = True
    zone: str = ""

    @rx.event
    def load(self):
        return self._page_load()

    @rx.var
    def csv_href(self) -> str:
        given = {k: v for k, v in self.filters.items() if v}
        return f"{EXPORT_ROUTE}?{urlencode(given)}" if given else EXPORT_ROUTE

    def _load(self, ctx: RequestContext) -> None:
        self.allowed = ctx.can(Permission.VIEW_AUDIT)
        if not self.allowed:
            self.rows, self.next_cursor = [], ""
            return
        with self._session(ctx) as session:
            where = audit.audit_filter(
                session,
                ctx=ctx,
                actor=self.filters.get("actor"),
                entity_type=self.filters.get("entity_type"),
                entity_id=self.filters.get("entity_id"),
                date_from=self.filters.get("from"),
                date_to=self.filters.get("to"),
            )
            zone = audit.organization_zone(session, ctx=ctx)
            page = audit.list_entries(
                session, ctx=ctx, where=where, limit=PAGE_SIZE, cursor=self._cursor()
            )
        self.zone = str(zone)
        self.rows = [_row(entry, zone) for entry in page.items]
        self._paged(page.next_cursor)

    def _on_events(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        """The log grows with every change: reading again would move the rows under the reader;
        the next filter, page or reload shows the new ones."""

    @rx.event
    def apply_filters(self, form_data: dict[str, str]):
        self.filters = {name: str(form_data.get(name, "")).strip()[:200] for name in FILTERS}
        return self._restart()

    @rx.event
    def clear_filters(self):
        self.filters = dict.fromkeys(FILTERS, "")
        return self._restart()
