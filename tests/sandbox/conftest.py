"""The whole sandbox (both simulators, control API, webhook delivery) over real HTTP."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from storesync.core.clock import utcnow
from storesync.sandbox.app import Sandbox
from storesync.sandbox.seed import SeedConfig
from storesync.sandbox.server import serve_in_thread


@dataclass
class RunningSandbox:
    base_url: str
    sandbox: Sandbox

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.sandbox.state


@contextmanager
def serve_sandbox(seed: int, products_per_shop: int) -> Iterator[RunningSandbox]:
    """A seeded sandbox on a free port. The same catalog for a seed every time, but fresh shop
    ids: tests sharing one PostgreSQL database never connect the same marketplace shop to two
    organizations. It reads StoreSync's clock, as the sandbox mounted in the app does, so a test
    that moves that clock (`set_clock`) moves the marketplaces too."""
    sandbox = Sandbox(seed=SeedConfig(seed=seed, products_per_shop=products_per_shop), clock=utcnow)
    state = sandbox.state
    for (platform, _old), shop in list(state.shops.items()):
        del state.shops[(platform, _old)]
        shop.id = str(random.randrange(10**15, 10**16))
        state.shops[(platform, shop.id)] = shop
    with serve_in_thread(sandbox.asgi()) as base_url:
        yield RunningSandbox(base_url, sandbox)


@pytest.fixture
def running_sandbox() -> Iterator[RunningSandbox]:
    """A freshly seeded sandbox on a free port (one shop per platform, 24 products each)."""
    with serve_sandbox(seed=11, products_per_shop=24) as running:
        yield running


@dataclass
class Receiver:
    """A local webhook receiver: records every push (headers and raw body)."""

    url: str
    received: list[tuple[dict[str, str], bytes]]
    fail_first: list[int]  # answer 500 to this many requests first (to exercise retries)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    record = Receiver(url="", received=[], fail_first=[0])

    async def hook(request: Request) -> Response:
        body = await request.body()
        if record.fail_first[0] > 0:
            record.fail_first[0] -= 1
            return Response(status_code=500)
        record.received.append((dict(request.headers), body))
        return Response(status_code=200)

    with serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:
        record.url = f"{base}/hook"
        yield record
