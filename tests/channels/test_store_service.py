"""Store service against the sandbox over HTTP, with SQLite: connect through OAuth, sealed
credentials, disconnect, refresh, health, metrics, key rotation, permissions, and logs free of
secrets."""

from __future__ import annotations

import asyncio
import logging
import uuid

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine

from storesync.channels import connections
from storesync.channels.models import Store
from storesync.channels.resilience import breaker_for
from storesync.core.errors import AppError, ErrorType, PermissionDenied
from storesync.db import session_scope
from storesync.stores import service as stores
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.channels.conftest import app_credentials, connect_store, make_org, sandbox_settings
from tests.sandbox.conftest import RunningSandbox

PLATFORMS = ["shopee", "tiktok"]


def _raw_store(engine: Engine, ctx: RequestContext, store_id: uuid.UUID) -> Store:
    with session_scope(ctx, engine=engine) as session:
        store = session.get(Store, store_id)
        assert store is not None
        session.expunge(store)
        return store


@pytest.mark.parametrize("platform", PLATFORMS)
def test_connect_through_oauth_seals_the_credentials(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, platform: str
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)

    store_id = connect_store(sqlite_engine, ctx, platform, cfg)

    raw = _raw_store(sqlite_engine, ctx, store_id)
    live = [t for t in running_sandbox.state.tokens.values() if t.platform == platform]
    assert len(live) == 1 and raw.platform_store_id == live[0].shop_id
    assert raw.status == "connected" and raw.token_expires_at is not None
    assert raw.credentials_encrypted and live[0].access_token not in raw.credentials_encrypted
    assert live[0].refresh_token not in raw.credentials_encrypted
    with session_scope(ctx, engine=sqlite_engine) as session:
        dto = stores.get_store(session, ctx=ctx, store_id=store_id)
        health = asyncio.run(
            stores.check_health(ctx=ctx, store_id=store_id, settings=cfg, engine=sqlite_engine)
        )
        metrics = stores.store_metrics(session, ctx=ctx, store_id=store_id)
    assert (
        "credentials" not in dto.model_dump_json()
        and live[0].access_token not in dto.model_dump_json()
    )
    assert health.ok and health.token_valid and health.reachable and health.circuit == "closed"
    assert health.latency_ms is not None and health.latency_ms > 0
    assert (metrics.listings, metrics.orders_24h, metrics.sync_error_rate) == (0, 0, 0.0)


def test_the_same_shop_cannot_join_two_organizations(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    first, second = make_org(sqlite_engine), make_org(sqlite_engine)
    connect_store(sqlite_engine, first, "shopee", cfg)

    with pytest.raises(AppError) as raised:
        connect_store(sqlite_engine, second, "shopee", cfg)

    assert raised.value.code == "shop_connected_elsewhere"
    with session_scope(second, engine=sqlite_engine) as session:
        assert stores.list_stores(session, ctx=second) == []


def test_reconnecting_updates_the_same_store(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    first = connect_store(sqlite_engine, ctx, "tiktok", cfg)
    sealed = _raw_store(sqlite_engine, ctx, first).credentials_encrypted

    again = connect_store(sqlite_engine, ctx, "tiktok", cfg)

    assert again == first
    assert _raw_store(sqlite_engine, ctx, first).credentials_encrypted != sealed
    with session_scope(ctx, engine=sqlite_engine) as session:
        assert len(stores.list_stores(session, ctx=ctx)) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
def test_disconnect_deletes_the_credentials(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, platform: str
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, ctx, platform, cfg)

    with session_scope(ctx, engine=sqlite_engine) as session:
        dto = stores.disconnect(session, ctx=ctx, store_id=store_id)
    with session_scope(ctx, engine=sqlite_engine) as session:
        health = asyncio.run(
            stores.check_health(ctx=ctx, store_id=store_id, settings=cfg, engine=sqlite_engine)
        )
        with pytest.raises(AppError) as raised:
            connections.open_adapter(session, ctx=ctx, store_id=store_id, settings=cfg)

    raw = _raw_store(sqlite_engine, ctx, store_id)
    assert dto.status == "disconnected"
    assert (raw.credentials_encrypted, raw.token_expires_at) == (None, None)
    assert raised.value.code == "store_disconnected"
    assert not health.ok and not health.token_valid


@pytest.mark.parametrize("platform", PLATFORMS)
def test_refresh_is_proactive_and_rotation_is_persisted(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, platform: str
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, ctx, platform, cfg)
    before = _raw_store(sqlite_engine, ctx, store_id)

    with session_scope(ctx, engine=sqlite_engine) as session:
        not_due = asyncio.run(
            stores.refresh_credentials(session, ctx=ctx, store_id=store_id, settings=cfg)
        )
    unchanged = _raw_store(sqlite_engine, ctx, store_id)
    with session_scope(ctx, engine=sqlite_engine) as session:
        asyncio.run(
            stores.refresh_credentials(
                session, ctx=ctx, store_id=store_id, force=True, settings=cfg
            )
        )
    after = _raw_store(sqlite_engine, ctx, store_id)

    assert not_due.token_expires_at == before.token_expires_at
    assert unchanged.credentials_encrypted == before.credentials_encrypted
    assert after.credentials_encrypted != before.credentials_encrypted
    assert after.token_expires_at is not None and after.status == "connected"
    with session_scope(ctx, engine=sqlite_engine) as session:
        health = asyncio.run(
            stores.check_health(ctx=ctx, store_id=store_id, settings=cfg, engine=sqlite_engine)
        )
    assert health.ok  # the rotated tokens work


def test_keys_rotate_re_encrypts_under_the_new_key(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, ctx, "shopee", cfg)
    new_key = Fernet.generate_key().decode()
    rotated_cfg = cfg.model_copy(update={"fernet_keys": f"{new_key},{cfg.fernet_keys}"})

    with session_scope(ctx, engine=sqlite_engine) as session:
        count = connections.rotate_credentials(session, ctx=ctx, settings=rotated_cfg)
    only_new = cfg.model_copy(update={"fernet_keys": new_key})

    raw = _raw_store(sqlite_engine, ctx, store_id)
    assert count == 1
    assert connections.open_credentials(raw, only_new).shop_id == raw.platform_store_id
    with pytest.raises(AppError, match="cannot be decrypted"):
        connections.open_credentials(
            raw, cfg.model_copy(update={"fernet_keys": Fernet.generate_key().decode()})
        )


@pytest.mark.parametrize("role", [Role.VIEWER, Role.STAFF])
def test_only_admins_manage_stores(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, role: Role
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    owner = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, owner, "shopee", cfg)
    ctx = RequestContext(owner.user_id, owner.organization_id, role)

    with pytest.raises(PermissionDenied):
        stores.connect_url(ctx, platform="shopee", callback_url="http://x/cb", settings=cfg)
    with pytest.raises(PermissionDenied), session_scope(ctx, engine=sqlite_engine) as session:
        stores.disconnect(session, ctx=ctx, store_id=store_id)
    with pytest.raises(PermissionDenied), session_scope(ctx, engine=sqlite_engine) as session:
        connections.rotate_credentials(session, ctx=ctx, settings=cfg)

    assert _raw_store(sqlite_engine, owner, store_id).status == "connected"


def test_no_token_or_secret_reaches_the_logs(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    caplog.set_level(logging.DEBUG)

    ids = [connect_store(sqlite_engine, ctx, platform, cfg) for platform in PLATFORMS]
    for store_id in ids:
        with session_scope(ctx, engine=sqlite_engine) as session:
            asyncio.run(
                stores.refresh_credentials(
                    session, ctx=ctx, store_id=store_id, force=True, settings=cfg
                )
            )
        with session_scope(ctx, engine=sqlite_engine) as session:
            health = asyncio.run(
                stores.check_health(ctx=ctx, store_id=store_id, settings=cfg, engine=sqlite_engine)
            )
        assert health.ok, health
    httpx.post(f"{running_sandbox.base_url}/sandbox/tokens/expire", json={"platform": "shopee"})
    with session_scope(ctx, engine=sqlite_engine) as session:
        asyncio.run(
            stores.check_health(ctx=ctx, store_id=ids[0], settings=cfg, engine=sqlite_engine)
        )

    state = running_sandbox.state
    secrets = [a.secret for a in state.apps.values()]
    secrets += [t.access_token for t in state.tokens.values()]
    secrets += [t.refresh_token for t in state.tokens.values()]
    secrets += [c.code for c in state.codes.values()]
    secrets += [*cfg.fernet_key_list]
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert caplog.records, "the scenario must log something for this test to mean anything"
    assert len(secrets) >= 10
    assert [s for s in secrets if s and s in text] == []
    with session_scope(ctx, engine=sqlite_engine) as session:
        sealed = session.execute(sa.select(Store.credentials_encrypted)).scalars().all()  # type: ignore[call-overload]
    assert all(s and not any(t in s for t in secrets) for s in sealed)


def test_bad_platform_is_a_validation_error(running_sandbox: RunningSandbox) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = RequestContext(uuid.uuid4(), uuid.uuid4(), Role.OWNER)
    with pytest.raises(AppError) as raised:
        stores.connect_url(ctx, platform="lazada", callback_url="http://x/cb", settings=cfg)
    assert raised.value.type is ErrorType.VALIDATION


def _reseal(
    engine: Engine, ctx: RequestContext, store_id: uuid.UUID, cfg: object, **changes: str
) -> None:
    """The store's credentials with `changes` (a token the platform no longer accepts, another
    shop's id), sealed as StoreSync keeps them."""
    with session_scope(ctx, engine=engine) as session:
        store = session.get(Store, store_id)
        assert store is not None
        current = connections.open_credentials(store, cfg)  # type: ignore[arg-type]
        connections.seal(store, current.model_copy(update=changes), cfg)  # type: ignore[arg-type]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_health_check_tells_a_refused_token_from_an_unreachable_marketplace(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, platform: str
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, ctx, platform, cfg)

    def check(settings: object) -> object:
        return asyncio.run(
            stores.check_health(
                ctx=ctx,
                store_id=store_id,
                settings=settings,
                engine=sqlite_engine,  # type: ignore[arg-type]
            )
        )

    app = app_credentials(running_sandbox.base_url, platform)
    down = cfg.model_copy(  # nothing listens there; the app's keys given, as production has them
        update={
            "shopee_base_url": "http://127.0.0.1:9/shopee",
            "tiktok_base_url": "http://127.0.0.1:9/tiktok",
            "shopee_partner_id": app.key if platform == "shopee" else "",
            "shopee_partner_key": app.secret if platform == "shopee" else "",
            "tiktok_app_key": app.key if platform == "tiktok" else "",
            "tiktok_app_secret": app.secret if platform == "tiktok" else "",
            "tiktok_service_id": app.service_id,
        }
    )
    unreachable = check(down)
    breaker_for(f"store:{store_id}").record_success()  # the marketplace is back
    _reseal(sqlite_engine, ctx, store_id, cfg, access_token="not-a-token", refresh_token="spent")
    refused = check(cfg)

    assert (unreachable.ok, unreachable.token_valid, unreachable.reachable) == (  # type: ignore[attr-defined]
        False,
        True,
        False,
    ), unreachable
    assert unreachable.detail.startswith("network_error: ")  # type: ignore[attr-defined]
    assert (refused.ok, refused.token_valid, refused.reachable) == (False, False, True)  # type: ignore[attr-defined]
    assert refused.detail.startswith("reauthorize: ")  # type: ignore[attr-defined]


def test_the_health_check_tells_a_shop_the_platform_no_longer_authorizes(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    """TikTok answers the token but its authorized shops no longer hold this one: the token is
    valid and the API reachable, the shop is refused."""
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, ctx, "tiktok", cfg)
    _reseal(sqlite_engine, ctx, store_id, cfg, shop_id="7000000000000000001")

    health = asyncio.run(
        stores.check_health(ctx=ctx, store_id=store_id, settings=cfg, engine=sqlite_engine)
    )

    assert (health.ok, health.token_valid, health.reachable) == (False, True, True)
    assert health.detail == (
        "shop_not_authorized: TikTok Shop did not authorize shop 7000000000000000001"
    )
