"""Wires the sync engine's after-commit hooks to the Dramatiq actors, and runs the embedded
worker (StubBroker, in-process) plus the periodic sweeper. Production runs `storesync worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

log = logging.getLogger(__name__)
SWEEP_EVERY_SECONDS = 5.0


def wire_hooks() -> None:
    """After commit: outbox work → push_store_stock; stored webhooks → process_webhook."""
    from storesync.sync import outbox
    from workers import actors

    def announce_push(organization_id: uuid.UUID, store_id: uuid.UUID) -> None:
        actors.push_store_stock.send(str(organization_id), str(store_id))

    outbox.on_outbox_ready = announce_push
    _wire_jobs()
    try:
        from storesync.sync import webhooks  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover - lands with webhook intake
        return

    def announce_event(event_id: uuid.UUID, organization_id: uuid.UUID) -> None:
        actors.process_webhook.send(str(event_id), str(organization_id))

    webhooks.on_event_stored = announce_event


def _wire_jobs() -> None:
    """After commit: queued sync jobs → run_sync_job."""
    from storesync.sync import jobs
    from workers import job_actors

    def announce_job(job_id: uuid.UUID, organization_id: uuid.UUID) -> None:
        job_actors.run_sync_job.send(str(job_id), str(organization_id))

    jobs.on_job_queued = announce_job


@contextlib.asynccontextmanager
async def embedded_worker() -> AsyncIterator[None]:
    """The app's lifespan in embedded mode: a Dramatiq worker on the StubBroker in this process,
    and the sweeper every few seconds."""
    import dramatiq

    from workers import actors

    wire_hooks()
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
