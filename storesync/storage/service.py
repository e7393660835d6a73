"""`get_storage`: the one store this process keeps its files in."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from storesync.settings import RunMode, Settings, get_settings
from storesync.storage.errors import StorageNotConfigured
from storesync.storage.local import LocalStorage
from storesync.storage.protocol import Storage

log = logging.getLogger(__name__)


def get_storage(settings: Settings | None = None) -> Storage:
    """The store for this process, made once per storage URL.

    With `STORESYNC_STORAGE_URL` set: that S3-compatible bucket. Without it, embedded mode keeps
    files under `var/media/` and production mode raises `StorageNotConfigured` (several app
    processes cannot share one machine's disk)."""
    settings = settings or get_settings()
    if settings.storage_url:
        return _s3_storage(settings.storage_url)
    if settings.env is not RunMode.EMBEDDED:
        raise StorageNotConfigured()
    return _local_storage(settings.media_dir.resolve())


@functools.cache
def _local_storage(root: Path) -> LocalStorage:
    log.info("storage: no STORESYNC_STORAGE_URL, keeping files under %s", root)
    return LocalStorage(root)


@functools.cache
def _s3_storage(url: str) -> Storage:
    # boto3 takes a moment to import: only processes that use S3 pay for it.
    from storesync.storage.s3 import S3Storage

    storage = S3Storage.from_url(url)
    log.info("storage: keeping files in %r", storage)
    return storage
