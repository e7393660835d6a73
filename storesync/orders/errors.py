"""Order errors carry their data; callers branch on the code, never on the text."""

from __future__ import annotations

from storesync.core.errors import AppError, ErrorType


class IllegalTransition(AppError):
    """The order's current status does not allow moving to the requested one."""

    def __init__(self, *, from_status: str, to_status: str, allowed: list[str]) -> None:
        hint = f"it can move to {', '.join(allowed)}" if allowed else f"{from_status} is final"
        super().__init__(
            ErrorType.CONFLICT,
            "illegal_transition",
            f"an order that is {from_status} cannot become {to_status}: {hint}",
            details={"from": from_status, "to": to_status, "allowed": allowed},
        )
        self.from_status = from_status
        self.to_status = to_status
