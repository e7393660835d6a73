"""Settings: the organization, its members (invite by email with a role, revoke a pending
invitation, change role, remove), the signed-in person's own account (change password, active
sessions), API keys (create, shown once; revoke) and outbound webhooks (subscribe, delete,
resume; recent deliveries)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import reflex as rx

from storesync.core.errors import AppError, AuthenticationFailed
from storesync.notifications import webhooks
from storesync.settings import get_settings
from storesync.tenancy import api_keys, members
from storesync.tenancy import service as tenancy
from storesync.tenancy.auth import emails, links, sessions
from storesync.tenancy.auth.throttle import guard_for
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission
from storesync.ui.format import when
from storesync.ui.state.auth import SIGN_IN_ROUTE
from storesync.ui.state.page import PageState


class SettingsState(PageState):
    MISSING: ClassVar[str] = "that member is not available"
    members: list[dict[str, str]] = []
    organization: dict[str, str] = {}
    keys: list[dict[str, str]] = []
    # The key just created, shown once: cleared on the next page load.
    new_key: str = ""
    subscriptions: list[dict[str, str]] = []
    deliveries: list[dict[str, str]] = []
    new_secret: str = ""
    invitations: list[dict[str, str]] = []
    my_sessions: list[dict[str, str]] = []

    @rx.event
    def load(self):
        self.new_key = ""
        self.new_secret = ""
        return self._page_load()

    def _load(self, ctx: RequestContext) -> None:
        with self._session(ctx) as session:
            people = members.list_members(session, ctx=ctx)
            org = tenancy.get_organization(session, ctx=ctx)
        self.keys, self.subscriptions, self.deliveries = [], [], []
        self._load_account(ctx)
        if ctx.can(Permission.MANAGE_SETTINGS):
            with self._session(ctx) as session:
                self.keys = [_key_row(k) for k in api_keys.list_api_keys(session, ctx=ctx)]
                subs = webhooks.list_subscriptions(session, ctx=ctx)
                recent = webhooks.list_deliveries(session, ctx=ctx, limit=10).items
            self.subscriptions = [_subscription_row(s) for s in subs]
            urls = {s.id: s.url for s in subs}
            self.deliveries = [_delivery_row(d, urls) for d in recent]
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

    def _load_account(self, ctx: RequestContext) -> None:
        """Pending invitations (for those who may invite) and this person's live sessions."""
        token = self._session_token()
        with self._session(ctx) as session:
            current = sessions.find_session(session, token=token)
            mine = (
                sessions.list_sessions(
                    session, user_id=ctx.user_id, current_id=current.id if current else None
                )
                if ctx.user_id
                else []
            )
            pending = (
                links.list_invitations(session, ctx=ctx)
                if ctx.can(Permission.INVITE_MEMBERS)
                else []
            )
        self.my_sessions = [
            {
                "id": str(s.id),
                "where": s.client_address or "unknown address",
                "browser": _browser(s.user_agent),
                "since": when(s.created_at),
                "seen": when(s.last_seen_at),
                "current": "yes" if s.current else "",
            }
            for s in mine
        ]
        self.invitations = [
            {
                "id": str(i.id),
                "email": i.email,
                "role": i.role,
                "by": i.invited_by,
                "expires": when(i.expires_at),
            }
            for i in pending
        ]

    @rx.event
    def invite(self, form_data: dict[str, str]):
        """Invite an email with a role; the invitation goes out by email after it is saved."""
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN_ROUTE)
        try:
            sign_in_guard = guard_for(get_settings())
            sign_in_guard.check_mail_request(
                str(form_data.get("email", "")), self._client_address()
            )
            with self._writing(ctx) as session:
                invitation, token = links.invite(
                    session,
                    ctx=ctx,
                    email=str(form_data.get("email", "")),
                    role=str(form_data.get("role", "")),
                )
                organization = tenancy.get_organization(session, ctx=ctx)
            emails.send_invitation(
                to=invitation.email,
                token=token,
                organization=organization.name,
                role=invitation.role,
                by=ctx.actor,
            )
            self._load(ctx)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        return rx.toast.success(f"invitation sent to {invitation.email}", id="toast-success")

    @rx.event
    def revoke_invitation(self, invitation_id: str):
        return self._act(
            lambda session, ctx: links.revoke_invitation(
                session, ctx=ctx, invitation_id=uuid.UUID(invitation_id)
            ),
            "invitation revoked: its link no longer works",
        )

    @rx.event
    def end_session(self, session_id: str):
        """Sign out one of this person's other browsers."""
        return self._act(
            lambda session, ctx: sessions.revoke_session(
                session, user_id=_person(ctx), session_id=uuid.UUID(session_id)
            ),
            "that browser is signed out",
        )

    @rx.event
    def change_password(self, form_data: dict[str, str]):
        ctx = self._ctx()
        if ctx is None:
            return rx.redirect(SIGN_IN_ROUTE)
        try:
            with self._writing(ctx) as session:
                current = sessions.find_session(session, token=self._session_token())
                ended = links.change_password(
                    session,
                    ctx=ctx,
                    current=str(form_data.get("current_password", "")),
                    new=str(form_data.get("new_password", "")),
                    keep_session=current.id if current else None,
                )
            self._load(ctx)
        except AppError as error:
            return rx.toast.error(error.message, id="toast-error")
        others = f"; {ended} other browser(s) signed out" if ended else ""
        return rx.toast.success(f"password changed{others}", id="toast-success")

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
    def create_key(self, form_data: dict[str, str]):
        """A new API key with the chosen scopes; the key itself is shown here once."""
        result, self.new_key = self._create_secret(
            lambda session, ctx: api_keys.create_api_key(
                session,
                ctx=ctx,
                name=form_data.get("name", ""),
                scopes=_words(form_data.get("scopes", "")),
                role=form_data.get("role", "admin"),
            ),
            "API key created: copy it now, it is not shown again",
        )
        return result

    @rx.event
    def revoke_key(self, key_id: str):
        return self._act(
            lambda session, ctx: api_keys.revoke_api_key(
                session, ctx=ctx, key_id=uuid.UUID(key_id)
            ),
            "API key revoked",
        )

    @rx.event
    def subscribe(self, form_data: dict[str, str]):
        """A new outbound webhook subscription; its signing secret is shown here once."""
        result, self.new_secret = self._create_secret(
            lambda session, ctx: webhooks.create_subscription(
                session,
                ctx=ctx,
                url=form_data.get("url", ""),
                events=_words(form_data.get("events", "")),
            ),
            "subscribed: copy the signing secret now, it is not shown again",
        )
        return result

    def _create_secret(
        self, create: Callable[[Any, RequestContext], HasSecret], done: str
    ) -> tuple[Any, str]:
        """`_act` for a creation whose secret is shown once: (the toast, the secret or "")."""
        made: list[HasSecret] = []
        result = self._act(lambda session, ctx: made.append(create(session, ctx)), done)
        return result, made[0].secret if made else ""

    @rx.event
    def delete_subscription(self, subscription_id: str):
        return self._act(
            lambda session, ctx: webhooks.delete_subscription(
                session, ctx=ctx, subscription_id=uuid.UUID(subscription_id)
            ),
            "subscription deleted",
        )

    @rx.event
    def resume_subscription(self, subscription_id: str):
        return self._act(
            lambda session, ctx: webhooks.resume_subscription(
                session, ctx=ctx, subscription_id=uuid.UUID(subscription_id)
            ),
            "subscription resumed",
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


class HasSecret(Protocol):
    @property
    def secret(self) -> str: ...


def _person(ctx: RequestContext) -> uuid.UUID:
    if ctx.user_id is None:
        raise AuthenticationFailed("not_a_person", "sign in first")
    return ctx.user_id


def _browser(agent: str) -> str:
    """A short name for a user agent ("Chrome on Linux")."""
    names = [n for n in ("Edg", "Firefox", "Chrome", "Safari") if n in agent]
    systems = [o for o in ("Android", "iPhone", "Windows", "Mac OS", "Linux") if o in agent]
    browser = {"Edg": "Edge"}.get(names[0], names[0]) if names else "A browser"
    return f"{browser} on {systems[0]}" if systems else browser


def _words(text: str) -> list[str]:
    """Scopes or event names typed with spaces or commas."""
    return text.replace(",", " ").split()


def _key_row(key: api_keys.ApiKeyDTO) -> dict[str, str]:
    return {
        "id": str(key.id),
        "name": key.name,
        "prefix": key.prefix,
        "scopes": ", ".join(key.scopes),
        "role": key.role,
        "used": f"{key.last_used_at:%Y-%m-%d %H:%M} UTC" if key.last_used_at else "never used",
        "revoked": "yes" if key.revoked_at else "",
    }


def _subscription_row(sub: webhooks.SubscriptionDTO) -> dict[str, str]:
    failing = f" · {sub.consecutive_failures} failures in a row" if sub.consecutive_failures else ""
    return {
        "id": str(sub.id),
        "url": sub.url,
        "events": ", ".join(sub.events),
        "status": sub.status,
        "failing": failing,
    }


def _delivery_row(delivery: webhooks.DeliveryDTO, urls: dict[uuid.UUID, str]) -> dict[str, str]:
    code = f" · HTTP {delivery.last_status_code}" if delivery.last_status_code else ""
    return {
        "id": str(delivery.id),
        "event": delivery.event_type,
        "status": delivery.status,
        "detail": f"{delivery.attempts} attempt(s){code} {delivery.last_error}".strip(),
        "url": urls.get(delivery.subscription_id, ""),
        "at": f"{delivery.created_at:%Y-%m-%d %H:%M:%S} UTC",
    }
