"""The one clock. Tests replace it (`set_clock`); nothing else calls datetime.now()."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def utcnow() -> datetime:
    return _now()


def set_clock(now: Callable[[], datetime] | None) -> None:
    """Install a clock (for tests); `None` restores the real one."""
    global _now
    _now = now or (lambda: datetime.now(UTC))
