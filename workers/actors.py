"""Actors: load by id, call one service, idempotent. Options live on the decorator.

Sync actors arrive with the sync engine; `ping` proves the wiring end to end.
"""

from __future__ import annotations

import dramatiq

from workers.broker import broker

__all__ = ["broker", "ping"]


@dramatiq.actor(queue_name="default", max_retries=0, time_limit=10_000)
def ping(value: str) -> str:
    return value
