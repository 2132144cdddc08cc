"""A fake chat platform over HTTP that records every message it accepts and fails on cue.

aiohttp on 127.0.0.1, port 0. ``POST /sendMessage {"chat": ..., "text": ...}`` answers
200 with a message id, or, as scripted by fraction, 429 with ``Retry-After`` or 500 —
both meaning "not delivered", so neither is recorded. Chats in `blocked` get 403.
``GET /stats`` reports counts, for a platform running in another process.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Received:
    """One message the platform accepted."""

    chat: str
    text: str
    message_id: int


@dataclass
class FlakyPlatform:
    """The fake; `await start()` returns its base URL."""

    rate_429: float = 0.0
    retry_after: float = 0.05
    rate_500: float = 0.0
    delay: float = 0.0
    blocked: set[str] = field(default_factory=set)
    seed: int = 7
    received: list[Received] = field(default_factory=list)
    answers: Counter[int] = field(default_factory=Counter)
    _rng: random.Random = field(init=False)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    url: str = ""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    async def start(self) -> str:
        """Serve on a free loopback port and return the base URL."""
        app = web.Application()
        app.router.add_post("/sendMessage", self._send)
        app.router.add_post("/editMessage", self._edit)
        app.router.add_get("/stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def duplicates(self) -> int:
        """Return how many accepted messages repeat an earlier (chat, text)."""
        return len(self.received) - len({(r.chat, r.text) for r in self.received})

    def chats(self) -> set[str]:
        """Return every chat that got at least one message."""
        return {r.chat for r in self.received}

    def _answer(self, status: int, body: dict[str, Any], **headers: str) -> web.Response:
        self.answers[status] += 1
        return web.json_response(body, status=status, headers=headers)

    async def _send(self, request: web.Request) -> web.Response:
        data = await request.json()
        chat, text = str(data["chat"]), str(data["text"])
        if self.delay:
            await asyncio.sleep(self.delay)
        if chat in self.blocked:
            return self._answer(403, {"ok": False, "description": "bot was blocked by the user"})
        roll = self._rng.random()
        if roll < self.rate_429:
            return self._answer(
                429,
                {"ok": False, "parameters": {"retry_after": self.retry_after}},
                **{"Retry-After": f"{self.retry_after:g}"},
            )
        if roll < self.rate_429 + self.rate_500:
            return self._answer(500, {"ok": False, "description": "internal error"})
        message_id = next(self._ids)
        self.received.append(Received(chat, text, message_id))
        return self._answer(200, {"ok": True, "result": {"message_id": message_id}})

    async def _edit(self, request: web.Request) -> web.Response:
        await request.json()
        return self._answer(200, {"ok": True})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "received": len(self.received),
                "chats": len(self.chats()),
                "duplicates": self.duplicates(),
                "answers": {str(k): v for k, v in self.answers.items()},
            }
        )
