"""Attack: someone the roster no longer names is still prompted, pulsed or matched.

A leader who leaves the programme is deactivated by the next roster import. Whatever the
scheduler owed them before (tomorrow's prompt, a pulse reminder, a meeting check) and
whatever it fires afterwards (new prompts, pulse rounds, peer rounds) must not reach them,
and no peer is put in a group with them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.roster_import import run_roster_import
from scheduler.tick import tick
from scheduler.tick_memo import TickMemo
from storage.models import (
    Audience,
    Cohort,
    CohortMembership,
    Delivery,
    GroupMembership,
    PeerGroup,
    PeerMatch,
    PeerMatchMember,
    PeerRound,
    Person,
)
from tests import factories
from tests.flows.conftest import OPTIONS, Flow, Programme, flow, seed_programme
from tests.scheduler.campaign_seed import add_campaign

__all__ = ["flow"]  # the real router, tick and dispatcher, as a fixture

HEADER = (
    "email;name;role;unit;manager_email;cohort;group;locale;timezone;slack_id;telegram_username"
)


async def roster_without(session: AsyncSession, left: int) -> str:
    """Return a roster naming everyone in the database as they are, except `left`."""
    lines = [HEADER]
    for person in await session.scalars(select(Person).order_by(Person.id)):
        if person.id == left:
            continue
        cohort = await session.scalar(
            select(Cohort.name)
            .join(CohortMembership, CohortMembership.cohort_id == Cohort.id)
            .where(CohortMembership.person_id == person.id)
        )
        group = await session.scalar(
            select(PeerGroup.name)
            .join(GroupMembership, GroupMembership.group_id == PeerGroup.id)
            .where(GroupMembership.person_id == person.id)
        )
        cells = (person.email, person.name, person.role, person.unit or "", "")
        place = (cohort or "", group or "", person.locale, person.timezone, "", "")
        lines.append(";".join((*cells, *place)))
    return "\n".join(lines) + "\n"


async def seed(session: AsyncSession) -> Programme:
    """Seed a cohort with a pulse survey and a peer series, plus a Monday reflection campaign."""
    programme = await seed_programme(session)
    cohort_id = await session.scalar(
        select(Audience.cohort_id).where(
            Audience.owner_kind == "pulse_survey", Audience.owner_id == programme.survey_id
        )
    )
    cohort = await session.get(Cohort, cohort_id)
    assert cohort is not None
    await add_campaign(session, cohort, key="monday-reflection", start=factories.T0.date())
    return programme


async def test_a_person_the_roster_drops_gets_no_prompt_pulse_or_peer_after_the_import(
    flow: Flow, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        programme = await seed(session)
    memo = TickMemo()
    await tick(flow.sessions, flow.clock, OPTIONS, memo)
    first = await flow.dispatch()
    leaver_user, leaver = next(iter(programme.people.items()))
    # Before the import the leaver is reached by all three.
    assert {"prompt", "pulse", "peer_intro"} <= {
        s.message.tag.split(":")[0] for s in first if s.address["user"] == leaver_user
    }, sorted({s.message.tag for s in first if s.address["user"] == leaver_user})

    async with sessions.begin() as session:
        roster = await roster_without(session, leaver)
    counts = await run_roster_import(
        sessions, roster.encode("utf-8"), "roster.csv", now=flow.clock.now()
    )
    assert counts.deactivated == 1

    # Two weeks, day by day: pulse reminders, meeting checks, the next prompt, pulse
    # rounds and peer round all come due, on the same memo a running scheduler keeps.
    later = []
    for _ in range(14):
        flow.clock.advance(days=1)
        await tick(flow.sessions, flow.clock, OPTIONS, memo)
        later.extend(await flow.dispatch())

    assert [s.message.tag for s in later if s.address["user"] == leaver_user] == []
    reached = {s.address["user"] for s in later}
    assert set(programme.people) - {leaver_user} <= reached  # the rest still hear from us
    later_tags = {s.message.tag.split(":")[0] for s in later}
    assert {"prompt", "pulse", "peer_intro"} <= later_tags, sorted(later_tags)
    async with sessions() as session:
        owed = list(
            await session.scalars(
                select(Delivery.kind).where(
                    Delivery.person_id == leaver, Delivery.status == "pending"
                )
            )
        )
        second = await session.scalar(select(PeerRound.id).where(PeerRound.number == 2))
        matched = set(
            await session.scalars(
                select(PeerMatchMember.person_id)
                .join(PeerMatch, PeerMatch.id == PeerMatchMember.match_id)
                .where(PeerMatch.round_id == second)
            )
        )
    assert owed == []
    assert second is not None and matched == set(programme.people.values()) - {leaver}
