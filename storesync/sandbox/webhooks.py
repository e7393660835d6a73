"""Push delivery: each state event becomes the platform's signed webhook to the registered URL,
retried with backoff on failure like the platforms do (compressed from hours to seconds).

Events may be emitted from any thread; delivery runs as tasks on the sandbox's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import httpx

from storesync.sandbox.faults import Faults
from storesync.sandbox.platform import PlatformSim
from storesync.sandbox.sender import PushSender, SendFailed
from storesync.sandbox.state import SandboxEvent, SandboxState

log = logging.getLogger(__name__)

# Real platforms retry over minutes to days; the sandbox keeps the shape at demo speed.
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
TIMEOUT = httpx.Timeout(5.0)
# Deliveries in flight at once, like a platform's per-app sender. Unbounded, a burst of hundreds
# of pushes makes httpx's connection pool quadratic and the sandbox eats the CPU of the system
# it is supposed to exercise. Even 16 cost: httpcore polls every pooled connection's socket on
# each request (11 % of the sandbox's CPU at 50 pushes/s); 4 deliver 50/s with room to spare.
CONCURRENCY = 4


@dataclass
class DeliveryStats:
    queued: int = 0
    delivered: int = 0
    attempts: int = 0
    retried: int = 0
    failed: int = 0  # gave up after every retry
    dropped: int = 0  # fault injection: never sent
    duplicated: int = 0  # fault injection: sent twice


class WebhookDispatcher:
    def __init__(
        self, state: SandboxState, sims: Mapping[str, PlatformSim], faults: Faults
    ) -> None:
        self.state = state
        self.sims = sims
        self.faults = faults
        self.stats = DeliveryStats()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: httpx.AsyncClient | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.slots: asyncio.Semaphore | None = None
        self.sender: PushSender | None = None
        state.listeners.append(self.on_event)

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.slots = asyncio.Semaphore(CONCURRENCY)
        self.sender = PushSender(timeout=TIMEOUT.read or 5.0)
        self.client = httpx.AsyncClient(
            timeout=TIMEOUT,
            limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY),
        )

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()
        if self.sender is not None:
            self.sender.close()
        self.loop = None

    def on_event(self, event: SandboxEvent) -> None:
        """State listener (any thread): schedule the push if a URL is registered."""
        url = self.state.webhooks.get(event.platform)
        if not url or self.loop is None or self.loop.is_closed():
            return
        self.stats.queued += 1
        self.loop.call_soon_threadsafe(self._spawn, url, event)

    def _spawn(self, url: str, event: SandboxEvent) -> None:
        task = asyncio.ensure_future(self._deliver(url, event))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, url: str, event: SandboxEvent) -> None:
        sim = self.sims[event.platform]
        request = sim.webhook(self.state.apps[event.platform], url, event)
        if request is None:
            self.stats.queued -= 1
            return
        config = self.faults.of(event.platform)
        if self.faults.chance(config.webhook_drop_rate):
            self.stats.dropped += 1
            return
        copies = 2 if self.faults.chance(config.webhook_duplicate_rate) else 1
        self.stats.duplicated += copies - 1
        for _ in range(copies):
            await self._send_with_retries(url, *request)

    async def _send_with_retries(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        assert self.client is not None and self.slots is not None
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            if delay:
                self.stats.retried += 1
                await asyncio.sleep(delay)
            self.stats.attempts += 1
            try:
                async with self.slots:
                    status = await self._post(url, body, headers)
                if 200 <= status < 300:
                    self.stats.delivered += 1
                    return
                log.info("webhook to %s answered %s (attempt %d)", url, status, attempt + 1)
            except (httpx.HTTPError, SendFailed) as error:
                log.info("webhook to %s failed: %s (attempt %d)", url, error, attempt + 1)
        self.stats.failed += 1

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        assert self.client is not None and self.sender is not None
        if url.startswith("http://"):
            return await self.sender.post(url, body, headers)
        response = await self.client.post(url, content=body, headers=headers)
        return response.status_code

    def public_stats(self) -> dict[str, int]:
        return asdict(self.stats)
