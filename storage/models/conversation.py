"""Each person's conversation state: what their next free text answers, and the last edit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.models.vocab import one_of
from storage.types import UTCDateTime

PURPOSES = ("answer", "follow_up", "edit", "pulse")


class ConversationState(Base):
    """One row per person, the same on every channel; survives restarts and spans instances."""

    __tablename__ = "conversation_states"
    __table_args__ = (one_of("purpose", PURPOSES, "purpose"),)

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    # What the next free text answers, from `since` until `until`; all NULL when nothing waits.
    purpose: Mapped[str | None] = mapped_column(String(16), nullable=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), nullable=True
    )
    since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The version an edit replaced, kept only until `undo_until` so "undo" can restore it.
    undo_answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("answers.id", ondelete="SET NULL"), nullable=True
    )
    undo_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    undo_visibility: Mapped[str | None] = mapped_column(String(16), nullable=True)
    undo_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
