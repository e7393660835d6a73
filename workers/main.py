"""The worker process's entry point (`dramatiq workers.main`, started by `storesync worker`):
wires the process, then loads the actors."""

from __future__ import annotations

from workers import wiring

wiring.wire()

from workers.actors import broker  # noqa: E402  (after wiring: the actors run wired code)

__all__ = ["broker"]
