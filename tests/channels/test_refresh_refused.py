"""A refused token refresh must reach the merchant even though the caller's transaction rolls
back on the error: the store stays `reauth_required` and unhealthy, and `store.health` goes out.
Against the sandbox over HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from storesync.channels.models import Store
from storesync.core import events
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType
from storesync.core.events import Event, InProcessBus
from storesync.db import session_scope
from storesync.stores import service as stores
from storesync.tenancy.context import RequestContext
from tests.channels.conftest import connect_store, make_org, sandbox_settings
from tests.sandbox.conftest import RunningSandbox

# What each platform's refusal of a refresh token arrives as.
REFUSED = {"shopee": "reauthorize", "tiktok": "reauthorize"}


class RecordingBus(InProcessBus):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[Event] = []

    def publish(self, event: Event) -> None:
        self.published.append(event)
        super().publish(event)


@pytest.fixture
def bus() -> Iterator[RecordingBus]:
    recording = RecordingBus()
    events.set_bus(recording)
    yield recording
    events.set_bus(None)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    found: Engine = request.getfixturevalue(name)
    return found


def revoke_access(sandbox: RunningSandbox, platform: str, shop_id: str) -> None:
    """The merchant revoked StoreSync in the seller centre: access and refresh tokens are dead."""
    state = sandbox.state
    state.revoke_shop_tokens(platform, shop_id)
    with state.lock:
        for key, token in list(state.refresh_tokens.items()):
            if token.platform == platform and token.shop_id == shop_id:
                del state.refresh_tokens[key]


def fresh_store(engine: Engine, ctx: RequestContext, store_id: uuid.UUID) -> Store:
    with session_scope(ctx, engine=engine) as session:
        store = session.get(Store, store_id)
        assert store is not None
        session.expunge(store)
        return store


@pytest.mark.parametrize("platform", ["shopee", "tiktok"])
def test_a_refused_refresh_marks_the_store_though_the_caller_rolls_back(
    engine: Engine, running_sandbox: RunningSandbox, bus: RecordingBus, platform: str
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)
    ctx = make_org(engine)
    store_id = connect_store(engine, ctx, platform, cfg)
    connected = fresh_store(engine, ctx, store_id)
    assert (connected.status, connected.unhealthy_since) == ("connected", None)
    revoke_access(running_sandbox, platform, connected.platform_store_id)
    before = utcnow()

    with pytest.raises(AppError) as raised, session_scope(ctx, engine=engine) as session:
        asyncio.run(
            stores.refresh_credentials(
                session, ctx=ctx, store_id=store_id, force=True, settings=cfg
            )
        )

    after = utcnow()
    assert (raised.value.type, raised.value.code) == (ErrorType.AUTHENTICATION, REFUSED[platform])
    store = fresh_store(engine, ctx, store_id)
    assert store.status == "reauth_required"
    # Never synced, so the gap starts when the refusal was noticed.
    assert store.unhealthy_since is not None and before <= store.unhealthy_since <= after
    assert store.credentials_encrypted == connected.credentials_encrypted  # nothing rotated
    health = [e for e in bus.published if e.type == "store.health"]
    assert [(e.organization_id, e.data) for e in health] == [
        (
            str(ctx.organization_id),
            {
                "store_id": str(store_id),
                "healthy": False,
                "reason": "reauthorize",
                "unhealthy_since": store.unhealthy_since.isoformat(),
            },
        )
    ]
