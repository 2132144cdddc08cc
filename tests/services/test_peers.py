"""Peer rounds on both backends: matching the audience, history, prompts and meeting rates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import combinations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.prompts.bank import load_bank
from bot.services.peers import NotInMatch, match_round, meeting_rate, record_meeting
from storage.models import (
    Audience,
    PeerMatch,
    PeerMatchMember,
    PeerOptOut,
    PeerRound,
    PeerSeries,
    Person,
    Prompt,
)
from tests import factories

DAY = date(2027, 3, 1)
NOW = datetime(2027, 3, 1, 7, 0, tzinfo=UTC)


async def series_with_people(
    session: AsyncSession, count: int, *, group_size: int = 3, rounds: int = 1
) -> tuple[PeerSeries, list[PeerRound], list[Person]]:
    """Create a peer series over a cohort of `count` people in three units, and its rounds."""
    cohort, group = await factories.cohort_with_group(session, f"k{count}", f"g{count}")
    series = PeerSeries(key=f"peers-{count}", group_size=group_size, start_date=DAY)
    session.add(series)
    await session.flush()
    session.add(Audience(owner_kind="peer_series", owner_id=series.id, cohort_id=cohort.id))
    people = []
    for n in range(count):
        who = await factories.person(session, unit=f"unit-{n % 3}")
        await factories.join(session, who, cohort, group)
        people.append(who)
    peer_rounds = [
        PeerRound(series_id=series.id, number=n, local_date=DAY, seed=17)
        for n in range(1, rounds + 1)
    ]
    session.add_all(peer_rounds)
    await session.flush()
    return series, peer_rounds, people


def met_pairs(groups: list[tuple[int, ...]]) -> set[tuple[int, int]]:
    return {(a, b) for g in groups for a, b in combinations(sorted(g), 2)}


async def test_round_is_matched_stored_and_given_conversation_prompts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        _, (peer_round,), people = await series_with_people(session, 10)
        result = await match_round(session, peer_round.id, now=NOW)
        await session.commit()
        assert sorted(len(m.members) for m in result.matches) == [3, 3, 4]
        assert sorted(p for m in result.matches for p in m.members) == [p.id for p in people]
        stored = await session.scalar(select(func.count(PeerMatchMember.id)))
        assert stored == 10
        bank = load_bank()
        keys = {m.prompt_key for m in result.matches}
        assert keys and all(k in bank.reflections for k in keys if k)
        assert len(keys) == 3  # three different questions for three matches
        assert await session.scalar(select(func.count(Prompt.id))) == 3
        refreshed = await session.get(PeerRound, peer_round.id)
        assert refreshed is not None and refreshed.matched_at == NOW
        again = await match_round(session, peer_round.id, now=NOW)
        assert [m.members for m in again.matches] == [m.members for m in result.matches]
        assert await session.scalar(select(func.count(PeerMatch.id))) == 3


async def test_later_rounds_avoid_earlier_pairs(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        _, rounds, _ = await series_with_people(session, 9, rounds=4)
        seen: set[tuple[int, int]] = set()
        for peer_round in rounds:  # 9 people in trios: 4 rounds without a repeat exist
            result = await match_round(session, peer_round.id, now=NOW)
            pairs = met_pairs([m.members for m in result.matches])
            assert not pairs & seen and result.repeats == 0
            seen |= pairs
        await session.commit()
    assert len(seen) == 36  # everyone met everyone


async def test_opted_out_and_paused_people_sit_out_and_managers_never_meet_reports(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        _, (peer_round,), people = await series_with_people(session, 8, group_size=2)
        boss = people[0]
        for report in people[1:4]:
            report.manager_id = boss.id
        people[5].paused_until = DAY
        session.add(PeerOptOut(round_id=peer_round.id, person_id=people[6].id))
        await session.flush()
        result = await match_round(session, peer_round.id, now=NOW)
        await session.commit()
        placed = {p for m in result.matches for p in m.members}
        assert placed == {p.id for p in people} - {people[5].id, people[6].id}
        assert result.opted_out == tuple(sorted((people[5].id, people[6].id)))
        boss_match = next(m for m in result.matches if boss.id in m.members)
        assert not {p.id for p in people[1:4]} & set(boss_match.members)


async def test_meeting_answers_give_the_round_meeting_rate(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        _, (peer_round,), people = await series_with_people(session, 6, group_size=2)
        result = await match_round(session, peer_round.id, now=NOW)
        first, second, _third = result.matches
        await record_meeting(session, first.match_id, first.members[0], "no")
        await record_meeting(session, first.match_id, first.members[0], "yes")  # changed mind
        await record_meeting(session, first.match_id, first.members[1], "yes")
        await record_meeting(session, second.match_id, second.members[0], "planned")
        await session.commit()
        rate = await meeting_rate(session, peer_round.id)
        assert (rate.matches, rate.met, rate.planned) == (3, 1, 1)
        assert rate.rate == pytest.approx(1 / 3)
        assert rate.answers == {"yes": 2, "no": 0, "planned": 1, "unanswered": 3}
        outsider = next(p for p in people if p.id not in first.members)
        with pytest.raises(NotInMatch, match=f"person {outsider.id} is not a member"):
            await record_meeting(session, first.match_id, outsider.id, "yes")
        with pytest.raises(ValueError, match="yes, no, planned"):
            await record_meeting(session, first.match_id, first.members[0], "maybe")
