"""The built-in web chat's conversation: it needs no account on any platform."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, Timestamped


class WebChatMessage(Timestamped, Base):
    """One message in a person's web chat, from the bot or from the person."""

    __tablename__ = "webchat_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    sender: Mapped[str] = mapped_column(String(8))  # "bot" or "person"
    # The rendered message: text, title, context, buttons (signed), ask. Never logged.
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
