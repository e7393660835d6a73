"""Actors: load by id, call one service, idempotent. Options live on the decorator; arguments are
plain ids. Enqueued after commit (`workers.wiring` connects the hooks).

Queues: "default" carries the sale-to-stock flow (webhooks, pushes) and the sweeps, "sync" the
long jobs. Every queue costs each worker process two Redis consumers (the queue and its delay
queue) polling every 100 ms while idle (`dramatiq_worker_timeout`, kept short for latency):
with separate "push" and "webhooks" queues, idle polling took about 6 % of a core per process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid

import dramatiq

from workers.broker import broker
from workers.flights import Flights, flights_for
from workers.job_actors import run_sync_job, tick_schedule  # noqa: F401 - loaded with the actors

__all__ = [
    "broker",
    "deliver_webhook",
    "ping",
    "process_webhook",
    "push_store_stock",
    "sweep_outbox",
]

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="default", max_retries=0, time_limit=10_000)
def ping(value: str) -> str:
    return value


# Single flight per store in each worker process: a push message for a store whose push is
# running only asks it to go round once more (it claims whatever is due by then), so a burst of
# sales costs a few coalesced calls, not one call and four transactions per sale. Per process,
# not across processes: one loop for all of them (tried with RedisFlights) doubled the p50 at 50
# sales/s, as each round waits for the previous one's platform calls.
_pushing = Flights()


@dramatiq.actor(queue_name="default", max_retries=3, min_backoff=500, time_limit=300_000)
def push_store_stock(organization_id: str, store_id: str) -> None:
    """Push a store's pending stock changes (coalesced, batched, rate-limited)."""
    from storesync.sync.push.dispatch import push_store

    if not _pushing.join(store_id, "again"):
        return
    try:
        while True:
            report = asyncio.run(
                push_store(organization_id=uuid.UUID(organization_id), store_id=uuid.UUID(store_id))
            )
            log.info(
                "store %s: pushed %d, failed %d, deferred %d in %d calls",
                store_id,
                report.pushed,
                report.failed,
                report.deferred,
                report.calls,
            )
            if _pushing.next(store_id) is None:
                return
    except BaseException:
        _pushing.abandon(store_id)
        raise


# One intake loop per organization across all worker processes (through Redis in production):
# a push message for an organization whose loop is running only leaves its event id with that
# loop, which takes it (and every other waiting push of the same store) in its next batch.
# Batches of one organization then never wait on each other's stock-row locks, and a burst of
# sales becomes a few large batches (at 50 sales/s: about 15 instead of 18 ms of worker CPU per
# sale against one loop per process).
# The leader's lease: a worker killed while leading holds its organization's new orders back this
# long (it was 30 s). Each batch renews it; a batch slower than this (a platform timing out) lets
# a second loop start, which is safe (events are claimed atomically), only less thrifty.
INTAKE_LEASE_MS = 5_000
TAKEN_KEPT = 10_000  # event ids a loop remembers having claimed
_intake = flights_for(broker, "storesync:flight:intake", ttl_ms=INTAKE_LEASE_MS)


@dramatiq.actor(queue_name="default", max_retries=5, min_backoff=1000, time_limit=120_000)
def process_webhook(event_id: str, organization_id: str) -> None:
    """Turn a stored marketplace push, and the other pushes of its store still waiting, into
    order changes (storesync.sync.intake.batch)."""
    from storesync.sync.intake.batch import process_store_events

    if not _intake.join(organization_id, event_id):
        return
    own_failed = False
    current: str | None = event_id
    taken: set[str] = set()  # claimed by this loop's batches: their messages have nothing to do
    held: set[tuple[str, str]] = set()  # the stores whose pushes the batches queued
    _holding.pushes = held
    try:
        while current is not None:
            report = asyncio.run(
                process_store_events(
                    organization_id=uuid.UUID(organization_id), event_id=uuid.UUID(current)
                )
            )
            if report.claimed > 1:
                log.info(
                    "webhook batch of %d: %d processed, %d ignored, %d failed (%d orders)",
                    report.claimed,
                    report.processed,
                    report.ignored,
                    report.failed,
                    report.orders,
                )
            own_failed = own_failed or (current == event_id and report.own == "failed")
            if len(taken) > TAKEN_KEPT:  # a loop can run for hours at a steady rate
                taken.clear()
            # A message whose event a batch already took finds nothing to claim: skipped. One
            # that failed is not, so it is tried again at once (as it would be on its own).
            taken.update(str(taken_id) for taken_id in report.taken - report.errors.keys())
            current = _intake.next(organization_id)
            while current is not None and current in taken:  # no empty claim for it
                current = _intake.next(organization_id)
            if current is not None:  # more sales wait: other workers push meanwhile
                _send_pushes(held)
    except BaseException:
        _intake.abandon(organization_id)
        _send_pushes(held)
        raise
    finally:
        _holding.pushes = None
    _push_here(held)
    if own_failed:  # recorded as failed and committed; raising lets Dramatiq retry it
        raise RuntimeError(f"webhook event {event_id} failed; retrying")


# The pushes an intake loop's batches queue, held by the loop (`held_push`, called by the
# composition root's after-commit hook) instead of sent as messages. When the loop ends (no sale
# waiting) it pushes them itself: a message waited for an idle Redis consumer, which polls every
# up to `dramatiq_worker_timeout` (100 ms), so at a few sales a second the push hop added up to
# 100 ms to a sale's propagation. While sales wait, they go out as messages after each batch, so
# other workers push while this one ingests the next.
_holding = threading.local()


def held_push(organization_id: uuid.UUID, store_id: uuid.UUID) -> bool:
    """True when the calling thread runs an intake loop: the store's push is left with it, and
    no message is needed."""
    held: set[tuple[str, str]] | None = getattr(_holding, "pushes", None)
    if held is None:
        return False
    held.add((str(organization_id), str(store_id)))
    return True


def _send_pushes(held: set[tuple[str, str]]) -> None:
    while held:
        organization_id, store_id = held.pop()
        try:
            push_store_stock.send(organization_id, store_id)
        except Exception:  # the outbox keeps the rows: the sweep queues them
            log.exception("store %s: push not queued", store_id)


def _push_here(held: set[tuple[str, str]]) -> None:
    for organization_id, store_id in sorted(held):
        try:
            push_store_stock.fn(organization_id, store_id)
        except Exception:  # retried as a message (its retries, or the sweep)
            log.exception("store %s: push failed here; queued", store_id)
            _send_pushes({(organization_id, store_id)})
    held.clear()


@dramatiq.actor(queue_name="default", max_retries=0, time_limit=60_000)
def deliver_webhook(delivery_id: str, organization_id: str) -> None:
    """Send one outbound webhook delivery (retries are the delivery's own, by the sweep)."""
    from storesync.notifications.webhooks import deliver

    deliver(uuid.UUID(delivery_id), uuid.UUID(organization_id))


@dramatiq.actor(queue_name="default", max_retries=0, time_limit=60_000)
def sweep_outbox() -> None:
    """Re-enqueue outbox rows no worker finished, and stores with due rows; the other sweeps.
    One query finds the organizations with due work of each kind (`storesync.sync.due`); the
    sweeps open transactions only in those, so with nothing due a sweep is one statement."""
    from storesync.notifications.webhooks import due_deliveries
    from storesync.sync.due import Work, find_due
    from storesync.sync.health.staleness import alert_stale
    from storesync.sync.intake.batch import sweep_webhooks
    from storesync.sync.push.dispatch import sweep

    due = find_due()
    for organization_id, store_id in sweep(due=due):
        push_store_stock.send(str(organization_id), str(store_id))
    for event_id, organization_id in sweep_webhooks(due=due):
        process_webhook.send(str(event_id), str(organization_id))
    if due.of(Work.JOBS) or due.of(Work.SCHEDULE):
        tick_schedule.send()  # sync jobs: lost workers, due polls and reconciliations, back-fills
    try:
        for delivery_id, organization_id in due_deliveries(
            organization_ids=due.of(Work.DELIVERIES)
        ):
            deliver_webhook.send(str(delivery_id), str(organization_id))
    except Exception:  # the next sweep tries again
        log.exception("outbound webhook sweep failed")
    try:
        alert_stale(due=due)
    except Exception:  # alerts must not stop the sweep
        log.exception("stale stock alerts failed")
