"""Close pulse rounds, summarise their results for coaches, and close the loop.

Rounds past `closes_at` are closed with `bot.services.pulses.close_round`, which wipes the
link between people and anonymous responses. Each coach of the survey's cohorts then gets a
results summary of their own cohorts only (an admin: of the whole round), and a coach may
send the participants a "what we heard, what we will do" message. Both are "pulse_closing"
deliveries: `closing:{round}:person:{person}` for participants,
`pulseresults:{round}:coach:{coach}` (payload `summary: true`) for coaches.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.compose_peers import closing_message
from bot.core.compose_pulse import RoundSummary, results_message
from bot.core.messages import OutMessage
from bot.core.problems import UserError
from bot.core.pulse_results import ItemReport, Shown, SplitBy, trend
from bot.i18n import gettext_for
from bot.services.coaching import coached_cohort_ids
from bot.services.pulse_messages import localised, survey_items
from bot.services.pulses import close_round, round_results, split_attributes, survey_trend
from bot.services.render import renders
from scheduler.outbox_rows import insert_deliveries, outbox_row
from storage.models import (
    Audience,
    Cohort,
    CohortMembership,
    Delivery,
    PeerGroup,
    Person,
    PulseReceipt,
    PulseRound,
    PulseSurvey,
)
from storage.queries.audience import audience_people

# Rounds closed this recently still get their coach summary queued (if nobody has yet).
SUMMARY_LOOKBACK = timedelta(days=2)
MAX_CLOSING_LENGTH = 2000


class RoundNotClosed(UserError):
    """A closing message for a round that is still open."""


async def close_due_rounds(
    session: AsyncSession, now: datetime, *, secret: str | None
) -> list[int]:
    """Close every round whose time is up; return their ids (see `close_round` for `secret`)."""
    due = list(
        await session.scalars(
            select(PulseRound.id)
            .where(PulseRound.status.in_(("scheduled", "open")), PulseRound.closes_at <= now)
            .order_by(PulseRound.id)
        )
    )
    for round_id in due:
        await close_round(session, round_id, secret=secret)
    return due


async def survey_coaches(session: AsyncSession, survey_id: int) -> list[Person]:
    """Return the coaches of the cohorts a survey reaches (directly or through groups)."""
    cohorts = await survey_cohorts(session, survey_id)
    if not cohorts:
        return []
    coaches = await session.scalars(
        select(Person)
        .join(CohortMembership, CohortMembership.person_id == Person.id)
        .where(CohortMembership.cohort_id.in_(cohorts), CohortMembership.role == "coach")
        .distinct()
        .order_by(Person.id)
    )
    return list(coaches)


async def queue_coach_summaries(session: AsyncSession, round_ids: list[int], now: datetime) -> int:
    """Queue one results summary per coach for each closed round; return how many are new."""
    rows = []
    for round_id in round_ids:
        pulse_round = await session.get(PulseRound, round_id)
        if pulse_round is None or pulse_round.status != "closed":
            continue
        for coach in await survey_coaches(session, pulse_round.survey_id):
            rows.append(
                outbox_row(
                    key=f"pulseresults:{round_id}:coach:{coach.id}",
                    kind="pulse_closing",
                    person_id=coach.id,
                    due_at=now,
                    expires_at=None,
                    payload={"summary": True},
                    pulse_round_id=round_id,
                )
            )
    return len(await insert_deliveries(session, rows))


async def recently_closed(session: AsyncSession, now: datetime) -> list[int]:
    """Return rounds closed in the last days (by this job or by the tick)."""
    return list(
        await session.scalars(
            select(PulseRound.id).where(
                PulseRound.status == "closed",
                PulseRound.closes_at > now - SUMMARY_LOOKBACK,
                PulseRound.closes_at <= now,
            )
        )
    )


async def participants(session: AsyncSession, pulse_round: PulseRound) -> list[Person]:
    """Return who was asked in a round: its pulse deliveries, else the survey's audience."""
    asked = list(
        await session.scalars(
            select(Person)
            .join(Delivery, Delivery.person_id == Person.id)
            .where(Delivery.pulse_round_id == pulse_round.id, Delivery.kind == "pulse")
            .distinct()
            .order_by(Person.id)
        )
    )
    return asked or await audience_people(session, "pulse_survey", pulse_round.survey_id)


async def send_closing(session: AsyncSession, round_id: int, text: str, now: datetime) -> int:
    """Store a coach's closing message and queue it to every participant; return how many."""
    pulse_round = await session.get(PulseRound, round_id)
    if pulse_round is None:
        raise UserError(f"pulse round {round_id} does not exist")
    if pulse_round.status != "closed":
        raise RoundNotClosed(f"pulse round {round_id} is still open; close it first")
    text = text.strip()
    if not text:
        raise UserError("the closing message is empty")
    pulse_round.closing_message = text[:MAX_CLOSING_LENGTH]
    rows = [
        outbox_row(
            key=f"closing:{round_id}:person:{person.id}",
            kind="pulse_closing",
            person_id=person.id,
            due_at=now,
            expires_at=None,
            pulse_round_id=round_id,
        )
        for person in await participants(session, pulse_round)
    ]
    return len(await insert_deliveries(session, rows))


async def round_summaries(
    session: AsyncSession, round_id: int, locale: str, cohort_ids: set[int] | None
) -> list[RoundSummary]:
    """Return what a reader may see of a round: all of it for an admin (`cohort_ids` None),
    else one summary per own cohort the survey reaches, with that cohort's figures only.

    While the round is open each summary holds the response rate and nothing else.
    """
    pulse_round = await session.get(PulseRound, round_id)
    assert pulse_round is not None
    survey = await session.get(PulseSurvey, pulse_round.survey_id)
    assert survey is not None
    items = await survey_items(session, survey.id)
    base = RoundSummary(
        label=f"{survey.key}#{pulse_round.number}",
        is_open=pulse_round.status != "closed",
        answered=0,
        asked=0,
        item_texts={i.key: localised(i.text, locale, i.key) for i in items},
        option_labels={
            i.key: {
                str(o["key"]): localised(o.get("text"), locale, str(o["key"])) for o in i.options
            }
            for i in items
            if i.options
        },
    )
    if cohort_ids is None:
        return [await _whole_summary(session, pulse_round, survey, base)]
    reached = await survey_cohorts(session, survey.id)
    mine = list(
        await session.scalars(
            select(Cohort).where(Cohort.id.in_(reached & cohort_ids)).order_by(Cohort.name)
        )
    )
    rates = await cohort_rates(session, pulse_round)
    summaries = []
    for cohort in mine:
        answered, asked = rates.get(cohort.id, (0, 0))
        summary = replace(base, part=cohort.name, answered=answered, asked=asked)
        if not summary.is_open:
            summary = await _cohort_results(session, survey, pulse_round, cohort.name, summary)
        summaries.append(summary)
    return summaries


async def _whole_summary(
    session: AsyncSession, pulse_round: PulseRound, survey: PulseSurvey, base: RoundSummary
) -> RoundSummary:
    asked = await session.scalar(
        select(func.count(distinct(Delivery.person_id))).where(
            Delivery.pulse_round_id == pulse_round.id, Delivery.kind == "pulse"
        )
    )
    answered = await session.scalar(
        select(func.count(distinct(PulseReceipt.person_id))).where(
            PulseReceipt.round_id == pulse_round.id
        )
    )
    summary = replace(base, answered=int(answered or 0), asked=int(asked or 0))
    if summary.is_open:
        return summary
    by_cohort = await round_results(session, pulse_round.id, SplitBy.COHORT)
    return replace(
        summary,
        reports=await round_results(session, pulse_round.id),
        trend=await survey_trend(session, survey.id),
        cohorts={report.item.key: report.parts for report in by_cohort},
    )


async def _cohort_results(
    session: AsyncSession,
    survey: PulseSurvey,
    pulse_round: PulseRound,
    cohort: str,
    summary: RoundSummary,
) -> RoundSummary:
    """Fill in one cohort's gated results of a closed round, and its trend."""
    reports = [
        ItemReport(report.item, part)
        for report in await round_results(session, pulse_round.id, SplitBy.COHORT)
        for name, part in report.parts
        if name == cohort
    ]
    closed = await session.scalars(
        select(PulseRound).where(
            PulseRound.survey_id == survey.id,
            PulseRound.status == "closed",
            PulseRound.number <= pulse_round.number,
        )
    )
    points: dict[str, list[tuple[int, Shown]]] = {}
    for earlier in closed:
        for report in await round_results(session, earlier.id, SplitBy.COHORT):
            for name, part in report.parts:
                if name == cohort:
                    points.setdefault(report.item.key, []).append((earlier.number, part))
    return replace(
        summary,
        reports=tuple(reports),
        trend={key: trend(results) for key, results in points.items()},
    )


async def survey_cohorts(session: AsyncSession, survey_id: int) -> set[int]:
    """Return the cohorts a survey reaches, directly or through their peer groups."""
    audiences = (
        await session.execute(
            select(Audience.cohort_id, PeerGroup.cohort_id)
            .outerjoin(PeerGroup, PeerGroup.id == Audience.group_id)
            .where(Audience.owner_kind == "pulse_survey", Audience.owner_id == survey_id)
        )
    ).all()
    return {c for pair in audiences for c in pair if c is not None}


async def cohort_rates(
    session: AsyncSession, pulse_round: PulseRound
) -> dict[int | None, tuple[int, int]]:
    """Return (answered, asked) per cohort, each person counted in their reporting cohort."""
    asked = await participants(session, pulse_round)
    answered = set(
        await session.scalars(
            select(PulseReceipt.person_id).where(PulseReceipt.round_id == pulse_round.id)
        )
    )
    rates: dict[int | None, tuple[int, int]] = {}
    where = await split_attributes(session, asked, pulse_round.survey_id)
    for person in asked:
        cohort_id = where[person.id].cohort_id
        done, total = rates.get(cohort_id, (0, 0))
        rates[cohort_id] = (done + (person.id in answered), total + 1)
    return rates


async def coach_rounds(session: AsyncSession, cohort_ids: set[int] | None) -> list[PulseRound]:
    """Return, per survey reaching these cohorts (None: all), its open rounds and last closed."""
    surveys = select(PulseSurvey.id)
    if cohort_ids is not None:
        surveys = (
            select(Audience.owner_id)
            .outerjoin(PeerGroup, PeerGroup.id == Audience.group_id)
            .where(
                Audience.owner_kind == "pulse_survey",
                or_(Audience.cohort_id.in_(cohort_ids), PeerGroup.cohort_id.in_(cohort_ids)),
            )
        )
    rounds = list(
        await session.scalars(
            select(PulseRound)
            .where(PulseRound.survey_id.in_(surveys), PulseRound.status != "scheduled")
            .order_by(PulseRound.survey_id, PulseRound.number)
        )
    )
    chosen: list[PulseRound] = []
    for survey_id in dict.fromkeys(r.survey_id for r in rounds):
        mine = [r for r in rounds if r.survey_id == survey_id]
        closed = [r for r in mine if r.status == "closed"]
        chosen += closed[-1:] + [r for r in mine if r.status == "open"]
    return chosen


async def find_round(
    session: AsyncSession, label: str, cohort_ids: set[int] | None
) -> PulseRound | None:
    """Return the round named `survey-key#number` (or a survey's latest) within reach."""
    key, _, number = label.partition("#")
    survey = await session.scalar(select(PulseSurvey).where(PulseSurvey.key == key))
    if survey is None:
        return None
    reachable = {r.survey_id for r in await coach_rounds(session, cohort_ids)}
    if survey.id not in reachable:
        return None
    query = select(PulseRound).where(
        PulseRound.survey_id == survey.id, PulseRound.status != "scheduled"
    )
    if number:
        if not number.isdigit():
            return None
        query = query.where(PulseRound.number == int(number))
    return await session.scalar(query.order_by(PulseRound.number.desc()).limit(1))


@renders("pulse_closing")
async def _pulse_closing(session: AsyncSession, delivery: Delivery, locale: str) -> OutMessage:
    tr = gettext_for(locale)
    assert delivery.pulse_round_id is not None
    if delivery.payload.get("summary"):
        # The reader's own cohorts only: a coach of one cohort gets nothing of another's.
        coach = await session.get(Person, delivery.person_id) if delivery.person_id else None
        cohort_ids = await coached_cohort_ids(session, coach) if coach is not None else set()
        summaries = await round_summaries(session, delivery.pulse_round_id, locale, cohort_ids)
        return results_message(tr, locale, summaries, tag="pulse_summary")
    pulse_round = await session.get(PulseRound, delivery.pulse_round_id)
    assert pulse_round is not None and pulse_round.closing_message is not None
    survey = await session.get(PulseSurvey, pulse_round.survey_id)
    assert survey is not None
    about = localised(survey.title, locale, survey.key)
    return closing_message(tr, locale, about, pulse_round.closing_message)
