"""A streamed request body (an asynchronous request's input, ADR 0031): sent in chunks with
the socket's flow control, never whole in memory; an early answer stops the sending."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from turnout.instances.backend import Address
from turnout.routing.upstream import ConnectionPool, request_head

CHUNK = 256 * 1024


class Chunks:
    """`length` bytes of b"x" in CHUNK pieces, made as they are sent (a BodyStream)."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.sent = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        left = self.length
        while left:
            piece = b"x" * min(CHUNK, left)
            left -= len(piece)
            self.sent += len(piece)
            yield piece


async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads a body slowly and answers its size, keeping none of it."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )  # fmt: skip
    if b"x-refuse" in head.lower():
        writer.write(b"HTTP/1.1 413 Too Large\r\nContent-Length: 3\r\n\r\nbig")
        await writer.drain()
        await asyncio.sleep(1)
        writer.close()
        return
    got = 0
    while got < length:
        got += len(await reader.read(64 * 1024))
        await asyncio.sleep(0)  # a slow reader: the sender must wait, not buffer
    answer = b"%d" % got
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(answer) + answer)
    await writer.drain()
    writer.close()


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[ConnectionPool]:
    path = str(tmp_path / "s.sock")
    server = await asyncio.start_unix_server(counting, path)
    pool = ConnectionPool(Address.unix(path))
    yield pool
    pool.close()
    server.close()


async def test_a_large_body_is_streamed_with_bounded_memory(pool: ConnectionPool) -> None:
    body = Chunks(64 * 1024 * 1024)
    tracemalloc.start()
    try:
        response = await pool.send_stream(request_head(body.length, []), body, timeout=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (response.status, response.body) == (200, b"%d" % body.length)
    # 64 MB went through holding a few chunks at a time (the socket's buffer is the kernel's).
    assert peak < 16 * CHUNK, peak


async def test_an_early_answer_stops_the_sending(pool: ConnectionPool) -> None:
    body = Chunks(64 * 1024 * 1024)
    head = request_head(body.length, [(b"X-Refuse", b"1")])
    response = await pool.send_stream(head, body, timeout=60)
    assert (response.status, response.body) == (413, b"big")
    assert body.sent < body.length
    assert pool.idle_count == 0  # out of step: closed, never reused
