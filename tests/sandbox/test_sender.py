"""The sandbox's lean push sender, against raw asyncio servers on 127.0.0.1: keep-alive reuse, a
connection the receiver closed meanwhile, chunked answers, and receivers that are not there."""

from __future__ import annotations

import asyncio
import socket

import pytest

from storesync.sandbox.webhooks import PushSender, SendFailed


async def _serve(answer: bytes, *, close_after: bool = False):  # type: ignore[no-untyped-def]
    """A receiver that reads one request at a time and answers `answer`; records the bodies and
    how many connections it accepted."""
    seen: dict[str, list] = {"connections": [], "bodies": []}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"].append(1)
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:  # the sender closed the connection
                break
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            seen["bodies"].append(await reader.readexactly(length))
            writer.write(answer)
            await writer.drain()
            if close_after:
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/webhooks/shopee?x=1", seen


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_posts_reuse_one_kept_alive_connection() -> None:
    async def scenario() -> None:
        server, url, seen = await _serve(OK)
        sender = PushSender(timeout=5)
        statuses = [await sender.post(url, b'{"n":%d}' % n, {"Authorization": "s"}) for n in (1, 2)]
        sender.close()
        server.close()
        assert statuses == [200, 200]
        assert seen["bodies"] == [b'{"n":1}', b'{"n":2}']
        assert len(seen["connections"]) == 1

    asyncio.run(scenario())


def test_a_connection_the_receiver_closed_is_replaced_without_an_error() -> None:
    async def scenario() -> None:
        server, url, seen = await _serve(OK, close_after=True)  # no "Connection: close" said
        sender = PushSender(timeout=5)
        first = await sender.post(url, b"1", {})
        await asyncio.sleep(0.05)
        second = await sender.post(url, b"2", {})
        sender.close()
        server.close()
        assert (first, second) == (200, 200)
        assert seen["bodies"] == [b"1", b"2"]  # each delivered once
        assert len(seen["connections"]) == 2

    asyncio.run(scenario())


def test_a_chunked_answer_is_read_to_its_end_and_the_connection_reused() -> None:
    chunked = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"

    async def scenario() -> None:
        server, url, seen = await _serve(chunked)
        sender = PushSender(timeout=5)
        statuses = [await sender.post(url, b"x", {}) for _ in range(2)]
        sender.close()
        server.close()
        assert statuses == [201, 201]
        assert len(seen["connections"]) == 1

    asyncio.run(scenario())


def test_a_receiver_that_is_not_there_fails_clearly() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(SendFailed, match="ConnectionRefusedError"):
        asyncio.run(PushSender(timeout=5).post(f"http://127.0.0.1:{port}/", b"x", {}))


def test_only_plain_http_urls_are_taken() -> None:
    with pytest.raises(ValueError, match="not a plain http URL"):
        asyncio.run(PushSender(timeout=5).post("https://example.invalid/", b"x", {}))
