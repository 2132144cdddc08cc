"""A peer round end to end through the recording channel: matched, introduced, followed up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.peers import meeting_rate
from scheduler.peer_jobs import run_peer_jobs
from scheduler.tick import tick
from storage.models import PeerMatch, PeerMatchMember, PeerOptOut, PeerRound, Person
from tests import factories
from tests.flows.conftest import OPTIONS, Flow, seed_programme


async def test_peer_round_is_matched_introduced_and_followed_up(
    flow: Flow, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        programme = await seed_programme(session)
    report = await tick(flow.sessions, flow.clock, OPTIONS)  # creates, matches, introduces
    assert (report.peer_rounds_matched, report.peer_intros) == (1, 6)
    async with sessions.begin() as session:
        again = await run_peer_jobs(session, flow.clock.now(), OPTIONS)
    assert again.matched_rounds == again.intros == 0

    sent = [s for s in await flow.dispatch() if s.message.tag == "peer_intro"]
    assert len(sent) == 6
    async with sessions() as session:
        names = {p.id: p.name for p in await session.scalars(select(Person))}
        members = list(await session.scalars(select(PeerMatchMember)))
    partner = {
        m.person_id: next(o.person_id for o in members if o.match_id == m.match_id and o is not m)
        for m in members
    }
    for s in sent:
        me = programme.people[str(s.address["user"])]
        assert names[partner[me]] in s.message.text and names[me] not in s.message.text
        assert "A question to start with:" in s.message.text
        assert "@kommune.example" in s.message.text  # how to reach them

    # A week later everyone is asked whether they met.
    flow.clock.advance(days=7)
    checks = [s for s in await flow.dispatch() if s.message.tag == "meeting_check"]
    assert len(checks) == 6
    by_match: dict[int, list[str]] = {}
    for s in checks:
        match_id = int(s.message.buttons[0].value.split(".")[0])
        by_match.setdefault(match_id, []).append(s.ref)
    first, second, third = (by_match[k] for k in sorted(by_match))
    await flow.click(first[0], lambda b: b.label == "Yes, we met")
    await flow.click(first[1], lambda b: b.label == "Yes, we met")
    await flow.click(second[0], lambda b: b.label == "No")
    await flow.click(second[0], lambda b: b.label == "Planned")  # a new answer replaces
    await flow.click(third[0], lambda b: b.label == "No")
    shown = flow.screens[second[0]]
    assert [b.label for b in shown.buttons if b.style == "primary"] == ["Planned"]
    assert shown.tag == "meeting_answered"

    async with sessions() as session:
        round_id = await session.scalar(select(PeerRound.id))
        assert round_id is not None
        rate = await meeting_rate(session, round_id)
    assert (rate.matches, rate.met, rate.planned, rate.rate) == (3, 1, 1, 1 / 3)
    assert rate.answers == {"yes": 2, "no": 1, "planned": 1, "unanswered": 2}
    [reply] = await flow.command(programme.coach_user, "results")
    assert "1 of 3 groups met (33 %), 1 planned, 2 members have not answered" in (
        reply.message.text
    )

    # Someone not in the first match cannot answer for it.
    [refused] = await flow.press(third[1], "met", f"{sorted(by_match)[0]}.no")
    assert refused.message.tag == "peer_refused"
    async with sessions() as session:
        assert await meeting_rate(session, round_id) == rate


async def test_sitting_out_the_next_round_keeps_a_person_out_of_it(
    flow: Flow, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        programme = await seed_programme(session)
    await tick(flow.sessions, flow.clock, OPTIONS)
    intros = [s for s in await flow.dispatch() if s.message.tag == "peer_intro"]
    leaving = intros[0]
    replies = await flow.click(leaving.ref, lambda b: b.label == "Sit out the next round")
    assert replies[-1].message.text.startswith("You sit out the next peer round.")
    assert flow.screens[leaving.ref].buttons[0].style == "primary"
    person_id = programme.people[str(leaving.address["user"])]
    async with sessions() as session:
        [opt_out] = list(await session.scalars(select(PeerOptOut)))
        next_round = await session.get(PeerRound, opt_out.round_id)
    assert opt_out.person_id == person_id
    assert next_round is not None and next_round.number == 2
    assert next_round.local_date == factories.T0.date() + timedelta(days=14)

    flow.clock.advance(days=14)
    report = await tick(flow.sessions, flow.clock, OPTIONS)  # the round exists; match it
    assert report.peer_rounds_matched == 1 and report.peer_intros == 5
    async with sessions() as session:
        rounds = await session.scalar(select(func.count(PeerRound.id)))
        in_round_two = set(
            await session.scalars(
                select(PeerMatchMember.person_id)
                .join(PeerMatch, PeerMatch.id == PeerMatchMember.match_id)
                .where(PeerMatch.round_id == next_round.id)
            )
        )
    assert rounds == 2 and person_id not in in_round_two and len(in_round_two) == 5
