"""Response rates for coaches: who was asked, and who answered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Audience,
    Delivery,
    GroupMembership,
    PeerGroup,
    PulseReceipt,
    PulseRound,
    PulseSurvey,
)

WINDOW = timedelta(days=28)


@dataclass(frozen=True)
class Rate:
    """How many were asked and how many answered."""

    label: str
    asked: int
    answered: int

    @property
    def percent(self) -> int:
        """Return the answered share, rounded."""
        return round(100 * self.answered / self.asked) if self.asked else 0


async def group_rates(session: AsyncSession, groups: list[PeerGroup], now: datetime) -> list[Rate]:
    """Return each group's size-independent prompt response rate over the last four weeks."""
    rates = []
    for group in groups:
        members = select(GroupMembership.person_id).where(GroupMembership.group_id == group.id)
        asked, answered = (
            await session.execute(
                select(func.count(Delivery.id), func.count(Delivery.answered_at)).where(
                    Delivery.person_id.in_(members),
                    Delivery.kind.in_(("prompt", "group_prompt")),
                    Delivery.status == "sent",
                    Delivery.sent_at >= now - WINDOW,
                )
            )
        ).one()
        rates.append(Rate(group.name, int(asked), int(answered)))
    return rates


async def open_pulse_rates(session: AsyncSession, cohort_ids: set[int] | None) -> list[Rate]:
    """Return the response rate of every open pulse round in these cohorts (None: all)."""
    query = (
        select(PulseRound, PulseSurvey)
        .join(PulseSurvey, PulseSurvey.id == PulseRound.survey_id)
        .where(PulseRound.status == "open")
    )
    if cohort_ids is not None:
        surveys = select(Audience.owner_id).where(
            Audience.owner_kind == "pulse_survey", Audience.cohort_id.in_(cohort_ids)
        )
        query = query.where(PulseSurvey.id.in_(surveys))
    rates = []
    for pulse_round, survey in (await session.execute(query)).all():
        asked = await session.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.pulse_round_id == pulse_round.id, Delivery.kind == "pulse"
            )
        )
        answered = await session.scalar(
            select(func.count(distinct(PulseReceipt.person_id))).where(
                PulseReceipt.round_id == pulse_round.id
            )
        )
        rates.append(
            Rate(f"{survey.key} #{pulse_round.number}", int(asked or 0), int(answered or 0))
        )
    return rates
