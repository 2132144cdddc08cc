"""Small builders for scheduler tests: people in a cohort, a campaign, a survey, a series."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import (
    Audience,
    Campaign,
    CampaignPrompt,
    Cohort,
    CohortMembership,
    Delivery,
    PeerSeries,
    Person,
    Prompt,
    PulseSurvey,
)

Owner = TypeVar("Owner", Campaign, PulseSurvey, PeerSeries)


async def add_person(
    session: AsyncSession, name: str, timezone: str = "Europe/Oslo", **columns: Any
) -> Person:
    """Add a person called `name` in the zone `timezone`."""
    person = Person(email=f"{name}@example.org", name=name, timezone=timezone, **columns)
    session.add(person)
    await session.flush()
    return person


async def add_cohort(
    session: AsyncSession,
    name: str,
    participants: Sequence[Person],
    coaches: Sequence[Person] = (),
) -> Cohort:
    """Add a cohort with its participants and coaches."""
    cohort = Cohort(name=name)
    session.add(cohort)
    await session.flush()
    for person in participants:
        session.add(CohortMembership(cohort_id=cohort.id, person_id=person.id))
    for coach in coaches:
        session.add(CohortMembership(cohort_id=cohort.id, person_id=coach.id, role="coach"))
    await session.flush()
    return cohort


async def add_campaign(
    session: AsyncSession,
    cohort: Cohort,
    *,
    key: str = "weekly",
    prompts: int = 3,
    weekdays: str = "mon",
    local_time: time = time(8, 30),
    start: date = date(2027, 1, 4),
    skip_holidays: bool = True,
    **columns: Any,
) -> Campaign:
    """Add a campaign reaching `cohort`, with `prompts` prompts in order."""
    campaign = Campaign(
        key=key,
        weekdays=weekdays,
        local_time=local_time,
        start_date=start,
        skip_holidays=skip_holidays,
        **columns,
    )
    await reaching(session, cohort, "campaign", campaign)
    for position in range(prompts):
        prompt = Prompt(key=f"{key}-q{position}", text={"en": f"Question {position}"})
        session.add(prompt)
        await session.flush()
        session.add(CampaignPrompt(campaign_id=campaign.id, position=position, prompt_id=prompt.id))
    await session.flush()
    return campaign


async def add_survey(
    session: AsyncSession, cohort: Cohort, *, key: str = "pulse", **columns: Any
) -> PulseSurvey:
    """Add a pulse survey reaching `cohort`."""
    return await reaching(session, cohort, "pulse_survey", PulseSurvey(key=key, **columns))


async def add_series(
    session: AsyncSession, cohort: Cohort, *, key: str = "pairs", **columns: Any
) -> PeerSeries:
    """Add a peer series reaching `cohort`."""
    return await reaching(session, cohort, "peer_series", PeerSeries(key=key, **columns))


async def reaching(session: AsyncSession, cohort: Cohort, owner_kind: str, owner: Owner) -> Owner:
    """Add a campaign, survey or series and make it reach everyone in `cohort`."""
    session.add(owner)
    await session.flush()
    session.add(Audience(owner_kind=owner_kind, owner_id=owner.id, cohort_id=cohort.id))
    await session.flush()
    return owner


async def deliveries(sessions: async_sessionmaker[AsyncSession], **where: Any) -> list[Delivery]:
    """Return the outbox rows matching column values, ordered by due time then person."""
    async with sessions() as session:
        query = select(Delivery).filter_by(**where).order_by(Delivery.due_at, Delivery.person_id)
        return list((await session.scalars(query)).all())


async def mark_sent(
    sessions: async_sessionmaker[AsyncSession], delivery_ids: Sequence[int], at: datetime
) -> None:
    """Do what the dispatcher does after a successful send."""
    async with sessions() as session, session.begin():
        for delivery_id in delivery_ids:
            delivery = await session.get(Delivery, delivery_id)
            assert delivery is not None
            delivery.status = "sent"
            delivery.sent_at = at
