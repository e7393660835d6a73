"""Random buyers: places orders across the seeded shops at a steady rate, so demos and
benchmarks see real traffic (and the webhooks it causes)."""

from __future__ import annotations

import asyncio
import logging
import random

from storesync.sandbox.state import SandboxError, SandboxState

log = logging.getLogger(__name__)

BUYERS = ("andi_pratama", "sari.dewi", "budi88", "rina_kusuma", "agus.s", "putri_ayu", "dimas.r")


class OrderGenerator:
    def __init__(
        self, state: SandboxState, *, per_minute: float = 0, seed: int | None = None
    ) -> None:
        self.state = state
        self.per_minute = per_minute
        self.rng = random.Random(seed)
        self.placed = 0
        self.skipped = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.per_minute > 0 and self.task is None:
            self.task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None

    def set_rate(self, per_minute: float) -> None:
        self.per_minute = max(0.0, per_minute)
        if self.per_minute > 0:
            self.start()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while self.per_minute > 0:
            next_at += 60.0 / self.per_minute
            self.place_one()
            await asyncio.sleep(max(0.0, next_at - loop.time()))
        self.task = None

    def place_one(self) -> bool:
        """One random order on a random shop, for 1-2 units of 1-2 in-stock models."""
        return self.place_one_on(None, None)

    def place_one_on(self, platform: str | None, shop_id: str | None) -> bool:
        """One random order, on a given platform / shop when named."""
        shops = [
            s
            for s in self.state.shops.values()
            if (platform is None or s.platform == platform)
            and (not shop_id or s.id == str(shop_id))
        ]
        if not shops:
            return False
        shop = self.rng.choice(shops)
        in_stock = [(i, m) for i in shop.items.values() for m in i.models if m.stock > 0]
        if not in_stock:
            self.skipped += 1
            return False
        picks = self.rng.sample(in_stock, k=min(len(in_stock), self.rng.choice((1, 1, 1, 2))))
        lines = [
            (item.id, model.id, min(model.stock, self.rng.choice((1, 1, 2))))
            for item, model in picks
        ]
        try:
            self.state.place_order(shop.platform, shop.id, lines, buyer=self.rng.choice(BUYERS))
        except SandboxError as error:  # stock moved meanwhile
            log.debug("generator skipped an order: %s", error)
            self.skipped += 1
            return False
        self.placed += 1
        return True
