"""Single-use, expiring links sent by email: an invitation to an organization, the
confirmation of a sign-up, a password reset. Only a token's SHA-256 is stored; a link is
consumed by one conditional UPDATE, so two tabs following it at once use it once.

Nobody is added to an organization without following their invitation: an existing login
accepts while signed in as the invited email, a new one chooses its password through the link.
A sign-up only creates the login when its owner follows the emailed link, so the sign-up form
answers the same whether or not the email has an account (that owner gets an email saying so).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, NotFound, ValidationFailed
from storesync.core.models import rows_changed, table_of
from storesync.core.schemas import DTO
from storesync.db import set_tenant
from storesync.tenancy import service as tenancy
from storesync.tenancy.audit.record import record
from storesync.tenancy.auth import credentials, sessions
from storesync.tenancy.auth.models import AccountLink
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import Membership, Organization, User
from storesync.tenancy.permissions import Permission, Role
from storesync.tenancy.schemas import OrganizationDTO, UserDTO

INVITE_TTL = timedelta(days=7)
SIGNUP_TTL = timedelta(hours=24)
RESET_TTL = timedelta(hours=1)
MAX_PENDING_INVITATIONS = 100
INVITABLE = (Role.ADMIN, Role.STAFF, Role.VIEWER)  # owners are made by promotion


class LinkDTO(DTO):
    """What a link's page shows before it is used."""

    id: uuid.UUID
    purpose: str
    email: str
    organization_id: uuid.UUID | None
    organization_name: str = ""
    role: str = ""
    expires_at: datetime
    has_account: bool = False


class InvitationDTO(DTO):
    id: uuid.UUID
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    invited_by: str = ""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    """256 random bits. An invitation's token is `i.<organization id>.<random>`: accepting
    it needs no lookup across tenants."""
    return secrets.token_urlsafe(32)


def _invalid() -> AppError:
    return AppError(
        ErrorType.NOT_FOUND,
        "link_invalid",
        "this link is not valid any more (used, revoked or expired): ask for a new one",
    )


# -- invitations ----------------------------------------------------------------------------------


def invite(
    session: Session, *, ctx: RequestContext, email: str, role: str
) -> tuple[InvitationDTO, str]:
    """Invite `email` with `role`; returns the invitation and the token for its link (email it;
    it is not stored). A pending invitation of the same email is replaced. Owners and admins
    (INVITE_MEMBERS); only an owner may invite an admin."""
    ctx.require(Permission.INVITE_MEMBERS)
    address = tenancy.normalise_email(email)
    wanted = _invitable(role)
    if wanted is Role.ADMIN and ctx.role is not Role.OWNER:
        raise ValidationFailed("role", "only an owner can invite an admin")
    existing = credentials.user_id_for_email(session, address)
    if existing is not None and _is_member(session, ctx.organization_id, existing):
        raise AppError(
            ErrorType.CONFLICT,
            "already_member",
            f"email: {address} is already a member",
            details={"field": "email"},
        )
    pending = len(list_invitations(session, ctx=ctx))
    if pending >= MAX_PENDING_INVITATIONS:
        raise AppError(
            ErrorType.CONFLICT,
            "too_many_invitations",
            f"{pending} invitations are pending: revoke some first",
        )
    now = utcnow()
    table = table_of(AccountLink)
    session.execute(  # one pending invitation per email: the newest link is the one that works
        sa.update(table)
        .where(
            table.c.organization_id == ctx.organization_id,
            table.c.purpose == "invite",
            table.c.email == address,
            table.c.used_at.is_(None),
            table.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = f"i.{ctx.organization_id.hex}.{_new_token()}"
    organization = session.get(Organization, ctx.organization_id)
    link = AccountLink(
        purpose="invite",
        data={"organization": organization.name if organization else ""},
        token_hash=_hash(token),
        email=address,
        organization_id=ctx.organization_id,
        role=wanted.value,
        created_by=ctx.user_id,
        created_at=now,
        expires_at=now + INVITE_TTL,
    )
    session.add(link)
    session.flush()
    record(
        session,
        ctx=ctx,
        action="member.invite",
        entity_type="invitation",
        entity_id=link.id,
        after={"email": address, "role": wanted.value},
    )
    return _invitation(link, ctx.actor), token


def list_invitations(session: Session, *, ctx: RequestContext) -> list[InvitationDTO]:
    """Pending invitations (not used, revoked or expired), newest first. Needs READ."""
    ctx.require(Permission.READ)
    rows = session.exec(
        select(AccountLink, User.email)
        .join(User, col(User.id) == col(AccountLink.created_by), isouter=True)
        .where(
            AccountLink.organization_id == ctx.organization_id,
            AccountLink.purpose == "invite",
            col(AccountLink.used_at).is_(None),
            col(AccountLink.revoked_at).is_(None),
            col(AccountLink.expires_at) > utcnow(),
        )
        .order_by(col(AccountLink.created_at).desc())
        .limit(MAX_PENDING_INVITATIONS)
    ).all()
    return [_invitation(link, by or "") for link, by in rows]


def revoke_invitation(
    session: Session, *, ctx: RequestContext, invitation_id: uuid.UUID
) -> InvitationDTO:
    """Withdraw a pending invitation: its link stops working. INVITE_MEMBERS."""
    ctx.require(Permission.INVITE_MEMBERS)
    link = session.get(AccountLink, invitation_id)
    if (
        link is None
        or link.organization_id != ctx.organization_id
        or link.purpose != "invite"
        or link.used_at is not None
        or link.revoked_at is not None
    ):
        raise NotFound("invitation", invitation_id)
    link.revoked_at = utcnow()
    session.flush()
    record(
        session,
        ctx=ctx,
        action="member.invitation_revoke",
        entity_type="invitation",
        entity_id=link.id,
        before={"email": link.email, "role": link.role},
    )
    return _invitation(link, "")


def _invitation(link: AccountLink, invited_by: str) -> InvitationDTO:
    return InvitationDTO(
        id=link.id,
        email=link.email,
        role=link.role,
        created_at=link.created_at,
        expires_at=link.expires_at,
        invited_by=invited_by,
    )


def _invitable(role: str) -> Role:
    try:
        wanted = Role(role)
    except ValueError:
        wanted = None
    if wanted not in INVITABLE:
        raise ValidationFailed("role", f"must be one of {', '.join(r.value for r in INVITABLE)}")
    return wanted


def _is_member(session: Session, organization_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return (
        session.exec(
            select(Membership.id).where(
                Membership.organization_id == organization_id, Membership.user_id == user_id
            )
        ).first()
        is not None
    )


# -- reading and consuming a link -----------------------------------------------------------------


def _enter(session: Session, token: str) -> None:
    """Make an invitation's row visible (row-level security): the organization its token
    names becomes the transaction's. Sign-up and reset links belong to no organization."""
    kind, _, rest = token.partition(".")
    if kind != "i":
        return
    try:
        organization_id = uuid.UUID(hex=rest.partition(".")[0])
    except ValueError:
        return
    set_tenant(session, organization_id=organization_id)


def read_link(session: Session, *, token: str, purpose: str | None = None) -> LinkDTO:
    """The link's details for its page; `link_invalid` when used, revoked or expired (or not
    for `purpose`)."""
    if not token or len(token) > 120:
        raise _invalid()
    _enter(session, token)
    link = session.exec(select(AccountLink).where(AccountLink.token_hash == _hash(token))).first()
    if (
        link is None
        or (purpose is not None and link.purpose != purpose)
        or link.used_at is not None
        or link.revoked_at is not None
        or link.expires_at <= utcnow()
    ):
        raise _invalid()
    return LinkDTO(
        id=link.id,
        purpose=link.purpose,
        email=link.email,
        organization_id=link.organization_id,
        organization_name=str(link.data.get("organization", "")),
        role=link.role,
        expires_at=link.expires_at,
        has_account=credentials.user_id_for_email(session, link.email) is not None,
    )


def _consume(session: Session, *, token: str, purpose: str) -> AccountLink:
    """Use a link once: the conditional UPDATE lets one of two racing requests through."""
    if not token or len(token) > 120:
        raise _invalid()
    _enter(session, token)
    table = table_of(AccountLink)
    now = utcnow()
    result = session.execute(
        sa.update(table)
        .where(
            table.c.token_hash == _hash(token),
            table.c.purpose == purpose,
            table.c.used_at.is_(None),
            table.c.revoked_at.is_(None),
            table.c.expires_at > now,
        )
        .values(used_at=now)
    )
    if rows_changed(result) != 1:
        raise _invalid()
    link = session.exec(select(AccountLink).where(AccountLink.token_hash == _hash(token))).one()
    session.refresh(link)
    return link


def accept_invitation(
    session: Session,
    *,
    token: str,
    user_id: uuid.UUID | None = None,
    full_name: str = "",
    password: str = "",
    client_address: str = "",
) -> tuple[uuid.UUID, uuid.UUID]:
    """Join the organization an invitation is for: as the signed-in `user_id` (whose email
    must be the invited one), or, without one, as a new login with `password` for the invited
    email. Returns (user id, organization id)."""
    shown = read_link(session, token=token, purpose="invite")  # refusals below write nothing
    assert shown.organization_id is not None
    if user_id is None:
        credentials.check_new_password(password)
        if shown.has_account:
            raise AppError(
                ErrorType.CONFLICT,
                "sign_in_to_accept",
                f"{shown.email} already has an account: sign in as {shown.email} to accept",
            )
    else:
        set_tenant(session, organization_id=shown.organization_id, user_id=user_id)
        email = session.exec(select(User.email).where(User.id == user_id)).first()
        if email != shown.email:
            raise AppError(
                ErrorType.AUTHORIZATION,
                "wrong_account",
                f"this invitation is for {shown.email}: sign in as that account to accept",
            )
        if _is_member(session, shown.organization_id, user_id):
            raise AppError(ErrorType.CONFLICT, "already_member", "you are already a member")
    link = _consume(session, token=token, purpose="invite")
    assert link.organization_id is not None
    if user_id is None:
        user = tenancy.create_user(
            session, email=link.email, password=password, full_name=full_name
        )
        user_id = user.id
    set_tenant(session, organization_id=link.organization_id, user_id=user_id)
    session.add(Membership(organization_id=link.organization_id, user_id=user_id, role=link.role))
    session.flush()
    joined = RequestContext(
        user_id=user_id,
        organization_id=link.organization_id,
        role=Role(link.role),
        actor=link.email,
        client_address=client_address,
    )
    record(
        session,
        ctx=joined,
        action="member.join",
        entity_type="member",
        entity_id=user_id,
        after={"email": link.email, "role": link.role, "invitation": str(link.id)},
    )
    return user_id, link.organization_id


# -- sign-up and password reset -------------------------------------------------------------------


def request_signup(
    session: Session, *, email: str, organization: str, full_name: str = ""
) -> tuple[str, str | None]:
    """Start a sign-up: (normalised email, token for the confirmation link), or (email, None)
    when the email already has a login (email its owner a sign-in / reset hint instead). The
    caller answers both the same way."""
    address = tenancy.normalise_email(email)
    name = organization.strip()
    if not name:
        raise ValidationFailed("organization", "must not be empty")
    if len(name) > 200:
        raise ValidationFailed("organization", "must be at most 200 characters")
    if len(full_name) > 200:
        raise ValidationFailed("full_name", "must be at most 200 characters")
    if credentials.user_id_for_email(session, address) is not None:
        return address, None
    data = {"organization": name, "full_name": full_name.strip()}
    return address, _new_link(session, "signup", address, SIGNUP_TTL, data)


def _new_link(
    session: Session, purpose: str, email: str, ttl: timedelta, data: dict[str, str] | None = None
) -> str:
    """Store a sign-up or reset link (no organization); its token."""
    token = _new_token()
    now = utcnow()
    session.add(
        AccountLink(
            purpose=purpose,
            token_hash=_hash(token),
            email=email,
            data=data or {},
            created_at=now,
            expires_at=now + ttl,
        )
    )
    session.flush()
    return token


def complete_signup(
    session: Session, *, token: str, password: str
) -> tuple[UserDTO, OrganizationDTO]:
    """Create the login and its organization from a confirmed sign-up link."""
    credentials.check_new_password(password)
    shown = read_link(session, token=token, purpose="signup")
    if shown.has_account:
        raise AppError(
            ErrorType.CONFLICT, "email_taken", f"{shown.email} already has an account: sign in"
        )
    link = _consume(session, token=token, purpose="signup")
    user = tenancy.create_user(
        session, email=link.email, password=password, full_name=str(link.data.get("full_name", ""))
    )
    organization = tenancy.create_organization(
        session, name=str(link.data.get("organization", "")) or link.email, owner_user_id=user.id
    )
    return user, organization


def request_reset(session: Session, *, email: str) -> tuple[str, str | None]:
    """(normalised email, token for a reset link), or (email, None) without such a login.
    The caller answers both the same way."""
    address = tenancy.normalise_email(email)
    if credentials.user_id_for_email(session, address) is None:
        return address, None
    return address, _new_link(session, "reset", address, RESET_TTL)


def complete_reset(session: Session, *, token: str, password: str) -> uuid.UUID:
    """Set a new password from a reset link; every session of the login ends."""
    credentials.check_new_password(password)
    link = _consume(session, token=token, purpose="reset")
    user_id = credentials.user_id_for_email(session, link.email)
    if user_id is None:
        raise _invalid()
    set_tenant(session, organization_id=None, user_id=user_id)
    credentials.store_password(session, user_id=user_id, password=password, new=False)
    sessions.revoke_all(session, user_id=user_id)
    return user_id


def change_password(
    session: Session,
    *,
    ctx: RequestContext,
    current: str,
    new: str,
    keep_session: uuid.UUID | None = None,
) -> int:
    """Change the signed-in user's password (the current one checked); every other session
    ends. Returns how many ended."""
    if ctx.user_id is None:
        raise AppError(ErrorType.AUTHORIZATION, "not_a_person", "only a person has a password")
    email = session.exec(select(User.email).where(User.id == ctx.user_id)).first() or ""
    if credentials.verify_login(session, address=email, password=current) != ctx.user_id:
        raise ValidationFailed("current_password", "is not your current password")
    credentials.check_new_password(new, field="new_password")
    if new == current:
        raise ValidationFailed("new_password", "must differ from the current one")
    credentials.store_password(session, user_id=ctx.user_id, password=new, new=False)
    return sessions.revoke_all(session, user_id=ctx.user_id, except_id=keep_session)
