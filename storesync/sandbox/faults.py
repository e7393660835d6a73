"""Fault injection, rate limits and the call log, shared by both simulators (ASGI middleware).

Switchable at runtime through the control API: error rate, added latency, 5xx bursts, timeouts,
malformed bodies, and a token bucket per app and shop answering the platform's rate-limit error.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storesync.sandbox.platform import PlatformSim


@dataclass
class FaultConfig:
    error_rate: float = 0.0  # share of calls answered with the platform's server error
    latency_ms: int = 0  # added to every call
    burst_5xx: int = 0  # the next N calls answer 503
    burst_5xx_until: float = 0.0  # or: every call answers 503 until this monotonic time
    rate_limit_until: float = 0.0  # every call answers the rate-limit error until then
    timeout_rate: float = 0.0  # share of calls that hang for `timeout_seconds`
    timeout_seconds: float = 30.0
    malformed_rate: float = 0.0  # share of calls answered with a truncated JSON body
    webhook_drop_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    rate_limit_per_second: float = 0.0  # per app and shop; 0 = unlimited
    rate_limit_burst: int = 0  # bucket size; 0 = same as the rate

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["burst_5xx_seconds_left"] = max(0.0, self.burst_5xx_until - time.monotonic())
        data["rate_limited_seconds_left"] = max(0.0, self.rate_limit_until - time.monotonic())
        del data["burst_5xx_until"], data["rate_limit_until"]
        return data


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = float(burst or max(1, int(rate)))
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> bool:
        current = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (current - self.updated) * self.rate)
        self.updated = current
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class CallRecord:
    platform: str
    method: str
    path: str
    shop: str
    status: int
    outcome: str  # ok | rate_limited | fault_5xx | fault_error | timeout | malformed
    at: float = field(default_factory=time.time)


class Faults:
    """Per-platform fault settings, buckets and the call log."""

    def __init__(self, *, seed: int | None = None, log_size: int = 100_000) -> None:
        self.config: dict[str, FaultConfig] = {}
        self.buckets: dict[tuple[str, str], TokenBucket] = {}
        self.calls: deque[CallRecord] = deque(maxlen=log_size)
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def of(self, platform: str) -> FaultConfig:
        return self.config.setdefault(platform, FaultConfig())

    def update(self, platform: str, changes: dict[str, Any]) -> FaultConfig:
        """Apply control-API changes; `burst_5xx_seconds` / `rate_limited_seconds` are relative."""
        config = self.of(platform)
        for key, value in changes.items():
            if key == "burst_5xx_seconds":
                config.burst_5xx_until = time.monotonic() + float(value)
            elif key == "rate_limited_seconds":
                config.rate_limit_until = time.monotonic() + float(value)
            elif key in FaultConfig.__dataclass_fields__ and not key.endswith("_until"):
                setattr(config, key, type(getattr(config, key))(value))
            else:
                raise ValueError(f"unknown fault setting {key!r}")
        with self.lock:
            self.buckets = {k: b for k, b in self.buckets.items() if k[0] != platform}
        return config

    def reset(self) -> None:
        with self.lock:
            self.config.clear()
            self.buckets.clear()
            self.calls.clear()

    def allow(self, platform: str, shop: str) -> bool:
        config = self.of(platform)
        if config.rate_limit_until > time.monotonic():
            return False
        if config.rate_limit_per_second <= 0:
            return True
        with self.lock:
            bucket = self.buckets.get((platform, shop))
            if bucket is None:
                bucket = TokenBucket(config.rate_limit_per_second, config.rate_limit_burst)
                self.buckets[(platform, shop)] = bucket
            return bucket.take()

    def chance(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate


class FaultMiddleware:
    """Wraps one platform's app: logs every call; applies latency, faults and rate limits."""

    def __init__(self, app: ASGIApp, sim: PlatformSim, faults: Faults) -> None:
        self.app = app
        self.sim = sim
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.time()  # the log keeps when each call arrived, not when it was answered
        request = Request(scope)
        platform = self.sim.name
        shop = self.sim.shop_key(request)
        config = self.faults.of(platform)
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        injected = self._injected(config, platform, shop)
        if injected is not None:
            outcome, response = injected
            if outcome == "timeout":
                await asyncio.sleep(config.timeout_seconds)
            self._log(request, shop, response.status_code, outcome, arrived)
            await response(scope, receive, send)
            return
        status_box: list[int] = []

        malformed = self.faults.chance(config.malformed_rate)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box.append(message["status"])
                if malformed:  # the truncated body must not promise its old length
                    headers = [
                        (k, v) for k, v in message.get("headers", []) if k != b"content-length"
                    ]
                    message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and malformed:
                body = message.get("body", b"")
                message = {**message, "body": body[: max(1, len(body) // 2)]}
            await send(message)

        await self.app(scope, receive, send_wrapper)
        status = status_box[0] if status_box else 500
        self._log(request, shop, status, "malformed" if malformed else "ok", arrived)

    def _injected(
        self, config: FaultConfig, platform: str, shop: str
    ) -> tuple[str, Response] | None:
        if config.burst_5xx > 0:
            config.burst_5xx -= 1
            return "fault_5xx", self.sim.server_error(503)
        if config.burst_5xx_until > time.monotonic():
            return "fault_5xx", self.sim.server_error(503)
        if not self.faults.allow(platform, shop):
            return "rate_limited", self.sim.rate_limited()
        if self.faults.chance(config.timeout_rate):
            return "timeout", self.sim.server_error(504)
        if self.faults.chance(config.error_rate):
            return "fault_error", self.sim.server_error(500)
        return None

    def _log(self, request: Request, shop: str, status: int, outcome: str, arrived: float) -> None:
        self.faults.calls.append(
            CallRecord(
                self.sim.name, request.method, request.url.path, shop, status, outcome, arrived
            )
        )
