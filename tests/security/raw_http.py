"""A raw HTTP/1.1 client that reads the answer while it is still sending the body.

httpx reads a response only after the whole body is sent, so a server that refuses a
20 MB body early and closes looks to it like a broken connection. A real client (and an
attacker) sees the early answer; this client does too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

CHUNK = 64 * 1024


@dataclass
class Answer:
    """The status and body of a response (status 0: the connection closed without one)."""

    status: int
    body: bytes
    sent: int  # body bytes the server let us send before it answered


async def post(
    url: str,
    body_size: int,
    *,
    chunked: bool = False,
    headers: Mapping[str, str] | None = None,
    fill: bytes = b"x",
) -> Answer:
    """POST `body_size` bytes of `fill` to `url`, with Content-Length or chunked."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}"]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {body_size}")
    head.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    sent = 0

    async def send_body() -> None:
        nonlocal sent
        block = (fill * (CHUNK // len(fill) + 1))[:CHUNK]
        with contextlib.suppress(ConnectionError):
            while sent < body_size:
                piece = block[: min(CHUNK, body_size - sent)]
                writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
                await writer.drain()
                sent += len(piece)
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()

    sender = asyncio.create_task(send_body())
    try:
        status_line = await reader.readline()
        status = int(status_line.split()[1]) if status_line else 0
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        answer_body = await reader.readexactly(length) if length else b""
    except (ConnectionError, asyncio.IncompleteReadError):
        status, answer_body = 0, b""
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return Answer(status, answer_body, sent)
