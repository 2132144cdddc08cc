"""When a leader's next reflection prompt will come."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.schedule import due_instant, fire_dates
from scheduler.timing import spec_of
from storage.models import Audience, Campaign, CohortMembership, Delivery, GroupMembership, Person

LOOK_AHEAD = timedelta(days=60)


async def _campaigns_of(session: AsyncSession, person: Person) -> list[Campaign]:
    cohorts = select(CohortMembership.cohort_id).where(CohortMembership.person_id == person.id)
    groups = select(GroupMembership.group_id).where(GroupMembership.person_id == person.id)
    owners = select(Audience.owner_id).where(
        Audience.owner_kind == "campaign",
        (Audience.cohort_id.in_(cohorts)) | (Audience.group_id.in_(groups)),
    )
    rows = await session.scalars(
        select(Campaign).where(Campaign.active.is_(True), Campaign.id.in_(owners))
    )
    return list(rows)


async def next_prompt_at(session: AsyncSession, person: Person, now: datetime) -> datetime | None:
    """Return when the person's next prompt is due: queued, or by a campaign's schedule."""
    queued = await session.scalar(
        select(Delivery.due_at)
        .where(
            Delivery.person_id == person.id,
            Delivery.status == "pending",
            Delivery.kind == "prompt",
        )
        .order_by(Delivery.due_at)
        .limit(1)
    )
    if queued is not None:
        return queued
    today = now.date()
    upcoming = []
    for campaign in await _campaigns_of(session, person):
        for day in fire_dates(spec_of(campaign), today, today + LOOK_AHEAD):
            instant = due_instant(day, campaign.local_time, person.timezone)
            if instant > now and (person.paused_until is None or day > person.paused_until):
                upcoming.append(instant)
                break
    return min(upcoming, default=None)
