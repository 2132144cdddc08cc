"""The delivery outbox and the answers that come back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, Timestamped
from storage.models.vocab import (
    ANSWER_STAGES,
    DELIVERY_KINDS,
    DELIVERY_STATUSES,
    PLATFORMS,
    VISIBILITIES,
    one_of,
)
from storage.types import UTCDateTime


class Delivery(Timestamped, Base):
    """One message owed to one person (or one group chat): the outbox row.

    `key` makes materialisation idempotent: e.g. ``occ:17:person:4`` for a campaign
    occurrence, ``rem:88`` for the reminder of delivery 88.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        one_of("kind", DELIVERY_KINDS, "kind"),
        one_of("status", DELIVERY_STATUSES, "status"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), nullable=True, index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("peer_groups.id", ondelete="CASCADE"), nullable=True
    )
    occurrence_id: Mapped[int | None] = mapped_column(
        ForeignKey("occurrences.id", ondelete="CASCADE"), nullable=True, index=True
    )
    pulse_round_id: Mapped[int | None] = mapped_column(
        ForeignKey("pulse_rounds.id", ondelete="CASCADE"), nullable=True, index=True
    )
    match_id: Mapped[int | None] = mapped_column(
        ForeignKey("peer_matches.id", ondelete="CASCADE"), nullable=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=True
    )
    prompt_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompts.id", ondelete="SET NULL"), nullable=True
    )
    # Kind-specific rendering data (ids and numbers only; never answer text).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # 429 answers so far: capped separately, they do not count toward max attempts.
    throttles: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    platform: Mapped[str | None] = mapped_column(String(16), nullable=True)
    message_ref: Mapped[str | None] = mapped_column(String(256), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)

    @classmethod
    def owed(
        cls, *, key: str, kind: str, due_at: datetime, expires_at: datetime | None, **columns: Any
    ) -> Delivery:
        """Return a new pending row, first tried when it falls due."""
        return cls(
            key=key,
            kind=kind,
            due_at=due_at,
            next_attempt_at=due_at,
            expires_at=expires_at,
            **columns,
        )


class Answer(Timestamped, Base):
    """A leader's reflection, visible only as far as its author chose."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("delivery_id", "person_id", "stage"),
        one_of("visibility", VISIBILITIES, "visibility"),
        one_of("stage", ANSWER_STAGES, "stage"),
        one_of("platform", PLATFORMS, "platform"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    prompt_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompts.id", ondelete="SET NULL"), nullable=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("peer_groups.id", ondelete="SET NULL"), nullable=True
    )
    stage: Mapped[str] = mapped_column(String(16), default="main")
    text: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(16))
    # The author's own message carrying the answer, so a platform edit can find it.
    source_ref: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    edits: Mapped[int] = mapped_column(Integer, default=0)


class AnswerComment(Timestamped, Base):
    """A coach's private comment on an answer, delivered to its author."""

    __tablename__ = "answer_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
