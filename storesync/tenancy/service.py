"""Sign-up, sign-in, organizations and memberships."""

from __future__ import annotations

import re
import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storesync.core.clock import utcnow
from storesync.core.errors import (
    AppError,
    AuthenticationFailed,
    ErrorType,
    NotFound,
    ValidationFailed,
)
from storesync.core.events import Hook
from storesync.db import set_tenant
from storesync.tenancy.audit.record import record
from storesync.tenancy.auth import credentials
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import Membership, Organization, User
from storesync.tenancy.permissions import Permission, Role
from storesync.tenancy.schemas import MembershipDTO, OrganizationDTO, UserDTO

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Fired inside `create_organization`'s transaction with (session, organization id), after the
# organization and its owner are flushed: inventory gives it its default location (connected at
# start-up by the composition root; tenancy sits below inventory and does not import it).
organization_created: Hook[[Session, uuid.UUID]] = Hook("organization_created")


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if not _EMAIL.match(value) or len(value) > 320:
        raise ValidationFailed("email", "is not a valid email address")
    return value


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:60] or "org"


def create_user(session: Session, *, email: str, password: str, full_name: str = "") -> UserDTO:
    """Create a login. Emails are unique (case-insensitive); passwords at least 8 characters.
    The transaction then acts as the new user (row-level security lets a login write only
    itself). Sign-up and invitations call this only after the email's owner followed an
    emailed link; `email_taken` is for the CLI and the demo."""
    address = normalise_email(email)
    credentials.check_new_password(password)
    if len(full_name) > 200:
        raise ValidationFailed("full_name", "must be at most 200 characters")
    if credentials.user_id_for_email(session, address) is not None:
        raise AppError(
            ErrorType.CONFLICT,
            "email_taken",
            f"email: {address} already has an account",
            details={"field": "email"},
        )
    user = User(email=address, full_name=full_name.strip())
    set_tenant(session, organization_id=session.info.get("org_id"), user_id=user.id)
    session.add(user)
    session.flush()
    credentials.store_password(session, user_id=user.id, password=password, new=True)
    return UserDTO.model_validate(user)


_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")


def create_organization(
    session: Session,
    *,
    name: str,
    owner_user_id: uuid.UUID,
    currency: str = "IDR",
    slug: str | None = None,
) -> OrganizationDTO:
    """Create an organization with `owner_user_id` as its owner and a default location. Its
    slug (how the CLI names it) is derived from the name unless `slug` is given (it must be
    free: `slug_taken`)."""
    clean = name.strip()
    if not clean:
        raise ValidationFailed("name", "must not be empty")
    if len(clean) > 200:
        raise ValidationFailed("name", "must be at most 200 characters")
    org = Organization(name=clean, slug="pending", default_currency=currency.upper())
    org.slug = f"{_slugify(clean)}-{org.id.hex[-6:]}"
    if slug is not None:
        if not _SLUG.match(slug):
            raise ValidationFailed("slug", "must be 2-80 lowercase letters, digits or '-'")
        if _slug_taken(session, slug):
            raise AppError(ErrorType.CONFLICT, "slug_taken", f"slug: {slug!r} is taken")
        org.slug = slug
    # Row-level security only admits rows of the current organization: switch to it first.
    set_tenant(session, organization_id=org.id, user_id=owner_user_id)
    session.add(org)
    session.flush()
    session.add(Membership(organization_id=org.id, user_id=owner_user_id, role=Role.OWNER.value))
    session.flush()
    organization_created(session, org.id)
    return OrganizationDTO.model_validate(org)


def authenticate(session: Session, *, email: str, password: str) -> UserDTO:
    """The active user with this email and password, or `AuthenticationFailed` (same message
    for an unknown email and a wrong password)."""
    try:
        address = normalise_email(email)
    except ValidationFailed:
        address = ""
    user_id = credentials.verify_login(session, address=address, password=password)
    if user_id is None:
        raise AuthenticationFailed()
    set_tenant(session, organization_id=None, user_id=user_id)
    user = session.get(User, user_id)
    if user is None:
        raise AuthenticationFailed()
    user.last_login_at = utcnow()
    session.add(user)
    session.flush()
    return UserDTO.model_validate(user)


def list_memberships(session: Session, *, user_id: uuid.UUID) -> list[MembershipDTO]:
    """Every organization `user_id` belongs to, oldest first."""
    rows = session.exec(
        select(Membership, Organization)
        .join(Organization, col(Organization.id) == col(Membership.organization_id))
        .where(Membership.user_id == user_id)
        .order_by(col(Organization.created_at))
    ).all()
    return [
        MembershipDTO(
            organization_id=org.id,
            organization_name=org.name,
            user_id=member.user_id,
            role=Role(member.role),
        )
        for member, org in rows
    ]


def context_for(
    session: Session, *, user_id: uuid.UUID, organization_id: uuid.UUID
) -> RequestContext:
    """The request context of a member; `AuthenticationFailed` if they are not one (any more)."""
    member = session.exec(
        select(Membership)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(
            Membership.user_id == user_id,
            Membership.organization_id == organization_id,
            col(User.is_active).is_(True),
        )
    ).first()
    if member is None:
        raise AuthenticationFailed("not_a_member", "you are not a member of this organization")
    return RequestContext(user_id=user_id, organization_id=organization_id, role=Role(member.role))


def get_organization(session: Session, *, ctx: RequestContext) -> OrganizationDTO:
    ctx.require(Permission.READ)
    org = session.get(Organization, ctx.organization_id)
    if org is None:
        raise AuthenticationFailed("not_a_member", "organization not found")
    return OrganizationDTO.model_validate(org)


def update_organization(
    session: Session, *, ctx: RequestContext, name: str, timezone: str
) -> OrganizationDTO:
    """Rename the organization and set its time zone (an IANA name such as Asia/Jakarta). The
    currency stays: amounts already recorded are in it. Needs MANAGE_SETTINGS."""
    ctx.require(Permission.MANAGE_SETTINGS)
    clean = name.strip()
    if not clean:
        raise ValidationFailed("name", "must not be empty")
    if len(clean) > 200:
        raise ValidationFailed("name", "must be at most 200 characters")
    zone = timezone.strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed("timezone", f"{zone[:60]!r} is not a time zone name") from None
    org = session.get(Organization, ctx.organization_id)
    if org is None:
        raise NotFound("organization", ctx.organization_id)
    before = {"name": org.name, "timezone": org.timezone}
    org.name, org.timezone = clean, zone
    record(
        session,
        ctx=ctx,
        action="organization.update",
        entity_type="organization",
        entity_id=org.id,
        before=before,
        after={"name": clean, "timezone": zone},
    )
    session.flush()
    return OrganizationDTO.model_validate(org)


def get_user(session: Session, *, user_id: uuid.UUID) -> UserDTO:
    user = session.get(User, user_id)
    if user is None:
        raise AuthenticationFailed("unknown_user", "user not found")
    return UserDTO.model_validate(user)


def _slug_taken(session: Session, slug: str) -> bool:
    try:
        find_organization_id(session, ref=slug)
    except NotFound:
        return False
    return True


def find_organization_id(session: Session, *, ref: str) -> uuid.UUID:
    """Resolve an organization by slug or id before any tenant context exists (CLI, workers).

    On PostgreSQL this goes through a SECURITY DEFINER function that returns ids only."""
    try:
        return uuid.UUID(ref)
    except ValueError:
        pass
    if session.get_bind().dialect.name == "postgresql":
        found = session.execute(
            sa.text("SELECT storesync_organization_id(:slug)"), {"slug": ref}
        ).scalar_one()
    else:
        found = session.exec(select(Organization.id).where(Organization.slug == ref)).first()
    if found is None:
        raise NotFound("organization", ref)
    return uuid.UUID(str(found))


def list_organization_ids(session: Session) -> list[uuid.UUID]:
    """Every organization's id, oldest first (system work that spans tenants)."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(sa.text("SELECT storesync_organization_ids()")).scalars().all()
        return [uuid.UUID(str(r)) for r in rows]
    return list(session.exec(select(Organization.id).order_by(col(Organization.created_at))).all())
