"""Who a campaign, survey or peer series reaches, and who coaches whom."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Audience,
    CohortMembership,
    Delivery,
    GroupMembership,
    PeerGroup,
    Person,
)

# What a pause holds back; notices to coaches and comments still go out.
PAUSABLE_KINDS = ("prompt", "reminder", "follow_up", "pulse", "pulse_reminder")


async def audience_people(session: AsyncSession, owner_kind: str, owner_id: int) -> list[Person]:
    """Return the participants an owner's audiences reach, each once, ordered by id.

    A cohort audience reaches its members with the participant role; a peer-group
    audience reaches the group's members who are participants. People the roster no
    longer names (deactivated) are reached by neither.
    """
    audiences = (
        await session.scalars(
            select(Audience).where(Audience.owner_kind == owner_kind, Audience.owner_id == owner_id)
        )
    ).all()
    cohort_ids = {a.cohort_id for a in audiences if a.cohort_id is not None}
    group_ids = {a.group_id for a in audiences if a.group_id is not None}
    person_ids: set[int] = set()
    if cohort_ids:
        person_ids.update(
            await session.scalars(
                select(CohortMembership.person_id).where(
                    CohortMembership.cohort_id.in_(cohort_ids),
                    CohortMembership.role == "participant",
                )
            )
        )
    if group_ids:
        person_ids.update(
            await session.scalars(
                select(GroupMembership.person_id)
                .join(Person, Person.id == GroupMembership.person_id)
                .where(GroupMembership.group_id.in_(group_ids), Person.role == "participant")
            )
        )
    if not person_ids:
        return []
    people = await session.scalars(
        select(Person)
        .where(Person.id.in_(person_ids), Person.deactivated_at.is_(None))
        .order_by(Person.id)
    )
    return list(people.all())


async def coach_ids_of(session: AsyncSession, person_id: int) -> list[int]:
    """Return the coaches of every cohort the person is in, directly or via a peer group."""
    direct = select(CohortMembership.cohort_id).where(
        CohortMembership.person_id == person_id, CohortMembership.role != "coach"
    )
    via_group = (
        select(PeerGroup.cohort_id)
        .join(GroupMembership, GroupMembership.group_id == PeerGroup.id)
        .where(GroupMembership.person_id == person_id, PeerGroup.cohort_id.is_not(None))
    )
    cohort_ids = set(await session.scalars(direct)) | set(await session.scalars(via_group))
    if not cohort_ids:
        return []
    coaches = await session.scalars(
        select(CohortMembership.person_id)
        .where(
            CohortMembership.cohort_id.in_(cohort_ids),
            CohortMembership.role == "coach",
            CohortMembership.person_id != person_id,
        )
        .distinct()
        .order_by(CohortMembership.person_id)
    )
    return list(coaches.all())


async def reset_ignored(session: AsyncSession, person_id: int) -> None:
    """Clear a person's ignored-prompt streak and attention flag (call when they answer)."""
    await session.execute(
        update(Person)
        .where(Person.id == person_id)
        .values(ignored_in_a_row=0, needs_attention_since=None)
    )


async def skip_paused_deliveries(session: AsyncSession, person: Person, until: date) -> int:
    """Mark the person's pending prompts due up to the end of `until` (local) as skipped.

    The tick creates rows up to a day ahead, so a pause must also catch those; return
    how many rows it skipped.
    """
    end_of_pause = datetime.combine(until + timedelta(days=1), time(0), ZoneInfo(person.timezone))
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.person_id == person.id,
            Delivery.status == "pending",
            Delivery.kind.in_(PAUSABLE_KINDS),
            Delivery.due_at < end_of_pause,
        )
        .values(status="skipped")
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def skip_pending_deliveries(session: AsyncSession, person_ids: list[int]) -> int:
    """Mark every pending delivery of these people as skipped; return how many.

    The tick creates rows ahead of time, so people leaving the programme would otherwise
    still be sent what was owed to them before they left.
    """
    skipped = 0
    for start in range(0, len(person_ids), 500):
        result = await session.execute(
            update(Delivery)
            .where(
                Delivery.person_id.in_(person_ids[start : start + 500]),
                Delivery.status == "pending",
            )
            .values(status="skipped")
        )
        skipped += int(getattr(result, "rowcount", 0) or 0)
    return skipped
