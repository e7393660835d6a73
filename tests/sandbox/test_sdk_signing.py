"""Clients built from the platforms' published documentation, given only the sandbox's base URL
(`http://127.0.0.1:<port>/shopee`, `.../tiktok`), work unmodified against the standalone sandbox.

Such a client joins its base URL and the documented path and signs the path it sends, mount
prefix included (`/shopee/api/v2/shop/get_shop_info`); StoreSync's own adapters sign the
platform's path without it. The sandbox accepts both, and nothing else. The signing below is
written out from the documentation, independently of `storesync.sandbox`."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.sandbox.conftest import RunningSandbox


class ShopeeSdk:
    """Shopee Open Platform v2 as documented: `sign` = HMAC-SHA256(partner_key, partner_id +
    path + timestamp [+ access_token + shop_id]), the path being the URL's path."""

    def __init__(self, base_url: str, partner_id: int, partner_key: str) -> None:
        self.base_url, self.partner_id, self.partner_key = base_url, partner_id, partner_key
        self.http = httpx.Client(timeout=10)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        token: str = "",
        shop_id: int = 0,
        signed_path: str | None = None,
    ) -> dict[str, Any]:
        url = self.base_url + path
        timestamp = int(time.time())
        base = f"{self.partner_id}{signed_path or urlsplit(url).path}{timestamp}"
        params: dict[str, Any] = {"partner_id": self.partner_id, "timestamp": timestamp}
        if token:
            base += f"{token}{shop_id}"
            params.update(access_token=token, shop_id=shop_id)
        params["sign"] = hmac.new(
            self.partner_key.encode(), base.encode(), hashlib.sha256
        ).hexdigest()
        answer = self.http.request(method, url, params=params, json=body)
        return dict(answer.json())


class TikTokSdk:
    """TikTok Shop Partner API (202309) as documented: `sign` = hex HMAC-SHA256(app_secret,
    app_secret + path + sorted `{key}{value}` of the query but sign and access_token + body +
    app_secret), the path being the URL's path."""

    def __init__(self, base_url: str, app_key: str, app_secret: str) -> None:
        self.base_url, self.app_key, self.app_secret = base_url, app_key, app_secret
        self.http = httpx.Client(timeout=10)

    def call(
        self, method: str, path: str, *, token: str, signed_path: str | None = None
    ) -> dict[str, Any]:
        url = self.base_url + path
        query = {"app_key": self.app_key, "timestamp": str(int(time.time()))}
        pairs = "".join(f"{k}{query[k]}" for k in sorted(query))
        message = self.app_secret + (signed_path or urlsplit(url).path) + pairs + self.app_secret
        query["sign"] = hmac.new(
            self.app_secret.encode(), message.encode(), hashlib.sha256
        ).hexdigest()
        answer = self.http.request(method, url, params=query, headers={"x-tts-access-token": token})
        return dict(answer.json())


def _control(running: RunningSandbox, path: str, **body: Any) -> Any:
    with httpx.Client(base_url=f"{running.base_url}/sandbox", timeout=10) as client:
        answer = client.post(path, json=body) if body else client.get(path)
    answer.raise_for_status()
    return answer.json()


@pytest.fixture
def apps(running_sandbox: RunningSandbox) -> dict[str, Any]:
    return dict(_control(running_sandbox, "/apps"))


def test_a_shopee_client_that_signs_the_path_it_sends_works(
    running_sandbox: RunningSandbox, apps: dict[str, Any]
) -> None:
    app = apps["shopee"]
    sdk = ShopeeSdk(f"{running_sandbox.base_url}/shopee", app["partner_id"], app["partner_key"])
    code = _control(running_sandbox, "/authorize", platform="shopee")
    shop_id = int(code["shop_id"])

    tokens = sdk.call(
        "POST",
        "/api/v2/auth/token/get",
        body={"code": code["code"], "shop_id": shop_id, "partner_id": app["partner_id"]},
    )
    assert tokens.get("error", "") == "" and tokens["access_token"], tokens
    info = sdk.call(
        "GET", "/api/v2/shop/get_shop_info", token=tokens["access_token"], shop_id=shop_id
    )
    assert info.get("error", "") == "" and info["shop_name"], info

    # The platform's own path (StoreSync's adapters) still works; any other path is refused.
    own = sdk.call(
        "GET",
        "/api/v2/shop/get_shop_info",
        token=tokens["access_token"],
        shop_id=shop_id,
        signed_path="/api/v2/shop/get_shop_info",
    )
    assert own.get("error", "") == "" and own["shop_name"] == info["shop_name"]
    other = sdk.call(
        "GET",
        "/api/v2/shop/get_shop_info",
        token=tokens["access_token"],
        shop_id=shop_id,
        signed_path="/elsewhere/api/v2/shop/get_shop_info",
    )
    assert other["error"] == "error_sign"


def test_a_tiktok_client_that_signs_the_path_it_sends_works(
    running_sandbox: RunningSandbox, apps: dict[str, Any]
) -> None:
    app = apps["tiktok"]
    sdk = TikTokSdk(f"{running_sandbox.base_url}/tiktok", app["app_key"], app["app_secret"])
    code = _control(running_sandbox, "/authorize", platform="tiktok")
    tokens = httpx.get(
        f"{running_sandbox.base_url}/tiktok-auth/api/v2/token/get",
        params={
            "app_key": app["app_key"],
            "app_secret": app["app_secret"],
            "auth_code": code["code"],
            "grant_type": "authorized_code",
        },
        timeout=10,
    ).json()
    assert tokens["code"] == 0, tokens
    token = tokens["data"]["access_token"]

    shops = sdk.call("GET", "/authorization/202309/shops", token=token)
    assert shops["code"] == 0 and shops["data"]["shops"], json.dumps(shops)[:300]
    own = sdk.call(
        "GET", "/authorization/202309/shops", token=token, signed_path="/authorization/202309/shops"
    )
    assert own["code"] == 0 and own["data"] == shops["data"]
    other = sdk.call(
        "GET",
        "/authorization/202309/shops",
        token=token,
        signed_path="/x/authorization/202309/shops",
    )
    assert other["code"] != 0 and "sign" in other["message"]
