"""The fake Bot API as bench/fanout.py runs it: in its own process, with a strict limit.

It imports only aiohttp and tests/fakes/telegram_api.py, and freezes what it loaded at
start, so its own garbage collections stay short: a pause in the fake would bunch the
requests queued meanwhile, and a strict per-second window would count that against the
sender. Run `python bench/fake_telegram.py`: it prints its port and serves until its
standard input closes.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

from tests.fakes.telegram_api import BOT_USER, FakeTelegramAPI

DIGEST_MODULUS = 2**128


def call_digest(chat_id: int, text: str, markup: dict[str, Any] | None) -> int:
    """Return a hash of one sendMessage call; sums of these compare sets of calls."""
    data = json.dumps([chat_id, text, markup], sort_keys=True).encode()
    return int.from_bytes(hashlib.sha256(data).digest()[:16], "big")


@dataclass
class BenchTelegramAPI(FakeTelegramAPI):
    """The fake with a strict sliding one-second window, and stats and reset over HTTP.

    `per_second` set: a sendMessage that would make more than that many accepted in the
    last second is answered 429 with retry_after 1, as Telegram's flood control does.
    """

    window: deque[float] = field(default_factory=deque)  # accepted sends, oldest first
    counts: dict[int, int] = field(default_factory=dict)  # sendMessage answers by status
    digest: int = 0  # sum of call_digest over accepted sends
    accepted_at: list[float] = field(default_factory=list)

    def _enforce_limits(self, chat_id: int) -> web.Response | None:
        if self.per_second is None:
            return None
        now = time.monotonic()
        while self.window and now - self.window[0] >= 1.0:
            self.window.popleft()
        if len(self.window) >= self.per_second:
            return self._flood(1)
        self.window.append(now)
        return None

    def _record(self, method: str, params: dict[str, Any], response: web.Response) -> web.Response:
        # Counts and a digest only, so the fake's memory stays flat over 14,000 sends.
        if method == "sendMessage":
            self.counts[response.status] = self.counts.get(response.status, 0) + 1
            if response.status == 200:
                markup = params.get("reply_markup")
                self.digest += call_digest(params["chat_id"], params["text"], markup)
                self.digest %= DIGEST_MODULUS
                self.accepted_at.append(time.monotonic())
        return response

    async def _api_sendMessage(self, params: dict[str, Any]) -> web.Response:
        # Answered as Telegram does, but not stored: the bench never edits.
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": params["chat_id"], "type": "private"},
            "from": BOT_USER,
            "text": params["text"],
        }
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return self._ok(message)

    async def _api_benchReset(self, params: dict[str, Any]) -> web.Response:
        limit = params.get("per_second")
        self.per_second = float(limit) if limit not in (None, "", "off") else None
        self.counts, self.digest, self.accepted_at = {}, 0, []
        self.window.clear()
        return self._ok(True)

    async def _api_benchStats(self, params: dict[str, Any]) -> web.Response:
        accepted = self.accepted_at
        span = accepted[-1] - accepted[0] if len(accepted) > 1 else 0.0
        return self._ok({"statuses": self.counts, "digest": str(self.digest), "span": span})


async def serve() -> None:
    """Serve until standard input closes; print the port first."""
    async with BenchTelegramAPI() as api:
        gc.collect()
        gc.freeze()
        print(api.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(serve())
