"""The two stores under one set of tests: local disk, and S3Storage talking to a real
S3-protocol server (moto's, on a free 127.0.0.1 port in this process)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from storesync.storage import LocalStorage, Storage
from tests.conftest import unavailable

BUCKET = "storesync-test"
ACCESS_KEY = "storesync-access"
# moto checks no signature: the odd characters test the quoting of the URL.
SECRET = "se/cr+et:with@odd=chars"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class S3Server:
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, prefix: str = "", *, bucket: str = BUCKET) -> str:
        path = f"{bucket}/{prefix}" if prefix else bucket
        credentials = f"{quote(ACCESS_KEY, safe='')}:{quote(SECRET, safe='')}"
        return f"s3://{credentials}@127.0.0.1:{self.port}/{path}?secure=false"

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET,
            config=Config(s3={"addressing_style": "path"}),
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server with the test bucket; fails under CI=true when moto is missing."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:
        unavailable("moto S3 server (pip install 'moto[server]')", error)
    server = S3Server(port=free_port())
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=server.port, verbose=False)
    moto.start()
    try:
        try:
            server.client().create_bucket(Bucket=BUCKET)
        except Exception as error:
            unavailable("moto S3 server", error)
        yield server
    finally:
        moto.stop()


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """Each store, empty: a fresh folder, or a fresh prefix in the shared bucket."""
    if request.param == "local":
        return LocalStorage(tmp_path / "media")
    from storesync.storage.s3 import S3Storage

    server: S3Server = request.getfixturevalue("s3_server")
    return S3Storage.from_url(server.url(f"run-{uuid.uuid4().hex[:8]}/media"))
