"""Pulse surveys. Anonymous responses are kept apart from the receipts, by construction."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, Timestamped
from storage.models.schedule import ScheduleColumns
from storage.models.vocab import PULSE_ITEM_KINDS, ROUND_STATUSES, one_of
from storage.types import UTCDateTime


class PulseSurvey(ScheduleColumns, Timestamped, Base):
    """A recurring micro-survey; each scheduled firing opens a round."""

    __tablename__ = "pulse_surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    min_responses: Mapped[int] = mapped_column(Integer, default=5)
    open_hours: Mapped[int] = mapped_column(Integer, default=72)
    reminder_after_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PulseItem(Base):
    """One question of a survey."""

    __tablename__ = "pulse_items"
    __table_args__ = (
        UniqueConstraint("survey_id", "key"),
        one_of("kind", PULSE_ITEM_KINDS, "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("pulse_surveys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[dict[str, str]] = mapped_column(JSON)
    # For choice items: [{"key": "a", "text": {"nb": "...", "en": "..."}}, ...]
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # An item dropped from the programme file stops being asked but keeps its responses.
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PulseRound(Base):
    """One firing of a survey, open between two instants."""

    __tablename__ = "pulse_rounds"
    __table_args__ = (
        UniqueConstraint("survey_id", "number"),
        one_of("status", ROUND_STATUSES, "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("pulse_surveys.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    local_date: Mapped[date] = mapped_column(Date())
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    # No per-round key lives here: slots are keyed by the app's secret, which the
    # database never holds (see bot.services.pulses).
    closing_message: Mapped[str | None] = mapped_column(Text, nullable=True)


def random_id() -> str:
    """Return a random 128-bit key, so a row's key says nothing about when it was written."""
    return uuid.uuid4().hex


class PulseResponse(Base):
    """An answer to one item.

    In an anonymous round the row has no person and, while the round is open, no split
    attributes and no readable value: only the value `sealed` (AES-GCM under a key derived
    from the app's secret, see `bot.core.sealing`) and a `slot` (an HMAC under that secret,
    never stored here) that lets the same person change their answer. Closing opens the
    seals, erases the slots and sealed values, writes the values in plain, adds the
    attributes coarsened until every combination holds `min_responses` respondents, and
    rewrites the rows under new random keys in random order. On SQLite the table has no
    rowid, so its physical order is the order of those random keys.
    """

    __tablename__ = "pulse_responses"
    __table_args__ = (
        UniqueConstraint("round_id", "item_id", "slot"),
        {"sqlite_with_rowid": False},
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("pulse_rounds.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("pulse_items.id", ondelete="CASCADE"))
    # Named rounds only; always empty in anonymous rounds.
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True
    )
    slot: Mapped[str | None] = mapped_column(String(64), nullable=True)
    day: Mapped[date] = mapped_column(Date())
    value_int: Mapped[int | None] = mapped_column(Integer, nullable=True)
    value_choices: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    value_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Anonymous rounds while open: the value, sealed; the value columns stay empty.
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Split attributes, set at close and only where every combination is reportable.
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohorts.id", ondelete="SET NULL"), nullable=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("peer_groups.id", ondelete="SET NULL"), nullable=True
    )
    unit: Mapped[str | None] = mapped_column(String(200), nullable=True)


class PulseReceipt(Base):
    """That a person answered an item of a round: for reminders and one answer each."""

    __tablename__ = "pulse_receipts"
    __table_args__ = (UniqueConstraint("round_id", "item_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("pulse_rounds.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("pulse_items.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date())
