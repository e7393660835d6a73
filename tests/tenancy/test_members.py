"""Members of an organization (tenancy.members): people join by invitation with a role; an owner
changes roles and removes members (whose browsers there are signed out); nobody else may; the
organization always keeps an owner; and one organization's members never show up in
another's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.core.errors import AppError, AuthenticationFailed, ErrorType, PermissionDenied
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.tenancy import members
from storesync.tenancy import service as tenancy
from storesync.tenancy.auth import credentials, links, sessions
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import Membership, User
from storesync.tenancy.permissions import Role
from tests.factories import browser_session, token

OWNER_PASSWORD = "owner-pass-1"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Team:
    engine: Engine
    ctx: RequestContext  # the owner's
    owner_email: str

    def as_role(self, role: Role) -> RequestContext:
        return RequestContext(self.ctx.user_id, self.ctx.organization_id, role)

    def add(self, email: str, role: str, password: str = "") -> members.MemberDTO:
        """Invite `email` and accept as that person: a new login with `password`, or the
        existing login signed in."""
        with session_scope(self.ctx, engine=self.engine) as session:
            _invitation, link = links.invite(session, ctx=self.ctx, email=email, role=role)
        existing = user_id(self.engine, email)
        with session_scope(engine=self.engine) as session:
            joined, _org = links.accept_invitation(
                session, token=link, user_id=existing, password=password or "new-pass-123"
            )
        with session_scope(self.ctx, engine=self.engine) as session:
            (member,) = [
                m for m in members.list_members(session, ctx=self.ctx) if m.user_id == joined
            ]
        return member

    def change(self, user_id: uuid.UUID, role: str) -> members.MemberDTO:
        with session_scope(self.ctx, engine=self.engine) as session:
            return members.change_role(session, ctx=self.ctx, user_id=user_id, role=role)

    def remove(self, user_id: uuid.UUID) -> None:
        with session_scope(self.ctx, engine=self.engine) as session:
            members.remove_member(session, ctx=self.ctx, user_id=user_id)

    def listed(self) -> list[tuple[str, Role]]:
        with session_scope(self.ctx, engine=self.engine) as session:
            return [(m.email, m.role) for m in members.list_members(session, ctx=self.ctx)]

    def roster(self) -> dict[str, str]:
        """{email: role} straight from the tables, independent of list_members."""
        m, u = table_of(Membership), table_of(User)
        with session_scope(self.ctx, engine=self.engine) as session:
            rows = session.execute(
                sa.select(u.c.email, m.c.role)
                .join(u, u.c.id == m.c.user_id)
                .where(m.c.organization_id == self.ctx.organization_id)
            ).all()
        return {email: role for email, role in rows}

    def refused(self, call: object, ctx: RequestContext | None = None) -> AppError:
        """Run `call(session, ctx)` in a transaction that COMMITS after catching its AppError:
        whatever is refused must have written nothing by itself, not just been rolled back."""
        acting = ctx or self.ctx
        with session_scope(acting, engine=self.engine) as session:
            with pytest.raises(AppError) as raised:
                call(session, acting)  # type: ignore[operator]
        return raised.value


def build_team(engine: Engine, owner_prefix: str = "owner") -> Team:
    email = f"{owner_prefix}-{token()}@example.com"
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(session, email=email, password=OWNER_PASSWORD)
        org = tenancy.create_organization(session, name="Toko Tim", owner_user_id=user.id)
    return Team(engine, RequestContext(user.id, org.id, Role.OWNER), email)


def user_id(engine: Engine, email: str) -> uuid.UUID | None:
    with session_scope(engine=engine) as session:
        return credentials.user_id_for_email(session, email.strip().lower())


def can_sign_in(engine: Engine, email: str, password: str) -> bool:
    with session_scope(engine=engine) as session:
        try:
            tenancy.authenticate(session, email=email, password=password)
        except AuthenticationFailed:
            return False
    return True


def role_in(engine: Engine, user_id: uuid.UUID, org_id: uuid.UUID) -> Role:
    with session_scope(user_id=user_id, engine=engine) as session:
        return tenancy.context_for(session, user_id=user_id, organization_id=org_id).role


def test_an_invited_person_joins_with_the_role_and_signs_in_with_their_password(
    engine: Engine,
) -> None:
    team = build_team(engine)
    email = f"new-{token()}@example.com"
    assert user_id(engine, email) is None

    added = team.add(f"  {email.upper()} ", "staff", password="new-pass-123")

    assert (added.email, added.role, added.full_name) == (email, Role.STAFF, "")
    assert user_id(engine, email) == added.user_id
    assert can_sign_in(engine, email, "new-pass-123")
    assert not can_sign_in(engine, email, OWNER_PASSWORD)
    assert role_in(engine, added.user_id, team.ctx.organization_id) is Role.STAFF
    assert team.roster() == {team.owner_email: "owner", email: "staff"}


def test_an_existing_login_joins_keeping_its_password_and_its_own_organization(
    engine: Engine,
) -> None:
    team, elsewhere = build_team(engine), build_team(engine)
    existing = user_id(engine, elsewhere.owner_email)
    assert existing is not None

    added = team.add(elsewhere.owner_email, "viewer")

    assert (added.user_id, added.email, added.role) == (
        existing,
        elsewhere.owner_email,
        Role.VIEWER,
    )
    assert can_sign_in(engine, elsewhere.owner_email, OWNER_PASSWORD)
    assert role_in(engine, existing, team.ctx.organization_id) is Role.VIEWER
    # Their own organization is untouched: still its only member, still owner.
    assert role_in(engine, existing, elsewhere.ctx.organization_id) is Role.OWNER
    assert elsewhere.roster() == {elsewhere.owner_email: "owner"}


def test_inviting_a_member_again_is_refused_and_invites_nothing(engine: Engine) -> None:
    team = build_team(engine)
    email = f"staff-{token()}@example.com"
    team.add(email, "staff", password="staff-pass-1")
    before = team.roster()

    for again in (email, email.upper(), team.owner_email):
        error = team.refused(
            lambda session, ctx, again=again: links.invite(
                session, ctx=ctx, email=again, role="admin"
            )
        )
        assert (error.type, error.code) == (ErrorType.CONFLICT, "already_member")
        assert error.details == {"field": "email"}

    assert team.roster() == before == {team.owner_email: "owner", email: "staff"}
    with session_scope(team.ctx, engine=engine) as session:
        assert links.list_invitations(session, ctx=team.ctx) == []


@pytest.mark.parametrize("role", ["owner", "bogus", "", "OWNER"])
def test_a_role_that_cannot_be_granted_is_refused_and_nothing_is_written(
    engine: Engine, role: str
) -> None:
    team = build_team(engine)
    email = f"new-{token()}@example.com"

    error = team.refused(
        lambda session, ctx: links.invite(session, ctx=ctx, email=email, role=role)
    )

    assert (error.type, error.code) == (ErrorType.VALIDATION, "invalid_field")
    assert error.details == {"field": "role"}
    with session_scope(team.ctx, engine=engine) as session:
        assert links.list_invitations(session, ctx=team.ctx) == []
    assert team.roster() == {team.owner_email: "owner"}


def test_a_removed_member_is_signed_out_of_that_organization_only(engine: Engine) -> None:
    team, elsewhere = build_team(engine), build_team(engine)
    member = team.add(elsewhere.owner_email, "staff")
    here = browser_session(engine, user_id=member.user_id, organization_id=team.ctx.organization_id)
    home = browser_session(
        engine, user_id=member.user_id, organization_id=elsewhere.ctx.organization_id
    )

    team.remove(member.user_id)

    with session_scope(engine=engine) as session:
        assert sessions.context_for_token(session, token=here) is None
        assert sessions.context_for_token(session, token=home) is not None


@pytest.mark.parametrize("role", [Role.ADMIN, Role.STAFF, Role.VIEWER])
def test_only_an_owner_manages_members_and_a_refusal_changes_nothing(
    engine: Engine, role: Role
) -> None:
    team = build_team(engine)
    staff = team.add(f"staff-{token()}@example.com", "staff", password="staff-pass-1")
    before = team.roster()
    acting = team.as_role(role)
    attempts = {
        "change": lambda session, ctx: members.change_role(
            session, ctx=ctx, user_id=staff.user_id, role="admin"
        ),
        "demote owner": lambda session, ctx: members.change_role(
            session, ctx=ctx, user_id=team.ctx.user_id, role="viewer"
        ),
        "remove": lambda session, ctx: members.remove_member(
            session, ctx=ctx, user_id=staff.user_id
        ),
    }

    for name, attempt in attempts.items():
        error = team.refused(attempt, acting)
        assert isinstance(error, PermissionDenied), name
        assert error.details == {"permission": "manage_members", "role": role.value}

    assert team.roster() == before
    # Reading is allowed to every role.
    with session_scope(acting, engine=engine) as session:
        assert len(members.list_members(session, ctx=acting)) == 2


def test_the_last_owner_can_step_down_or_leave_only_once_there_is_another_owner(
    engine: Engine,
) -> None:
    team = build_team(engine)
    owner = team.ctx.user_id
    assert owner is not None

    for attempt in (
        lambda session, ctx: members.change_role(session, ctx=ctx, user_id=owner, role="admin"),
        lambda session, ctx: members.remove_member(session, ctx=ctx, user_id=owner),
    ):
        error = team.refused(attempt)
        assert (error.type, error.code, error.details) == (
            ErrorType.CONFLICT,
            "last_owner",
            {"field": "role"},
        )
    assert team.roster() == {team.owner_email: "owner"}
    # Staying owner is not stepping down.
    assert team.change(owner, "owner").role is Role.OWNER

    second_email = f"second-{token()}@example.com"
    second = team.add(second_email, "admin", password="second-pass-1")
    assert team.change(second.user_id, "owner").role is Role.OWNER

    demoted = team.change(owner, "staff")

    assert (demoted.user_id, demoted.role) == (owner, Role.STAFF)
    assert team.roster() == {team.owner_email: "staff", second_email: "owner"}
    # The second owner is now the last one; the first (still a member) can be removed.
    error = team.refused(
        lambda session, ctx: members.remove_member(session, ctx=ctx, user_id=second.user_id)
    )
    assert error.code == "last_owner"
    team.remove(owner)
    assert team.roster() == {second_email: "owner"}
    assert user_id(engine, team.owner_email) is not None  # the login stays
    with pytest.raises(AuthenticationFailed):
        role_in(engine, owner, team.ctx.organization_id)


def test_an_owner_removes_a_member_and_the_login_stays(engine: Engine) -> None:
    team = build_team(engine)
    email = f"leaver-{token()}@example.com"
    leaver = team.add(email, "viewer", password="leaver-pass-1")

    team.remove(leaver.user_id)

    assert team.roster() == {team.owner_email: "owner"}
    assert can_sign_in(engine, email, "leaver-pass-1")
    with pytest.raises(AuthenticationFailed):
        role_in(engine, leaver.user_id, team.ctx.organization_id)


def test_change_role_validates_the_role_and_finds_members_of_this_organization_only(
    engine: Engine,
) -> None:
    team, other = build_team(engine), build_team(engine)
    staff = team.add(f"staff-{token()}@example.com", "staff", password="staff-pass-1")
    before = team.roster(), other.roster()

    bogus = team.refused(
        lambda session, ctx: members.change_role(
            session, ctx=ctx, user_id=staff.user_id, role="bogus"
        )
    )
    theirs = [
        team.refused(
            lambda session, ctx: members.change_role(
                session, ctx=ctx, user_id=other.ctx.user_id, role="viewer"
            )
        ),
        team.refused(
            lambda session, ctx: members.remove_member(session, ctx=ctx, user_id=other.ctx.user_id)
        ),
    ]

    assert (bogus.code, bogus.details) == ("invalid_field", {"field": "role"})
    assert [e.code for e in theirs] == ["member_not_found", "member_not_found"]
    assert (team.roster(), other.roster()) == before


def test_list_members_puts_owners_first_and_never_lists_another_organizations(
    engine: Engine,
) -> None:
    team = build_team(engine, owner_prefix="z-owner")  # last by email, first as owner
    other = build_team(engine, owner_prefix="a-other")
    tag = token()
    emails = {
        role: f"{prefix}-{tag}@example.com"
        for role, prefix in (("viewer", "b"), ("admin", "c"), ("staff", "d"), ("owner", "e"))
    }
    for role, email in emails.items():
        team.add(email, "admin" if role == "owner" else role, password="member-pass-1")
    team.change(user_id(engine, emails["owner"]), "owner")  # type: ignore[arg-type]
    # The other organization has members of its own, one of them this team's owner (so on
    # PostgreSQL that membership row is visible to them through row-level security).
    other.add(f"c-theirs-{tag}@example.com", "admin", password="member-pass-1")
    other.add(team.owner_email, "viewer")

    listed = team.listed()

    assert listed == [
        (emails["owner"], Role.OWNER),
        (team.owner_email, Role.OWNER),
        (emails["admin"], Role.ADMIN),
        (emails["staff"], Role.STAFF),
        (emails["viewer"], Role.VIEWER),
    ]
    assert other.listed() == [
        (other.owner_email, Role.OWNER),
        (f"c-theirs-{tag}@example.com", Role.ADMIN),
        (team.owner_email, Role.VIEWER),
    ]
