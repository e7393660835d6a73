"""One error type for the whole app: typed, coded, carrying data, never parsed as text."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorType(StrEnum):
    VALIDATION = "validation"
    AUTHENTICATION = "authentication"
    AUTHORIZATION = "authorization"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    PLATFORM_API = "platform_api"
    SYNC = "sync"
    RATE_LIMIT = "rate_limit"
    NETWORK = "network"
    INTERNAL = "internal"


_RETRYABLE_BY_DEFAULT = {ErrorType.RATE_LIMIT, ErrorType.NETWORK}


class AppError(Exception):
    """An error the caller can act on: `type` and `code` drive behaviour; `message` is for
    people."""

    def __init__(
        self,
        type: ErrorType,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.type = type
        self.code = code
        self.message = message
        self.details = details or {}
        self.retryable = type in _RETRYABLE_BY_DEFAULT if retryable is None else retryable

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "retryable": self.retryable,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.type.value}, {self.code!r}, {self.message!r})"


class ValidationFailed(AppError):
    def __init__(self, field: str, message: str, **details: Any) -> None:
        super().__init__(
            ErrorType.VALIDATION,
            "invalid_field",
            f"{field}: {message}",
            details={"field": field, **details},
        )


class NotFound(AppError):
    def __init__(self, entity: str, entity_id: object) -> None:
        super().__init__(
            ErrorType.NOT_FOUND,
            f"{entity}_not_found",
            f"{entity} {entity_id} not found",
            details={"entity": entity, "id": str(entity_id)},
        )


class PermissionDenied(AppError):
    def __init__(self, permission: str, role: str) -> None:
        super().__init__(
            ErrorType.AUTHORIZATION,
            "permission_denied",
            f"role {role!r} may not {permission.replace('_', ' ')}",
            details={"permission": permission, "role": role},
        )


class AuthenticationFailed(AppError):
    def __init__(
        self, code: str = "invalid_credentials", message: str = "wrong email or password"
    ) -> None:
        super().__init__(ErrorType.AUTHENTICATION, code, message)
