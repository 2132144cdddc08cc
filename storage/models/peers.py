"""Peer rounds: who meets whom, and whether they met."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, Timestamped
from storage.models.schedule import ScheduleColumns
from storage.models.vocab import MEETING_STATES, ROUND_STATUSES, one_of
from storage.types import UTCDateTime


class PeerSeries(ScheduleColumns, Timestamped, Base):
    """Rotating peer matches for an audience: size, cadence and mixing rules."""

    __tablename__ = "peer_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    group_size: Mapped[int] = mapped_column(Integer, default=2)
    mix_units: Mapped[bool] = mapped_column(Boolean, default=True)
    same_language: Mapped[bool] = mapped_column(Boolean, default=False)
    avoid_manager: Mapped[bool] = mapped_column(Boolean, default=True)
    follow_up_days: Mapped[int] = mapped_column(Integer, default=7)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PeerRound(Base):
    """One matching of a series on a date."""

    __tablename__ = "peer_rounds"
    __table_args__ = (
        UniqueConstraint("series_id", "number"),
        one_of("status", ROUND_STATUSES, "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("peer_series.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    local_date: Mapped[date] = mapped_column(Date())
    seed: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PeerMatch(Base):
    """A pair, trio or circle within a round."""

    __tablename__ = "peer_matches"
    __table_args__ = (UniqueConstraint("round_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("peer_rounds.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    prompt_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompts.id", ondelete="SET NULL"), nullable=True
    )
    # Platform conversation opened for the match (e.g. a Slack group DM), if any.
    conversation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PeerMatchMember(Base):
    """One person in a match, and what they said about meeting."""

    __tablename__ = "peer_match_members"
    __table_args__ = (
        UniqueConstraint("match_id", "person_id"),
        one_of("met", MEETING_STATES, "met"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("peer_matches.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    met: Mapped[str | None] = mapped_column(String(16), nullable=True)


class PeerOptOut(Base):
    """A person sitting out one round."""

    __tablename__ = "peer_opt_outs"
    __table_args__ = (UniqueConstraint("round_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("peer_rounds.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
