"""Alembic: up and down on empty SQLite and PostgreSQL; the models and migrations agree."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from storesync import migrate
from storesync.db import make_engine
from storesync.models import metadata
from tests.conftest import PgDatabase

MODEL_TABLES = {t.name for t in metadata.sorted_tables}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _diff(engine: Engine, target: sa.MetaData) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, target))


def _round_trip(url: str) -> None:
    migrate.upgrade(url=url)
    assert _tables(url) == MODEL_TABLES
    assert migrate.current_revision(url) == migrate.head_revision()

    migrate.downgrade("base", url=url)
    assert _tables(url) == set()
    assert migrate.current_revision(url) is None

    migrate.upgrade(url=url)
    assert _tables(url) == MODEL_TABLES


def test_upgrade_and_downgrade_on_empty_sqlite(sqlite_url: str) -> None:
    _round_trip(sqlite_url)


@pytest.mark.postgres
def test_upgrade_and_downgrade_on_empty_postgres(empty_pg: PgDatabase) -> None:
    _round_trip(empty_pg.owner_url)


def test_models_and_migrations_agree_on_sqlite(sqlite_engine: Engine) -> None:
    assert _diff(sqlite_engine, metadata) == []


@pytest.mark.postgres
def test_models_and_migrations_agree_on_postgres(pg: PgDatabase) -> None:
    engine = make_engine(pg.owner_url)
    try:
        assert _diff(engine, metadata) == []
    finally:
        engine.dispose()


def test_comparison_detects_a_model_the_migrations_lack(sqlite_engine: Engine) -> None:
    """Control: the agreement check above is able to fail."""
    drifted = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(drifted)
    sa.Table("product", drifted, sa.Column("extra_column", sa.Integer), extend_existing=True)

    diff = _diff(sqlite_engine, drifted)

    assert [d[0] for d in diff if isinstance(d, tuple)] == ["add_column"]
