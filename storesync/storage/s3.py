"""Objects in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Wasabi, ...) through boto3.

Path-style addressing (`host/bucket/key`), so any endpoint works without wildcard DNS; short
connect and read timeouts with botocore's standard retry mode (3 attempts, backoff with jitter,
throttling and 5xx answers retried). Checksums only where a request needs them: several S3-like
servers refuse the newer default ones. The secret stays in `S3Target` (hidden from its repr) and
goes only to boto3: logs and errors name the endpoint and bucket, never the URL.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from storesync.settings import check_storage_url
from storesync.storage.errors import ObjectNotFound, StorageUnavailable
from storesync.storage.keys import check_content_type, check_key
from storesync.storage.protocol import StoredObject

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0
ATTEMPTS = 3
_MISSING = {"404", "NoSuchKey", "NotFound"}
_TEMPORARY = {"SlowDown", "RequestTimeout", "Throttling", "ServiceUnavailable", "InternalError"}


@dataclass(frozen=True)
class S3Target:
    """Where the objects live: endpoint, bucket, an optional key prefix, credentials."""

    endpoint_url: str
    bucket: str
    prefix: str = ""
    region: str = "us-east-1"
    access_key: str = ""
    secret_key: str = field(default="", repr=False)

    @classmethod
    def from_url(cls, url: str) -> S3Target:
        """`s3://[key:secret@]host[:port]/bucket[/prefix][?secure=false][&region=...]` (key
        and secret percent-encoded); HTTPS unless `secure=false`."""
        parts = urlsplit(check_storage_url(url))
        query = parse_qs(parts.query)
        secure = query.get("secure", ["true"])[-1].lower() in ("true", "1")
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port else ""
        bucket, _, prefix = parts.path.strip("/").partition("/")
        return cls(
            endpoint_url=f"{'https' if secure else 'http'}://{host}{port}",
            bucket=bucket,
            prefix=prefix.strip("/"),
            region=query.get("region", ["us-east-1"])[-1],
            access_key=unquote(parts.username or ""),
            secret_key=unquote(parts.password or ""),
        )

    @property
    def where(self) -> str:
        return f"{self.endpoint_url}/{self.bucket}"


class S3Storage:
    """`Storage` in one bucket, every key under `target.prefix` when it has one."""

    def __init__(self, target: S3Target, *, client: Any = None) -> None:
        self.target = target
        self._client = client or _make_client(target)

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        return cls(S3Target.from_url(url))

    def __repr__(self) -> str:
        return f"S3Storage({self.target.where!r}, prefix={self.target.prefix!r})"

    def put(self, key: str, data: bytes, content_type: str) -> None:
        name = self._name(key)
        content_type = check_content_type(content_type)
        with self._translated("store", key):
            self._client.put_object(
                Bucket=self.target.bucket, Key=name, Body=bytes(data), ContentType=content_type
            )

    def get(self, key: str) -> StoredObject:
        name = self._name(key)
        with self._translated("read", key):
            answer = self._client.get_object(Bucket=self.target.bucket, Key=name)
            with answer["Body"] as body:
                data = body.read()
        content_type = answer.get("ContentType") or "application/octet-stream"
        return StoredObject(data=data, content_type=content_type)

    def delete(self, key: str) -> None:
        name = self._name(key)
        with self._translated("delete", key):
            self._client.delete_object(Bucket=self.target.bucket, Key=name)

    def exists(self, key: str) -> bool:
        name = self._name(key)
        try:
            with self._translated("check", key):
                self._client.head_object(Bucket=self.target.bucket, Key=name)
        except ObjectNotFound:
            return False
        return True

    def _name(self, key: str) -> str:
        key = check_key(key)
        return f"{self.target.prefix}/{key}" if self.target.prefix else key

    @contextlib.contextmanager
    def _translated(self, operation: str, key: str) -> Iterator[None]:
        """botocore's errors as ours, translated once."""
        try:
            yield
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code in _MISSING or (status == 404 and code != "NoSuchBucket"):
                raise ObjectNotFound(key) from None
            temporary = status >= 500 or status == 429 or code in _TEMPORARY
            self._fail(operation, key, f"the server answered {status or '?'} {code}", temporary)
        except BotoCoreError as error:
            self._fail(operation, key, *_reason(error))

    def _fail(self, operation: str, key: str, reason: str, temporary: bool) -> NoReturn:
        where = self.target.where
        log.warning("storage: could not %s %s at %s: %s", operation, key, where, reason)
        raise StorageUnavailable(
            where=where, operation=operation, reason=reason.rstrip(), retryable=temporary
        ) from None


def _reason(error: BotoCoreError) -> tuple[str, bool]:
    """What went wrong below HTTP, in words fit for a log line, and whether it may pass."""
    if isinstance(error, SSLError):
        return "TLS failed (use ?secure=false for a plain HTTP endpoint)", False
    if isinstance(error, BotoConnectionError):
        return f"cannot connect ({type(error).__name__})", True
    if isinstance(error, HTTPClientError | IncompleteReadError):
        return f"the connection broke ({type(error).__name__})", True
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return "no access key and secret (give them in the URL or the AWS environment)", False
    return f"the request failed ({type(error).__name__})", False


def _make_client(target: S3Target) -> Any:
    config = Config(
        region_name=target.region,
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"max_attempts": ATTEMPTS, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        user_agent_extra="storesync",
    )
    credentials = (
        {"aws_access_key_id": target.access_key, "aws_secret_access_key": target.secret_key}
        if target.access_key
        else {}
    )
    # A session of its own: the process-wide default session is not safe to share.
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=target.endpoint_url, config=config, **credentials)
