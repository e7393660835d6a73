"""Members of an organization: list, add (with a role), change role, remove. An organization
always keeps at least one owner."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from storesync.core.errors import AppError, ErrorType, NotFound, ValidationFailed
from storesync.core.schemas import DTO
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import Membership, User
from storesync.tenancy.permissions import Permission, Role

GRANTABLE = (Role.ADMIN, Role.STAFF, Role.VIEWER)  # owners are made by promotion


class MemberDTO(DTO):
    user_id: uuid.UUID
    email: str
    full_name: str
    role: Role


def list_members(session: Session, *, ctx: RequestContext) -> list[MemberDTO]:
    """Everyone in the organization by role (owners first, viewers last), then email.
    Needs READ."""
    ctx.require(Permission.READ)
    rows = session.exec(
        select(Membership, User)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(Membership.organization_id == ctx.organization_id)
        .order_by(col(User.email))
    ).all()
    members = [
        MemberDTO(user_id=u.id, email=u.email, full_name=u.full_name, role=Role(m.role))
        for m, u in rows
    ]
    order = list(Role)
    return sorted(members, key=lambda m: order.index(m.role))


def add_member(
    session: Session, *, ctx: RequestContext, email: str, role: str, password: str = ""
) -> MemberDTO:
    """Give `email` a role here. A new person gets a login with `password` (8+ characters);
    an existing login keeps its own password. Needs MANAGE_MEMBERS."""
    ctx.require(Permission.MANAGE_MEMBERS)
    wanted = _grantable(role)
    address = tenancy.normalise_email(email)
    user = session.exec(select(User).where(User.email == address)).first()
    if user is None:
        created = tenancy.create_user(session, email=address, password=password)
        user_id, full_name = created.id, created.full_name
    else:
        user_id, full_name = user.id, user.full_name
        if _membership(session, ctx, user_id) is not None:
            raise AppError(
                ErrorType.CONFLICT,
                "already_member",
                f"email: {address} is already a member",
                details={"field": "email"},
            )
    session.add(Membership(organization_id=ctx.organization_id, user_id=user_id, role=wanted.value))
    session.flush()
    return MemberDTO(user_id=user_id, email=address, full_name=full_name, role=wanted)


def change_role(
    session: Session, *, ctx: RequestContext, user_id: uuid.UUID, role: str
) -> MemberDTO:
    """Set a member's role (owner included); the last owner cannot step down. Needs
    MANAGE_MEMBERS."""
    ctx.require(Permission.MANAGE_MEMBERS)
    try:
        wanted = Role(role)
    except ValueError:
        raise ValidationFailed(
            "role", f"must be one of {', '.join(r.value for r in Role)}"
        ) from None
    member = _existing(session, ctx, user_id)
    if member.role == Role.OWNER.value and wanted is not Role.OWNER:
        _keep_an_owner(session, ctx)
    member.role = wanted.value
    session.flush()
    return _dto(session, member)


def remove_member(session: Session, *, ctx: RequestContext, user_id: uuid.UUID) -> None:
    """Take a member out of the organization (their login stays); never the last owner.
    Needs MANAGE_MEMBERS."""
    ctx.require(Permission.MANAGE_MEMBERS)
    member = _existing(session, ctx, user_id)
    if member.role == Role.OWNER.value:
        _keep_an_owner(session, ctx)
    session.delete(member)
    session.flush()


def _grantable(role: str) -> Role:
    try:
        wanted = Role(role)
    except ValueError:
        wanted = None
    if wanted not in GRANTABLE:
        names = ", ".join(r.value for r in GRANTABLE)
        raise ValidationFailed("role", f"must be one of {names}")
    return wanted


def _membership(session: Session, ctx: RequestContext, user_id: uuid.UUID) -> Membership | None:
    return session.exec(
        select(Membership).where(
            Membership.organization_id == ctx.organization_id, Membership.user_id == user_id
        )
    ).first()


def _existing(session: Session, ctx: RequestContext, user_id: uuid.UUID) -> Membership:
    member = _membership(session, ctx, user_id)
    if member is None:
        raise NotFound("member", user_id)
    return member


def _keep_an_owner(session: Session, ctx: RequestContext) -> None:
    owners = session.exec(
        select(Membership.id)
        .where(
            Membership.organization_id == ctx.organization_id,
            Membership.role == Role.OWNER.value,
        )
        .with_for_update()
    ).all()
    if len(owners) <= 1:
        raise AppError(
            ErrorType.CONFLICT,
            "last_owner",
            "role: the organization needs at least one owner; make someone else owner first",
            details={"field": "role"},
        )


def _dto(session: Session, member: Membership) -> MemberDTO:
    user = session.get(User, member.user_id)
    assert user is not None
    return MemberDTO(
        user_id=user.id, email=user.email, full_name=user.full_name, role=Role(member.role)
    )
