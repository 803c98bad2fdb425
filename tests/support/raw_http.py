"""HTTP as raw bytes over a socket, for what no well-behaved client sends: garbage, bytes that are not UTF-8
in a header, a Host of our choosing, a body that never finishes."""

from __future__ import annotations

import asyncio
import dataclasses
import time


@dataclasses.dataclass
class RawAnswer:
    status: int | None  # None: the server sent nothing parseable
    head: str
    body: bytes
    closed: bool  # the server closed the connection after answering
    seconds: float


async def exchange(port: int, data: bytes, *, wait: float = 5.0) -> RawAnswer:
    """Send `data` to 127.0.0.1:`port` as is, then read until the server closes or `wait` seconds pass."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    received, closed = b"", False
    try:
        async with asyncio.timeout(wait):
            while chunk := await reader.read(65536):
                received += chunk
            closed = True
    except TimeoutError:
        pass
    finally:
        writer.close()
    head, _, body = received.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else None
    return RawAnswer(status, head.decode("latin-1"), body, closed, time.monotonic() - started)


def request(
    method: str, path: str, *, host: str | bytes = b"127.0.0.1", headers: bytes = b"", body: bytes = b""
) -> bytes:
    """A well-formed HTTP/1.1 request (Connection: close, so the answer ends with the connection)."""
    host_bytes = host.encode() if isinstance(host, str) else host
    length = f"Content-Length: {len(body)}\r\n".encode() if body else b""
    return (
        f"{method} {path} HTTP/1.1\r\n".encode()
        + b"Host: "
        + host_bytes
        + b"\r\nConnection: close\r\n"
        + length
        + headers
        + b"\r\n"
        + body
    )
