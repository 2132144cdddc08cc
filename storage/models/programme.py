"""Prompts, campaigns of reflection questions and their occurrences."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, Timestamped, utcnow
from storage.models.schedule import ScheduleColumns
from storage.models.vocab import VISIBILITIES, one_of
from storage.types import UTCDateTime


class Prompt(Timestamped, Base):
    """A reflection question in every locale it has, with an optional follow-up."""

    __tablename__ = "prompts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    theme: Mapped[str] = mapped_column(String(64), default="")
    # {"nb": "...", "nn": "...", "en": "..."}
    text: Mapped[dict[str, str]] = mapped_column(JSON)
    follow_up: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)


class Campaign(ScheduleColumns, Timestamped, Base):
    """A series of reflection prompts sent to an audience on a schedule."""

    __tablename__ = "campaigns"
    __table_args__ = (one_of("default_visibility", VISIBILITIES, "default_visibility"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    reminder_after_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_lateness_minutes: Mapped[int] = mapped_column(Integer, default=240)
    default_visibility: Mapped[str] = mapped_column(String(16), default="coach")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CampaignPrompt(Base):
    """The n-th prompt of a campaign; occurrences walk the list in order."""

    __tablename__ = "campaign_prompts"
    __table_args__ = (UniqueConstraint("campaign_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="RESTRICT"))


class Audience(Base):
    """One cohort or one peer group that a campaign, survey or peer series reaches."""

    __tablename__ = "audiences"
    __table_args__ = (
        UniqueConstraint("owner_kind", "owner_id", "cohort_id", "group_id"),
        one_of("owner_kind", ("campaign", "pulse_survey", "peer_series"), "owner_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), nullable=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("peer_groups.id", ondelete="CASCADE"), nullable=True
    )


class Occurrence(Base):
    """One firing of a campaign on a local date, or one prompt a coach posted to a group."""

    __tablename__ = "occurrences"
    __table_args__ = (UniqueConstraint("campaign_id", "local_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=True
    )
    local_date: Mapped[date | None] = mapped_column(Date(), nullable=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="RESTRICT"))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("peer_groups.id", ondelete="CASCADE"), nullable=True
    )
    posted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True
    )
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
