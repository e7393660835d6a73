"""The embedded worker: a Dramatiq worker on the StubBroker inside the app's process, plus the
periodic sweeper. Production runs `storesync worker` instead. The process is wired first
(`workers.wiring.wire`, by the app's start-up)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

log = logging.getLogger(__name__)
SWEEP_EVERY_SECONDS = 5.0


@contextlib.asynccontextmanager
async def embedded_worker() -> AsyncIterator[None]:
    """The app's lifespan in embedded mode: a Dramatiq worker on the StubBroker in this process,
    and the sweeper every few seconds."""
    import dramatiq

    from workers import actors, wiring

    wiring.wire()
    worker = dramatiq.Worker(actors.broker, worker_threads=4, worker_timeout=100)
    worker.start()
    sweeper = asyncio.ensure_future(_sweep_forever())
    try:
        yield
    finally:
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)
        worker.stop()


async def _sweep_forever() -> None:
    from workers import actors

    while True:
        await asyncio.sleep(SWEEP_EVERY_SECONDS)
        try:
            actors.sweep_outbox.send()
        except Exception:
            log.exception("could not enqueue the outbox sweep")
