"""Members of an organization: list, change role, remove. People join only by accepting an
invitation (`storesync.tenancy.auth.links`). An organization always keeps at least one owner."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from storesync.core.errors import AppError, ErrorType, NotFound, ValidationFailed
from storesync.core.schemas import DTO
from storesync.tenancy.audit.record import record
from storesync.tenancy.auth import sessions
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import Membership, User
from storesync.tenancy.permissions import Permission, Role


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
    before = member.role
    member.role = wanted.value
    session.flush()
    dto = _dto(session, member)
    if before != wanted.value:
        record(
            session,
            ctx=ctx,
            action="member.role",
            entity_type="member",
            entity_id=user_id,
            before={"role": before},
            after={"role": wanted.value, "email": dto.email},
        )
    return dto


def remove_member(session: Session, *, ctx: RequestContext, user_id: uuid.UUID) -> None:
    """Take a member out of the organization (their login stays; their browsers working in it
    are signed out); never the last owner. Needs MANAGE_MEMBERS."""
    ctx.require(Permission.MANAGE_MEMBERS)
    member = _existing(session, ctx, user_id)
    if member.role == Role.OWNER.value:
        _keep_an_owner(session, ctx)
    gone = _dto(session, member)
    session.delete(member)
    sessions.revoke_in_organization(session, user_id=user_id, organization_id=ctx.organization_id)
    record(
        session,
        ctx=ctx,
        action="member.remove",
        entity_type="member",
        entity_id=user_id,
        before={"email": gone.email, "role": gone.role},
    )
    session.flush()


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
