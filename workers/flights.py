"""Single flight per key: inside one worker process (`Flights`), or across all of them through
Redis (`RedisFlights`, the production layout).

The first message for a key runs a loop; a message for a key whose loop is running only leaves
its item with that loop and returns. The loop takes the waiting items one at a time until none is
left. Items are a set, so repeats coalesce. Items left with a loop that dies are gone from memory
only: the work they stand for is still in the database, and the sweep hands it over again.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

log = logging.getLogger(__name__)


class Flights:
    def __init__(self) -> None:
        self._waiting: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def join(self, key: str, item: str) -> bool:
        """True: no loop runs for `key`, the caller runs it (starting with `item`). False: `item`
        was left with the running loop."""
        with self._lock:
            if key in self._waiting:
                self._waiting[key].add(item)
                return False
            self._waiting[key] = set()
            return True

    def next(self, key: str) -> str | None:
        """The next item left with the caller's loop, or None: the loop ends, and the next
        message for `key` starts a new one."""
        with self._lock:
            waiting = self._waiting[key]
            if not waiting:
                del self._waiting[key]
                return None
            return waiting.pop()

    def abandon(self, key: str) -> None:
        """The loop failed: the next message for `key` starts a new one."""
        with self._lock:
            self._waiting.pop(key, None)


class RedisFlights:
    """`Flights` shared by every worker process through Redis (the production layout runs
    several). One loop per key across all of them: with a loop per process, each ran batches
    half the size, and a batch's fixed costs (claim, order-detail call, transaction, adapter)
    were paid twice as often.

    The leader (a thread) holds `<prefix>:lock:<key>` (a token, expiring after `ttl_ms` unless
    renewed by `next`); other callers leave their item on `<prefix>:items:<key>`. Both steps are
    one Lua script each, so an item is either taken by the running loop or finds no loop and
    starts one, never neither. A leader that dies stops blocking others when its lock expires;
    the items it left are still in the database and the sweep hands them over again."""

    _JOIN = """
    if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
    redis.call('SADD', KEYS[2], ARGV[1])
    redis.call('PEXPIRE', KEYS[2], ARGV[3])
    return 0
    """
    _NEXT = """
    if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, false} end
    local item = redis.call('SPOP', KEYS[2])
    if item then
      redis.call('PEXPIRE', KEYS[1], ARGV[2])
      return {1, item}
    end
    redis.call('DEL', KEYS[1])
    return {0, false}
    """
    _ABANDON = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
    return 0
    """

    def __init__(self, client: Any, prefix: str, *, ttl_ms: int = 30_000) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_ms = ttl_ms
        # key → lock token of the loop this thread leads. Per thread, not per process: with one
        # dict per process, a loop ending in one thread dropped the token a new loop in another
        # thread of the process had just stored, so that loop could neither take items nor let
        # go, and its key's work waited for the lock to expire (150 sales stalled in the bench).
        self._local = threading.local()
        self._join = client.register_script(self._JOIN)
        self._next = client.register_script(self._NEXT)
        self._abandon = client.register_script(self._ABANDON)

    def _keys(self, key: str) -> list[str]:
        return [f"{self._prefix}:lock:{key}", f"{self._prefix}:items:{key}"]

    def _tokens(self) -> dict[str, str]:
        tokens: dict[str, str] | None = getattr(self._local, "tokens", None)
        if tokens is None:
            tokens = self._local.tokens = {}
        return tokens

    def join(self, key: str, item: str) -> bool:
        """As `Flights.join`; the loop then runs in this thread (`next`, `abandon`)."""
        token = uuid.uuid4().hex
        if not self._join(keys=self._keys(key), args=[item, token, self._ttl_ms]):
            return False
        self._tokens()[key] = token
        return True

    def next(self, key: str) -> str | None:
        token = self._tokens().get(key, "")
        found, item = self._next(keys=self._keys(key), args=[token, self._ttl_ms])
        if not found:
            self._tokens().pop(key, None)
            return None
        return item.decode() if isinstance(item, bytes) else str(item)

    def abandon(self, key: str) -> None:
        token = self._tokens().pop(key, "")
        try:
            self._abandon(keys=self._keys(key), args=[token])
        except Exception:  # the lock expires anyway
            log.warning("could not release flight %s:%s", self._prefix, key, exc_info=True)


def flights_for(broker: Any, prefix: str, *, ttl_ms: int = 30_000) -> Flights | RedisFlights:
    """Shared through Redis when the broker is Redis (several worker processes), else in-process
    (embedded mode: one process). `ttl_ms`: how long a dead leader's lock lasts."""
    client = getattr(broker, "client", None)
    if client is None:
        return Flights()
    return RedisFlights(client, prefix, ttl_ms=ttl_ms)
