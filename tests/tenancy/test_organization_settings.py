"""The organization's own settings: an admin renames it and sets its time zone; a bad value
names its field and changes nothing; staff cannot; another organization is never touched."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from storesync.core.errors import PermissionDenied, ValidationFailed
from storesync.db import session_scope
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.tenancy.test_members import build_team as new_team


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def _org(engine: Engine, ctx: RequestContext) -> tuple[str, str]:
    with session_scope(ctx, engine=engine) as session:
        org = tenancy.get_organization(session, ctx=ctx)
    return org.name, org.timezone


def test_an_admin_renames_the_organization_and_sets_its_time_zone(engine: Engine) -> None:
    team, other = new_team(engine), new_team(engine)
    admin = team.as_role(Role.ADMIN)

    with session_scope(admin, engine=engine) as session:
        saved = tenancy.update_organization(
            session, ctx=admin, name="  Toko Baru  ", timezone="Asia/Makassar"
        )

    assert (saved.name, saved.timezone) == ("Toko Baru", "Asia/Makassar")
    assert _org(engine, team.ctx) == ("Toko Baru", "Asia/Makassar")
    assert _org(engine, other.ctx) != ("Toko Baru", "Asia/Makassar")


@pytest.mark.parametrize(
    ("name", "timezone", "field"),
    [
        ("", "Asia/Jakarta", "name"),
        ("x" * 201, "Asia/Jakarta", "name"),
        ("Ok", "Mars/Base", "timezone"),
    ],
)
def test_a_bad_setting_names_its_field_and_changes_nothing(
    engine: Engine,
    name: str,
    timezone: str,
    field: str,
) -> None:
    team = new_team(engine)
    before = _org(engine, team.ctx)

    with pytest.raises(ValidationFailed) as refused, session_scope(team.ctx, engine=engine) as s:
        tenancy.update_organization(s, ctx=team.ctx, name=name, timezone=timezone)

    assert refused.value.details["field"] == field
    assert _org(engine, team.ctx) == before


def test_staff_cannot_change_the_organization(engine: Engine) -> None:
    team = new_team(engine)
    staff = team.as_role(Role.STAFF)
    before = _org(engine, team.ctx)

    with pytest.raises(PermissionDenied), session_scope(staff, engine=engine) as session:
        tenancy.update_organization(session, ctx=staff, name="Mine", timezone="UTC")

    assert _org(engine, team.ctx) == before
