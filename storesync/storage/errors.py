"""Storage errors carry their data; callers branch on `code`. None repeats a secret."""

from __future__ import annotations

from storesync.core.errors import AppError, ErrorType, NotFound


class ObjectNotFound(NotFound):
    """No object is stored under `key` (code `object_not_found`)."""

    def __init__(self, key: str) -> None:
        super().__init__("object", key)
        self.key = key


class StorageNotConfigured(AppError):
    """Production mode has nowhere to keep files: `STORESYNC_STORAGE_URL` is unset."""

    def __init__(self) -> None:
        super().__init__(
            ErrorType.INTERNAL,
            "storage_not_configured",
            "file storage is not configured: set STORESYNC_STORAGE_URL "
            "(s3://ACCESS_KEY:SECRET@host:9000/bucket[/prefix], ?secure=false for plain HTTP)",
            retryable=False,
        )


class StorageUnavailable(AppError):
    """The object store could not be reached or refused the request. `retryable` when it
    looked temporary (no connection, a timeout, a 5xx answer, throttling)."""

    def __init__(self, *, where: str, operation: str, reason: str, retryable: bool) -> None:
        super().__init__(
            ErrorType.NETWORK,
            "storage_unavailable",
            f"file storage {where} (STORESYNC_STORAGE_URL) failed to {operation}: {reason}",
            details={"where": where, "operation": operation, "reason": reason},
            retryable=retryable,
        )
