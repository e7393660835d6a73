"""Which store a process uses (`get_storage`), and the storage URL setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from storesync.core.errors import ErrorType
from storesync.settings import Settings, SettingsError, build_settings
from storesync.storage import LocalStorage, StorageNotConfigured, get_storage
from storesync.storage.s3 import S3Storage
from tests.storage.conftest import BUCKET, S3Server


def _production(tmp_path: Path, **overrides: Any) -> Settings:
    return build_settings(
        var_dir=tmp_path,
        env="production",
        database_url="postgresql+psycopg://app@127.0.0.1:5432/storesync",
        fernet_keys=Fernet.generate_key().decode(),
        **overrides,
    )


def test_embedded_mode_keeps_files_under_var_media_and_reuses_the_store(tmp_path: Path) -> None:
    settings = build_settings(var_dir=tmp_path)

    storage = get_storage(settings)

    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "media").resolve()
    assert get_storage(settings) is storage
    storage.put("org/a.webp", b"x", "image/webp")
    assert (tmp_path / "media" / "org" / "a.webp").read_bytes() == b"x"


def test_production_without_a_storage_url_refuses_at_use_naming_the_setting(
    tmp_path: Path,
) -> None:
    settings = _production(tmp_path)  # starts: only storing a file needs the setting

    with pytest.raises(StorageNotConfigured) as raised:
        get_storage(settings)

    assert raised.value.type is ErrorType.INTERNAL
    assert "STORESYNC_STORAGE_URL" in raised.value.message
    assert not (tmp_path / "media").exists()


def test_a_storage_url_means_that_bucket_in_either_mode(
    tmp_path: Path, s3_server: S3Server
) -> None:
    for settings in (
        build_settings(var_dir=tmp_path, storage_url=s3_server.url("prod")),
        _production(tmp_path, storage_url=s3_server.url("prod")),
    ):
        storage = get_storage(settings)

        assert isinstance(storage, S3Storage)
        assert (storage.target.bucket, storage.target.prefix) == (BUCKET, "prod")
        assert get_storage(settings) is storage
        storage.put("org/a.webp", b"x", "image/webp")
        assert storage.get("org/a.webp").data == b"x"


@pytest.mark.parametrize(
    "url",
    [
        "s3://minio:9000/bucket",
        "s3://KEY:SECRET@minio:9000/bucket/media/images?secure=false",
        "s3://KEY:SECRET@s3.eu-west-1.amazonaws.com/my.bucket-1?region=eu-west-1",
        "s3://KEY:se%2Fcr%2Bet@[::1]:9000/bucket",
    ],
)
def test_good_storage_urls_are_accepted(tmp_path: Path, url: str) -> None:
    assert build_settings(var_dir=tmp_path, storage_url=url).storage_url == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://KEY:SECRETVALUE@minio:9000/bucket", "must start with s3://"),
        ("s3://KEY:SECRETVALUE@/bucket", "needs a host"),
        ("s3://KEY:SECRETVALUE@minio:port/bucket", "port that is not a number"),
        ("s3://KEY:SECRETVALUE@minio:9000", "needs a bucket"),
        ("s3://KEY:SECRETVALUE@minio:9000/Bad_Bucket", "needs a bucket"),
        ("s3://KEY@minio:9000/bucket", "both an access key and a secret"),
        ("s3://KEY:SECRETVALUE@minio:9000/bucket/../x", "prefix"),
        ("s3://KEY:SECRETVALUE@minio:9000/bucket?secure=maybe", "secure must be true or false"),
        ("s3://KEY:SECRETVALUE@minio:9000/bucket?tls=1", "not tls"),
        ("s3://KEY:SECRETVALUE@minio:9000/bucket?region=EU%20West", "region"),
    ],
)
def test_bad_storage_urls_stop_the_start_naming_the_setting_not_the_secret(
    tmp_path: Path, url: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        build_settings(var_dir=tmp_path, storage_url=url)

    message = str(raised.value)
    assert message.startswith("STORESYNC_STORAGE_URL: ")
    assert problem in message
    assert "SECRETVALUE" not in message


def test_importing_the_package_does_not_load_boto3() -> None:
    """Embedded mode and the workers never pay for boto3's import."""
    code = "import sys, storesync.storage, storesync.storage.images; print('boto3' in sys.modules)"

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "False"
