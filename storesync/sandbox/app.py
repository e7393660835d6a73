"""One sandbox: state, both simulators, fault injection, webhook delivery, the order generator
and the control API, as one ASGI app (mounted inside StoreSync or served alone)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from storesync.sandbox import persist
from storesync.sandbox.control import build_control_app
from storesync.sandbox.faults import FaultMiddleware, Faults
from storesync.sandbox.generator import OrderGenerator
from storesync.sandbox.mail.routes import mail_routes
from storesync.sandbox.platform import PlatformSim
from storesync.sandbox.seed import SeedConfig, seed_state
from storesync.sandbox.state import Clock, Platform, SandboxState, TokenLifetimes, real_clock
from storesync.sandbox.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)
SAVE_EVERY_SECONDS = 2.0
# The pages where a seller authorizes an app (paths under the sandbox's root): a host that
# closes the sandbox closes these too.
CONSENT_PAGES = ("/shopee/api/v2/shop/auth_partner", "/tiktok-auth/oauth/authorize")


def default_sims() -> dict[str, PlatformSim]:
    from storesync.sandbox.shopee.sim import ShopeeSim
    from storesync.sandbox.tiktok.sim import TikTokSim

    return {"shopee": ShopeeSim(), "tiktok": TikTokSim()}


class Sandbox:
    def __init__(
        self,
        *,
        seed: SeedConfig | None = None,
        lifetimes: TokenLifetimes | None = None,
        orders_per_minute: float = 0,
        state_file: Path | None = None,
        sims: dict[str, PlatformSim] | None = None,
        clock: Clock | None = None,
        mail_dir: Path | None = None,
    ) -> None:
        """`clock` is what the sandbox reads the time from (token and code expiry, timestamps,
        signature windows); real UTC time by default. StoreSync passes its own clock when it
        mounts the sandbox in-process, so moving that clock in a test moves the sandbox too.
        `mail_dir`, a folder of `.eml` files the host application writes instead of sending
        mail, adds the "Sent mail" page (`/sandbox/mail`, `/sandbox/mail.json`)."""
        self.clock: Clock = clock or real_clock
        self.mail_dir = mail_dir
        self.seed = seed or SeedConfig()
        self.lifetimes = lifetimes or TokenLifetimes()
        self.state_file = state_file
        self.sims = sims or default_sims()
        self.faults = Faults(seed=self.seed.seed)
        self.state = self._initial_state()
        self.dispatcher = WebhookDispatcher(self.state, self.sims, self.faults)
        self.generator = OrderGenerator(
            self.state, per_minute=orders_per_minute, seed=self.seed.seed
        )
        self._saver: asyncio.Task[None] | None = None

    def _initial_state(self) -> SandboxState:
        loaded = (
            persist.load(self.state_file, lifetimes=self.lifetimes, clock=self.clock)
            if self.state_file
            else None
        )
        return loaded or seed_state(self._new_state(), self.seed)

    def _new_state(self) -> SandboxState:
        return SandboxState(lifetimes=self.lifetimes, clock=self.clock)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.dispatcher.start()
        self.generator.start()
        if self.state_file is not None:
            self._saver = asyncio.ensure_future(self._save_periodically())

    async def stop(self) -> None:
        await self.generator.stop()
        await self.dispatcher.stop()
        if self._saver is not None:
            self._saver.cancel()
            await asyncio.gather(self._saver, return_exceptions=True)
        if self.state_file is not None:
            persist.save(self.state, self.state_file)

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object = None) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def _save_periodically(self) -> None:
        assert self.state_file is not None
        while True:
            await asyncio.sleep(SAVE_EVERY_SECONDS)
            persist.save(self.state, self.state_file)

    # -- control -------------------------------------------------------------------------------

    def app_credentials(self) -> dict[str, Any]:
        """The sandbox apps' credentials, as `GET /sandbox/apps` answers them."""
        shopee, tiktok = self.state.apps["shopee"], self.state.apps["tiktok"]
        return {
            "shopee": {"partner_id": int(shopee.key), "partner_key": shopee.secret},
            "tiktok": {
                "app_key": tiktok.key,
                "app_secret": tiktok.secret,
                "service_id": tiktok.service_id,
            },
        }

    def reset(self, **seed_overrides: int) -> None:
        """Back to a freshly seeded world (same object, so mounted apps keep working)."""
        config = SeedConfig(**{**self.seed.__dict__, **seed_overrides})
        fresh = seed_state(self._new_state(), config)
        with self.state.lock:
            for name in (
                "apps",
                "shops",
                "orders",
                "returns",
                "tokens",
                "refresh_tokens",
                "codes",
            ):
                setattr(self.state, name, getattr(fresh, name))
            self.state.webhooks.clear()
            self.state.events.clear()
        self.faults.reset()

    def expire_tokens(self, platform: Platform, shop_id: str) -> int:
        with self.state.lock:
            expired = 0
            for token in self.state.tokens.values():
                if token.platform == platform and (not shop_id or token.shop_id == shop_id):
                    token.access_expires_at = min(token.access_expires_at, self.state.now() - 1)
                    expired += 1
            return expired

    # -- ASGI ----------------------------------------------------------------------------------

    def routes(self, *, control_guard: Callable[[ASGIApp], ASGIApp] | None = None) -> list[Mount]:
        """The platforms' mounts and the control API (with the sent mail) under `/sandbox`,
        wrapped in `control_guard` when the host application closes it (StoreSync does: only
        its own operator may drive the sandbox)."""
        mounts = [
            Mount(prefix, app=FaultMiddleware(app, sim, self.faults))
            for sim in self.sims.values()
            for prefix, app in sim.mounts(self.state).items()
        ]
        control: ASGIApp = build_control_app(self)
        if self.mail_dir is not None:
            control = Starlette(routes=[*mail_routes(self.mail_dir), Mount("", app=control)])
        if control_guard is not None:
            control = control_guard(control)
        return [*mounts, Mount("/sandbox", app=control)]

    def asgi(self) -> Starlette:
        """The sandbox served alone (its lifespan starts delivery and the generator)."""
        return Starlette(routes=self.routes(), lifespan=self.lifespan)
