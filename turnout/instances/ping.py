"""`GET /ping` against an instance, the SageMaker container contract's health check."""

from __future__ import annotations

import asyncio

from turnout.instances.backend import Address

_REQUEST = b"GET /ping HTTP/1.1\r\nHost: turnout\r\nConnection: close\r\n\r\n"


async def ping(address: Address, timeout: float) -> bool:
    """True if the instance answers /ping with a 2xx status within `timeout` seconds."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            if address.path is not None:
                reader, writer = await asyncio.open_unix_connection(address.path)
            else:
                reader, writer = await asyncio.open_connection(address.host, address.port)
            writer.write(_REQUEST)
            status_line = await reader.readline()
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    finally:
        if writer is not None:
            writer.close()
    parts = status_line.split(b" ", 2)
    return len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1][:1] == b"2"
