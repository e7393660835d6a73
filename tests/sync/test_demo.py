"""The embedded demo comes alive on first start: the demo organization is connected to the
sandbox's shops and its products are imported; a second start changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from storesync.db import session_scope
from storesync.demo import bring_demo_alive, seed_demo
from storesync.stores import service as stores
from storesync.sync.jobs import service as jobs
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Role
from tests.channels.conftest import sandbox_settings
from tests.sandbox.conftest import RunningSandbox

EMAIL, PASSWORD = "demo@alive.test", "demo-password"


@pytest.fixture
def queued() -> Iterator[list[uuid.UUID]]:
    calls: list[uuid.UUID] = []
    with jobs.job_queued.connected_to(lambda job_id, _org: calls.append(job_id)):
        yield calls


def _owner(engine: Engine) -> RequestContext:
    with session_scope(engine=engine) as session:
        org = seed_demo(session, email=EMAIL, password=PASSWORD)
        user = tenancy.authenticate(session, email=EMAIL, password=PASSWORD)
    assert org is not None
    return RequestContext(user_id=user.id, organization_id=org.id, role=Role.OWNER)


def test_the_demo_connects_both_sandbox_shops_and_queues_their_imports_once(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, queued: list[uuid.UUID]
) -> None:
    ctx = _owner(sqlite_engine)
    cfg = sandbox_settings(running_sandbox.base_url)

    connected = asyncio.run(
        bring_demo_alive(running_sandbox.sandbox, email=EMAIL, settings=cfg, engine=sqlite_engine)
    )

    with session_scope(ctx, engine=sqlite_engine) as session:
        listed = stores.list_stores(session, ctx=ctx)
        imports = [
            jobs.latest_job(session, ctx=ctx, store_id=s.id, kind="products") for s in listed
        ]
    assert sorted(s.platform for s in listed) == ["shopee", "tiktok"]
    assert sorted(connected) == sorted(s.id for s in listed)
    assert all(s.status == "connected" for s in listed)
    assert all(j is not None and j.params == {"create_products": True} for j in imports)
    assert sorted(queued) == sorted(j.id for j in imports if j is not None)

    again = asyncio.run(
        bring_demo_alive(running_sandbox.sandbox, email=EMAIL, settings=cfg, engine=sqlite_engine)
    )

    assert again == []  # a second start connects and queues nothing more
    assert len(queued) == 2


def test_without_the_demo_user_nothing_happens(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, queued: list[uuid.UUID]
) -> None:
    cfg = sandbox_settings(running_sandbox.base_url)

    connected = asyncio.run(
        bring_demo_alive(
            running_sandbox.sandbox, email="nobody@alive.test", settings=cfg, engine=sqlite_engine
        )
    )

    assert connected == [] and queued == []
