"""One behaviour, two stores: every assertion runs on local disk and on S3 (moto)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from storesync.core.errors import ErrorType, NotFound, ValidationFailed
from storesync.storage import (
    LocalStorage,
    ObjectNotFound,
    Storage,
    StorageUnavailable,
    StoredObject,
    product_image_key,
)
from storesync.storage.s3 import S3Storage, S3Target
from tests.storage.conftest import ACCESS_KEY, BUCKET, SECRET, S3Server, free_port


def _key(name: str = "image.webp") -> str:
    return f"{uuid.uuid4()}/products/{uuid.uuid4()}/{name}"


def test_what_is_put_comes_back_with_its_content_type(storage: Storage) -> None:
    key = _key()

    storage.put(key, b"RIFF....WEBPVP8 ", "image/webp")

    assert storage.get(key) == StoredObject(data=b"RIFF....WEBPVP8 ", content_type="image/webp")
    assert storage.get(key).size == 16
    assert isinstance(storage, Storage)


def test_a_second_put_replaces_the_object_and_its_content_type(storage: Storage) -> None:
    key = _key("logo")
    storage.put(key, b"first version, longer than the second", "image/png")

    storage.put(key, b"second", "image/webp")

    assert storage.get(key) == StoredObject(data=b"second", content_type="image/webp")


def test_exists_and_delete_and_deleting_twice_is_fine(storage: Storage) -> None:
    key, neighbour = _key(), _key()
    storage.put(key, b"x", "image/webp")
    storage.put(neighbour, b"y", "image/webp")
    assert storage.exists(key) and storage.exists(neighbour)

    storage.delete(key)
    storage.delete(key)  # idempotent
    storage.delete(_key())  # never existed

    assert not storage.exists(key)
    assert storage.get(neighbour).data == b"y"  # nothing else went


def test_a_missing_key_is_a_not_found_error_naming_the_key(storage: Storage) -> None:
    key = _key()

    with pytest.raises(ObjectNotFound) as raised:
        storage.get(key)

    assert isinstance(raised.value, NotFound)
    assert raised.value.type is ErrorType.NOT_FOUND
    assert raised.value.code == "object_not_found"
    assert raised.value.details["id"] == key
    assert not storage.exists(key)


def test_a_directory_of_keys_is_not_itself_an_object(storage: Storage) -> None:
    key = _key()
    storage.put(key, b"x", "image/webp")
    folder = key.rpartition("/")[0]

    assert not storage.exists(folder)
    with pytest.raises(ObjectNotFound):
        storage.get(folder)


BAD_KEYS = [
    "",
    "/etc/passwd",
    "../outside.webp",
    "org/../../outside.webp",
    "org/./image.webp",
    "org//image.webp",
    "org/image.webp/",
    "org\\image.webp",
    "org/.image.webp.meta",
    "org/.hidden",
    "org/ima ge.webp",
    "org/image.webp?x=1",
    "org/ümlaut.webp",
    "org/new\nline",
    "org/" + "a" * 129,
    "a/" * 300 + "b",
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_before_the_store_is_touched(storage: Storage, key: str) -> None:
    for attempt in (
        lambda: storage.put(key, b"x", "image/webp"),
        lambda: storage.get(key),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
    ):
        with pytest.raises(ValidationFailed) as raised:
            attempt()
        assert raised.value.details["field"] == "key"


@pytest.mark.parametrize("content_type", ["", "webp", "image/webp\r\nX-Evil: 1", "text/html; x"])
def test_bad_content_types_are_refused(storage: Storage, content_type: str) -> None:
    key = _key()

    with pytest.raises(ValidationFailed) as raised:
        storage.put(key, b"x", content_type)

    assert raised.value.details["field"] == "content_type"
    assert not storage.exists(key)


def test_a_large_object_round_trips_intact(storage: Storage) -> None:
    key, data = _key("big.bin"), os.urandom(6 * 1024 * 1024 + 17)

    storage.put(key, data, "application/octet-stream")

    back = storage.get(key)
    assert back.data == data
    assert back.content_type == "application/octet-stream"


def test_product_image_keys_are_valid_keys_under_the_organization() -> None:
    org, product, image = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    full = product_image_key(organization_id=org, product_id=product, image_id=image)
    thumb = product_image_key(
        organization_id=org, product_id=product, image_id=image, thumbnail=True
    )

    assert full == f"{org}/products/{product}/{image}.webp"
    assert thumb == f"{org}/products/{product}/{image}.thumb.webp"


# Local disk


def test_local_files_are_written_whole_and_leave_no_temporary_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    key = _key()

    storage.put(key, b"one", "image/webp")
    storage.put(key, b"two", "image/png")

    path = tmp_path / "media" / key
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in path.parent.iterdir()) == [f".{path.name}.meta", path.name]
    storage.delete(key)
    assert list(path.parent.iterdir()) == []


def test_a_local_file_put_there_by_hand_gets_a_content_type_from_its_name(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "photo.png").write_bytes(b"png")
    (tmp_path / "org" / "blob").write_bytes(b"?")

    assert storage.get("org/photo.png").content_type == "image/png"
    assert storage.get("org/blob").content_type == "application/octet-stream"


# S3


def test_s3_keys_live_under_the_prefix_in_the_bucket(s3_server: S3Server) -> None:
    prefix = f"run-{uuid.uuid4().hex[:8]}/media"
    storage = S3Storage.from_url(s3_server.url(prefix))
    key = _key()

    storage.put(key, b"bytes", "image/webp")

    stored = s3_server.client().get_object(Bucket=BUCKET, Key=f"{prefix}/{key}")
    assert stored["Body"].read() == b"bytes"
    assert stored["ContentType"] == "image/webp"


def test_the_s3_url_becomes_endpoint_bucket_prefix_and_credentials(s3_server: S3Server) -> None:
    target = S3Target.from_url(s3_server.url("a/b"))

    assert target.endpoint_url == s3_server.endpoint
    assert (target.bucket, target.prefix, target.region) == (BUCKET, "a/b", "us-east-1")
    assert (target.access_key, target.secret_key) == (ACCESS_KEY, SECRET)
    assert SECRET not in repr(target)
    assert S3Target.from_url("s3://k:s@s3.example.com/b-1?region=eu-west-1").endpoint_url == (
        "https://s3.example.com"
    )


def test_an_unreachable_s3_server_is_a_retryable_error_without_the_secret() -> None:
    url = f"s3://{ACCESS_KEY}:topsecret@127.0.0.1:{free_port()}/{BUCKET}?secure=false"
    storage = S3Storage.from_url(url)

    with pytest.raises(StorageUnavailable) as raised:
        storage.get(_key())

    assert raised.value.retryable
    assert raised.value.code == "storage_unavailable"
    assert "STORESYNC_STORAGE_URL" in raised.value.message
    assert "topsecret" not in str(raised.value.to_dict())
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_missing_bucket_is_an_error_not_a_missing_object(s3_server: S3Server) -> None:
    storage = S3Storage.from_url(s3_server.url(bucket="no-such-bucket"))

    with pytest.raises(StorageUnavailable) as raised:
        storage.put(_key(), b"x", "image/webp")

    assert not raised.value.retryable
    assert "NoSuchBucket" in raised.value.message


def test_https_against_a_plain_http_endpoint_says_so_and_is_not_retryable(
    s3_server: S3Server,
) -> None:
    storage = S3Storage.from_url(s3_server.url().replace("?secure=false", ""))

    with pytest.raises(StorageUnavailable) as raised:
        storage.exists(_key())

    assert not raised.value.retryable
    assert "secure=false" in raised.value.message
