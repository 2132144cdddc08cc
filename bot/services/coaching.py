"""Who coaches whom: the scope of a coach's commands and views."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CohortMembership, PeerGroup, Person


def is_staff(person: Person) -> bool:
    """Tell whether a person may use coach commands at all."""
    return person.role in ("coach", "admin")


async def coached_cohort_ids(session: AsyncSession, person: Person) -> set[int] | None:
    """Return the cohorts a coach coaches; None means every cohort (an admin)."""
    if person.role == "admin":
        return None
    rows = await session.scalars(
        select(CohortMembership.cohort_id).where(
            CohortMembership.person_id == person.id, CohortMembership.role == "coach"
        )
    )
    return set(rows)


async def coached_groups(session: AsyncSession, person: Person) -> list[PeerGroup]:
    """Return the peer groups in the cohorts this person coaches, by name."""
    cohorts = await coached_cohort_ids(session, person)
    query = select(PeerGroup).order_by(PeerGroup.name)
    if cohorts is not None:
        query = query.where(PeerGroup.cohort_id.in_(cohorts))
    return list(await session.scalars(query))


async def coached_group(session: AsyncSession, person: Person, name: str) -> PeerGroup | None:
    """Return the named group if this person coaches it."""
    for group in await coached_groups(session, person):
        if group.name == name:
            return group
    return None
