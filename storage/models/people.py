"""People, their platform identities, cohorts, peer groups and one-time codes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, Timestamped, utcnow
from storage.models.vocab import IDENTITY_STATUSES, LOCALES, PLATFORMS, ROLES, one_of
from storage.types import UTCDateTime


class Person(Timestamped, Base):
    """A leader, coach or admin from the roster, keyed by email."""

    __tablename__ = "people"
    __table_args__ = (
        one_of("role", ROLES, "role"),
        one_of("locale", LOCALES, "locale"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="participant")
    unit: Mapped[str] = mapped_column(String(200), default="")
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True, index=True
    )
    locale: Mapped[str] = mapped_column(String(8), default="nb")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Oslo")
    slack_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    telegram_username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    preferred_platform: Mapped[str | None] = mapped_column(String(16), nullable=True)
    paused_until: Mapped[date | None] = mapped_column(Date(), nullable=True)
    ignored_in_a_row: Mapped[int] = mapped_column(Integer, default=0)
    needs_attention_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set when a roster import no longer names the person: every session ends, none starts.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    identities: Mapped[list[Identity]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin"
    )


class Identity(Timestamped, Base):
    """One person's account on one platform, and whether we can reach it."""

    __tablename__ = "identities"
    __table_args__ = (
        UniqueConstraint("platform", "external_id"),
        UniqueConstraint("person_id", "platform"),
        one_of("platform", PLATFORMS, "platform"),
        one_of("status", IDENTITY_STATUSES, "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    # Where to send: a Slack DM channel, a Telegram chat id, a Teams conversation reference.
    address: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")
    status_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    person: Mapped[Person] = relationship(back_populates="identities", lazy="joined")


class Cohort(Timestamped, Base):
    """A group of leaders who go through the programme together."""

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")


class PeerGroup(Timestamped, Base):
    """A standing peer circle inside a cohort."""

    __tablename__ = "peer_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohorts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    title: Mapped[str] = mapped_column(String(200), default="")


class CohortMembership(Base):
    """A person's place in a cohort: as participant, or as one of its coaches."""

    __tablename__ = "cohort_memberships"
    __table_args__ = (
        UniqueConstraint("cohort_id", "person_id"),
        one_of("role", ROLES, "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="participant")


class GroupMembership(Base):
    """A person's place in a peer group."""

    __tablename__ = "group_memberships"
    __table_args__ = (UniqueConstraint("group_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("peer_groups.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)


class GroupChat(Timestamped, Base):
    """A platform chat (Slack channel, Telegram group, Teams channel) linked to a peer group."""

    __tablename__ = "group_chats"
    __table_args__ = (
        UniqueConstraint("platform", "external_id"),
        one_of("platform", PLATFORMS, "platform"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("peer_groups.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    address: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    linked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True
    )


class OneTimeCode(Base):
    """A single-use, expiring code: invites, login links, group links.

    Only a hash of the code is stored, so a database leak does not leak live links.
    """

    __tablename__ = "one_time_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), nullable=True, index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("peer_groups.id", ondelete="CASCADE"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
