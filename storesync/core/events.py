"""The event bus: small JSON events per organization (`order.created`, `stock.changed`,
`sync_job.progress`, `notification`), Redis pub/sub in production, in-process when embedded.

Publish after commit (`publish_after_commit`) so nobody hears of a change that was rolled back.
Subscribers are asyncio consumers (the UI relay); publishers may be any thread or process.

Also the two ways a lower layer tells a higher one what happened without importing it: a `Hook`
(one receiver, connected at start-up by the composition root, `workers.wiring`) and session
listeners, which modules declare as `SESSION_LISTENERS` and the root installs. Nothing here
connects itself at import time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec

from sqlalchemy.orm import Session

from storesync.core.clock import utcnow
from storesync.settings import get_settings

log = logging.getLogger(__name__)
CHANNEL_PREFIX = "storesync:org:"

P = ParamSpec("P")
SessionListeners = tuple[tuple[str, Callable[..., None]], ...]


class Hook(Generic[P]):
    """A hand-over point with at most one receiver: the module that fires it does not know who
    listens (`outbox_ready` fires; the composition root connects the push actor). Firing an
    unconnected hook does nothing; a receiver's error is the firer's to log."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receiver: Callable[P, None] | None = None

    @property
    def connected(self) -> bool:
        return self._receiver is not None

    @property
    def receiver(self) -> Callable[P, None] | None:
        return self._receiver

    def connect(self, receiver: Callable[P, None] | None) -> Callable[P, None] | None:
        """Make `receiver` the one receiver (None disconnects); returns the previous one."""
        previous, self._receiver = self._receiver, receiver
        return previous

    @contextmanager
    def connected_to(self, receiver: Callable[P, None] | None) -> Iterator[None]:
        """`receiver` for the block, then the previous receiver again (tests)."""
        previous = self.connect(receiver)
        try:
            yield
        finally:
            self.connect(previous)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> None:
        receiver = self._receiver
        if receiver is not None:
            receiver(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, connected={self.connected})"


@dataclass(frozen=True)
class Event:
    organization_id: str
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: utcnow().isoformat())

    def to_json(self) -> str:
        return json.dumps(
            {
                "organization_id": self.organization_id,
                "type": self.type,
                "data": self.data,
                "at": self.at,
            },
            default=str,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        data = json.loads(raw)
        return cls(data["organization_id"], data["type"], data.get("data", {}), data.get("at", ""))


class InProcessBus:
    """Fan-out inside one process; safe to publish from any thread."""

    def __init__(self) -> None:
        self._subscribers: list[
            tuple[asyncio.AbstractEventLoop, asyncio.Queue[Event], str | None]
        ] = []
        self._lock = threading.Lock()

    def publish(self, event: Event) -> None:
        with self._lock:
            targets = list(self._subscribers)
        for loop, queue, org in targets:
            if (org is None or org == event.organization_id) and not loop.is_closed():
                loop.call_soon_threadsafe(queue.put_nowait, event)

    async def subscribe(self, organization_id: str | None = None) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        entry = (asyncio.get_running_loop(), queue, organization_id)
        with self._lock:
            self._subscribers.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            with self._lock:
                self._subscribers.remove(entry)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


class RedisBus:
    """Redis pub/sub: one channel per organization."""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self._client = redis.Redis.from_url(url)

    def publish(self, event: Event) -> None:
        self._client.publish(CHANNEL_PREFIX + event.organization_id, event.to_json())

    async def subscribe(self, organization_id: str | None = None) -> AsyncIterator[Event]:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self.url)
        pubsub = client.pubsub()
        if organization_id is None:
            await pubsub.psubscribe(CHANNEL_PREFIX + "*")
        else:
            await pubsub.subscribe(CHANNEL_PREFIX + organization_id)
        try:
            async for message in pubsub.listen():
                if message["type"] in ("message", "pmessage"):
                    yield Event.from_json(message["data"])
        finally:
            await pubsub.aclose()
            await client.aclose()


Bus = InProcessBus | RedisBus
_bus: Bus | None = None


def get_bus() -> Bus:
    global _bus
    if _bus is None:
        url = get_settings().redis_url
        _bus = RedisBus(url) if url else InProcessBus()
    return _bus


def set_bus(bus: Bus | None) -> None:
    """Install a bus (tests); None goes back to the one settings choose."""
    global _bus
    _bus = bus


def publish(
    organization_id: uuid.UUID | str, type: str, data: dict[str, Any] | None = None
) -> None:
    try:
        get_bus().publish(Event(str(organization_id), type, data or {}))
    except Exception:  # the bus is best effort: pages re-read on their next load
        log.exception("event bus publish failed for %s", type)


def publish_after_commit(
    session: Session,
    organization_id: uuid.UUID | str,
    type: str,
    data: dict[str, Any] | None = None,
) -> None:
    """Queue an event that goes out only if the session's transaction commits."""
    session.info.setdefault("pending_events", []).append((str(organization_id), type, data or {}))


def pending_events(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
    """The events the session's transaction will publish if it commits: (organization id,
    type, data). Outbound webhooks record their deliveries from them before the commit."""
    return list(session.info.get("pending_events", []))


# SQLAlchemy fires after_commit / after_rollback for savepoints too. Events go out only on the
# real commit; a savepoint rolled back drops just the events queued inside it.
_MARKS = "pending_event_marks"


def _mark_savepoint(session: Session, transaction: Any) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_MARKS, {})
        marks[id(transaction)] = len(session.info.get("pending_events", []))


def _flush_events(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.info.pop(_MARKS, None)
    for organization_id, type_, data in session.info.pop("pending_events", []):
        publish(organization_id, type_, data)


def _drop_events(session: Session) -> None:
    savepoint = session.get_nested_transaction()
    if savepoint is None:
        session.info.pop("pending_events", None)
        session.info.pop(_MARKS, None)
        return
    mark = session.info.get(_MARKS, {}).pop(id(savepoint), None)
    pending = session.info.get("pending_events")
    if mark is not None and pending is not None:
        del pending[mark:]


# Installed on every session by the composition root.
SESSION_LISTENERS: SessionListeners = (
    ("after_transaction_create", _mark_savepoint),
    ("after_commit", _flush_events),
    ("after_rollback", _drop_events),
)
