"""Run Alembic from code (CLI, embedded start, tests) against a URL or an open connection."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from storesync.db import make_engine
from storesync.settings import PROJECT_ROOT, get_settings


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _run(action: str, revision: str, url: str | None) -> None:
    engine = make_engine(url or get_settings().migration_database_url)
    try:
        with engine.begin() as connection:
            getattr(command, action)(alembic_config(connection), revision)
    finally:
        engine.dispose()


def upgrade(revision: str = "head", *, url: str | None = None) -> None:
    """Migrate the database at `url` (default: the migration URL from settings) up."""
    _run("upgrade", revision, url)


def downgrade(revision: str = "base", *, url: str | None = None) -> None:
    _run("downgrade", revision, url)


def current_revision(url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url or get_settings().migration_database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
