"""`storesync catalog import/export` run as a user would: a subprocess on a migrated SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from storesync import migrate
from storesync.db import make_engine, session_scope
from storesync.tenancy import service as tenancy
from tests.catalog.conftest import catalog_rows, to_csv


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrate.upgrade(url=url)
    engine = make_engine(url)
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(session, email="cli@example.com", password="cli-password")
        tenancy.create_organization(session, name="CLI Shop", owner_user_id=user.id)
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORESYNC_")}
    return {**env, "STORESYNC_DATABASE_URL": url, "STORESYNC_VAR_DIR": str(tmp_path)}


def storesync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storesync.cli", "catalog", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_with_bad_rows_exits_1_prints_them_and_writes_nothing(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    rows = catalog_rows(6)
    rows[1]["price"] = "-1"
    rows[4]["stock:MAIN"] = "lots"
    source = tmp_path / "catalog.csv"
    source.write_text(to_csv(rows))

    failed = storesync(cli_env, "import", str(source))
    exported = storesync(cli_env, "export")

    assert failed.returncode == 1
    assert failed.stdout.splitlines()[:2] == [
        "row 2, column price: must not be negative",
        "row 5, column stock:MAIN: 'lots' is not a whole number",
    ]
    assert "6 rows read, 2 bad" in failed.stdout
    assert exported.returncode == 0
    assert len(exported.stdout.splitlines()) == 1  # header only


def test_skip_invalid_dry_run_and_export(cli_env: dict[str, str], tmp_path: Path) -> None:
    rows = catalog_rows(6)
    rows[1]["price"] = "-1"
    source = tmp_path / "catalog.csv"
    source.write_text(to_csv(rows))

    dry = storesync(cli_env, "import", str(source), "--dry-run", "--skip-invalid")
    imported = storesync(cli_env, "import", str(source), "--skip-invalid")
    again = storesync(cli_env, "import", str(source), "--skip-invalid")
    output = tmp_path / "out.csv"
    to_file = storesync(cli_env, "export", "--output", str(output))
    to_stdout = storesync(cli_env, "export")

    assert dry.returncode == 0
    assert "variants: 5 created" in dry.stdout and "(would be written)" in dry.stdout
    assert imported.returncode == 0
    assert "row 2, column price: must not be negative" in imported.stdout
    assert "variants: 5 created" in imported.stdout
    assert "variants: 0 created, 0 updated, 5 unchanged" in again.stdout
    assert to_file.returncode == 0 and to_stdout.returncode == 0
    assert output.read_text() == to_stdout.stdout
    assert len(to_stdout.stdout.splitlines()) == 1 + 5


def test_unknown_organization_is_one_clear_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "catalog.csv"
    source.write_text(to_csv(catalog_rows(1)))

    result = storesync(cli_env, "import", str(source), "--org", "no-such-shop")

    assert result.returncode == 2
    assert result.stderr.startswith("storesync: ")
    assert result.stdout == ""
