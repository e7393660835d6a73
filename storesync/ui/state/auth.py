"""Session state: sign-in, sign-out, the organization switcher and the guard every protected
page runs on load.

The session lives on the server (`storesync.tenancy.auth.sessions`); the browser holds only its
random id, in an HttpOnly cookie set by `/auth/session` (`storesync.ui.auth_routes`): page
scripts cannot read it. Every event re-reads it from the websocket's handshake headers and checks
the session and the membership again, so a signed-out or removed member's open tab stops working
at its next click.
"""

from __future__ import annotations

import json
import uuid
from http.cookies import SimpleCookie
from urllib.parse import quote

import reflex as rx
from reflex.event import EventSpec

from storesync.core.errors import AppError
from storesync.db import session_scope, writing
from storesync.settings import get_settings
from storesync.tenancy import service as tenancy
from storesync.tenancy.auth import sessions, signin
from storesync.tenancy.auth.throttle import guard_for
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import GRANTS, Permission, Role

SIGN_IN_ROUTE = "/signin"
SIGN_UP_ROUTE = "/signup"
HOME_ROUTE = "/"
SESSION_ROUTE = "/auth/session"  # swaps a sign-in ticket for the HttpOnly cookie
SIGN_OUT_ROUTE = "/auth/signout"  # clears the cookie


def safe_next(path: str) -> str:
    """A path on this site to go back to after signing in (never another site)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 500:
        return HOME_ROUTE
    return path


def go(url: str) -> EventSpec:
    """A full page load (rx.redirect would route inside the app, where /auth/* is no page)."""
    return rx.call_script(f"window.location.assign({json.dumps(url)})")


class AuthState(rx.State):
    user_email: str = ""
    organization_name: str = ""
    organization_id: str = ""
    organizations: list[dict[str, str]] = []  # the switcher: every organization of the user
    role: str = ""
    permissions: list[str] = []  # what the role may do: buttons show only what would work
    error: str = ""
    notice: str = ""
    busy: bool = False

    @rx.var
    def signed_in(self) -> bool:
        return bool(self.user_email)

    def _session_token(self) -> str:
        """The session id from the cookie the browser sent when it opened this websocket."""
        jar = SimpleCookie()
        try:
            jar.load(self.router.headers.cookie or "")
        except Exception:  # a malformed Cookie header: no session
            return ""
        morsel = jar.get(sessions.COOKIE)
        return morsel.value if morsel is not None else ""

    def _client_address(self) -> str:
        return str(self.router.session.client_ip or "")[:64]

    def _current_context(self) -> RequestContext | None:
        """Re-validate the session and membership for every privileged action."""
        token = self._session_token()
        if not token:
            return None
        try:
            with session_scope() as session:
                return sessions.context_for_token(
                    session, token=token, client_address=self._client_address()
                )
        except AppError:
            return None

    def _next_path(self) -> str:
        return safe_next(str(self.router.url.query_parameters.get("next", "") or ""))

    @rx.event
    def sign_in(self, form_data: dict[str, str]):
        self.error = ""
        try:
            ticket = signin.sign_in(
                email=str(form_data.get("email", "")),
                password=str(form_data.get("password", "")),
                client_address=self._client_address(),
                user_agent=self.router.headers.user_agent or "",
                guard=guard_for(get_settings()),
            )
        except AppError as error:
            self.error = error.message
            return None
        return go(f"{SESSION_ROUTE}?ticket={ticket}&next={quote(self._next_path())}")

    def _begin(self, user_id: uuid.UUID, organization_id: uuid.UUID, then: str = HOME_ROUTE):
        """Sign in a login just created or confirmed (sign-up, accepted invitation, reset)."""
        with writing() as session:
            ticket = sessions.start_session(
                session,
                user_id=user_id,
                organization_id=organization_id,
                client_address=self._client_address(),
                user_agent=self.router.headers.user_agent or "",
            )
        return go(f"{SESSION_ROUTE}?ticket={ticket}&next={quote(then)}")

    def _show(self, email: str, organization: str, role: str) -> None:
        self.user_email, self.organization_name, self.role = email, organization, role
        try:
            self.permissions = sorted(GRANTS[Role(role)]) if role else []
        except ValueError:
            self.permissions = []

    @rx.event
    def sign_out(self):
        token = self._session_token()
        if token:
            try:
                with writing() as session:
                    sessions.revoke(session, token=token)
            except AppError as error:
                return rx.toast.error(error.message, id="toast-error")
        self._show("", "", "")
        self.organizations = []
        return go(SIGN_OUT_ROUTE)

    @rx.event
    def switch_organization(self, organization_id: str):
        """Work in another organization of the user's (the header's switcher)."""
        token = self._session_token()
        try:
            with writing() as session:
                ctx = sessions.switch_organization(
                    session, token=token, organization_id=uuid.UUID(organization_id)
                )
        except (AppError, ValueError):
            return rx.toast.error("that organization is not available", id="toast-error")
        self.organization_id = str(ctx.organization_id)
        return go(HOME_ROUTE)

    @rx.event
    def require_session(self):
        """on_load guard of protected pages: back to sign-in without a valid session."""
        ctx = self._current_context()
        if ctx is None:
            self._show("", "", "")
            return rx.redirect(self._sign_in_then_back())
        self._load_identity(ctx.user_id, ctx)
        return None

    def _sign_in_then_back(self) -> str:
        """Sign-in, then back to this page (with its query)."""
        url = self.router.url
        path = str(url.path or "").rstrip("/") or HOME_ROUTE
        here = safe_next(path + (f"?{url.query}" if url.query else ""))
        return (
            SIGN_IN_ROUTE if here == HOME_ROUTE else f"{SIGN_IN_ROUTE}?next={quote(here, safe='')}"
        )

    def _load_identity(self, user_id: uuid.UUID | None, ctx: RequestContext) -> None:
        with session_scope(ctx) as session:
            organization = tenancy.get_organization(session, ctx=ctx)
            user = tenancy.get_user(session, user_id=user_id) if user_id else None
            mine = tenancy.list_memberships(session, user_id=user_id) if user_id else []
        self.organization_id = str(organization.id)
        self.organizations = [
            {"id": str(m.organization_id), "name": m.organization_name, "role": m.role.value}
            for m in mine
        ]
        self._show(user.email if user else "", organization.name, ctx.role.value)

    @rx.event
    def redirect_if_signed_in(self):
        self.error = ""
        self.notice = ""
        if self.router.url.query_parameters.get("expired"):
            self.notice = "That sign-in took more than a minute to finish: sign in again."
        if self._current_context() is not None:
            return rx.redirect(self._next_path())
        return None


def may(permission: Permission) -> rx.Var[bool]:
    """A frontend condition: the signed-in role has `permission`. Display only: the services
    check the role again on every action."""
    return AuthState.permissions.contains(permission.value)  # type: ignore[attr-defined]
