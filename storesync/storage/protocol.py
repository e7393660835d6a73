"""What every store offers (`Storage`) and what it hands back (`StoredObject`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class StoredObject:
    """An object's bytes and the media type it was stored with."""

    data: bytes
    content_type: str

    @property
    def size(self) -> int:
        return len(self.data)


@runtime_checkable
class Storage(Protocol):
    """A flat store of objects addressed by key (see `storesync.storage.keys.check_key`).

    Every method refuses a bad key or content type with `ValidationFailed` before touching the
    store; a store that cannot be reached raises `StorageUnavailable`. Blocking: call from a
    worker or a thread, not on an event loop."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing what was there; readers see the old object or
        the new one, never a part."""
        ...

    def get(self, key: str) -> StoredObject:
        """The object under `key`; `ObjectNotFound` when there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object under `key`; nothing happens when there is none."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        ...
