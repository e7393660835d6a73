"""The signed-out account pages: sign-up (confirmed by email), password reset requests, and the
`/welcome` page every emailed link opens (finish a sign-up, accept an invitation, choose a new
password)."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import reflex as rx
from sqlmodel import Session

from storesync.core.errors import AppError
from storesync.db import session_scope, writing
from storesync.settings import RunMode, get_settings
from storesync.tenancy import service as tenancy
from storesync.tenancy.auth import emails, links, sessions
from storesync.tenancy.auth.throttle import guard_for
from storesync.ui.state.auth import HOME_ROUTE, AuthState, go


def _sent(email: str, what: str) -> str:
    note = f"If {email} can {what}, a link is on its way to it. It works once."
    if get_settings().env is RunMode.EMBEDDED:
        note += (
            " Embedded mode: mail is written to var/mail/ and listed on the sandbox's Sent mail "
            "page (/sandbox/sandbox/mail?token=… with the token printed at start)."
        )
    return note


class AccountState(AuthState):
    link_purpose: str = ""
    link_email: str = ""
    link_organization: str = ""
    link_role: str = ""
    link_has_account: bool = False
    link_error: str = ""
    welcome_path: str = ""  # this page, URL-encoded: sign-in comes back here
    done: bool = False

    @rx.event
    def sign_up(self, form_data: dict[str, str]):
        """Email a confirmation link (or, for an email with an account, a sign-in hint); the
        answer is the same either way, so the form tells nobody which emails have accounts."""
        self.error, self.notice = "", ""
        email = str(form_data.get("email", ""))[:320]
        try:
            guard_for(get_settings()).check_mail_request(email, self._client_address())
            with writing() as session:
                address, token = links.request_signup(
                    session,
                    email=email,
                    organization=str(form_data.get("organization", "")),
                    full_name=str(form_data.get("full_name", "")),
                )
            emails.send_signup(to=address, token=token)
        except AppError as error:
            self.error = error.message
            return
        self.notice = _sent(address, "be used for a new account")
        self.done = True

    @rx.event
    def request_reset(self, form_data: dict[str, str]):
        self.error, self.notice = "", ""
        email = str(form_data.get("email", ""))[:320]
        try:
            guard_for(get_settings()).check_mail_request(email, self._client_address())
            with writing() as session:
                address, token = links.request_reset(session, email=email)
            emails.send_reset(to=address, token=token)
        except AppError as error:
            self.error = error.message
            return
        self.notice = _sent(address, "sign in to StoreSync")
        self.done = True

    @rx.event
    def open_form(self):
        """on_load of the sign-up and reset pages."""
        self.error, self.notice, self.done = "", "", False
        if self._current_context() is not None:
            return rx.redirect(HOME_ROUTE)
        return None

    # -- /welcome?token=… -------------------------------------------------------------------

    def _token(self) -> str:
        return str(self.router.url.query_parameters.get("token", "") or "")[:120]

    @rx.event
    def open_link(self):
        """on_load of /welcome: what the link is for (or why it no longer works)."""
        self.error, self.notice, self.link_error, self.done = "", "", "", False
        self.welcome_path = quote(f"/welcome?token={self._token()}", safe="")
        ctx = self._current_context()
        if ctx is not None:
            self._load_identity(ctx.user_id, ctx)
        else:
            self._show("", "", "")
        try:
            with session_scope() as session:
                link = links.read_link(session, token=self._token())
        except AppError as error:
            self.link_purpose, self.link_error = "", error.message
            return
        self.link_purpose, self.link_email = link.purpose, link.email
        self.link_organization, self.link_role = link.organization_name, link.role
        self.link_has_account = link.has_account

    @rx.event
    def finish_signup(self, form_data: dict[str, str]):
        self.error = ""
        try:
            with writing() as session:
                user, organization = links.complete_signup(
                    session, token=self._token(), password=str(form_data.get("password", ""))
                )
            return self._begin(user.id, organization.id)
        except AppError as error:
            self.error = error.message
            return None

    @rx.event
    def accept_as_new(self, form_data: dict[str, str]):
        """Accept an invitation by creating the invited email's login."""
        self.error = ""
        try:
            with writing() as session:
                user_id, organization_id = links.accept_invitation(
                    session,
                    token=self._token(),
                    full_name=str(form_data.get("full_name", "")),
                    password=str(form_data.get("password", "")),
                    client_address=self._client_address(),
                )
            return self._begin(user_id, organization_id)
        except AppError as error:
            self.error = error.message
            return None

    @rx.event
    def accept_signed_in(self):
        """Accept an invitation as the signed-in login (the invited email), then work there."""
        self.error = ""
        ctx = self._current_context()
        if ctx is None or ctx.user_id is None:
            self.error = "sign in first"
            return None
        try:
            with writing() as session:
                _user, organization_id = links.accept_invitation(
                    session,
                    token=self._token(),
                    user_id=ctx.user_id,
                    client_address=self._client_address(),
                )
            with writing() as session:
                sessions.switch_organization(
                    session, token=self._session_token(), organization_id=organization_id
                )
        except AppError as error:
            self.error = error.message
            return None
        return go(HOME_ROUTE)

    @rx.event
    def reset_password(self, form_data: dict[str, str]):
        self.error = ""
        try:
            with writing() as session:
                user_id = links.complete_reset(
                    session, token=self._token(), password=str(form_data.get("password", ""))
                )
                memberships = _organizations(session, user_id)
            if not memberships:
                self.notice = "Your password is changed. Sign in with it."
                self.done = True
                return None
            with writing() as session:
                landing = sessions.last_organization(
                    session, user_id=user_id, memberships=memberships
                )
            return self._begin(user_id, landing)
        except AppError as error:
            self.error = error.message
            return None


def _organizations(session: Session, user_id: uuid.UUID) -> list[uuid.UUID]:
    return [m.organization_id for m in tenancy.list_memberships(session, user_id=user_id)]
