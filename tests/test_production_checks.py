"""What every production process checks before it serves (`storesync run` and `storesync
worker`): marketplace hosts that are the platforms' (a sandbox only when a setting says so), a
database at the newest revision, and an app role that row-level security binds; each refusal
names the setting that changes it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from storesync.cli import CliError, check_production
from storesync.db import UnsafeDatabaseRole
from storesync.settings import PLATFORM_HOSTS, Settings, build_settings
from tests.conftest import PG_ADMIN_URL, PgDatabase

pytestmark = pytest.mark.postgres


def _production(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    return build_settings(
        var_dir=tmp_path,
        env="production",
        database_url=database_url,
        fernet_keys=Fernet.generate_key().decode(),
        **overrides,
    )


def test_production_talks_to_the_platforms_and_refuses_a_sandbox_it_was_not_told_of(
    tmp_path: Path, pg: PgDatabase
) -> None:
    platforms = _production(tmp_path, pg.app_url)
    sandbox = {
        "shopee_base_url": "http://127.0.0.1:8100/shopee",
        "tiktok_base_url": "http://127.0.0.1:8100/tiktok",
    }
    told = _production(tmp_path, pg.app_url, sandbox_marketplaces=True, **sandbox)
    embedded = build_settings(var_dir=tmp_path)

    assert (
        platforms.shopee_base_url,
        platforms.tiktok_base_url,
        platforms.tiktok_auth_base_url,
    ) == (PLATFORM_HOSTS["shopee"], PLATFORM_HOSTS["tiktok"], PLATFORM_HOSTS["tiktok_auth"])
    assert embedded.shopee_base_url == "http://127.0.0.1:3000/sandbox/shopee"
    check_production(platforms)  # the app role, the newest revision: it may serve
    check_production(told)
    with pytest.raises(CliError) as refused:
        check_production(_production(tmp_path, pg.app_url, **sandbox))
    assert str(refused.value) == (
        "STORESYNC_SHOPEE_BASE_URL, STORESYNC_TIKTOK_BASE_URL point at this machine (a sandbox) "
        "in production mode: set them to the marketplaces' hosts (or leave them unset for the "
        "platforms' own), or set STORESYNC_SANDBOX_MARKETPLACES=1 if the sandbox is intended"
    )


def test_a_role_that_cannot_read_the_migrations_or_bypasses_rls_is_refused_by_name(
    tmp_path: Path, pg: PgDatabase
) -> None:
    stranger = f"storesync_stranger_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(pg.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE ROLE {stranger} LOGIN NOSUPERUSER NOBYPASSRLS"))
        connection.execute(sa.text(f"GRANT CONNECT ON DATABASE {pg.name} TO {stranger}"))
    stranger_url = sa.make_url(pg.app_url).set(username=stranger).render_as_string(False)
    superuser_url = sa.make_url(PG_ADMIN_URL).set(database=pg.name).render_as_string(False)
    try:
        with pytest.raises(CliError) as denied:
            check_production(_production(tmp_path, stranger_url))
        with pytest.raises(UnsafeDatabaseRole) as unsafe:
            check_production(_production(tmp_path, superuser_url))
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP OWNED BY {stranger}"))
            connection.execute(sa.text(f"DROP ROLE {stranger}"))
        admin.dispose()

    assert "permission denied for table alembic_version" in str(denied.value)
    assert "STORESYNC_DB_APP_ROLE ('storesync_app')" in str(denied.value)
    assert "is a superuser" in str(unsafe.value)
    assert "STORESYNC_DB_APP_ROLE" in str(unsafe.value)
