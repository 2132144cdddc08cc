"""Cheap fingerprints of what decides who gets what: people, memberships, programme."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Audience,
    Campaign,
    CampaignPrompt,
    CohortMembership,
    GroupMembership,
    Person,
    PulseSurvey,
)


async def audience_fingerprint(session: AsyncSession) -> tuple[Any, ...]:
    """Return a value that changes whenever anyone's audience, zone or schedule may have.

    Counts and sums of ids catch rows added, removed or moved; `updated_at` catches
    people and schedules edited in place. A few aggregate scans, no rows loaded.
    """
    parts: list[Any] = []
    for statement in (
        # Deactivation is counted too: a bulk update need not move `updated_at`.
        select(
            func.count(), func.max(Person.updated_at), func.count(Person.deactivated_at)
        ).select_from(Person),
        select(
            func.count(), func.max(CohortMembership.id), func.sum(CohortMembership.cohort_id)
        ).select_from(CohortMembership),
        select(
            func.count(), func.max(GroupMembership.id), func.sum(GroupMembership.group_id)
        ).select_from(GroupMembership),
        select(func.count(), func.max(Audience.id)).select_from(Audience),
        select(func.count(), func.max(Campaign.updated_at)).select_from(Campaign),
        select(func.count(), func.max(CampaignPrompt.id)).select_from(CampaignPrompt),
        select(func.count(), func.max(PulseSurvey.updated_at)).select_from(PulseSurvey),
    ):
        parts.extend((await session.execute(statement)).one())
    return tuple(parts)


async def time_zones(session: AsyncSession) -> list[str | None]:
    """Return every distinct time zone people have (None for unset)."""
    return list(await session.scalars(select(Person.timezone).distinct()))
