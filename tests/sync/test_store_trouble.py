"""A store's trouble told plainly, against the sandbox over HTTP with SQLite: failing calls make
it "trouble" with the platform's problem in plain words and since when; a refused token makes it
"disconnected"; the merchant is notified once when the trouble has lasted over three minutes,
never twice for the same trouble; a working check clears it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.channels.connections import store_key
from storesync.channels.resilience import breaker_for
from storesync.core.clock import set_clock, utcnow
from storesync.db import session_scope
from storesync.notifications import service as notifications
from storesync.stores import service as stores
from storesync.sync.health import backfill, trouble
from storesync.sync.jobs.service import STORES
from storesync.tenancy.context import RequestContext
from tests.channels.conftest import connect_store, make_org, sandbox_settings
from tests.sandbox.conftest import RunningSandbox


@pytest.fixture
def restore_clock() -> Iterator[None]:
    yield
    set_clock(None)


def _faults(sandbox: RunningSandbox, platform: str, **changes: object) -> None:
    httpx.post(f"{sandbox.base_url}/sandbox/faults", json={"platform": platform, **changes})


def _check(engine: Engine, ctx: RequestContext, store_id: uuid.UUID, cfg: object) -> None:
    asyncio.run(stores.check_health(ctx=ctx, store_id=store_id, settings=cfg, engine=engine))  # type: ignore[arg-type]


def _condition(engine: Engine, ctx: RequestContext, store_id: uuid.UUID) -> object:
    with session_scope(ctx, engine=engine) as session:
        return stores.store_condition(session, ctx=ctx, store_id=store_id)


def _trouble_notes(engine: Engine, ctx: RequestContext) -> list[notifications.NotificationDTO]:
    with session_scope(ctx, engine=engine) as session:
        found = notifications.list_notifications(session, ctx=ctx, limit=100)
    return [n for n in found if n.kind == trouble.NOTICE_KIND]


def test_failing_calls_make_the_store_have_trouble_in_plain_words(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, ctx, "shopee", cfg)
    assert _condition(sqlite_engine, ctx, store_id).state == "connected"  # type: ignore[attr-defined]

    _faults(running_sandbox, "shopee", burst_5xx_seconds=60)
    _check(sqlite_engine, ctx, store_id, cfg)

    condition = _condition(sqlite_engine, ctx, store_id)
    assert condition.state == "trouble"  # type: ignore[attr-defined]
    assert condition.message == (  # type: ignore[attr-defined]
        "Shopee is having problems on its side. StoreSync keeps trying."
    )
    assert condition.since is not None  # type: ignore[attr-defined]
    assert "HTTP" not in condition.message and "circuit" not in condition.message  # type: ignore[attr-defined]
    # Just started: nobody is bothered yet.
    assert _trouble_notes(sqlite_engine, ctx) == []


def test_lasting_trouble_notifies_once_and_never_again_for_the_same_trouble(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, restore_clock: None
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, ctx, "tiktok", cfg)
    _faults(running_sandbox, "tiktok", burst_5xx_seconds=60)
    _check(sqlite_engine, ctx, store_id, cfg)
    started = _condition(sqlite_engine, ctx, store_id).since  # type: ignore[attr-defined]

    set_clock(lambda: started + timedelta(minutes=2))
    with session_scope(ctx, engine=sqlite_engine) as session:
        too_early = trouble.notify_if_lasting(session, ctx=ctx, store_id=store_id)
    set_clock(lambda: started + timedelta(minutes=4))
    with session_scope(ctx, engine=sqlite_engine) as session:
        first = trouble.notify_if_lasting(session, ctx=ctx, store_id=store_id)
    with session_scope(ctx, engine=sqlite_engine) as session:
        second = trouble.notify_if_lasting(session, ctx=ctx, store_id=store_id)
    _check(sqlite_engine, ctx, store_id, cfg)  # still failing, checked again
    set_clock(lambda: started + timedelta(minutes=30))
    with session_scope(ctx, engine=sqlite_engine) as session:
        later = trouble.notify_if_lasting(session, ctx=ctx, store_id=store_id)

    assert (too_early, first, second, later) == (False, True, False, False)
    notes = _trouble_notes(sqlite_engine, ctx)
    assert len(notes) == 1
    assert notes[0].severity == "warning"
    assert notes[0].title.endswith("is having trouble syncing")
    assert notes[0].body.startswith("TikTok Shop is having problems on its side.")


def test_a_new_trouble_after_healing_notifies_again(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, restore_clock: None
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, ctx, "shopee", cfg)
    since = utcnow() - timedelta(minutes=10)
    with session_scope(ctx, engine=sqlite_engine) as session:
        backfill.mark_unhealthy(session, ctx=ctx, store_id=store_id, reason="t", since=since)
        trouble.note_trouble(session, ctx=ctx, store_id=store_id, code="timeout", message="")
    with session_scope(ctx, engine=sqlite_engine) as session:
        backfill.clear_unhealthy(session, ctx=ctx, store_id=store_id, seen=since)
    assert _condition(sqlite_engine, ctx, store_id).state == "connected"  # type: ignore[attr-defined]
    again = utcnow() - timedelta(minutes=5)
    with session_scope(ctx, engine=sqlite_engine) as session:
        backfill.mark_unhealthy(session, ctx=ctx, store_id=store_id, reason="t", since=again)
        trouble.note_trouble(session, ctx=ctx, store_id=store_id, code="network_error", message="")

    assert len(_trouble_notes(sqlite_engine, ctx)) == 2
    assert _condition(sqlite_engine, ctx, store_id).message == (  # type: ignore[attr-defined]
        "StoreSync cannot reach Shopee right now. It keeps trying."
    )


def test_a_refused_token_means_disconnected_and_reconnect(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, ctx, "shopee", cfg)
    with session_scope(ctx, engine=sqlite_engine) as session:
        shop = session.execute(
            sa.select(STORES.c.platform_store_id).where(STORES.c.id == store_id)
        ).scalar_one()
    # The merchant revoked StoreSync's access in the seller centre: no token works any more.
    state = running_sandbox.state
    state.revoke_shop_tokens("shopee", shop)
    for key, token in list(state.refresh_tokens.items()):
        if token.shop_id == shop:
            del state.refresh_tokens[key]

    _check(sqlite_engine, ctx, store_id, cfg)

    condition = _condition(sqlite_engine, ctx, store_id)
    assert condition.state == "disconnected"  # type: ignore[attr-defined]
    assert "Reconnect it" in condition.message  # type: ignore[attr-defined]


def test_a_passing_check_with_no_trouble_stays_connected(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(sqlite_engine)
    store_id = connect_store(sqlite_engine, ctx, "tiktok", cfg)

    _check(sqlite_engine, ctx, store_id, cfg)

    assert breaker_for(store_key(_store(sqlite_engine, ctx, store_id))).state.value == "closed"
    assert _condition(sqlite_engine, ctx, store_id).state == "connected"  # type: ignore[attr-defined]
    assert _trouble_notes(sqlite_engine, ctx) == []


def _store(engine: Engine, ctx: RequestContext, store_id: uuid.UUID) -> object:
    with session_scope(ctx, engine=engine) as session:
        return stores.get_store(session, ctx=ctx, store_id=store_id)


@pytest.mark.parametrize(
    ("platform", "code", "message", "words"),
    [
        ("shopee", "circuit_open", "", "Shopee failed several times in a row"),
        ("tiktok", "rate_limited", "", "TikTok Shop asked StoreSync to slow down"),
        ("shopee", "reauthorize", "x", "Shopee's authorization for this shop has expired"),
        (
            "shopee",
            "rejected",
            "Shopee /x: shop is on vacation",
            "Shopee said: shop is on vacation",
        ),
    ],
)
def test_plain_words(platform: str, code: str, message: str, words: str) -> None:
    assert trouble.plain_words(platform, code, message).startswith(words)


def test_health_details_split_into_code_and_message() -> None:
    assert trouble.split_detail("server_error: Shopee said no") == (
        "server_error",
        "Shopee said no",
    )
    assert trouble.split_detail("timeout") == ("timeout", "")
    assert trouble.split_detail("the store is disconnected") == ("", "the store is disconnected")
