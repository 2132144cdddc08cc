"""A minimal Channel over aiohttp for the flaky fake platform (until the real channels land)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from bot.channels.port import Address, PermanentFailure, RateLimited, TemporaryFailure
from bot.core.messages import OutMessage


class FakeHttpChannel:
    """Send to `tests.fakes.flaky_platform`; map its answers onto the port's errors."""

    def __init__(self, platform: str = "telegram", base_url: str = "", timeout: float = 10) -> None:
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=float(timeout))
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=64)
            self._session = aiohttp.ClientSession(timeout=self.timeout, connector=connector)
        return self._session

    async def send(self, address: Address, message: OutMessage) -> str:
        """Post the message's plain text to the address's chat; return ``chat:message_id``."""
        chat = str(address["chat"])
        body = await self._post("/sendMessage", {"chat": chat, "text": message.as_plain_text()})
        return f"{chat}:{body['result']['message_id']}"

    async def update(self, message_ref: str, message: OutMessage) -> None:
        """Replace an earlier message."""
        chat, _, message_id = message_ref.partition(":")
        await self._post("/editMessage", {"chat": chat, "id": message_id, "text": message.text})

    async def open_group(self, addresses: Sequence[Address]) -> Address | None:
        """The fake has no group conversations."""
        return None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self._client().post(self.base_url + path, json=payload) as response:
                body: dict[str, Any] = await response.json(content_type=None)
                if response.status == 429:
                    raise RateLimited(float(response.headers.get("Retry-After", "1")))
                if response.status == 403:
                    raise PermanentFailure(str(body.get("description", "forbidden")))
                if response.status >= 500:
                    raise TemporaryFailure(f"HTTP {response.status}")
                if response.status != 200:
                    raise PermanentFailure(f"HTTP {response.status}")
                return body
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as error:
            raise TemporaryFailure(type(error).__name__) from error
