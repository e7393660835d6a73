"""The composition root: the one place that knows every layer and connects them at start-up.
Imported only by entry points (the app's start-up in `storesync.ui.mounts`, the CLI, the worker
process `workers.main`, tests and benches), never by the modules it wires.

`wire()` is `prepare()` (the session listeners: after-commit events, the stock outbox, queued
jobs; a new organization's default location; the job runner's kinds; secrets kept out of the
marketplace request logs), then `connect_actors()` (the after-commit hooks to the Dramatiq
actors). Tests prepare only, and connect the hooks they need. Idempotent and thread-safe.
"""

from __future__ import annotations

import logging
import threading
import uuid

from sqlalchemy import event
from sqlalchemy.orm import Session

from storesync import db
from storesync.analytics import activity
from storesync.channels import shared_limits
from storesync.channels.logs import install_log_redaction
from storesync.core import events
from storesync.core.logs import JsonFormatter
from storesync.inventory import service as inventory
from storesync.notifications import webhooks
from storesync.settings import get_settings
from storesync.sync.intake import routes as intake
from storesync.sync.jobs import runner
from storesync.sync.jobs import service as jobs
from storesync.sync.kinds import JOB_KINDS
from storesync.sync.push import outbox
from storesync.tenancy import service as tenancy

_lock = threading.Lock()
_prepared = False

# Installed in this order (the order the modules registered themselves in before): the events'
# savepoint marks first; outbound webhooks read the touched variants before the outbox, last,
# takes them.
LISTENER_MODULES = (events, inventory, jobs, webhooks, activity, outbox)


def wire() -> None:
    """Everything a process running StoreSync needs, before its first session."""
    prepare()
    connect_actors()
    if get_settings().log_format == "json":
        # Dramatiq set up this worker process's handlers: they write JSON lines too.
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())


def prepare() -> None:
    """What every process needs before its first session; later calls do nothing."""
    global _prepared
    with _lock:
        if _prepared:
            return
        install_listeners()
        tenancy.organization_created.connect(inventory.create_main_location)
        runner.install_kinds(JOB_KINDS)
        install_log_redaction()
        redis_url = get_settings().redis_url
        if redis_url:  # several processes call each store: they share its rate and circuit
            shared_limits.use_redis(redis_url)
        _prepared = True


def install_listeners() -> None:
    """Every module's `SESSION_LISTENERS`, on every session (SQLAlchemy's `Session` and so its
    subclasses: SQLModel's and `db.TenantSession`)."""
    for module in LISTENER_MODULES:
        for name, listener in module.SESSION_LISTENERS:
            if not event.contains(Session, name, listener):
                event.listen(Session, name, listener)
    db.listeners_installed()


def connect_actors() -> None:
    """After commit: outbox work → push_store_stock; stored pushes → process_webhook; queued
    jobs → run_sync_job; outbound webhook deliveries → deliver_webhook. A worker process
    announces its own after-commit work too: an order it ingests queues the other channels'
    pushes at once (not only at the next sweep)."""
    from workers import actors, job_actors

    def announce_push(organization_id: uuid.UUID, store_id: uuid.UUID) -> None:
        if actors.held_push(organization_id, store_id):  # an intake loop pushes it itself
            return
        actors.push_store_stock.send(str(organization_id), str(store_id))

    def announce_event(event_id: uuid.UUID, organization_id: uuid.UUID) -> None:
        actors.process_webhook.send(str(event_id), str(organization_id))

    def announce_job(job_id: uuid.UUID, organization_id: uuid.UUID) -> None:
        job_actors.run_sync_job.send(str(job_id), str(organization_id))

    def announce_delivery(delivery_id: uuid.UUID, organization_id: uuid.UUID) -> None:
        actors.deliver_webhook.send(str(delivery_id), str(organization_id))

    outbox.outbox_ready.connect(announce_push)
    intake.event_stored.connect(announce_event)
    jobs.job_queued.connect(announce_job)
    webhooks.deliveries_ready.connect(announce_delivery)


def disconnect_actors() -> None:
    """The hooks back to unconnected (tests that connected them for a while)."""
    for hook in (
        outbox.outbox_ready,
        intake.event_stored,
        jobs.job_queued,
        webhooks.deliveries_ready,
    ):
        hook.connect(None)
