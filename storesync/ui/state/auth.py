"""Session state: sign-in, sign-out and the guard every protected page runs on load."""

from __future__ import annotations

import uuid
from datetime import timedelta

import reflex as rx

from storesync.core.errors import AppError
from storesync.db import session_scope, writing
from storesync.settings import get_settings
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import GRANTS, Permission, Role
from storesync.tenancy.tokens import issue_token, read_token

SIGN_IN_ROUTE = "/signin"
SIGN_UP_ROUTE = "/signup"
HOME_ROUTE = "/"


class AuthState(rx.State):
    session_token: str = rx.Cookie("", name="storesync_session", same_site="strict")
    user_email: str = ""
    organization_name: str = ""
    role: str = ""
    permissions: list[str] = []  # what the role may do: buttons show only what would work
    error: str = ""
    busy: bool = False

    @rx.var
    def signed_in(self) -> bool:
        return bool(self.user_email)

    def _current_context(self) -> RequestContext | None:
        """Re-validate the cookie and membership for every privileged action."""
        settings = get_settings()
        claims = read_token(settings.secret_key, self.session_token)
        if claims is None:
            return None
        try:
            with session_scope(user_id=claims.user_id) as session:
                return tenancy.context_for(
                    session, user_id=claims.user_id, organization_id=claims.organization_id
                )
        except AppError:
            return None

    @rx.event
    def sign_in(self, form_data: dict[str, str]):
        self.error = ""
        email = form_data.get("email", "")
        password = form_data.get("password", "")
        try:
            with session_scope() as session:
                user = tenancy.authenticate(session, email=email, password=password)
            with session_scope(user_id=user.id) as session:
                memberships = tenancy.list_memberships(session, user_id=user.id)
        except AppError as error:
            self.error = error.message
            return
        if not memberships:
            self.error = "this account does not belong to any organization"
            return
        membership = memberships[0]
        self._start_session(user.id, membership.organization_id)
        self._show(user.email, membership.organization_name, membership.role.value)
        return rx.redirect(HOME_ROUTE)

    @rx.event
    def sign_up(self, form_data: dict[str, str]):
        """Create an organization and its owner, then sign the owner in."""
        self.error = ""
        try:
            with writing() as session:
                user = tenancy.create_user(
                    session,
                    email=form_data.get("email", ""),
                    password=form_data.get("password", ""),
                    full_name=form_data.get("full_name", ""),
                )
                organization = tenancy.create_organization(
                    session, name=form_data.get("organization", ""), owner_user_id=user.id
                )
        except AppError as error:
            self.error = error.message
            return
        self._start_session(user.id, organization.id)
        self._show(user.email, organization.name, Role.OWNER.value)
        return rx.redirect(HOME_ROUTE)

    def _start_session(self, user_id: uuid.UUID, organization_id: uuid.UUID) -> None:
        settings = get_settings()
        self.session_token = issue_token(
            settings.secret_key,
            user_id=user_id,
            organization_id=organization_id,
            ttl=timedelta(hours=settings.session_ttl_hours),
        )

    def _show(self, email: str, organization: str, role: str) -> None:
        self.user_email, self.organization_name, self.role = email, organization, role
        try:
            self.permissions = sorted(GRANTS[Role(role)]) if role else []
        except ValueError:
            self.permissions = []

    @rx.event
    def sign_out(self):
        self.session_token = ""
        self._show("", "", "")
        return rx.redirect(SIGN_IN_ROUTE)

    @rx.event
    def require_session(self):
        """on_load guard of protected pages: back to sign-in without a valid session."""
        ctx = self._current_context()
        if ctx is None:
            self.session_token = ""
            self._show("", "", "")
            return rx.redirect(SIGN_IN_ROUTE)
        self._load_identity(ctx.user_id, ctx)
        return None

    def _load_identity(self, user_id: uuid.UUID | None, ctx: RequestContext) -> None:
        with session_scope(ctx) as session:
            organization = tenancy.get_organization(session, ctx=ctx)
            user = tenancy.get_user(session, user_id=user_id) if user_id else None
        self._show(user.email if user else "", organization.name, ctx.role.value)

    @rx.event
    def redirect_if_signed_in(self):
        if self._current_context() is not None:
            return rx.redirect(HOME_ROUTE)
        return None


def may(permission: Permission) -> rx.Var[bool]:
    """A frontend condition: the signed-in role has `permission`. Display only: the services
    check the role again on every action."""
    return AuthState.permissions.contains(permission.value)  # type: ignore[attr-defined]
