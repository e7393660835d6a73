"""Mail errors carry their data; callers branch on `code`. None repeats an SMTP password."""

from __future__ import annotations

from storesync.core.errors import AppError, ErrorType


class MailNotConfigured(AppError):
    """Production mode has nowhere to send mail: `STORESYNC_SMTP_URL` is unset."""

    def __init__(self) -> None:
        super().__init__(
            ErrorType.INTERNAL,
            "mail_not_configured",
            "outgoing mail is not configured: set STORESYNC_SMTP_URL "
            "(smtp://user:password@host:587?starttls=true or smtps://user:password@host:465)",
            retryable=False,
        )


class MailDeliveryFailed(AppError):
    """The SMTP server could not be reached, or refused the message. `retryable` when the
    failure looked temporary (no connection, a 4xx answer) on every attempt."""

    def __init__(
        self, *, host: str, port: int, attempts: int, reason: str, retryable: bool
    ) -> None:
        super().__init__(
            ErrorType.NETWORK,
            "mail_delivery_failed",
            f"could not send mail through the SMTP server {host}:{port} "
            f"(STORESYNC_SMTP_URL) after {attempts} attempt{'s' if attempts > 1 else ''}: "
            f"{reason}",
            details={"host": host, "port": port, "attempts": attempts, "reason": reason},
            retryable=retryable,
        )
