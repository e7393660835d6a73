"""Optional persistence: the sandbox's world as one JSON document in a SQLite file, so a demo
survives a restart."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from storesync.sandbox.state import (
    App,
    Clock,
    Item,
    Model,
    Order,
    OrderLine,
    Return,
    ReturnLine,
    SandboxState,
    Shop,
    Token,
    TokenLifetimes,
)


def save(state: SandboxState, path: Path) -> None:
    snapshot = state.snapshot()
    snapshot["webhooks"] = dict(state.webhooks)
    document = json.dumps(snapshot, default=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS sandbox (id INTEGER PRIMARY KEY, doc TEXT)")
        db.execute("INSERT OR REPLACE INTO sandbox (id, doc) VALUES (1, ?)", (document,))


def load(
    path: Path, *, lifetimes: TokenLifetimes | None = None, clock: Clock | None = None
) -> SandboxState | None:
    """The saved world, or None when the file holds none."""
    if not path.exists():
        return None
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS sandbox (id INTEGER PRIMARY KEY, doc TEXT)")
        row = db.execute("SELECT doc FROM sandbox WHERE id = 1").fetchone()
    if row is None:
        return None
    return _restore(json.loads(row[0]), lifetimes, clock)


def _restore(
    data: dict[str, Any], lifetimes: TokenLifetimes | None, clock: Clock | None
) -> SandboxState:
    state = SandboxState(lifetimes=lifetimes, clock=clock)
    for platform, app in data["apps"].items():
        state.apps[platform] = App(**app)
    for raw in data["shops"]:
        items = {
            item_id: Item(
                **{
                    **item,
                    "models": [_model(m) for m in item["models"]],
                    "dimensions_cm": tuple(item.get("dimensions_cm", (0, 0, 0))),
                }
            )
            for item_id, item in raw.pop("items").items()
        }
        shop = Shop(**raw, items=items)
        state.shops[(shop.platform, shop.id)] = shop
    for raw in data["orders"]:
        lines = [OrderLine(**{**ln, "price": Decimal(ln["price"])}) for ln in raw.pop("lines")]
        order = Order(**{**raw, "total": Decimal(raw["total"])}, lines=lines)
        state.orders[(order.platform, order.id)] = order
    for raw in data.get("returns", []):
        returned = [ReturnLine(**{**ln, "price": Decimal(ln["price"])}) for ln in raw.pop("lines")]
        found = Return(**raw, lines=returned)
        state.returns[(found.platform, found.id)] = found
    for raw in data["tokens"]:
        token = Token(**raw)
        state.tokens[token.access_token] = token
        if not token.revoked:
            state.refresh_tokens[token.refresh_token] = token
    state.webhooks.update(data.get("webhooks", {}))
    return state


def _model(raw: dict[str, Any]) -> Model:
    options = [tuple(pair) for pair in raw.get("options", [])]
    return Model(**{**raw, "price": Decimal(raw["price"]), "options": options})
