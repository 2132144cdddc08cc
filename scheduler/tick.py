"""The tick: turn due campaign firings into outbox rows, remind, and watch ignored streaks.

Every insert is INSERT … ON CONFLICT DO NOTHING on a unique key, so ticking twice, or two
ticks racing, creates each row once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.clock import Clock
from bot.core.schedule import (
    after_quiet_hours,
    candidate_dates,
    firing_index,
    local_date_of,
    personal_due,
)
from bot.services.conversation import forget_old_versions
from bot.services.digest import queue_weekly_digests
from bot.services.pulses import overwrite_closed
from scheduler import rounds
from scheduler.outbox_rows import insert_deliveries, outbox_row, skip_reason
from scheduler.peer_jobs import run_peer_jobs
from scheduler.pulse_jobs import run_pulse_jobs
from scheduler.tick_memo import TickMemo
from scheduler.timing import TickOptions, Window, spec_of, tick_window, zone_name
from storage.models import Campaign, CampaignPrompt, Delivery, Occurrence, Person
from storage.queries.audience import audience_people, coach_ids_of
from storage.queries.inserts import insert_ignoring_conflicts

log = logging.getLogger(__name__)
PEOPLE = cast(Table, Person.__table__)

DIGEST_TIME = time(9, 0)

# Reminders are looked for among prompts sent this recently; older ones are long stale.
REMINDER_LOOKBACK = timedelta(days=14)
# Streaks are re-counted for people whose prompts fall this close to now.
STREAK_LOOKBACK = timedelta(days=2)
# A later prompt in any of these states means the one before it went unanswered.
STREAK_STATUSES = ("pending", "claimed", "sent", "skipped")


@dataclass
class TickReport:
    """How many rows one tick created or changed."""

    occurrences: int = 0
    deliveries: int = 0
    skipped: int = 0
    reminders: int = 0
    notices: int = 0
    attention_flagged: int = 0
    pulse_rounds_created: int = 0
    pulse_rounds_opened: int = 0
    pulse_rounds_closed: int = 0
    pulse_deliveries: int = 0
    pulse_reminders: int = 0
    pulse_summaries: int = 0
    peer_rounds_created: int = 0
    peer_rounds_matched: int = 0
    peer_intros: int = 0
    digests: int = 0
    old_versions_erased: int = 0

    def as_dict(self) -> dict[str, int]:
        """Return the counts by name, for logs and metrics."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


async def tick(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    options: TickOptions | None = None,
    memo: TickMemo | None = None,
) -> TickReport:
    """Run one tick at the clock's current time and return what it did.

    With the `memo` of earlier ticks in this process, firings whose rows all exist are
    not materialised again, so a tick with nothing new due reads only fingerprints.
    """
    options = options or TickOptions()
    memo = memo if memo is not None else TickMemo()
    now = clock.now()
    report = TickReport()
    async with session_factory() as session:
        await memo.refresh(session, options.default_timezone)
        campaign_ids = list(await session.scalars(select(Campaign.id).where(Campaign.active)))
    for campaign_id in campaign_ids:
        async with session_factory() as session, session.begin():
            await materialise_campaign(session, campaign_id, now, options, report, memo)
    async with session_factory() as session, session.begin():
        await update_ignored_streaks(session, now, options, report)
    async with session_factory() as session, session.begin():
        report.reminders += await create_reminders(session, now, options)
    async with session_factory() as session, session.begin():
        # Closing first, through the pulse service, so closed rounds are shuffled and unlinked.
        pulses = await run_pulse_jobs(session, now, options)
        report.pulse_rounds_closed += pulses.closed
        report.pulse_summaries += pulses.summaries
        report.pulse_reminders += pulses.reminders
    if pulses.closed:
        # Outside the closing transaction: overwrite the bytes of the erased slots.
        await overwrite_closed(session_factory.kw.get("bind"))
    async with session_factory() as session, session.begin():
        await rounds.run_pulse_rounds(session, now, options, report, memo)
    async with session_factory() as session, session.begin():
        report.peer_rounds_created += len(await rounds.create_peer_rounds(session, now, options))
    async with session_factory() as session, session.begin():
        peers = await run_peer_jobs(session, now, options)
        report.peer_rounds_matched += peers.matched_rounds
        report.peer_intros += peers.intros
    if options.weekly_digests and digest_due(now, options.default_timezone):
        async with session_factory() as session, session.begin():
            report.digests += await queue_weekly_digests(session, now)
    async with session_factory() as session, session.begin():
        # An edited answer's old text is kept only while it can be undone.
        report.old_versions_erased += await forget_old_versions(session, now)
    log.info("tick done", extra={"tick": report.as_dict()})
    return report


def digest_due(now: datetime, timezone: str) -> bool:
    """Tell whether coaches' weekly digests may go out: Monday from 09:00 local time."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.weekday() == 0 and local.time() >= DIGEST_TIME


async def materialise_campaign(
    session: AsyncSession,
    campaign_id: int,
    now: datetime,
    options: TickOptions,
    report: TickReport,
    memo: TickMemo | None = None,
) -> None:
    """Create the occurrences and prompt deliveries of one campaign that fall in the window."""
    memo = memo if memo is not None else TickMemo()
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or not campaign.active:
        return
    spec = spec_of(campaign)
    lateness = timedelta(minutes=campaign.max_lateness_minutes)
    window = tick_window(now, lateness, options.look_ahead)
    days = [
        day
        for day in candidate_dates(spec, window.start, window.end)
        if memo.owes(
            ("campaign", campaign.id, day), window, _due_times(memo, day, campaign, options)
        )
    ]
    if not days:
        return
    prompt_ids = list(
        await session.scalars(
            select(CampaignPrompt.prompt_id)
            .where(CampaignPrompt.campaign_id == campaign.id)
            .order_by(CampaignPrompt.position)
        )
    )
    if not prompt_ids:
        log.warning("campaign has no prompts", extra={"campaign_id": campaign.id})
        return
    people = await audience_people(session, "campaign", campaign.id)
    for day in days:
        plan = _plan_day(people, day, campaign, window, options)
        if not plan:
            continue
        prompt_id = prompt_ids[firing_index(spec, day) % len(prompt_ids)]
        occurrence_id, created = await _occurrence(session, campaign.id, day, prompt_id)
        report.occurrences += int(created)
        rows = [
            _prompt_row(campaign, occurrence_id, prompt_id, person, day, due, lateness)
            for person, due in plan
        ]
        for status in await insert_deliveries(session, rows):
            if status == "skipped":
                report.skipped += 1
            else:
                report.deliveries += 1
    for day in days:
        memo.covered(("campaign", campaign.id, day), window)


def _due_times(
    memo: TickMemo, day: date, campaign: Campaign, options: TickOptions
) -> set[datetime]:
    return {
        personal_due(day, campaign.local_time, zone, options.quiet_hours) for zone in memo.zones
    }


def _plan_day(
    people: Sequence[Person],
    day: date,
    campaign: Campaign,
    window: Window,
    options: TickOptions,
) -> list[tuple[Person, datetime]]:
    due_by_zone: dict[str, datetime] = {}
    plan: list[tuple[Person, datetime]] = []
    for person in people:
        zone = zone_name(person.timezone, options.default_timezone)
        if zone not in due_by_zone:
            due_by_zone[zone] = personal_due(day, campaign.local_time, zone, options.quiet_hours)
        due = due_by_zone[zone]
        if window.contains(due):
            plan.append((person, due))
    return plan


async def _occurrence(
    session: AsyncSession, campaign_id: int, day: date, prompt_id: int
) -> tuple[int, bool]:
    insert = insert_ignoring_conflicts(session, Occurrence).values(
        campaign_id=campaign_id, local_date=day, prompt_id=prompt_id, extra={}
    )
    created = (await session.execute(insert.returning(Occurrence.id))).scalar_one_or_none()
    if created is not None:
        return created, True
    existing = await session.scalar(
        select(Occurrence.id).where(
            Occurrence.campaign_id == campaign_id, Occurrence.local_date == day
        )
    )
    assert existing is not None
    return existing, False


def _prompt_row(
    campaign: Campaign,
    occurrence_id: int,
    prompt_id: int,
    person: Person,
    day: date,
    due: datetime,
    lateness: timedelta,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"visibility": campaign.default_visibility}
    reason = skip_reason(person, day)
    if reason is not None:
        payload["skip_reason"] = reason
    return outbox_row(
        key=f"occ:{occurrence_id}:person:{person.id}",
        kind="prompt",
        person_id=person.id,
        due_at=due,
        expires_at=due + lateness,
        status="pending" if reason is None else "skipped",
        payload=payload,
        occurrence_id=occurrence_id,
        prompt_id=prompt_id,
    )


async def update_ignored_streaks(
    session: AsyncSession, now: datetime, options: TickOptions, report: TickReport
) -> None:
    """Recount ignored prompts in a row; at the limit, stop prompting and tell the coaches.

    A prompt counts as ignored when it was sent, is unanswered, and a later prompt for
    the same person has been materialised. Counting is recomputed, so it is idempotent.
    """
    limit = options.ignored_prompts_limit
    recent = (
        select(Delivery.person_id)
        .where(
            Delivery.kind == "prompt",
            Delivery.due_at > now - STREAK_LOOKBACK,
            Delivery.due_at <= now + options.look_ahead,
        )
        .distinct()
    )
    ranked = (
        select(
            Delivery.person_id,
            Delivery.due_at,
            Delivery.answered_at,
            func.row_number()
            .over(partition_by=Delivery.person_id, order_by=(Delivery.due_at.desc(), Delivery.id))
            .label("rank"),
        )
        .where(
            Delivery.kind == "prompt",
            Delivery.status == "sent",
            Delivery.person_id.in_(recent),
        )
        .subquery()
    )
    sent = await session.execute(
        select(ranked.c.person_id, ranked.c.due_at, ranked.c.answered_at)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.person_id, ranked.c.rank)
    )
    history: dict[int, list[tuple[datetime, datetime | None]]] = {}
    for person_id, due_at, answered_at in sent:
        history.setdefault(person_id, []).append((due_at, answered_at))
    latest_rows = await session.execute(
        select(Delivery.person_id, func.max(Delivery.due_at))
        .where(
            Delivery.kind == "prompt",
            Delivery.status.in_(STREAK_STATUSES),
            Delivery.person_id.in_(list(history)),
        )
        .group_by(Delivery.person_id)
    )
    latest: dict[int, datetime] = {}
    for person_id, due_at in latest_rows:
        if person_id is not None:
            latest[person_id] = due_at
    streaks = {
        person_id: count_ignored(newest_first, latest[person_id], limit)
        for person_id, newest_first in history.items()
    }
    await _record_streaks(session, streaks)
    for person_id, streak in streaks.items():
        if streak >= limit:
            await _flag_for_attention(session, person_id, streak, now, options, report)


def count_ignored(
    newest_first: Sequence[tuple[datetime, datetime | None]], latest_due: datetime, limit: int
) -> int:
    """Count the sent, unanswered prompts in a row that a later prompt has followed.

    `newest_first` holds (due_at, answered_at) of sent prompts; `latest_due` is when the
    person's newest materialised prompt (of any outcome) is due.
    """
    streak = 0
    for due_at, answered_at in newest_first[:limit]:
        if answered_at is not None:
            break
        if due_at < latest_due:
            streak += 1
    return streak


async def _record_streaks(session: AsyncSession, streaks: dict[int, int]) -> None:
    """Store the streaks that changed, in one statement.

    `updated_at` is kept: a streak is the tick's bookkeeping, not an edit of the person,
    and the tick's memo would otherwise take every new streak for a roster change.
    """
    if not streaks:
        return
    stored = dict(
        (
            await session.execute(
                select(Person.id, Person.ignored_in_a_row).where(Person.id.in_(list(streaks)))
            )
        ).all()
    )
    changed = [
        {"b_id": person_id, "b_streak": streak}
        for person_id, streak in streaks.items()
        if stored.get(person_id) != streak
    ]
    if changed:
        await session.execute(
            update(PEOPLE)
            .where(PEOPLE.c.id == bindparam("b_id"))
            .values(ignored_in_a_row=bindparam("b_streak"), updated_at=PEOPLE.c.updated_at),
            changed,
        )


async def _flag_for_attention(
    session: AsyncSession,
    person_id: int,
    streak: int,
    now: datetime,
    options: TickOptions,
    report: TickReport,
) -> None:
    """Stop prompting someone who ignored `streak` prompts in a row, and tell their coaches."""
    # Conditional, so that only one tick ever flags the person and writes the notices.
    flagged = await session.execute(
        update(Person)
        .where(Person.id == person_id, Person.needs_attention_since.is_(None))
        .values(needs_attention_since=now)
    )
    if not getattr(flagged, "rowcount", 0):
        return
    report.attention_flagged += 1
    await session.execute(
        update(Delivery)
        .where(
            Delivery.person_id == person_id,
            Delivery.kind == "prompt",
            Delivery.status == "pending",
            Delivery.due_at > now,
        )
        .values(status="skipped")
    )
    report.notices += await _notify_coaches(session, person_id, streak, now, options)


async def _notify_coaches(
    session: AsyncSession, person_id: int, streak: int, now: datetime, options: TickOptions
) -> int:
    coach_ids = await coach_ids_of(session, person_id)
    if not coach_ids:
        log.warning("no coach to tell about ignored prompts", extra={"person_id": person_id})
        return 0
    coaches = (await session.scalars(select(Person).where(Person.id.in_(coach_ids)))).all()
    rows = []
    for coach in coaches:
        zone = zone_name(coach.timezone, options.default_timezone)
        day = local_date_of(now, zone)
        due = after_quiet_hours(now, zone, options.quiet_hours)
        rows.append(
            outbox_row(
                key=f"attention:{person_id}:{day.isoformat()}:coach:{coach.id}",
                kind="notice",
                person_id=coach.id,
                due_at=due,
                expires_at=None,
                payload={"subject_person_id": person_id, "reason": "ignored", "count": streak},
            )
        )
    return len(await insert_deliveries(session, rows))


async def create_reminders(session: AsyncSession, now: datetime, options: TickOptions) -> int:
    """Create one reminder per sent, unanswered prompt once its campaign's delay has passed."""
    reminder = aliased(Delivery)
    candidates = await session.execute(
        select(Delivery, Campaign.reminder_after_minutes, Campaign.max_lateness_minutes, Person)
        .join(Occurrence, Occurrence.id == Delivery.occurrence_id)
        .join(Campaign, Campaign.id == Occurrence.campaign_id)
        .join(Person, Person.id == Delivery.person_id)
        .outerjoin(reminder, and_(reminder.parent_id == Delivery.id, reminder.kind == "reminder"))
        .where(
            Delivery.kind == "prompt",
            Delivery.status == "sent",
            Delivery.answered_at.is_(None),
            Delivery.sent_at.is_not(None),
            Delivery.sent_at > now - REMINDER_LOOKBACK,
            Campaign.reminder_after_minutes.is_not(None),
            reminder.id.is_(None),
        )
    )
    rows = []
    for prompt, delay_minutes, lateness_minutes, person in candidates:
        if delay_minutes is None:
            continue
        row = _reminder_row(prompt, person, delay_minutes, lateness_minutes, now, options)
        if row is not None:
            rows.append(row)
    return len(await insert_deliveries(session, rows))


def _reminder_row(
    prompt: Delivery,
    person: Person,
    delay_minutes: int,
    lateness_minutes: int,
    now: datetime,
    options: TickOptions,
) -> dict[str, Any] | None:
    assert prompt.sent_at is not None
    remind_at = prompt.sent_at + timedelta(minutes=delay_minutes)
    if remind_at > now:
        return None
    zone = zone_name(person.timezone, options.default_timezone)
    due = after_quiet_hours(remind_at, zone, options.quiet_hours)
    expires = due + timedelta(minutes=lateness_minutes)
    if expires <= now:
        return None  # the scheduler was down past the reminder's lateness: drop it
    reason = skip_reason(person, local_date_of(max(due, now), zone))
    payload: dict[str, Any] = {"visibility": prompt.payload.get("visibility")}
    if reason is not None:
        payload["skip_reason"] = reason
    return outbox_row(
        key=f"rem:{prompt.id}",
        kind="reminder",
        person_id=person.id,
        due_at=due,
        expires_at=expires,
        status="pending" if reason is None else "skipped",
        payload=payload,
        parent_id=prompt.id,
        prompt_id=prompt.prompt_id,
        occurrence_id=prompt.occurrence_id,
    )
