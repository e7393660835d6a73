"""Adapters against the sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storesync.channels.schemas import AppCredentials
from storesync.sandbox.app import Sandbox
from storesync.sandbox.seed import SeedConfig
from storesync.sandbox.server import serve_in_thread
from storesync.settings import Settings, build_settings
from tests.sandbox.conftest import RunningSandbox, receiver, running_sandbox  # noqa: F401


@pytest.fixture(scope="module")
def big_sandbox() -> Iterator[RunningSandbox]:
    """2,000 products per shop (about 9,000 models); shared by a module, so do not mutate it
    in ways other tests of the module would notice."""
    sandbox = Sandbox(seed=SeedConfig(seed=21, products_per_shop=2000))
    with serve_in_thread(sandbox.asgi()) as base_url:
        yield RunningSandbox(base_url, sandbox)


def sandbox_settings(base_url: str, **overrides: object) -> Settings:
    """Settings whose marketplace hosts are the sandbox at `base_url`."""
    return build_settings(
        var_dir=Path(tempfile.mkdtemp(prefix="storesync-channels-")),
        shopee_base_url=f"{base_url}/shopee",
        tiktok_base_url=f"{base_url}/tiktok",
        tiktok_auth_base_url=f"{base_url}/tiktok-auth",
        **overrides,
    )


def app_credentials(base_url: str, platform: str) -> AppCredentials:
    """The sandbox's app credentials, read through its control API."""
    apps = httpx.get(f"{base_url}/sandbox/apps").json()
    if platform == "shopee":
        return AppCredentials(
            "shopee", str(apps["shopee"]["partner_id"]), apps["shopee"]["partner_key"]
        )
    tiktok = apps["tiktok"]
    return AppCredentials("tiktok", tiktok["app_key"], tiktok["app_secret"], tiktok["service_id"])
