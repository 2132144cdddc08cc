"""The web chat's outbound side: messages are rows the page fetches."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.port import Address, PermanentFailure
from bot.channels.webchat import PLATFORM
from bot.channels.webchat.payload import to_payload
from bot.core.messages import OutMessage
from storage.models import WebChatMessage


def ref_of(message_id: int) -> str:
    """Return the message reference for a web chat row."""
    return str(message_id)


class WebChatChannel:
    """Send by storing the rendered message for the person's chat page."""

    platform = PLATFORM

    def __init__(self, sessions: async_sessionmaker[AsyncSession], secret: str) -> None:
        self._sessions, self._secret = sessions, secret

    async def send(self, address: Address, message: OutMessage) -> str:
        """Store the message in the person's conversation and return its id."""
        person_id = address.get("person_id")
        if not isinstance(person_id, int):
            raise PermanentFailure("web chat address has no person")
        async with self._sessions.begin() as session:
            row = WebChatMessage(
                person_id=person_id, sender="bot", body=to_payload(message, self._secret)
            )
            session.add(row)
            await session.flush()
            return ref_of(row.id)

    async def update(self, message_ref: str, message: OutMessage) -> None:
        """Replace a message the page shows."""
        async with self._sessions.begin() as session:
            row = await session.get(WebChatMessage, int(message_ref))
            if row is not None:
                row.body = to_payload(message, self._secret)

    async def open_group(self, addresses: Sequence[Address]) -> Address | None:
        """Return None: the web chat has no group conversations."""
        return None
