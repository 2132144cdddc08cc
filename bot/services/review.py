"""What coaches review: their cohorts, participation, who needs attention, shared answers.

Scope is enforced here, not in the web layer: every function that takes a viewer returns
nothing (None or an empty result) for a cohort or person outside that viewer's cohorts,
and no function ever returns a `private` answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import CompoundSelect, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.vocabulary import Visibility
from bot.services.coaching import coached_cohort_ids, is_staff
from bot.services.participation import Rate, group_rates
from bot.services.prompt_views import pick_text
from storage.models import (
    Answer,
    AnswerComment,
    Audience,
    AuditEntry,
    Campaign,
    Cohort,
    CohortMembership,
    Delivery,
    GroupMembership,
    Identity,
    Occurrence,
    PeerGroup,
    PeerMatch,
    PeerMatchMember,
    PeerRound,
    PeerSeries,
    Person,
    Prompt,
    PulseSurvey,
)

# Who besides the author may read an answer: never `private`.
SHARED = (Visibility.COACH.value, Visibility.GROUP.value)
PROMPT_KINDS = ("prompt", "group_prompt")
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class AttentionItem:
    """A person a coach should look at, and why."""

    person_id: int
    name: str
    reasons: tuple[str, ...]  # "paused", "unreachable", "ignored"
    paused_until: date | None = None


@dataclass(frozen=True)
class MeetingRate:
    """How a peer series' matches went: members asked and what they said."""

    series_key: str
    members: int
    met: int
    planned: int
    not_met: int

    @property
    def percent(self) -> int:
        """Return the share of members who said they met, rounded."""
        return round(100 * self.met / self.members) if self.members else 0


@dataclass(frozen=True)
class Overview:
    """Everything on a cohort's overview page."""

    cohort: Cohort
    people: list[Person]
    groups: list[PeerGroup]
    campaigns: list[Rate]
    group_rates: list[Rate]
    attention: list[AttentionItem]
    meetings: list[MeetingRate]
    surveys: list[PulseSurvey]


@dataclass(frozen=True)
class TimelineEntry:
    """One shared answer in a leader's timeline, with the comments coaches left on it."""

    answer: Answer
    question: str
    comments: list[tuple[AnswerComment, str]] = field(default_factory=list)


async def visible_cohorts(session: AsyncSession, viewer: Person) -> list[Cohort]:
    """Return the cohorts a viewer may review (an admin: all; others: those they coach)."""
    if not is_staff(viewer):
        return []
    ids = await coached_cohort_ids(session, viewer)
    query = select(Cohort).order_by(Cohort.name)
    if ids is not None:
        query = query.where(Cohort.id.in_(ids))
    return list(await session.scalars(query))


async def visible_cohort(session: AsyncSession, viewer: Person, cohort_id: int) -> Cohort | None:
    """Return the cohort if the viewer may review it, else None."""
    for cohort in await visible_cohorts(session, viewer):
        if cohort.id == cohort_id:
            return cohort
    return None


def cohort_member_ids(cohort_id: int) -> CompoundSelect[int]:
    """Select the participants of a cohort: direct members and members of its groups."""
    direct = select(CohortMembership.person_id).where(
        CohortMembership.cohort_id == cohort_id, CohortMembership.role == "participant"
    )
    via_group = (
        select(GroupMembership.person_id)
        .join(PeerGroup, PeerGroup.id == GroupMembership.group_id)
        .join(Person, Person.id == GroupMembership.person_id)
        .where(PeerGroup.cohort_id == cohort_id, Person.role == "participant")
    )
    return direct.union(via_group)


async def cohort_people(session: AsyncSession, cohort_id: int) -> list[Person]:
    """Return a cohort's participants by name."""
    ids = cohort_member_ids(cohort_id).subquery()
    query = select(Person).where(Person.id.in_(select(ids.c[0]))).order_by(Person.name)
    return list(await session.scalars(query))


async def cohort_groups(session: AsyncSession, cohort_id: int) -> list[PeerGroup]:
    """Return a cohort's peer groups by name."""
    query = select(PeerGroup).where(PeerGroup.cohort_id == cohort_id).order_by(PeerGroup.name)
    return list(await session.scalars(query))


async def _owner_ids(session: AsyncSession, owner_kind: str, cohort_id: int) -> list[int]:
    """Return campaigns/surveys/series whose audience is this cohort or one of its groups."""
    groups = select(PeerGroup.id).where(PeerGroup.cohort_id == cohort_id)
    rows = await session.scalars(
        select(Audience.owner_id)
        .where(
            Audience.owner_kind == owner_kind,
            or_(Audience.cohort_id == cohort_id, Audience.group_id.in_(groups)),
        )
        .distinct()
    )
    return sorted(rows)


async def campaign_rates(session: AsyncSession, cohort_id: int) -> list[Rate]:
    """Return each of the cohort's campaigns: prompts sent to its people, and answered."""
    members = cohort_member_ids(cohort_id)
    rates = []
    for campaign_id in await _owner_ids(session, "campaign", cohort_id):
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            continue
        asked, answered = (
            await session.execute(
                select(func.count(Delivery.id), func.count(Delivery.answered_at))
                .join(Occurrence, Occurrence.id == Delivery.occurrence_id)
                .where(
                    Occurrence.campaign_id == campaign_id,
                    Delivery.kind == "prompt",
                    Delivery.status == "sent",
                    Delivery.person_id.in_(members),
                )
            )
        ).one()
        rates.append(Rate(campaign.title or campaign.key, int(asked), int(answered)))
    return rates


async def attention_list(session: AsyncSession, cohort_id: int, today: date) -> list[AttentionItem]:
    """Return the cohort's people who have paused, cannot be reached, or ignore prompts."""
    items = []
    for person in await cohort_people(session, cohort_id):
        reasons = []
        if person.paused_until is not None and person.paused_until >= today:
            reasons.append("paused")
        if await is_unreachable(session, person.id):
            reasons.append("unreachable")
        if person.needs_attention_since is not None:
            reasons.append("ignored")
        if reasons:
            items.append(AttentionItem(person.id, person.name, tuple(reasons), person.paused_until))
    return items


async def is_unreachable(session: AsyncSession, person_id: int) -> bool:
    """Tell whether a person has identities and none of them can be reached."""
    statuses = list(
        await session.scalars(select(Identity.status).where(Identity.person_id == person_id))
    )
    return bool(statuses) and all(status == "unreachable" for status in statuses)


async def meeting_rates(session: AsyncSession, cohort_id: int) -> list[MeetingRate]:
    """Return, per peer series of the cohort, how many matched members said they met."""
    members = cohort_member_ids(cohort_id)
    rates = []
    for series_id in await _owner_ids(session, "peer_series", cohort_id):
        series = await session.get(PeerSeries, series_id)
        if series is None:
            continue
        states = list(
            await session.scalars(
                select(PeerMatchMember.met)
                .join(PeerMatch, PeerMatch.id == PeerMatchMember.match_id)
                .join(PeerRound, PeerRound.id == PeerMatch.round_id)
                .where(PeerRound.series_id == series_id, PeerMatchMember.person_id.in_(members))
            )
        )
        rates.append(
            MeetingRate(
                series.key,
                len(states),
                states.count("yes"),
                states.count("planned"),
                states.count("no"),
            )
        )
    return rates


async def cohort_surveys(session: AsyncSession, cohort_id: int) -> list[PulseSurvey]:
    """Return the pulse surveys that reach this cohort or one of its groups."""
    ids = await _owner_ids(session, "pulse_survey", cohort_id)
    if not ids:
        return []
    return list(
        await session.scalars(
            select(PulseSurvey).where(PulseSurvey.id.in_(ids)).order_by(PulseSurvey.key)
        )
    )


async def overview(session: AsyncSession, cohort: Cohort, now: datetime) -> Overview:
    """Return the cohort overview: participation, attention, meetings and surveys."""
    groups = await cohort_groups(session, cohort.id)
    return Overview(
        cohort=cohort,
        people=await cohort_people(session, cohort.id),
        groups=groups,
        campaigns=await campaign_rates(session, cohort.id),
        group_rates=await group_rates(session, groups, now),
        attention=await attention_list(session, cohort.id, now.date()),
        meetings=await meeting_rates(session, cohort.id),
        surveys=await cohort_surveys(session, cohort.id),
    )


async def is_cohort_member(session: AsyncSession, cohort_id: int, person_id: int) -> bool:
    """Tell whether a person is a participant of the cohort."""
    ids = cohort_member_ids(cohort_id).subquery()
    found = await session.scalar(select(ids.c[0]).where(ids.c[0] == person_id).limit(1))
    return found is not None


async def visible_leader(
    session: AsyncSession, viewer: Person, cohort_id: int, person_id: int
) -> tuple[Cohort, Person] | None:
    """Return the cohort and leader if the viewer reviews that cohort and the leader is in it."""
    cohort = await visible_cohort(session, viewer, cohort_id)
    if cohort is None or not await is_cohort_member(session, cohort_id, person_id):
        return None
    leader = await session.get(Person, person_id)
    return (cohort, leader) if leader is not None else None


async def leader_timeline(
    session: AsyncSession, viewer: Person, cohort_id: int, person_id: int, now: datetime
) -> list[TimelineEntry] | None:
    """Return a leader's shared answers, newest first, and audit the view; None if out of scope."""
    found = await visible_leader(session, viewer, cohort_id, person_id)
    if found is None:
        return None
    answers = list(
        await session.scalars(
            select(Answer)
            .where(Answer.person_id == person_id, Answer.visibility.in_(SHARED))
            .order_by(Answer.created_at.desc(), Answer.id.desc())
        )
    )
    comments = await _comments_by_answer(session, [a.id for a in answers])
    entries = [
        TimelineEntry(
            a, await _question(session, a.prompt_id, viewer.locale), comments.get(a.id, [])
        )
        for a in answers
    ]
    session.add(
        AuditEntry(
            at=now,
            actor_id=viewer.id,
            action="answers.view",
            subject=f"person:{person_id}",
            detail={"cohort_id": cohort_id, "answers": len(entries)},
        )
    )
    await session.flush()
    return entries


async def visible_answer(session: AsyncSession, viewer: Person, answer_id: int) -> Answer | None:
    """Return a shared answer whose author is in one of the viewer's cohorts, else None."""
    answer = await session.get(Answer, answer_id)
    if answer is None or answer.visibility not in SHARED:
        return None
    for cohort in await visible_cohorts(session, viewer):
        if await is_cohort_member(session, cohort.id, answer.person_id):
            return answer
    return None


async def _question(session: AsyncSession, prompt_id: int | None, locale: str) -> str:
    prompt = await session.get(Prompt, prompt_id) if prompt_id is not None else None
    return pick_text(prompt.text if prompt else None, locale) or ""


async def _comments_by_answer(
    session: AsyncSession, answer_ids: list[int]
) -> dict[int, list[tuple[AnswerComment, str]]]:
    if not answer_ids:
        return {}
    rows = await session.execute(
        select(AnswerComment, Person.name)
        .join(Person, Person.id == AnswerComment.author_id)
        .where(AnswerComment.answer_id.in_(answer_ids))
        .order_by(AnswerComment.created_at, AnswerComment.id)
    )
    found: dict[int, list[tuple[AnswerComment, str]]] = {}
    for comment, name in rows.all():
        found.setdefault(comment.answer_id, []).append((comment, name))
    return found


async def new_shared_answers(
    session: AsyncSession, cohort_id: int, since: datetime, until: datetime
) -> int:
    """Count answers shared with coaches or the group by the cohort's people in a window."""
    count = await session.scalar(
        select(func.count(Answer.id)).where(
            Answer.person_id.in_(cohort_member_ids(cohort_id)),
            Answer.visibility.in_(SHARED),
            Answer.created_at >= since,
            Answer.created_at < until,
        )
    )
    return int(count or 0)


async def prompt_rate(
    session: AsyncSession, cohort_id: int, since: datetime, until: datetime
) -> Rate:
    """Return how many prompts the cohort's people were sent in a window and answered."""
    asked, answered = (
        await session.execute(
            select(func.count(Delivery.id), func.count(Delivery.answered_at)).where(
                Delivery.person_id.in_(cohort_member_ids(cohort_id)),
                Delivery.kind.in_(PROMPT_KINDS),
                Delivery.status == "sent",
                Delivery.sent_at >= since,
                Delivery.sent_at < until,
            )
        )
    ).one()
    return Rate("", int(asked), int(answered))
