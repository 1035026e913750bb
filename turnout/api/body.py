"""Reading an ASGI request body with a size bound."""

from __future__ import annotations

from turnout.asgi import Receive


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None past `limit` bytes (the rest is drained, never stored)."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks) if size <= limit else None
