"""Open and close pulse rounds, and create peer rounds, as their schedules come due."""

from __future__ import annotations

import zlib
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.schedule import (
    after_quiet_hours,
    candidate_dates,
    due_instant,
    firing_index,
    local_date_of,
    personal_due,
)
from scheduler.outbox_rows import insert_deliveries, outbox_row, skip_reason
from scheduler.tick_memo import TickMemo
from scheduler.timing import TickOptions, Window, spec_of, tick_window, zone_name
from storage.models import (
    Delivery,
    PeerRound,
    PeerSeries,
    Person,
    PulseReceipt,
    PulseRound,
    PulseSurvey,
)
from storage.queries.audience import audience_people
from storage.queries.inserts import insert_ignoring_conflicts

if TYPE_CHECKING:
    from scheduler.tick import TickReport

REMINDER_LOOKBACK = timedelta(days=14)


async def run_pulse_rounds(
    session: AsyncSession,
    now: datetime,
    options: TickOptions,
    report: TickReport,
    memo: TickMemo | None = None,
) -> None:
    """Create and open pulse rounds, then owe each audience member their pulse."""
    report.pulse_rounds_created += await create_pulse_rounds(session, now, options)
    report.pulse_rounds_opened += await open_due_pulse_rounds(session, now)
    report.pulse_deliveries += await create_pulse_deliveries(session, now, options, memo)


async def create_pulse_rounds(session: AsyncSession, now: datetime, options: TickOptions) -> int:
    """Create a scheduled round for every firing that is still open or opens soon."""
    created = 0
    surveys = (await session.scalars(select(PulseSurvey).where(PulseSurvey.active))).all()
    for survey in surveys:
        spec = spec_of(survey)
        open_for = timedelta(hours=survey.open_hours)
        for day in candidate_dates(spec, now - open_for, now + options.look_ahead):
            opens_at = due_instant(day, survey.local_time, options.default_timezone)
            closes_at = opens_at + open_for
            if closes_at <= now or opens_at > now + options.look_ahead:
                continue
            insert = insert_ignoring_conflicts(session, PulseRound).values(
                survey_id=survey.id,
                number=firing_index(spec, day) + 1,
                local_date=day,
                opens_at=opens_at,
                closes_at=closes_at,
                status="scheduled",
            )
            result = await session.execute(insert.returning(PulseRound.id))
            created += int(result.scalar_one_or_none() is not None)
    return created


async def open_due_pulse_rounds(
    session: AsyncSession, now: datetime, only: Collection[int] | None = None
) -> int:
    """Open rounds whose time has come (of `only`, if given); return how many opened.

    The tick opens rounds, and so does the dispatcher just before it sends a pulse, so a
    card never goes out for a round the tick has not reached yet. Closing is not done here
    but by `scheduler.pulse_jobs` through the pulse service, which also unlinks and
    reorders the anonymous responses.
    """
    due = select(PulseRound.id)
    if only is not None:
        due = due.where(PulseRound.id.in_(list(only)))
    to_open = await session.scalars(
        due.where(
            PulseRound.status == "scheduled",
            PulseRound.opens_at <= now,
            PulseRound.closes_at > now,
        )
    )
    opened = 0
    for round_id in list(to_open):
        result = await session.execute(
            update(PulseRound)
            .where(PulseRound.id == round_id, PulseRound.status == "scheduled")
            .values(status="open")
        )
        if getattr(result, "rowcount", 0):
            opened += 1
            await queue_card_redraws(session, round_id, now)
    return opened


async def queue_card_redraws(session: AsyncSession, round_id: int, now: datetime) -> int:
    """Owe a redraw to every card of a round that went out before the round opened.

    Such a card says the round is closed and has no buttons; redrawn in place, it gets them.
    """
    cards = await session.execute(
        select(Delivery.id, Delivery.person_id, Delivery.expires_at).where(
            Delivery.pulse_round_id == round_id,
            Delivery.kind.in_(("pulse", "pulse_reminder")),
            Delivery.status == "sent",
            Delivery.message_ref.is_not(None),
        )
    )
    rows = [
        outbox_row(
            key=f"redraw:{card_id}:opened",
            kind="pulse_refresh",
            person_id=person_id,
            due_at=now,
            expires_at=None,
            parent_id=card_id,
            pulse_round_id=round_id,
        )
        for card_id, person_id, _ in cards
    ]
    return len(await insert_deliveries(session, rows))


async def create_pulse_deliveries(
    session: AsyncSession, now: datetime, options: TickOptions, memo: TickMemo | None = None
) -> int:
    """Owe every audience member of a live round one pulse, at their own local time."""
    memo = memo if memo is not None else TickMemo()
    window = tick_window(now, options.pulse_max_lateness, options.look_ahead)
    live = await session.execute(
        select(PulseRound, PulseSurvey)
        .join(PulseSurvey, PulseSurvey.id == PulseRound.survey_id)
        .where(PulseRound.status.in_(("scheduled", "open")), PulseRound.closes_at > now)
    )
    created = 0
    for pulse_round, survey in live.all():
        firing = ("pulse", pulse_round.id)
        due_times = {
            due
            for zone in memo.zones
            if (due := _pulse_due(pulse_round, survey, zone, options)) < pulse_round.closes_at
        }
        if not memo.owes(firing, window, due_times):
            continue
        people = await audience_people(session, "pulse_survey", survey.id)
        rows = []
        for person in people:
            zone = zone_name(person.timezone, options.default_timezone)
            due = _pulse_due(pulse_round, survey, zone, options)
            if not window.contains(due) or due >= pulse_round.closes_at:
                continue
            reason = skip_reason(person, pulse_round.local_date, attention_counts=False)
            payload: dict[str, Any] = {"survey_id": survey.id, "anonymous": survey.anonymous}
            if reason is not None:
                payload["skip_reason"] = reason
            rows.append(
                outbox_row(
                    key=f"pulse:{pulse_round.id}:person:{person.id}",
                    kind="pulse",
                    person_id=person.id,
                    due_at=due,
                    expires_at=min(due + options.pulse_max_lateness, pulse_round.closes_at),
                    status="pending" if reason is None else "skipped",
                    payload=payload,
                    pulse_round_id=pulse_round.id,
                )
            )
        created += len(await insert_deliveries(session, rows))
        memo.covered(firing, window)
    return created


def _pulse_due(
    pulse_round: PulseRound, survey: PulseSurvey, zone: str, options: TickOptions
) -> datetime:
    """Return when someone in `zone` gets a round's pulse: their local time, once it opens."""
    local = personal_due(pulse_round.local_date, survey.local_time, zone, options.quiet_hours)
    return max(local, pulse_round.opens_at)


async def create_pulse_reminders(session: AsyncSession, now: datetime, options: TickOptions) -> int:
    """Remind, once, whoever got a pulse and has not answered it after the survey's delay."""
    reminder = aliased(Delivery)
    candidates = await session.execute(
        select(Delivery, PulseSurvey.reminder_after_minutes, PulseRound.closes_at, Person)
        .join(PulseRound, PulseRound.id == Delivery.pulse_round_id)
        .join(PulseSurvey, PulseSurvey.id == PulseRound.survey_id)
        .join(Person, Person.id == Delivery.person_id)
        .outerjoin(
            reminder, and_(reminder.parent_id == Delivery.id, reminder.kind == "pulse_reminder")
        )
        .where(
            Delivery.kind == "pulse",
            Delivery.status == "sent",
            Delivery.sent_at > now - REMINDER_LOOKBACK,
            PulseRound.status == "open",
            PulseRound.closes_at > now,
            PulseSurvey.reminder_after_minutes.is_not(None),
            reminder.id.is_(None),
            ~select(PulseReceipt.id)
            .where(
                PulseReceipt.round_id == Delivery.pulse_round_id,
                PulseReceipt.person_id == Delivery.person_id,
            )
            .exists(),
        )
    )
    rows = []
    for pulse, delay_minutes, closes_at, person in candidates:
        if pulse.sent_at is None or delay_minutes is None:
            continue
        remind_at = pulse.sent_at + timedelta(minutes=delay_minutes)
        if remind_at > now:
            continue
        zone = zone_name(person.timezone, options.default_timezone)
        due = after_quiet_hours(remind_at, zone, options.quiet_hours)
        if due >= closes_at:
            continue
        reason = skip_reason(person, local_date_of(max(due, now), zone), attention_counts=False)
        rows.append(
            outbox_row(
                key=f"pulserem:{pulse.id}",
                kind="pulse_reminder",
                person_id=person.id,
                due_at=due,
                expires_at=closes_at,
                status="pending" if reason is None else "skipped",
                payload=dict(pulse.payload),
                parent_id=pulse.id,
                pulse_round_id=pulse.pulse_round_id,
            )
        )
    return len(await insert_deliveries(session, rows))


def peer_round_seed(series_key: str, number: int) -> int:
    """Return a stable seed for a peer round's matching, so a re-run matches alike."""
    return zlib.crc32(f"{series_key}:{number}".encode()) & 0x7FFFFFFF


async def create_peer_rounds(
    session: AsyncSession, now: datetime, options: TickOptions
) -> list[int]:
    """Create a scheduled peer round for each firing in the window; return the new ids."""
    window = Window(now - options.peer_catch_up, now + options.look_ahead)
    created: list[int] = []
    series_rows = (await session.scalars(select(PeerSeries).where(PeerSeries.active))).all()
    for series in series_rows:
        spec = spec_of(series)
        for day in candidate_dates(spec, window.start, window.end):
            starts_at = due_instant(day, series.local_time, options.default_timezone)
            if not window.contains(starts_at):
                continue
            number = firing_index(spec, day) + 1
            insert = insert_ignoring_conflicts(session, PeerRound).values(
                series_id=series.id,
                number=number,
                local_date=day,
                seed=peer_round_seed(series.key, number),
                status="scheduled",
            )
            new_id = (await session.execute(insert.returning(PeerRound.id))).scalar_one_or_none()
            if new_id is not None:
                created.append(new_id)
    return created


async def due_peer_rounds(
    session: AsyncSession, now: datetime, options: TickOptions | None = None
) -> list[PeerRound]:
    """Create peer rounds that come due, and return the scheduled ones whose start has passed.

    The matcher calls this and matches each returned round (then sets it open).
    """
    options = options or TickOptions()
    await create_peer_rounds(session, now, options)
    scheduled = await session.execute(
        select(PeerRound, PeerSeries.local_time)
        .join(PeerSeries, PeerSeries.id == PeerRound.series_id)
        .where(
            PeerRound.status == "scheduled",
            PeerRound.local_date <= local_date_of(now, options.default_timezone),
        )
        .order_by(PeerRound.local_date, PeerRound.id)
    )
    return [
        peer_round
        for peer_round, local_time in scheduled.all()
        if due_instant(peer_round.local_date, local_time, options.default_timezone) <= now
    ]
