"""A renderer for dispatcher tests: the message names the delivery, so duplicates show."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import OutMessage
from storage.models import Delivery


class KeyRenderer:
    """Render each delivery as its key (unique per delivery)."""

    async def render(self, session: AsyncSession, delivery: Delivery) -> OutMessage:
        """Return a message whose text is the delivery's key."""
        return OutMessage(text=delivery.key, tag=delivery.kind)
