"""Single flight per key inside one worker process.

The first message for a key runs a loop; a message for a key whose loop is running only leaves
its item with that loop and returns. The loop takes the waiting items one at a time until none is
left. Items are a set, so repeats coalesce. Items left with a loop that dies are gone from memory
only: the work they stand for is still in the database, and the sweep hands it over again.
"""

from __future__ import annotations

import threading


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
