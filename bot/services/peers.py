"""Peer rounds: match the series' audience, store the groups, and follow up on meetings."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.matching import Candidate, MixingRules, PairHistory, Unmatched, match
from bot.core.problems import UserError
from bot.prompts.bank import THEMES, BankPrompt, load_bank
from bot.services.pulses import NotFound
from storage.models import (
    PeerMatch,
    PeerMatchMember,
    PeerOptOut,
    PeerRound,
    PeerSeries,
    Person,
    Prompt,
    utcnow,
)
from storage.models.vocab import MEETING_STATES
from storage.queries.audience import audience_people


class NotInMatch(UserError):
    """A meeting report from someone who is not in the match."""


@dataclass(frozen=True)
class MatchInfo:
    """One stored group of a round."""

    match_id: int
    number: int
    members: tuple[int, ...]
    prompt_key: str | None


@dataclass(frozen=True)
class RoundMatching:
    """What a peer round produced, with who sat out and why."""

    round_id: int
    matches: tuple[MatchInfo, ...]
    unmatched: tuple[Unmatched, ...] = ()
    opted_out: tuple[int, ...] = ()
    repeats: int = 0
    unit_clashes: int = 0


@dataclass(frozen=True)
class MeetingRate:
    """How many matches of a round met, and what members said."""

    matches: int
    met: int  # matches where at least one member said yes
    planned: int  # matches not met, but planned by someone
    answers: dict[str, int]  # member answers by state, plus "unanswered"

    @property
    def rate(self) -> float | None:
        """Return the share of matches that met, or None without matches."""
        return self.met / self.matches if self.matches else None


async def match_round(
    session: AsyncSession, peer_round_id: int, now: datetime | None = None
) -> RoundMatching:
    """Match a round's audience into groups and store them (a matched round is returned as is)."""
    peer_round = await session.get(PeerRound, peer_round_id)
    if peer_round is None:
        raise NotFound(f"peer round {peer_round_id} does not exist")
    series = await session.get(PeerSeries, peer_round.series_id)
    assert series is not None  # the foreign key guarantees it
    existing = await _stored_matches(session, peer_round.id)
    if existing:
        return RoundMatching(peer_round.id, existing)

    people = await audience_people(session, "peer_series", series.id)
    opted_out = set(
        await session.scalars(
            select(PeerOptOut.person_id).where(PeerOptOut.round_id == peer_round.id)
        )
    )
    # Someone who paused the bot is not put in a group they will not hear about.
    opted_out |= {
        p.id
        for p in people
        if p.paused_until is not None and p.paused_until >= peer_round.local_date
    }
    rules = MixingRules(
        mix_units=series.mix_units,
        same_language=series.same_language,
        avoid_manager=series.avoid_manager,
        opted_out=frozenset(opted_out),
    )
    history = await _history(session, series.id, peer_round.number)
    result = match(
        [_candidate(p) for p in people],
        history,
        rules,
        series.group_size,
        peer_round.seed,
        peer_round.number,
    )
    prompts = await _conversation_prompts(session, series.id, peer_round, len(result.groups))
    matches = []
    for number, (members, prompt) in enumerate(zip(result.groups, prompts, strict=True), 1):
        row = PeerMatch(
            round_id=peer_round.id, number=number, prompt_id=prompt.id if prompt else None
        )
        session.add(row)
        await session.flush()
        session.add_all(PeerMatchMember(match_id=row.id, person_id=m) for m in members)
        matches.append(MatchInfo(row.id, number, members, prompt.key if prompt else None))
    peer_round.matched_at = now or utcnow()
    if peer_round.status == "scheduled":
        peer_round.status = "open"
    await session.flush()
    return RoundMatching(
        peer_round.id,
        tuple(matches),
        result.unmatched,
        result.opted_out,
        result.repeats,
        result.unit_clashes,
    )


async def record_meeting(session: AsyncSession, match_id: int, person_id: int, state: str) -> None:
    """Record a member's answer to "did you meet?" (yes, no or planned); a new answer wins."""
    if state not in MEETING_STATES:
        raise ValueError(
            f"meeting state must be one of {', '.join(MEETING_STATES)} (got {state!r})"
        )
    member = await session.scalar(
        select(PeerMatchMember).where(
            PeerMatchMember.match_id == match_id, PeerMatchMember.person_id == person_id
        )
    )
    if member is None:
        raise NotInMatch(f"person {person_id} is not a member of peer match {match_id}")
    member.met = state
    await session.flush()


async def meeting_rate(session: AsyncSession, round_id: int) -> MeetingRate:
    """Return how many of a round's matches met, and the members' answers."""
    rows = (
        await session.execute(
            select(PeerMatchMember.match_id, PeerMatchMember.met)
            .join(PeerMatch, PeerMatch.id == PeerMatchMember.match_id)
            .where(PeerMatch.round_id == round_id)
        )
    ).all()
    by_match: dict[int, set[str | None]] = {}
    answers = dict.fromkeys((*MEETING_STATES, "unanswered"), 0)
    for match_id, state in rows:
        by_match.setdefault(match_id, set()).add(state)
        answers[state or "unanswered"] += 1
    met = sum(1 for states in by_match.values() if "yes" in states)
    planned = sum(1 for s in by_match.values() if "yes" not in s and "planned" in s)
    return MeetingRate(len(by_match), met, planned, answers)


def _candidate(person: Person) -> Candidate:
    return Candidate(person.id, person.unit, person.locale, person.manager_id)


async def _history(session: AsyncSession, series_id: int, before: int) -> PairHistory:
    """Return who met whom in the series' earlier rounds."""
    rows = (
        await session.execute(
            select(PeerRound.number, PeerMatchMember.match_id, PeerMatchMember.person_id)
            .join(PeerMatch, PeerMatch.id == PeerMatchMember.match_id)
            .join(PeerRound, PeerRound.id == PeerMatch.round_id)
            .where(PeerRound.series_id == series_id, PeerRound.number < before)
        )
    ).all()
    groups: dict[tuple[int, int], list[int]] = {}
    for number, match_id, person_id in rows:
        groups.setdefault((number, match_id), []).append(person_id)
    return PairHistory.from_rounds((number, [members]) for (number, _), members in groups.items())


async def _stored_matches(session: AsyncSession, round_id: int) -> tuple[MatchInfo, ...]:
    rows = (
        await session.execute(
            select(PeerMatch.id, PeerMatch.number, PeerMatchMember.person_id, Prompt.key)
            .join(PeerMatchMember, PeerMatchMember.match_id == PeerMatch.id)
            .outerjoin(Prompt, Prompt.id == PeerMatch.prompt_id)
            .where(PeerMatch.round_id == round_id)
            .order_by(PeerMatch.number, PeerMatchMember.person_id)
        )
    ).all()
    found: dict[int, MatchInfo] = {}
    for match_id, number, person_id, key in rows:
        info = found.get(match_id)
        members = (*info.members, person_id) if info else (person_id,)
        found[match_id] = MatchInfo(match_id, number, members, key)
    return tuple(found.values())


async def _conversation_prompts(
    session: AsyncSession, series_id: int, peer_round: PeerRound, count: int
) -> list[Prompt | None]:
    """Pick a conversation question per match from the bank, one theme per round.

    Themes take turns round by round; within a theme, questions the series has not used
    yet come first, in an order drawn from the round's seed.
    """
    bank = load_bank()
    themes = [t for t in THEMES if any(p.theme == t for p in bank.reflections.values())]
    if not themes or count == 0:
        return [None] * count
    theme = themes[peer_round.number % len(themes)]
    candidates = sorted(
        (p for p in bank.reflections.values() if p.theme == theme), key=lambda p: p.key
    )
    used = set(
        await session.scalars(
            select(Prompt.key)
            .join(PeerMatch, PeerMatch.prompt_id == Prompt.id)
            .join(PeerRound, PeerRound.id == PeerMatch.round_id)
            .where(PeerRound.series_id == series_id)
        )
    )
    rng = random.Random(peer_round.seed * 1_000_003 + peer_round.number)
    rng.shuffle(candidates)
    candidates.sort(key=lambda p: p.key in used)  # stable: unused first, shuffled within
    chosen = [candidates[i % len(candidates)] for i in range(count)]
    rows = await _prompt_rows(session, {p.key: p for p in chosen}.values())
    return [rows[p.key] for p in chosen]


async def _prompt_rows(session: AsyncSession, prompts: Iterable[BankPrompt]) -> dict[str, Prompt]:
    """Return the prompt rows for bank prompts, creating those not in the database yet."""
    wanted = {p.key: p for p in prompts}
    rows = {
        row.key: row for row in await session.scalars(select(Prompt).where(Prompt.key.in_(wanted)))
    }
    for key, bank_prompt in wanted.items():
        if key not in rows:
            row = Prompt(
                key=key,
                theme=bank_prompt.theme,
                text=dict(bank_prompt.text),
                follow_up=dict(bank_prompt.follow_up) if bank_prompt.follow_up else None,
            )
            session.add(row)
            rows[key] = row
    await session.flush()
    return rows
