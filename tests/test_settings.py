"""Settings: defaults, validation with one-line errors naming the variable, generated secrets."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from storesync.settings import RunMode, SettingsError, build_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_embedded_defaults_use_sqlite_under_var_and_the_mounted_sandbox(tmp_path: Path) -> None:
    settings = build_settings(var_dir=tmp_path, port=3210)

    assert settings.env is RunMode.EMBEDDED
    assert settings.database_url == f"sqlite:///{tmp_path / 'storesync.db'}"
    assert settings.migration_database_url == settings.database_url
    assert settings.redis_url is None
    assert settings.shopee_base_url == "http://127.0.0.1:3210/sandbox/shopee"
    assert settings.tiktok_base_url == "http://127.0.0.1:3210/sandbox/tiktok"


def test_embedded_generates_secrets_once_into_var_with_private_permissions(tmp_path: Path) -> None:
    first = build_settings(var_dir=tmp_path)
    second = build_settings(var_dir=tmp_path)

    assert first.fernet_key_list == second.fernet_key_list
    Fernet(first.fernet_key_list[0].encode())  # a usable key
    mode = stat.S_IMODE((tmp_path / "fernet.keys").stat().st_mode)
    assert mode == 0o600


def test_postgres_urls_are_normalised_to_psycopg(tmp_path: Path) -> None:
    settings = build_settings(var_dir=tmp_path, database_url="postgres://app@db:5432/storesync")

    assert settings.database_url == "postgresql+psycopg://app@db:5432/storesync"


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"database_url": "nonsense://"}, "STORESYNC_DATABASE_URL"),
        ({"database_url": "mysql://root@localhost/db"}, "STORESYNC_DATABASE_URL"),
        ({"migration_database_url": "not a url"}, "STORESYNC_MIGRATION_DATABASE_URL"),
        ({"redis_url": "localhost:6379"}, "STORESYNC_REDIS_URL"),
        ({"fernet_keys": "short"}, "STORESYNC_FERNET_KEYS"),
        ({"shopee_base_url": "ftp://x"}, "STORESYNC_SHOPEE_BASE_URL"),
        ({"port": 0}, "STORESYNC_PORT"),
        ({"log_level": "LOUD"}, "STORESYNC_LOG_LEVEL"),
    ],
)
def test_invalid_values_raise_one_line_naming_the_variable(
    tmp_path: Path, overrides: dict[str, object], variable: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        build_settings(var_dir=tmp_path, **overrides)

    message = str(raised.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message


def test_production_requires_database_and_keys_and_writes_no_secret_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="STORESYNC_DATABASE_URL is required"):
        build_settings(var_dir=tmp_path, env="production")
    with pytest.raises(SettingsError, match="STORESYNC_FERNET_KEYS is required"):
        build_settings(var_dir=tmp_path, env="production", database_url="postgresql://a@b/c")

    assert list(tmp_path.iterdir()) == []


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storesync.cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", [["run"], ["db", "upgrade"], ["worker"]])
def test_bad_database_url_stops_the_start_with_one_clear_line(
    tmp_path: Path, command: list[str]
) -> None:
    env = {"STORESYNC_DATABASE_URL": "nonsense://", "STORESYNC_VAR_DIR": str(tmp_path)}
    result = _cli(*command, env=env)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "storesync: invalid setting: STORESYNC_DATABASE_URL: is not a database URL "
        "(expected sqlite:///PATH or postgresql://...), got 'nonsense://'"
    ], result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "storesync.db").exists()


def test_unreachable_database_is_one_line_too(tmp_path: Path) -> None:
    result = _cli(
        "db",
        "upgrade",
        env={
            "STORESYNC_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "STORESYNC_VAR_DIR": str(tmp_path),
        },
    )

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("storesync: cannot use the database:"), lines


def test_the_readme_names_every_setting() -> None:
    """An operator reads the settings in the README: a new one must be added there too."""
    from storesync.settings import ENV_PREFIX, Settings

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [
        f"{ENV_PREFIX}{name.upper()}"
        for name in Settings.model_fields
        if f"`{ENV_PREFIX}{name.upper()}`" not in readme
    ]
    assert missing == []
