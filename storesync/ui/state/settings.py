"""Settings: the organization and its members (invite with a role, change role, remove)."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import reflex as rx

from storesync.tenancy import members
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.ui.state.page import PageState


class SettingsState(PageState):
    MISSING: ClassVar[str] = "that member is not available"
    members: list[dict[str, str]] = []
    organization: dict[str, str] = {}

    @rx.event
    def load(self):
        return self._page_load()

    def _load(self, ctx: RequestContext) -> None:
        with self._session(ctx) as session:
            people = members.list_members(session, ctx=ctx)
            org = tenancy.get_organization(session, ctx=ctx)
        self.organization = {
            "name": org.name,
            "timezone": org.timezone,
            "currency": org.default_currency,
        }
        self.members = [
            {
                "user_id": str(m.user_id),
                "email": m.email,
                "name": m.full_name,
                "role": m.role.value,
                "me": "yes" if m.user_id == ctx.user_id else "",
            }
            for m in people
        ]

    def _on_events(self, ctx: RequestContext, events: list[dict[str, Any]]) -> None:
        return None  # members change only through this page

    @rx.event
    def add_member(self, form_data: dict[str, str]):
        return self._act(
            lambda session, ctx: members.add_member(
                session,
                ctx=ctx,
                email=form_data.get("email", ""),
                role=form_data.get("role", ""),
                password=form_data.get("password", ""),
            ),
            "member added",
        )

    @rx.event
    def change_role(self, user_id: str, role: str):
        return self._act(
            lambda session, ctx: members.change_role(
                session, ctx=ctx, user_id=uuid.UUID(user_id), role=role
            ),
            "role changed",
        )

    @rx.event
    def remove_member(self, user_id: str):
        return self._act(
            lambda session, ctx: members.remove_member(
                session, ctx=ctx, user_id=uuid.UUID(user_id)
            ),
            "member removed",
        )

    @rx.event
    def save_organization(self, form_data: dict[str, str]):
        """Rename the organization and set its time zone; needs MANAGE_SETTINGS."""
        result = self._act(
            lambda session, ctx: tenancy.update_organization(
                session,
                ctx=ctx,
                name=form_data.get("name", ""),
                timezone=form_data.get("timezone", ""),
            ),
            "organization saved",
        )
        ctx = self._ctx()
        if ctx is not None:
            self._load_identity(ctx.user_id, ctx)  # the frame shows the new name
        return result
