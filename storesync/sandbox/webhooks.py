"""Push delivery: each state event becomes the platform's signed webhook to the registered URL,
retried with backoff on failure like the platforms do (compressed from hours to seconds).

Events may be emitted from any thread; delivery runs as tasks on the sandbox's event loop.
Plain-http receivers get the pushes through `PushSender`, a lean HTTP/1.1 POST (below); https
receivers through httpx.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import httpx

from storesync.sandbox.faults import Faults
from storesync.sandbox.platform import PlatformSim
from storesync.sandbox.state import SandboxEvent, SandboxState

log = logging.getLogger(__name__)

# Real platforms retry over minutes to days; the sandbox keeps the shape at demo speed.
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
TIMEOUT = httpx.Timeout(5.0)
# Deliveries in flight at once, like a platform's per-app sender (real ones send many pushes at
# once). Plain-http receivers get them through `PushSender`, a few hundred bytes of state each.
# It was 4: a receiver acknowledging in 30 ms then took at most ~130 pushes/s, fewer than 50
# sales/s cause (an order push and a stock push per sale, and the stock pushes StoreSync's own
# updates cause), and the sandbox's queue, not StoreSync, set the bench's latency.
CONCURRENCY = 16
# httpx (https receivers) keeps fewer: it polls every pooled connection's socket on each request
# (at 16, 11 % of the sandbox's CPU at 50 pushes/s); the others wait for a free connection.
HTTPX_CONNECTIONS = 4
MAX_HEADER_LINES = 100  # in a receiver's answer


@dataclass
class DeliveryStats:
    queued: int = 0
    delivered: int = 0
    attempts: int = 0
    retried: int = 0
    failed: int = 0  # gave up after every retry
    dropped: int = 0  # fault injection: never sent
    duplicated: int = 0  # fault injection: sent twice


class WebhookDispatcher:
    def __init__(
        self, state: SandboxState, sims: Mapping[str, PlatformSim], faults: Faults
    ) -> None:
        self.state = state
        self.sims = sims
        self.faults = faults
        self.stats = DeliveryStats()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: httpx.AsyncClient | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.slots: asyncio.Semaphore | None = None
        self.sender: PushSender | None = None
        state.listeners.append(self.on_event)

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.slots = asyncio.Semaphore(CONCURRENCY)
        self.sender = PushSender(timeout=TIMEOUT.read or 5.0)
        self.client = httpx.AsyncClient(
            timeout=TIMEOUT,
            limits=httpx.Limits(
                max_connections=HTTPX_CONNECTIONS, max_keepalive_connections=HTTPX_CONNECTIONS
            ),
        )

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()
        if self.sender is not None:
            self.sender.close()
        self.loop = None

    def on_event(self, event: SandboxEvent) -> None:
        """State listener (any thread): schedule the push if a URL is registered."""
        url = self.state.webhooks.get(event.platform)
        if not url or self.loop is None or self.loop.is_closed():
            return
        self.stats.queued += 1
        self.loop.call_soon_threadsafe(self._spawn, url, event)

    def _spawn(self, url: str, event: SandboxEvent) -> None:
        task = asyncio.ensure_future(self._deliver(url, event))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, url: str, event: SandboxEvent) -> None:
        sim = self.sims[event.platform]
        request = sim.webhook(self.state.apps[event.platform], url, event)
        if request is None:
            self.stats.queued -= 1
            return
        config = self.faults.of(event.platform)
        if self.faults.chance(config.webhook_drop_rate):
            self.stats.dropped += 1
            return
        copies = 2 if self.faults.chance(config.webhook_duplicate_rate) else 1
        self.stats.duplicated += copies - 1
        for _ in range(copies):
            await self._send_with_retries(url, *request)

    async def _send_with_retries(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        assert self.client is not None and self.slots is not None
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            if delay:
                self.stats.retried += 1
                await asyncio.sleep(delay)
            self.stats.attempts += 1
            try:
                async with self.slots:
                    status = await self._post(url, body, headers)
                if 200 <= status < 300:
                    self.stats.delivered += 1
                    return
                log.info("webhook to %s answered %s (attempt %d)", url, status, attempt + 1)
            except (httpx.HTTPError, SendFailed) as error:
                log.info("webhook to %s failed: %s (attempt %d)", url, error, attempt + 1)
        self.stats.failed += 1

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        assert self.client is not None and self.sender is not None
        if url.startswith("http://"):
            return await self.sender.post(url, body, headers)
        response = await self.client.post(url, content=body, headers=headers)
        return response.status_code

    def public_stats(self) -> dict[str, int]:
        return asdict(self.stats)


# -- the lean sender for plain-http receivers --------------------------------------------------


class SendFailed(Exception):
    """The receiver could not be reached or answered something that is not HTTP/1.x."""


class PushSender:
    """A lean HTTP/1.1 POST for the sandbox's pushes to plain-http receivers.

    The sandbox stands in for a marketplace, and on a developer machine or in a bench it shares
    the CPU with the StoreSync it exercises. Sent through httpx, each push cost the sandbox about
    4 ms of CPU (request and response models, auth and redirect handling, a pool that polls every
    socket), most of what a 50 sales/s bench spent outside StoreSync. This writes the request and
    reads the status, headers and body itself, keeping connections alive per receiver. https
    receivers still go through httpx (`WebhookDispatcher`)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[tuple[str, int], list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
        self._idle = {}

    def close(self) -> None:
        for connections in self._idle.values():
            for _, writer in connections:
                writer.close()
        self._idle.clear()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST `body` to the http:// `url`; the response status. `SendFailed` on a connection
        error, a timeout or a malformed answer."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not a plain http URL: {url!r}")
        address = (parts.hostname, parts.port or 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "host"]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        try:
            return await asyncio.wait_for(self._exchange(address, request), self.timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as error:
            raise SendFailed(f"{type(error).__name__}: {error}") from error

    async def _exchange(self, address: tuple[str, int], request: bytes) -> int:
        idle = self._idle.setdefault(address, [])
        while idle:  # a kept-alive connection the receiver may have closed meanwhile
            reader, writer = idle.pop()
            try:
                return await self._round_trip(address, reader, writer, request)
            except _Stale:
                writer.close()
        reader, writer = await asyncio.open_connection(*address)
        try:
            return await self._round_trip(address, reader, writer, request)
        except _Stale as stale:
            raise SendFailed("the receiver closed the connection without answering") from stale

    async def _round_trip(
        self,
        address: tuple[str, int],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: bytes,
    ) -> int:
        try:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
        except (ConnectionError, BrokenPipeError) as error:
            raise _Stale from error
        if not status_line:
            raise _Stale
        try:
            status, keep_alive = await _read_response(reader, status_line)
        except BaseException:
            writer.close()
            raise
        if keep_alive:
            self._idle.setdefault(address, []).append((reader, writer))
        else:
            writer.close()
        return status


class _Stale(Exception):
    """Nothing came back on a connection: it was closed before the request reached anyone."""


async def _read_response(reader: asyncio.StreamReader, status_line: bytes) -> tuple[int, bool]:
    version, _, rest = status_line.decode("latin-1").partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x answer: {status_line[:40]!r}")
    status = int(rest[:3])
    length: int | None = None
    chunked = False
    keep_alive = version == "HTTP/1.1"
    for _ in range(MAX_HEADER_LINES):
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value
        elif name == "connection":
            keep_alive = value != "close"
    else:
        raise ValueError("too many header lines")
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            await reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                break
    elif length is not None:
        await reader.readexactly(length)
    elif status not in (204, 304) and not 100 <= status < 200:
        await reader.read()  # the body runs to the end of the connection
        keep_alive = False
    return status, keep_alive
