"""What each simulated platform provides to the shared sandbox machinery."""

from __future__ import annotations

from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from storesync.sandbox.state import App, Platform, SandboxEvent, SandboxState


class PlatformSim(Protocol):
    """A simulator: its ASGI apps (mounted under their prefixes), its own error shapes for the
    shared fault injection and rate limits, and its webhook format and signature."""

    name: Platform

    def mounts(self, state: SandboxState) -> dict[str, ASGIApp]:
        """Prefix (e.g. "/shopee") → ASGI app. Signatures cover the path without the prefix."""
        ...

    def shop_key(self, request: Request) -> str:
        """Which shop a call is for (rate limits are per app and shop); "" for app-level calls."""
        ...

    def rate_limited(self) -> Response:
        """The platform's own rate-limit answer."""
        ...

    def server_error(self, status: int) -> Response:
        """The platform's own transient server error (for fault injection)."""
        ...

    def webhook(
        self, app: App, url: str, event: SandboxEvent
    ) -> tuple[bytes, dict[str, str]] | None:
        """The push for `event` (body bytes, headers incl. the signature), or None when the
        platform sends no push for this kind of event."""
        ...
