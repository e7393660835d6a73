"""Embedded mode: the app reads the sandbox's app credentials in-process. Over HTTP, an async
route of the same server (the OAuth callback) blocked the event loop that had to answer it, and
connecting a store failed with "sandbox is not reachable: ReadTimeout"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storesync.channels import apps
from storesync.core.clock import utcnow
from storesync.core.errors import AppError
from storesync.sandbox.app import Sandbox
from storesync.settings import RunMode, Settings


@pytest.fixture
def in_process_sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox(clock=utcnow)
    apps.in_process_apps = sandbox.app_credentials
    yield sandbox
    apps.in_process_apps = None


def test_credentials_come_from_the_mounted_sandbox_without_a_request(
    in_process_sandbox: Sandbox,
) -> None:
    nowhere = "http://127.0.0.1:9/sandbox"  # discard port: any request would fail
    cfg = Settings(
        env=RunMode.EMBEDDED,
        shopee_base_url=f"{nowhere}/shopee",
        tiktok_base_url=f"{nowhere}/tiktok",
    )

    shopee = apps.app_credentials("shopee", cfg)
    tiktok = apps.app_credentials("tiktok", cfg)

    expected = in_process_sandbox.state.apps
    assert (shopee.key, shopee.secret) == (expected["shopee"].key, expected["shopee"].secret)
    assert (tiktok.key, tiktok.secret) == (expected["tiktok"].key, expected["tiktok"].secret)


def test_without_a_mounted_sandbox_an_unreachable_one_is_a_clear_error() -> None:
    nowhere = "http://127.0.0.1:9/sandbox"
    cfg = Settings(env=RunMode.EMBEDDED, shopee_base_url=f"{nowhere}/shopee")

    with pytest.raises(AppError) as raised:
        apps.app_credentials("shopee", cfg)

    assert "sandbox is not reachable" in str(raised.value)
