"""Accounts, written as the attacks they stop: sessions that end when they should, emailed links
that work once for the person they were sent to, throttled sign-in, and (PostgreSQL) an app role
that can see neither another organization's users nor any password hash."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from storesync.core.clock import set_clock
from storesync.core.errors import AppError, AuthenticationFailed
from storesync.db import session_scope
from storesync.tenancy import passwords
from storesync.tenancy import service as tenancy
from storesync.tenancy.auth import credentials, links, sessions, signin
from storesync.tenancy.auth.throttle import MemoryThrottle, SignInGuard, TooManyAttempts
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import Membership, User
from storesync.tenancy.permissions import Role
from tests.factories import browser_session, token

PASSWORD = "correct horse"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> Iterator[list[datetime]]:
    now = [datetime(2026, 12, 7, 8, 0, tzinfo=UTC)]
    set_clock(lambda: now[0])
    yield now
    set_clock(None)


def _owner(engine: Engine, name: str = "Toko") -> RequestContext:
    email = f"owner-{token()}@example.com"
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(session, email=email, password=PASSWORD)
        org = tenancy.create_organization(session, name=f"{name} {token()}", owner_user_id=user.id)
    return RequestContext(user.id, org.id, Role.OWNER, actor=email)


def _login(engine: Engine, email: str | None = None) -> tuple[uuid.UUID, str]:
    email = email or f"person-{token()}@example.com"
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(session, email=email, password=PASSWORD)
    return user.id, email


def _context(engine: Engine, cookie: str) -> RequestContext | None:
    with session_scope(engine=engine) as session:
        return sessions.context_for_token(session, token=cookie)


def _members(engine: Engine, ctx: RequestContext) -> set[uuid.UUID]:
    with session_scope(ctx, engine=engine) as session:
        rows = session.execute(
            sa.select(Membership.user_id).where(Membership.organization_id == ctx.organization_id)
        )
        return set(rows.scalars())


# -- sessions -----------------------------------------------------------------------------------


def test_a_signed_out_session_id_no_longer_works(engine: Engine) -> None:
    owner = _owner(engine)
    assert owner.user_id is not None
    cookie = browser_session(engine, user_id=owner.user_id, organization_id=owner.organization_id)
    other = browser_session(engine, user_id=owner.user_id, organization_id=owner.organization_id)
    signed_in = _context(engine, cookie)
    assert signed_in is not None
    assert (signed_in.user_id, signed_in.organization_id, signed_in.role) == (
        owner.user_id,
        owner.organization_id,
        Role.OWNER,
    )
    assert signed_in.actor == owner.actor

    with session_scope(engine=engine) as session:
        assert sessions.revoke(session, token=cookie) is True

    assert _context(engine, cookie) is None
    assert _context(engine, other) is not None  # the other browser stays signed in
    with session_scope(engine=engine) as session:
        assert sessions.revoke(session, token=cookie) is False  # nothing twice


def test_a_sign_in_ticket_works_once_and_only_for_a_minute(engine: Engine, clock: list) -> None:
    owner = _owner(engine)
    assert owner.user_id is not None
    with session_scope(engine=engine) as session:
        ticket = sessions.start_session(
            session, user_id=owner.user_id, organization_id=owner.organization_id
        )
        late = sessions.start_session(
            session, user_id=owner.user_id, organization_id=owner.organization_id
        )
    # A pending session is no session: its ticket is not a cookie.
    assert _context(engine, ticket) is None
    with session_scope(engine=engine) as session:
        cookie = sessions.activate(session, ticket=ticket, ttl=timedelta(hours=1))
        again = sessions.activate(session, ticket=ticket, ttl=timedelta(hours=1))
    assert cookie is not None and again is None
    assert _context(engine, cookie) is not None

    clock[0] += timedelta(seconds=61)
    with session_scope(engine=engine) as session:
        assert sessions.activate(session, ticket=late, ttl=timedelta(hours=1)) is None
    clock[0] += timedelta(hours=1)
    assert _context(engine, cookie) is None  # expired


def test_a_password_change_ends_every_other_session(engine: Engine) -> None:
    owner = _owner(engine)
    assert owner.user_id is not None
    here = browser_session(engine, user_id=owner.user_id, organization_id=owner.organization_id)
    stolen = browser_session(engine, user_id=owner.user_id, organization_id=owner.organization_id)
    with session_scope(engine=engine) as session:
        current = sessions.find_session(session, token=here)
    assert current is not None

    with session_scope(owner, engine=engine) as session, pytest.raises(AppError) as wrong:
        links.change_password(
            session, ctx=owner, current="guess", new="new-password-1", keep_session=current.id
        )
    assert wrong.value.details["field"] == "current_password"
    assert _context(engine, stolen) is not None  # a refused change ends nothing

    with session_scope(owner, engine=engine) as session:
        ended = links.change_password(
            session, ctx=owner, current=PASSWORD, new="new-password-1", keep_session=current.id
        )

    assert ended == 1
    assert _context(engine, stolen) is None
    assert _context(engine, here) is not None
    with session_scope(engine=engine) as session:
        assert tenancy.authenticate(session, email=owner.actor, password="new-password-1")
        with pytest.raises(AuthenticationFailed):
            tenancy.authenticate(session, email=owner.actor, password=PASSWORD)


def test_a_session_switches_only_to_organizations_of_its_user(engine: Engine) -> None:
    owner, stranger = _owner(engine, "Mine"), _owner(engine, "Theirs")
    assert owner.user_id is not None
    cookie = browser_session(engine, user_id=owner.user_id, organization_id=owner.organization_id)

    with session_scope(engine=engine) as session, pytest.raises(AppError) as raised:
        sessions.switch_organization(
            session, token=cookie, organization_id=stranger.organization_id
        )
    assert raised.value.code == "not_a_member"
    assert _context(engine, cookie).organization_id == owner.organization_id  # type: ignore[union-attr]


# -- invitations --------------------------------------------------------------------------------


def _invite(engine: Engine, ctx: RequestContext, email: str, role: str = "staff") -> str:
    with session_scope(ctx, engine=engine) as session:
        _invitation, link = links.invite(session, ctx=ctx, email=email, role=role)
    return link


def test_an_existing_account_joins_only_by_accepting_its_invitation(engine: Engine) -> None:
    owner = _owner(engine)
    person, email = _login(engine)
    link = _invite(engine, owner, email.upper())

    assert person not in _members(engine, owner)  # inviting adds nobody
    with session_scope(engine=engine) as session:
        shown = links.read_link(session, token=link)
    assert (shown.purpose, shown.email, shown.role, shown.has_account) == (
        "invite",
        email,
        "staff",
        True,
    )

    # Another account cannot take the invitation, and without a login nobody can claim the
    # existing email's place.
    intruder, _ = _login(engine)
    with session_scope(engine=engine) as session, pytest.raises(AppError) as wrong:
        links.accept_invitation(session, token=link, user_id=intruder)
    assert wrong.value.code == "wrong_account"
    with session_scope(engine=engine) as session, pytest.raises(AppError) as taken:
        links.accept_invitation(session, token=link, password="another-password")
    assert taken.value.code == "sign_in_to_accept"
    assert _members(engine, owner) == {owner.user_id}

    with session_scope(engine=engine) as session:
        joined = links.accept_invitation(session, token=link, user_id=person)
    assert joined == (person, owner.organization_id)
    assert _members(engine, owner) == {owner.user_id, person}

    # The link is spent.
    with session_scope(engine=engine) as session, pytest.raises(AppError) as reused:
        links.accept_invitation(session, token=link, user_id=person)
    assert reused.value.code == "link_invalid"


def test_a_new_person_joins_through_the_link_and_signs_in_with_their_password(
    engine: Engine,
) -> None:
    owner = _owner(engine)
    email = f"new-{token()}@example.com"
    link = _invite(engine, owner, email, role="viewer")

    with session_scope(engine=engine) as session, pytest.raises(AppError) as short:
        links.accept_invitation(session, token=link, full_name="Ani", password="short")
    assert short.value.details["field"] == "password"
    with session_scope(engine=engine) as session:
        user_id, org_id = links.accept_invitation(
            session, token=link, full_name="Ani", password="ani-password"
        )

    assert org_id == owner.organization_id
    with session_scope(engine=engine) as session:
        assert tenancy.authenticate(session, email=email, password="ani-password").id == user_id
        assert (
            tenancy.context_for(session, user_id=user_id, organization_id=org_id).role
            is Role.VIEWER
        )


def test_revoked_expired_forged_and_replaced_invitations_add_nobody(
    engine: Engine, clock: list
) -> None:
    owner = _owner(engine)
    revoked = _invite(engine, owner, f"r-{token()}@example.com")
    with session_scope(owner, engine=engine) as session:
        pending = links.list_invitations(session, ctx=owner)
        links.revoke_invitation(session, ctx=owner, invitation_id=pending[0].id)
    email = f"twice-{token()}@example.com"
    replaced = _invite(engine, owner, email)
    newest = _invite(engine, owner, email)
    expired = _invite(engine, owner, f"e-{token()}@example.com")
    clock[0] += links.INVITE_TTL + timedelta(seconds=1)

    for link in (revoked, replaced, expired, "forged-" + token(), ""):
        with session_scope(engine=engine) as session, pytest.raises(AppError) as raised:
            links.accept_invitation(session, token=link, password="new-password")
        assert raised.value.code == "link_invalid", link
    assert _members(engine, owner) == {owner.user_id}
    assert newest != replaced


def test_staff_cannot_invite_and_admins_cannot_invite_admins(engine: Engine) -> None:
    owner = _owner(engine)
    staff = RequestContext(owner.user_id, owner.organization_id, Role.STAFF)
    admin = RequestContext(owner.user_id, owner.organization_id, Role.ADMIN)
    with session_scope(staff, engine=engine) as session, pytest.raises(AppError) as denied:
        links.invite(session, ctx=staff, email="x@example.com", role="viewer")
    assert denied.value.code == "permission_denied"
    with session_scope(admin, engine=engine) as session, pytest.raises(AppError) as refused:
        links.invite(session, ctx=admin, email="x@example.com", role="admin")
    assert refused.value.details["field"] == "role"
    with session_scope(owner, engine=engine) as session:
        assert links.list_invitations(session, ctx=owner) == []


# -- sign-up and reset --------------------------------------------------------------------------


def test_sign_up_answers_alike_for_taken_emails_and_creates_only_through_the_link(
    engine: Engine,
) -> None:
    _, taken = _login(engine)
    fresh = f"fresh-{token()}@example.com"
    with session_scope(engine=engine) as session:
        assert links.request_signup(session, email=taken, organization="Copy") == (taken, None)
        address, link = links.request_signup(
            session, email=fresh.upper(), organization="Toko Baru", full_name="Budi"
        )
    assert address == fresh and link is not None
    with session_scope(engine=engine) as session:
        assert credentials.user_id_for_email(session, fresh) is None  # nothing until confirmed
        user, org = links.complete_signup(session, token=link, password="budi-password")
    assert (user.email, user.full_name, org.name) == (fresh, "Budi", "Toko Baru")
    with session_scope(engine=engine) as session, pytest.raises(AppError) as again:
        links.complete_signup(session, token=link, password="budi-password")
    assert again.value.code == "link_invalid"


def test_a_reset_link_sets_a_new_password_once_and_signs_every_browser_out(
    engine: Engine,
) -> None:
    owner = _owner(engine)
    assert owner.user_id is not None
    cookie = browser_session(engine, user_id=owner.user_id, organization_id=owner.organization_id)
    with session_scope(engine=engine) as session:
        assert links.request_reset(session, email="nobody-" + token() + "@example.com")[1] is None
        _, link = links.request_reset(session, email=owner.actor)
    assert link is not None

    with session_scope(engine=engine) as session:
        assert links.complete_reset(session, token=link, password="brand-new-pass") == owner.user_id
    assert _context(engine, cookie) is None
    with session_scope(engine=engine) as session:
        assert tenancy.authenticate(session, email=owner.actor, password="brand-new-pass")
    with session_scope(engine=engine) as session, pytest.raises(AppError) as again:
        links.complete_reset(session, token=link, password="another-pass-1")
    assert again.value.code == "link_invalid"


# -- sign-in throttling -------------------------------------------------------------------------


def test_the_eleventh_wrong_password_in_a_minute_is_throttled_while_another_account_signs_in(
    engine: Engine, clock: list
) -> None:
    victim, other = _owner(engine), _owner(engine)
    guard = SignInGuard(MemoryThrottle())
    address = "203.0.113.9"

    def attempt(email: str, password: str) -> str:
        return signin.sign_in(
            email=email, password=password, client_address=address, guard=guard, engine=engine
        )

    for _ in range(10):
        with pytest.raises(AuthenticationFailed):
            attempt(victim.actor, "guess")
    with pytest.raises(TooManyAttempts) as throttled:
        attempt(victim.actor, PASSWORD)  # even the right password waits now
    assert 0 < throttled.value.retry_after <= 60
    assert "wrong email or password" not in throttled.value.message

    ticket = attempt(other.actor, PASSWORD)  # another account, same address: signs in
    with session_scope(engine=engine) as session:
        cookie = sessions.activate(session, ticket=ticket, ttl=timedelta(hours=1))
    assert cookie is not None and _context(engine, cookie).user_id == other.user_id  # type: ignore[union-attr]

    clock[0] += timedelta(seconds=61)
    assert attempt(victim.actor, PASSWORD)  # the window passed


def test_unknown_emails_cost_one_password_check_like_wrong_passwords(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = _owner(engine)
    checks: list[str] = []
    real = passwords.verify_password

    def counted(password_hash: str, password: str) -> bool:
        checks.append(password_hash[:9])
        return real(password_hash, password)

    monkeypatch.setattr("storesync.tenancy.auth.credentials.verify_password", counted)
    answers = []
    for email in (owner.actor, f"ghost-{token()}@example.com", "not an email"):
        with session_scope(engine=engine) as session, pytest.raises(AuthenticationFailed) as e:
            tenancy.authenticate(session, email=email, password="wrong-password")
        answers.append((e.value.code, e.value.message))

    assert checks == ["$argon2id"] * 3
    assert len(set(answers)) == 1


# -- PostgreSQL: what the app role can see ------------------------------------------------------


@pytest.mark.postgres
def test_the_app_role_sees_no_other_organizations_users_and_no_password_hash(
    app_engine: Engine,
) -> None:
    mine, theirs = _owner(app_engine, "Mine"), _owner(app_engine, "Theirs")

    with session_scope(mine, engine=app_engine) as session:
        visible = set(session.execute(sa.select(User.id)).scalars())
        found = session.execute(
            sa.text("SELECT count(*) FROM app_user WHERE id = :id"), {"id": theirs.user_id}
        ).scalar_one()
    assert visible == {mine.user_id}
    assert found == 0

    for statement in (
        "SELECT password_hash FROM user_credential",
        "SELECT * FROM user_credential",
        f"UPDATE user_credential SET changed_at = now() WHERE user_id = '{mine.user_id}' "
        "RETURNING password_hash",
    ):
        with pytest.raises(DBAPIError, match="permission denied"):
            with session_scope(mine, engine=app_engine) as session:
                session.execute(sa.text(statement))

    # Without a context the app role sees no user at all.
    with session_scope(engine=app_engine) as session:
        assert session.execute(sa.text("SELECT count(*) FROM app_user")).scalar_one() == 0


@pytest.mark.postgres
def test_two_tabs_accepting_one_invitation_at_once_join_once(app_engine: Engine) -> None:
    owner = _owner(app_engine)
    email = f"race-{token()}@example.com"
    link = _invite(app_engine, owner, email)
    results: list[object] = []
    start = threading.Barrier(2)

    def accept() -> None:
        start.wait()
        try:
            with session_scope(engine=app_engine) as session:
                results.append(
                    links.accept_invitation(session, token=link, password="race-password")
                )
        except AppError as error:
            results.append(error.code)

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(type(r).__name__ for r in results) == ["str", "tuple"]
    assert "link_invalid" in results
    assert len(_members(app_engine, owner)) == 2
