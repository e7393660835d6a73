"""Found by the chaos run: a push that reaches the selling channel after its own sale.

When an order is taken in, StoreSync counts the units as already off the selling channel (the
marketplace took them off its own stock at checkout) by lowering that listing's last pushed
quantity instead of pushing it (`sync.intake.orders._note_channel_sale`). That held only if no
push of the listing reached the channel after the sale: a push StoreSync worked out before it
knew of the sale (another channel's sale, a count) replaces the channel's stock with a number
that still counts the sold units, and the channel showed them as available for good (in the
chaos run, a handful of listings one to four units above the truth, with nothing left to push).
Now the sale is counted as pushed only where the last push was recorded before it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine

from storesync.core.clock import set_clock, utcnow
from storesync.db import session_scope
from storesync.sync.intake.poll import sync_orders
from tests.sandbox.conftest import RunningSandbox
from tests.sync.test_crash import _set
from tests.sync.test_outbox import World, _push_all, build


def _sell_on_the_channel(w: World, platform: str, quantity: int) -> None:
    """A buyer checks out on the marketplace (which takes the units off its stock at once);
    StoreSync has not heard of it yet."""
    state = w.sandbox.state
    model: Any = w.models[platform]
    for shop in state.shops_of(platform):
        for item in shop.items.values():
            if model in item.models:
                state.place_order(platform, shop.id, [(item.id, model.id, quantity)])
                return
    raise AssertionError("the listing's item is not in the sandbox")


def _take_orders_in(w: World, platform: str) -> None:
    with session_scope(w.ctx, engine=w.engine) as session:
        asyncio.run(
            sync_orders(session, ctx=w.ctx, store_id=w.stores[platform], settings=w.settings)
        )


def test_a_push_that_reached_the_channel_after_its_own_sale_is_corrected(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(sqlite_engine, running_sandbox)
    _set(w, 10)
    _push_all(w)
    shopee: Any = w.models["shopee"]
    assert shopee.stock == 10

    _sell_on_the_channel(w, "shopee", 1)  # Shopee shows 9
    _set(w, 9)  # meanwhile a count StoreSync makes before it hears of the sale
    _push_all(w)  # 9 to Shopee: the sale's own decrement is overwritten
    _take_orders_in(w, "shopee")  # the sale reserves 1: 8 available
    _push_all(w)

    assert (shopee.stock, w.models["tiktok"].stock) == (8, 8)  # type: ignore[attr-defined]


def test_the_selling_channel_is_not_pushed_its_own_sale_made_after_the_last_push(
    sqlite_engine: Engine, running_sandbox: RunningSandbox
) -> None:
    w = build(sqlite_engine, running_sandbox)
    _set(w, 10)
    _push_all(w)
    shopee: Any = w.models["shopee"]
    pushed = _count_stock_writes(w)

    later = utcnow() + timedelta(seconds=5)
    set_clock(lambda: later)  # the sandbox reads the same clock
    try:
        _sell_on_the_channel(w, "shopee", 2)  # Shopee shows 8
        _take_orders_in(w, "shopee")
        _push_all(w)
    finally:
        set_clock(None)

    assert (shopee.stock, w.models["tiktok"].stock) == (8, 8)  # type: ignore[attr-defined]
    assert pushed == ["tiktok"]  # the selling channel already showed it


def _count_stock_writes(w: World) -> list[str]:
    """The platforms whose stock the sandbox is told to set from now on."""
    state = w.sandbox.state
    original = state.set_stock
    writes: list[str] = []

    def recording(platform: Any, *args: Any) -> Any:
        writes.append(platform)
        return original(platform, *args)

    state.set_stock = recording
    return writes
