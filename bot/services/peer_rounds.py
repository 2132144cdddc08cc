"""After a peer round is matched: introduce each match, follow up, and let people sit out.

Where every member of a match can be reached on a platform whose bots open group
conversations (Slack's `conversations.open` with several users), the match gets one
introduction there (`intro:{match}:group`, addressed to the match, not a person); the
dispatcher opens the conversation through the channel port. Otherwise each member gets
their own introduction (`intro:{match}:person:{person}`) naming the others and how to
reach them. Either way the match's conversation question comes with it, and each member
gets a "did you meet?" check (`meet:{match}:person:{person}`) `follow_up_days` later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.compose_peers import IntroView, PeerContact, intro_message, meeting_check
from bot.core.messages import OutMessage
from bot.core.schedule import QuietHours, after_quiet_hours, fire_dates, firing_index
from bot.i18n import gettext_for
from bot.services.peers import RoundMatching
from bot.services.pulse_messages import localised
from bot.services.render import renders
from scheduler.outbox_rows import insert_deliveries, outbox_row, skip_reason
from scheduler.rounds import peer_round_seed
from scheduler.timing import spec_of, zone_name
from storage.models import (
    Audience,
    Delivery,
    PeerGroup,
    PeerMatch,
    PeerMatchMember,
    PeerOptOut,
    PeerRound,
    PeerSeries,
    Person,
    Prompt,
)
from storage.queries.inserts import insert_ignoring_conflicts

# A "did you meet?" check stays worth sending this long after it is due.
CHECK_LIFETIME = timedelta(days=7)
# Platforms whose bots can open one conversation with several people. Telegram and Teams
# bots cannot start a group chat, so their members are introduced one by one.
GROUP_CONVERSATION_PLATFORMS = ("slack",)
# How far ahead the next round of a series is looked for when someone sits it out.
NEXT_ROUND_HORIZON = timedelta(days=400)


@dataclass(frozen=True)
class Queued:
    """How many introductions and checks were queued."""

    intros: int = 0
    checks: int = 0


async def queue_introductions(
    session: AsyncSession,
    matching: RoundMatching,
    now: datetime,
    quiet_hours: QuietHours | None = None,
) -> Queued:
    """Queue an introduction now and a meeting check later for every member of every match."""
    peer_round = await session.get(PeerRound, matching.round_id)
    assert peer_round is not None
    series = await session.get(PeerSeries, peer_round.series_id)
    assert series is not None
    ids = {person for match in matching.matches for person in match.members}
    people = {p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(ids)))}
    matched_at = peer_round.matched_at or now
    intros, checks = [], []
    for match in matching.matches:
        members = [people[person_id] for person_id in match.members]
        platform = _shared_group_platform(members, now)
        if platform is not None:
            intros.append(_group_intro(match.match_id, members, platform, now, quiet_hours))
        for person in members:
            zone = zone_name(person.timezone)
            due = after_quiet_hours(max(now, matched_at), zone, quiet_hours)
            follow = matched_at + timedelta(days=series.follow_up_days)
            check_due = after_quiet_hours(follow, zone, quiet_hours)
            if platform is None:
                intros.append(_row("intro", match.match_id, person, due, due + CHECK_LIFETIME))
            checks.append(
                _row("meeting_check", match.match_id, person, check_due, check_due + CHECK_LIFETIME)
            )
    return Queued(
        len(await insert_deliveries(session, intros)),
        len(await insert_deliveries(session, checks)),
    )


def _shared_group_platform(members: list[Person], now: datetime) -> str | None:
    """Return a platform that can hold the whole match in one conversation, if any.

    A paused member keeps the per-person introductions, so their own row is skipped.
    """
    if len(members) < 2 or any(skip_reason(p, now.date(), attention_counts=False) for p in members):
        return None
    for platform in GROUP_CONVERSATION_PLATFORMS:
        if all(
            any(i.platform == platform and i.status == "active" for i in p.identities)
            for p in members
        ):
            return platform
    return None


def _shared_locale(members: list[Person]) -> str:
    """Return the members' common language, or bokmål, the programme's default, if mixed."""
    locales = {p.locale for p in members}
    return locales.pop() if len(locales) == 1 else "nb"


def _group_intro(
    match_id: int,
    members: list[Person],
    platform: str,
    now: datetime,
    quiet_hours: QuietHours | None,
) -> dict[str, Any]:
    # The latest start of the day among the members' time zones, so nobody is woken.
    due = max(after_quiet_hours(now, zone_name(p.timezone), quiet_hours) for p in members)
    return outbox_row(
        key=f"intro:{match_id}:group",
        kind="intro",
        person_id=None,
        due_at=due,
        expires_at=due + CHECK_LIFETIME,
        payload={
            "group_conversation": platform,
            "members": [p.id for p in members],
            "locale": _shared_locale(members),
        },
        match_id=match_id,
    )


def _row(
    kind: str, match_id: int, person: Person, due: datetime, expires: datetime
) -> dict[str, Any]:
    prefix = "intro" if kind == "intro" else "meet"
    payload: dict[str, Any] = {}
    reason = skip_reason(person, due.date(), attention_counts=False)
    if reason is not None:
        payload["skip_reason"] = reason
    return outbox_row(
        key=f"{prefix}:{match_id}:person:{person.id}",
        kind=kind,
        person_id=person.id,
        due_at=due,
        expires_at=expires,
        status="pending" if reason is None else "skipped",
        payload=payload,
        match_id=match_id,
    )


async def match_members(session: AsyncSession, match_id: int) -> list[Person]:
    """Return the people of a match, by id."""
    rows = await session.scalars(
        select(Person)
        .join(PeerMatchMember, PeerMatchMember.person_id == Person.id)
        .where(PeerMatchMember.match_id == match_id)
        .order_by(Person.id)
    )
    return list(rows)


async def is_member(session: AsyncSession, match_id: int, person_id: int) -> bool:
    """Tell whether a person is in a match."""
    found = await session.scalar(
        select(PeerMatchMember.id).where(
            PeerMatchMember.match_id == match_id, PeerMatchMember.person_id == person_id
        )
    )
    return found is not None


async def meeting_answer(session: AsyncSession, match_id: int, person_id: int) -> str | None:
    """Return what a member said about meeting, if anything."""
    return await session.scalar(
        select(PeerMatchMember.met).where(
            PeerMatchMember.match_id == match_id, PeerMatchMember.person_id == person_id
        )
    )


async def next_round(session: AsyncSession, match_id: int) -> PeerRound | None:
    """Return the series' next round after this match's, creating its row if not there yet.

    It is created exactly as the scheduler would create it (same number, date and seed),
    so the scheduler's own insert later finds it and changes nothing.
    """
    current = await session.scalar(
        select(PeerRound)
        .join(PeerMatch, PeerMatch.round_id == PeerRound.id)
        .where(PeerMatch.id == match_id)
    )
    if current is None:
        return None
    series = await session.get(PeerSeries, current.series_id)
    assert series is not None
    spec = spec_of(series)
    first = current.local_date + timedelta(days=1)
    days = fire_dates(spec, first, first + NEXT_ROUND_HORIZON)
    if not days:
        return None
    number = firing_index(spec, days[0]) + 1
    await session.execute(
        insert_ignoring_conflicts(session, PeerRound).values(
            series_id=series.id,
            number=number,
            local_date=days[0],
            seed=peer_round_seed(series.key, number),
            status="scheduled",
        )
    )
    return await session.scalar(
        select(PeerRound).where(PeerRound.series_id == series.id, PeerRound.number == number)
    )


async def skipping_next(session: AsyncSession, match_id: int, person_id: int) -> bool:
    """Tell whether a member sits out the round after this match's (without creating it)."""
    current = await session.scalar(
        select(PeerRound)
        .join(PeerMatch, PeerMatch.round_id == PeerRound.id)
        .where(PeerMatch.id == match_id)
    )
    if current is None:
        return False
    found = await session.scalar(
        select(PeerOptOut.id)
        .join(PeerRound, PeerRound.id == PeerOptOut.round_id)
        .where(
            PeerRound.series_id == current.series_id,
            PeerRound.number > current.number,
            PeerRound.status == "scheduled",
            PeerOptOut.person_id == person_id,
        )
        .limit(1)
    )
    return found is not None


async def set_skip_next(session: AsyncSession, match_id: int, person_id: int, skip: bool) -> bool:
    """Sit out (or rejoin) the next round; False when it is already matched or there is none."""
    upcoming = await next_round(session, match_id)
    if upcoming is None or upcoming.status != "scheduled":
        return False
    if skip:
        await session.execute(
            insert_ignoring_conflicts(session, PeerOptOut).values(
                round_id=upcoming.id, person_id=person_id
            )
        )
    else:
        await session.execute(
            delete(PeerOptOut).where(
                PeerOptOut.round_id == upcoming.id, PeerOptOut.person_id == person_id
            )
        )
    await session.flush()
    return True


async def intro_view(
    session: AsyncSession, match_id: int, person_id: int | None, locale: str
) -> IntroView:
    """Return what one member's introduction shows (person None: the whole match's)."""
    match = await session.get(PeerMatch, match_id)
    assert match is not None
    peer_round = await session.get(PeerRound, match.round_id)
    assert peer_round is not None
    series = await session.get(PeerSeries, peer_round.series_id)
    assert series is not None
    others = [p for p in await match_members(session, match_id) if p.id != person_id]
    prompt = await session.get(Prompt, match.prompt_id) if match.prompt_id else None
    return IntroView(
        match_id=match_id,
        locale=locale,
        others=tuple(PeerContact(p.name, p.unit, p.email, p.telegram_username) for p in others),
        question=localised(prompt.text, locale) if prompt else None,
        follow_up_days=series.follow_up_days,
        skipping_next=person_id is not None and await skipping_next(session, match_id, person_id),
        together=person_id is None,
    )


async def meeting_check_message(
    session: AsyncSession, match_id: int, person_id: int, locale: str
) -> OutMessage:
    """Return the "did you meet?" check as this member sees it now."""
    others = tuple(p.name for p in await match_members(session, match_id) if p.id != person_id)
    return meeting_check(
        gettext_for(locale),
        match_id,
        locale,
        others,
        await meeting_answer(session, match_id, person_id),
        await skipping_next(session, match_id, person_id),
    )


@renders("intro")
async def _intro(session: AsyncSession, delivery: Delivery, locale: str) -> OutMessage:
    assert delivery.match_id is not None
    view = await intro_view(session, delivery.match_id, delivery.person_id, locale)
    return intro_message(gettext_for(locale), view)


@renders("meeting_check")
async def _meeting_check(session: AsyncSession, delivery: Delivery, locale: str) -> OutMessage:
    assert delivery.match_id is not None and delivery.person_id is not None
    return await meeting_check_message(session, delivery.match_id, delivery.person_id, locale)


async def coach_peer_rounds(
    session: AsyncSession, cohort_ids: set[int] | None, per_series: int = 3
) -> list[tuple[str, int]]:
    """Return (label `series-key#number`, round id) of the last matched rounds in reach."""
    query = (
        select(PeerRound, PeerSeries.key)
        .join(PeerSeries, PeerSeries.id == PeerRound.series_id)
        .where(PeerRound.matched_at.is_not(None))
        .order_by(PeerSeries.key, PeerRound.number)
    )
    if cohort_ids is not None:
        series = (
            select(Audience.owner_id)
            .outerjoin(PeerGroup, PeerGroup.id == Audience.group_id)
            .where(
                Audience.owner_kind == "peer_series",
                or_(Audience.cohort_id.in_(cohort_ids), PeerGroup.cohort_id.in_(cohort_ids)),
            )
        )
        query = query.where(PeerRound.series_id.in_(series))
    by_series: dict[str, list[tuple[str, int]]] = {}
    for peer_round, key in (await session.execute(query)).all():
        by_series.setdefault(key, []).append((f"{key}#{peer_round.number}", peer_round.id))
    return [entry for rounds in by_series.values() for entry in rounds[-per_series:]]
