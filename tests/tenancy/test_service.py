"""Sign-up, sign-in, memberships and roles."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.core.errors import AppError, ErrorType, PermissionDenied
from storesync.db import session_scope
from storesync.demo import seed_demo
from storesync.inventory.models import Location
from storesync.tenancy import service as tenancy
from storesync.tenancy.auth.models import UserCredential
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import Organization, User
from storesync.tenancy.passwords import verify_password
from storesync.tenancy.permissions import GRANTS, Permission, Role
from tests.factories import token


def _signup(engine: Engine, email: str | None = None) -> tuple[uuid.UUID, uuid.UUID]:
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(
            session, email=email or f"Owner-{token()}@Example.com", password="s3cret-pass"
        )
        org = tenancy.create_organization(session, name="Toko Maju", owner_user_id=user.id)
    return user.id, org.id


def test_signup_creates_owner_membership_default_location_and_argon2_hash(
    sqlite_engine: Engine,
) -> None:
    user_id, org_id = _signup(sqlite_engine, "Owner@Example.com")

    with session_scope(user_id=user_id, engine=sqlite_engine) as session:
        ctx = tenancy.context_for(session, user_id=user_id, organization_id=org_id)
        user = session.get(User, user_id)
        credential = session.get(UserCredential, user_id)
        locations = (
            session.execute(
                sa.select(Location.code).where(Location.organization_id == org_id)  # type: ignore[arg-type]
            )
            .scalars()
            .all()
        )
        slug = session.get(Organization, org_id).slug  # type: ignore[union-attr]

    assert ctx.role is Role.OWNER
    assert user is not None and user.email == "owner@example.com"
    assert credential is not None and credential.password_hash.startswith("$argon2id$")
    assert verify_password(credential.password_hash, "s3cret-pass")
    assert locations == ["MAIN"]
    assert slug.startswith("toko-maju-")


def test_authenticate_accepts_the_right_password_only(sqlite_engine: Engine) -> None:
    email = f"u-{token()}@example.com"
    _signup(sqlite_engine, email)

    with session_scope(engine=sqlite_engine) as session:
        assert (
            tenancy.authenticate(session, email=email.upper(), password="s3cret-pass").email
            == email
        )
        for wrong_email, wrong_password in (
            (email, "nope-nope"),
            ("ghost@example.com", "s3cret-pass"),
            ("bad", "x"),
        ):
            with pytest.raises(AppError) as raised:
                tenancy.authenticate(session, email=wrong_email, password=wrong_password)
            assert raised.value.type is ErrorType.AUTHENTICATION
            assert raised.value.message == "wrong email or password"


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [("not-an-email", "long enough", "email"), ("ok@example.com", "short", "password")],
)
def test_create_user_validates_and_writes_nothing(
    sqlite_engine: Engine, email: str, password: str, field: str
) -> None:
    with pytest.raises(AppError) as raised, session_scope(engine=sqlite_engine) as session:
        tenancy.create_user(session, email=email, password=password)

    assert raised.value.type is ErrorType.VALIDATION
    assert raised.value.details["field"] == field
    with session_scope(engine=sqlite_engine) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 0


def test_duplicate_email_is_a_conflict(sqlite_engine: Engine) -> None:
    _signup(sqlite_engine, "dup@example.com")

    with pytest.raises(AppError) as raised, session_scope(engine=sqlite_engine) as session:
        tenancy.create_user(session, email="DUP@example.com", password="another-pass")

    assert (raised.value.type, raised.value.code) == (ErrorType.CONFLICT, "email_taken")


def test_context_for_a_non_member_is_refused(sqlite_engine: Engine) -> None:
    user_a, _ = _signup(sqlite_engine)
    _, org_b = _signup(sqlite_engine)

    with session_scope(engine=sqlite_engine) as session, pytest.raises(AppError) as raised:
        tenancy.context_for(session, user_id=user_a, organization_id=org_b)
    assert raised.value.code == "not_a_member"


def test_seed_demo_is_idempotent(sqlite_engine: Engine) -> None:
    with session_scope(engine=sqlite_engine) as session:
        first = seed_demo(session, email="demo@storesync.local", password="demo-storesync")
    with session_scope(engine=sqlite_engine) as session:
        second = seed_demo(session, email="demo@storesync.local", password="demo-storesync")
        orgs = session.execute(sa.select(sa.func.count()).select_from(Organization)).scalar_one()

    assert first is not None and second is None
    assert orgs == 1


def test_role_grants_form_a_ladder() -> None:
    assert GRANTS[Role.VIEWER] == {Permission.READ}
    assert Permission.ADJUST_STOCK in GRANTS[Role.STAFF]
    assert Permission.MANAGE_CATALOG not in GRANTS[Role.STAFF]
    assert Permission.MANAGE_CATALOG in GRANTS[Role.ADMIN]
    assert Permission.MANAGE_MEMBERS not in GRANTS[Role.ADMIN]
    assert GRANTS[Role.VIEWER] < GRANTS[Role.STAFF] < GRANTS[Role.ADMIN] < GRANTS[Role.OWNER]
    assert GRANTS[Role.OWNER] == set(Permission)


def test_viewer_context_is_denied_with_code_and_data() -> None:
    ctx = RequestContext(user_id=uuid.uuid4(), organization_id=uuid.uuid4(), role=Role.VIEWER)

    ctx.require(Permission.READ)
    with pytest.raises(PermissionDenied) as raised:
        ctx.require(Permission.ADJUST_STOCK)
    assert raised.value.code == "permission_denied"
    assert raised.value.details == {"permission": "adjust_stock", "role": "viewer"}
