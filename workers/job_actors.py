"""Sync job actors: run one job, and the schedule tick (jobs that lost their worker, queued jobs
nobody took, due polls, reconciliations and back-fills). Arguments are plain ids."""

from __future__ import annotations

import logging
import uuid

import dramatiq

from workers.broker import broker

__all__ = ["broker", "run_sync_job", "tick_schedule"]

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="sync", max_retries=0, time_limit=3_600_000)
def run_sync_job(job_id: str, organization_id: str) -> None:
    """Run a queued sync job to its end; a repeated delivery of a job already taken does
    nothing. Failures are recorded on the job (retry it), so Dramatiq never retries."""
    from storesync.sync.jobs.runner import run_job

    run_job(uuid.UUID(job_id), uuid.UUID(organization_id))


@dramatiq.actor(queue_name="default", max_retries=0, time_limit=120_000)
def tick_schedule() -> None:
    """Fail jobs whose worker died, hand over again queued jobs nobody took, and create the due
    scheduled jobs and back-fills, handing each to a worker (in the organizations where one
    query finds such work: `storesync.sync.due`)."""
    from storesync.sync.due import Work, find_due
    from storesync.sync.health import schedule
    from storesync.sync.jobs import runner
    from storesync.sync.jobs import service as jobs

    due = find_due(kinds=(Work.JOBS, Work.SCHEDULE))  # afresh: this message may have waited
    handed = runner.sweep_jobs(due=due)
    created = schedule.run_tick(due=due)
    if not jobs.job_queued.connected:  # no after-commit hand-over in this process: do it here
        handed += created
    for job_id, organization_id in handed:
        run_sync_job.send(str(job_id), str(organization_id))
    if created:
        log.info("schedule tick: %d jobs created", len(created))
