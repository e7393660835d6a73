"""A lean HTTP/1.1 POST for the sandbox's pushes to plain-http receivers.

The sandbox stands in for a marketplace, and on a developer machine or in a bench it shares the
CPU with the StoreSync it exercises. Sent through httpx, each push cost the sandbox about 4 ms of
CPU (request and response models, auth and redirect handling, a pool that polls every socket),
most of what a 50 sales/s bench spent outside StoreSync. This writes the request and reads the
status, headers and body itself, keeping connections alive per receiver. https receivers still go
through httpx (`WebhookDispatcher`)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

MAX_HEADER_LINES = 100


class SendFailed(Exception):
    """The receiver could not be reached or answered something that is not HTTP/1.x."""


class PushSender:
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
