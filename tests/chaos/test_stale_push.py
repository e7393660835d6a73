"""Found by the chaos run: two pushes of one listing in flight at once, and the older one wins.

Each worker process has its own single flight per store (`workers.actors._pushing`), so two
processes push one store at once. Worker A claims a listing's outbox row (10 units) and its call
is slow to leave: it waits its turn in the store's rate limit, or backs off after a server error
or a 429 before retrying. Meanwhile a sale changes the row to 9, which puts it back to pending,
and worker B claims it too. Two orders of events then leave StoreSync wrong for good, with
nothing left to push:

- B's 9 lands first, A's 10 last: the channel shows 10, StoreSync recorded 9 (A's record is
  refused, the listing's last pushed quantity changed since A's claim).
- A's 10 lands first and is recorded; B's 9 lands last but its record is refused the same way:
  the channel shows 9, StoreSync believes 10, so when the truth goes back to 10 (a cancelled
  sale) nothing is pushed and the channel stays at 9.

In the chaos run (two workers, 20% faults, 10 calls/s per store) a few listings per run ended
like this, one to four units off. Now a row queued again while an earlier claim of it is in
flight waits for that claim to end (`dispatch._claim`, `_release`): B claims nothing, A's run
goes round again and pushes 9 after its 10.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from storesync.channels.shopee.adapter import ShopeeAdapter
from storesync.sync.push import dispatch
from tests.sandbox.conftest import RunningSandbox
from tests.sync.test_crash import _push, _row, _set
from tests.sync.test_outbox import World, build


def _two_workers(w: World, monkeypatch: pytest.MonkeyPatch, *, older_lands_last: bool) -> None:
    """A claims the row at 10, a sale makes it 9, B claims it; A's and B's calls then reach
    the channel in the order asked for (each waits at the adapter until its turn)."""
    store_id = w.stores["shopee"]
    original = ShopeeAdapter.update_stock
    turn = {10: asyncio.Event(), 9: asyncio.Event()}
    arrived = {10: asyncio.Event(), 9: asyncio.Event()}

    async def in_turn(self: ShopeeAdapter, updates: list[Any]) -> Any:
        quantity = updates[0].quantity
        arrived[quantity].set()
        await turn[quantity].wait()
        return await original(self, updates)

    monkeypatch.setattr(ShopeeAdapter, "update_stock", in_turn)

    async def race() -> None:
        a = asyncio.create_task(_push_async(w, store_id))
        await arrived[10].wait()
        _set(w, 9)  # a sale, while A's push of 10 has not left
        b = asyncio.create_task(_push_async(w, store_id))  # worker B, another process
        b_at_channel = asyncio.create_task(arrived[9].wait())
        await asyncio.wait({b, b_at_channel}, return_when=asyncio.FIRST_COMPLETED)
        b_at_channel.cancel()
        if arrived[9].is_set():  # two claims of the listing in flight at once
            first, last = (9, 10) if older_lands_last else (10, 9)
            turn[first].set()
            await (b if first == 9 else a)
        else:  # B found nothing to claim: A goes on alone
            last = 10
            turn[9].set()
        turn[last].set()
        await asyncio.gather(a, b)

    asyncio.run(asyncio.wait_for(race(), timeout=30))
    monkeypatch.setattr(ShopeeAdapter, "update_stock", original)


def test_an_older_push_landing_last_is_corrected(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = build(sqlite_engine, running_sandbox)
    store_id, model = w.stores["shopee"], w.models["shopee"]
    _set(w, 10)

    _two_workers(w, monkeypatch, older_lands_last=True)
    dispatch.sweep(engine=w.engine)
    _push(w, store_id)  # whatever is still due goes out

    assert model.stock == 9  # type: ignore[attr-defined]
    assert _row(w, store_id)[2] == 9


def test_a_newer_push_landing_last_is_what_storesync_records(
    sqlite_engine: Engine, running_sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = build(sqlite_engine, running_sandbox)
    store_id, model = w.stores["shopee"], w.models["shopee"]
    _set(w, 10)

    _two_workers(w, monkeypatch, older_lands_last=False)
    dispatch.sweep(engine=w.engine)
    _push(w, store_id)
    _set(w, 10)  # the sale is cancelled
    _push(w, store_id)

    assert model.stock == 10  # type: ignore[attr-defined]
    assert _row(w, store_id)[2] == 10


async def _push_async(w: World, store_id: Any) -> dispatch.PushReport:
    return await dispatch.push_store(
        organization_id=w.ctx.organization_id,
        store_id=store_id,
        settings=w.settings,
        engine=w.engine,
    )
