"""How long sync work reports progress and learns it was cancelled.

A long operation (`sync_products`, `sync_inventory`, `sync_orders`, `reconcile_store`, back-fill)
takes an optional `progress` sink and calls it between batches. The job runner's sink persists the
figures on `sync_job`, publishes them on the event bus, and raises `JobCancelled` when the job was
asked to stop; the operation lets it propagate, so work stops at the next batch boundary.
"""

from __future__ import annotations

from typing import Protocol


class JobCancelled(Exception):
    """Raised by a progress sink when the job was cancelled; the work stops where it is."""


class ProgressSink(Protocol):
    def __call__(self, *, phase: str, done: int, total: int, failed: int = 0) -> None: ...


def no_progress(*, phase: str, done: int, total: int, failed: int = 0) -> None:
    """The default sink: nobody is watching."""
