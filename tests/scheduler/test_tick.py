"""The tick on both backends: outbox rows on time, once, and never stale."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from scheduler.rounds import due_peer_rounds
from scheduler.tick import tick
from scheduler.tick_memo import TickMemo
from scheduler.timing import TickOptions
from storage.models import (
    CampaignPrompt,
    Cohort,
    CohortMembership,
    Delivery,
    Occurrence,
    PeerRound,
    Person,
    PulseItem,
    PulseResponse,
    PulseRound,
)
from storage.queries.audience import reset_ignored, skip_paused_deliveries
from tests import factories
from tests.scheduler.campaign_seed import (
    add_campaign,
    add_cohort,
    add_person,
    add_series,
    add_survey,
    deliveries,
    mark_sent,
)

Sessions = async_sessionmaker[AsyncSession]
# Digests are a Monday-morning concern of their own, tested below; leave them out here.
OPTIONS = TickOptions(weekly_digests=False)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def sunday_noon(monday: date) -> FrozenClock:
    """Return a clock at noon UTC the day before `monday`: inside the 26 h look-ahead."""
    day_before = monday - timedelta(days=1)
    return FrozenClock(datetime.combine(day_before, time(12), tzinfo=UTC))


async def seed_oslo_and_new_york(sessions: Sessions, **campaign: object) -> dict[str, int]:
    """Add Kari (Oslo) and Sam (New York) to a cohort reached by "Mondays 08:30 local"."""
    async with sessions() as session, session.begin():
        kari = await add_person(session, "kari", "Europe/Oslo")
        sam = await add_person(session, "sam", "America/New_York")
        coach = await add_person(session, "coach", "Europe/Oslo", role="coach")
        cohort = await add_cohort(session, "leaders-1", [kari, sam], [coach])
        added = await add_campaign(session, cohort, **campaign)  # type: ignore[arg-type]
        return {"kari": kari.id, "sam": sam.id, "coach": coach.id, "campaign": added.id}


async def count(sessions: Sessions, model: type[object]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_mondays_0830_reach_oslo_and_new_york_at_local_time_across_dst(
    sessions: Sessions,
) -> None:
    ids = await seed_oslo_and_new_york(sessions, skip_holidays=False)
    expected = {
        # Monday: (Oslo UTC instant, New York UTC instant)
        date(2027, 3, 8): (utc(2027, 3, 8, 7, 30), utc(2027, 3, 8, 13, 30)),
        date(2027, 3, 15): (utc(2027, 3, 15, 7, 30), utc(2027, 3, 15, 12, 30)),  # US on DST
        date(2027, 3, 29): (utc(2027, 3, 29, 6, 30), utc(2027, 3, 29, 12, 30)),  # Oslo too
        date(2027, 10, 25): (utc(2027, 10, 25, 6, 30), utc(2027, 10, 25, 12, 30)),
        date(2027, 11, 1): (utc(2027, 11, 1, 7, 30), utc(2027, 11, 1, 12, 30)),  # Oslo off
        date(2027, 11, 8): (utc(2027, 11, 8, 7, 30), utc(2027, 11, 8, 13, 30)),  # US off
    }
    for monday, (oslo, new_york) in expected.items():
        await tick(sessions, sunday_noon(monday), OPTIONS)
        async with sessions() as session:
            occurrence = await session.scalar(
                select(Occurrence).where(Occurrence.local_date == monday)
            )
        assert occurrence is not None, monday
        rows = await deliveries(sessions, occurrence_id=occurrence.id)
        assert [(r.person_id, r.due_at) for r in rows] == [
            (ids["kari"], oslo),
            (ids["sam"], new_york),
        ]
        for row in rows:
            assert row.key == f"occ:{occurrence.id}:person:{row.person_id}"
            assert (row.kind, row.status, row.prompt_id) == (
                "prompt",
                "pending",
                occurrence.prompt_id,
            )
            assert row.next_attempt_at == row.due_at
            assert row.expires_at == row.due_at + timedelta(minutes=240)
            assert row.payload == {"visibility": "coach"}


async def test_prompts_are_walked_in_order_one_per_firing(sessions: Sessions) -> None:
    ids = await seed_oslo_and_new_york(sessions, prompts=3, start=date(2027, 1, 4))
    mondays = [date(2027, 1, 4) + timedelta(weeks=n) for n in range(5)]
    for monday in mondays:
        await tick(sessions, sunday_noon(monday), OPTIONS)
    async with sessions() as session:
        order = list(
            await session.scalars(
                select(CampaignPrompt.prompt_id)
                .where(CampaignPrompt.campaign_id == ids["campaign"])
                .order_by(CampaignPrompt.position)
            )
        )
        used = list(
            await session.scalars(select(Occurrence.prompt_id).order_by(Occurrence.local_date))
        )
    assert used == [order[0], order[1], order[2], order[0], order[1]]


async def test_holiday_skipping_skips_17_may_and_easter_monday(sessions: Sessions) -> None:
    await seed_oslo_and_new_york(sessions, skip_holidays=True)
    for monday in (date(2027, 3, 22), date(2027, 3, 29), date(2027, 5, 17), date(2027, 5, 24)):
        await tick(sessions, sunday_noon(monday), OPTIONS)
    async with sessions() as session:
        days = list(await session.scalars(select(Occurrence.local_date).order_by("local_date")))
    assert days == [date(2027, 3, 22), date(2027, 5, 24)]


async def test_a_second_tick_creates_nothing_new(sessions: Sessions) -> None:
    await seed_oslo_and_new_york(sessions)
    clock = sunday_noon(date(2027, 3, 22))
    first = await tick(sessions, clock, OPTIONS)
    assert (first.occurrences, first.deliveries) == (1, 2)
    second = await tick(sessions, clock, OPTIONS)
    assert set(second.as_dict().values()) == {0}
    clock.advance(hours=20)  # Monday 08:00Z: Oslo's row is due, New York's is not yet
    third = await tick(sessions, clock, OPTIONS)
    assert set(third.as_dict().values()) == {0}
    assert await count(sessions, Occurrence) == 1
    assert await count(sessions, Delivery) == 2


@contextmanager
def statements(sessions: Sessions) -> Iterator[list[str]]:
    """Record the SQL of every statement run through the sessions' engine."""
    seen: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_an_idle_tick_with_its_memo_loads_no_audience_and_inserts_nothing(
    sessions: Sessions,
) -> None:
    await seed_oslo_and_new_york(sessions)
    clock, memo = sunday_noon(date(2027, 3, 22)), TickMemo()
    first = await tick(sessions, clock, OPTIONS, memo)
    assert first.deliveries == 2
    clock.advance(seconds=30)
    with statements(sessions) as seen:
        idle = await tick(sessions, clock, OPTIONS, memo)
    assert set(idle.as_dict().values()) == {0}
    assert not [sql for sql in seen if sql.lstrip().upper().startswith("INSERT")]
    assert not [sql for sql in seen if "SELECT cohort_memberships.person_id" in sql], seen


async def test_with_a_memo_a_newcomer_and_a_zone_entering_the_window_are_still_owed(
    sessions: Sessions,
) -> None:
    ids = await seed_oslo_and_new_york(sessions)
    options = TickOptions(weekly_digests=False, look_ahead=timedelta(hours=2))
    memo = TickMemo()
    clock = FrozenClock(utc(2027, 3, 22, 6))  # 07:00 Oslo: Oslo's 08:30 is in the window
    assert (await tick(sessions, clock, options, memo)).deliveries == 1
    async with sessions() as session, session.begin():
        kari = await session.get(Person, ids["kari"])
        assert kari is not None
        newcomer = await add_person(session, "ola", "Europe/Oslo")
        cohort = await session.scalar(select(Cohort))
        assert cohort is not None
        session.add(CohortMembership(cohort_id=cohort.id, person_id=newcomer.id))
    clock.advance(seconds=30)
    assert (await tick(sessions, clock, options, memo)).deliveries == 1  # the newcomer
    clock.advance(hours=6)  # New York's 08:30 (12:30Z) has entered the window
    assert (await tick(sessions, clock, options, memo)).deliveries == 1
    assert await count(sessions, Delivery) == 3


async def test_racing_ticks_create_each_row_once(sessions: Sessions) -> None:
    await seed_oslo_and_new_york(sessions)
    clock = sunday_noon(date(2027, 3, 22))
    reports = await asyncio.gather(*(tick(sessions, clock, OPTIONS) for _ in range(3)))
    assert sum(r.deliveries for r in reports) == 2
    assert sum(r.occurrences for r in reports) == 1
    assert await count(sessions, Delivery) == 2


async def test_a_paused_person_gets_skipped_rows(sessions: Sessions) -> None:
    ids = await seed_oslo_and_new_york(sessions)
    async with sessions() as session, session.begin():
        kari = await session.get(Person, ids["kari"])
        sam = await session.get(Person, ids["sam"])
        assert kari is not None and sam is not None
        kari.paused_until = date(2027, 3, 22)  # paused through Monday: skipped
        sam.paused_until = date(2027, 3, 21)  # back by Monday: gets it
    report = await tick(sessions, sunday_noon(date(2027, 3, 22)), OPTIONS)
    assert (report.deliveries, report.skipped) == (1, 1)
    by_person = {r.person_id: r for r in await deliveries(sessions)}
    assert by_person[ids["kari"]].status == "skipped"
    assert by_person[ids["kari"]].payload["skip_reason"] == "paused"
    assert by_person[ids["sam"]].status == "pending"


async def test_pausing_after_materialisation_skips_rows_already_made(sessions: Sessions) -> None:
    ids = await seed_oslo_and_new_york(sessions)
    await tick(sessions, sunday_noon(date(2027, 3, 22)), OPTIONS)  # Monday's rows exist
    await tick(sessions, sunday_noon(date(2027, 4, 5)), OPTIONS)  # and a later Monday's
    async with sessions() as session, session.begin():
        kari = await session.get(Person, ids["kari"])
        assert kari is not None
        kari.paused_until = date(2027, 3, 22)
        assert await skip_paused_deliveries(session, kari, date(2027, 3, 22)) == 1
    statuses = [
        (r.due_at.date(), r.status) for r in await deliveries(sessions, person_id=ids["kari"])
    ]
    assert statuses == [(date(2027, 3, 22), "skipped"), (date(2027, 4, 5), "pending")]


async def test_nothing_older_than_the_maximum_lateness_is_created_after_an_outage(
    sessions: Sessions,
) -> None:
    ids = await seed_oslo_and_new_york(sessions, max_lateness_minutes=240)
    # Back at 12:00Z on Monday: Oslo's 07:30Z is 4.5 h late (stale); New York's 12:30Z is not.
    await tick(sessions, FrozenClock(utc(2027, 3, 22, 12)), OPTIONS)
    rows = await deliveries(sessions)
    assert [(r.person_id, r.due_at) for r in rows] == [(ids["sam"], utc(2027, 3, 22, 12, 30))]


async def test_a_restart_within_the_lateness_catches_up(sessions: Sessions) -> None:
    ids = await seed_oslo_and_new_york(sessions, max_lateness_minutes=240)
    await tick(sessions, FrozenClock(utc(2027, 3, 22, 11)), OPTIONS)
    rows = await deliveries(sessions, person_id=ids["kari"])
    assert [(r.due_at, r.expires_at) for r in rows] == [
        (utc(2027, 3, 22, 7, 30), utc(2027, 3, 22, 11, 30))
    ]


async def test_quiet_hours_move_an_early_campaign_to_the_morning(sessions: Sessions) -> None:
    ids = await seed_oslo_and_new_york(sessions, local_time=time(6, 0))
    await tick(sessions, sunday_noon(date(2027, 3, 22)), OPTIONS)
    rows = await deliveries(sessions, person_id=ids["kari"])
    assert [r.due_at for r in rows] == [utc(2027, 3, 22, 6)]  # 07:00 Oslo


async def test_a_reminder_follows_an_unanswered_prompt_once_after_the_delay(
    sessions: Sessions,
) -> None:
    ids = await seed_oslo_and_new_york(sessions, reminder_after_minutes=120)
    clock = sunday_noon(date(2027, 3, 22))
    await tick(sessions, clock, OPTIONS)
    prompts = {r.person_id: r for r in await deliveries(sessions, kind="prompt")}
    await mark_sent(sessions, [prompts[ids["kari"]].id], utc(2027, 3, 22, 7, 30))
    clock.current = utc(2027, 3, 22, 9, 29)
    assert (await tick(sessions, clock, OPTIONS)).reminders == 0
    clock.current = utc(2027, 3, 22, 9, 31)
    assert (await tick(sessions, clock, OPTIONS)).reminders == 1
    assert (await tick(sessions, clock, OPTIONS)).reminders == 0
    reminders = await deliveries(sessions, kind="reminder")
    assert len(reminders) == 1
    reminder = reminders[0]
    parent = prompts[ids["kari"]]
    assert reminder.key == f"rem:{parent.id}"
    assert (reminder.parent_id, reminder.person_id, reminder.prompt_id) == (
        parent.id,
        ids["kari"],
        parent.prompt_id,
    )
    assert reminder.due_at == utc(2027, 3, 22, 9, 30)
    assert reminder.status == "pending"


async def test_an_answered_prompt_gets_no_reminder(sessions: Sessions) -> None:
    ids = await seed_oslo_and_new_york(sessions, reminder_after_minutes=60)
    clock = sunday_noon(date(2027, 3, 22))
    await tick(sessions, clock, OPTIONS)
    [kari_prompt] = await deliveries(sessions, person_id=ids["kari"])
    await mark_sent(sessions, [kari_prompt.id], utc(2027, 3, 22, 7, 30))
    async with sessions() as session, session.begin():
        row = await session.get(Delivery, kari_prompt.id)
        assert row is not None
        row.answered_at = utc(2027, 3, 22, 8)
    clock.current = utc(2027, 3, 22, 10)
    assert (await tick(sessions, clock, OPTIONS)).reminders == 0


async def ignore_weeks(sessions: Sessions, person_id: int, mondays: list[date]) -> list[int]:
    """Tick before each Monday and mark that Monday's prompt to the person as sent."""
    notices = []
    for monday in mondays:
        report = await tick(sessions, sunday_noon(monday), OPTIONS)
        notices.append(report.notices)
        rows = [
            r
            for r in await deliveries(sessions, person_id=person_id, kind="prompt")
            if r.due_at.date() == monday and r.status == "pending"
        ]
        await mark_sent(sessions, [r.id for r in rows], rows[0].due_at if rows else utc(2000, 1, 1))
    return notices


async def test_three_ignored_prompts_stop_prompting_and_tell_the_coach_once(
    sessions: Sessions,
) -> None:
    ids = await seed_oslo_and_new_york(sessions, start=date(2027, 1, 4))
    mondays = [date(2027, 1, 4) + timedelta(weeks=n) for n in range(6)]
    notices = await ignore_weeks(sessions, ids["kari"], mondays)
    # Materialising the 4th prompt makes three sent prompts ignored: one notice, then quiet.
    assert notices == [0, 0, 0, 1, 0, 0]
    [notice] = await deliveries(sessions, kind="notice")
    assert notice.person_id == ids["coach"]
    assert notice.payload == {"subject_person_id": ids["kari"], "reason": "ignored", "count": 3}
    assert notice.key.startswith(f"attention:{ids['kari']}:")
    kari_rows = await deliveries(sessions, person_id=ids["kari"], kind="prompt")
    assert [r.status for r in kari_rows] == ["sent"] * 3 + ["skipped"] * 3
    assert [r.payload.get("skip_reason") for r in kari_rows[4:]] == ["attention", "attention"]
    async with sessions() as session:
        kari = await session.get(Person, ids["kari"])
        sam = await session.get(Person, ids["sam"])
    assert kari is not None and sam is not None
    assert kari.ignored_in_a_row == 3
    assert kari.needs_attention_since == sunday_noon(mondays[3]).now()
    # Sam's prompts were never sent in this test, so nothing counts against him.
    assert (sam.ignored_in_a_row, sam.needs_attention_since) == (0, None)


async def test_recounting_streaks_is_one_statement_and_no_roster_change(
    sessions: Sessions,
) -> None:
    """A streak is the tick's bookkeeping: one bulk write, and the memo keeps its audience."""
    await seed_oslo_and_new_york(sessions, start=date(2027, 1, 4))
    async with sessions() as session, session.begin():
        cohort = await session.scalar(select(Cohort))
        assert cohort is not None
        for n in range(5):
            leader = await add_person(session, f"leader{n}")
            session.add(CohortMembership(cohort_id=cohort.id, person_id=leader.id))
    mondays = [date(2027, 1, 4) + timedelta(weeks=n) for n in range(2)]
    for monday in mondays:  # everyone's Monday prompt is sent and ignored
        await tick(sessions, sunday_noon(monday), OPTIONS)
        due = [r for r in await deliveries(sessions, kind="prompt") if r.status == "pending"]
        await mark_sent(
            sessions, [r.id for r in due], utc(monday.year, monday.month, monday.day, 7)
        )
    memo, clock = TickMemo(), sunday_noon(mondays[-1] + timedelta(weeks=1))
    with statements(sessions) as seen:
        await tick(sessions, clock, OPTIONS, memo)
    writes = [sql for sql in seen if sql.startswith("UPDATE people SET ignored_in_a_row")]
    assert len(writes) == 1, writes  # seven people's streaks, one statement
    fingerprint = memo.fingerprint
    clock.advance(seconds=30)
    await tick(sessions, clock, OPTIONS, memo)
    assert memo.fingerprint == fingerprint  # no roster change seen, nothing re-materialised
    async with sessions() as session:
        streaks = set(
            await session.scalars(
                select(Person.ignored_in_a_row).where(Person.role == "participant")
            )
        )
    assert streaks == {2}


async def test_an_answer_breaks_the_streak_and_reset_clears_attention(sessions: Sessions) -> None:
    ids = await seed_oslo_and_new_york(sessions, start=date(2027, 1, 4))
    mondays = [date(2027, 1, 4) + timedelta(weeks=n) for n in range(4)]
    await ignore_weeks(sessions, ids["kari"], mondays[:3])
    sent = await deliveries(sessions, person_id=ids["kari"], kind="prompt")
    async with sessions() as session, session.begin():
        row = await session.get(Delivery, sent[1].id)
        assert row is not None
        row.answered_at = utc(2027, 1, 12, 9)  # answered the second prompt
        await reset_ignored(session, ids["kari"])
    report = await tick(sessions, sunday_noon(mondays[3]), OPTIONS)
    assert report.notices == 0
    async with sessions() as session:
        kari = await session.get(Person, ids["kari"])
    assert kari is not None
    assert (kari.ignored_in_a_row, kari.needs_attention_since) == (1, None)


async def test_pulse_rounds_open_deliver_and_close_wiping_slots(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        kari = await add_person(session, "kari")
        sam = await add_person(session, "sam", "America/New_York")
        cohort = await add_cohort(session, "leaders-1", [kari, sam])
        survey = await add_survey(
            session,
            cohort,
            weekdays="mon",
            local_time=time(9),
            start_date=date(2027, 1, 4),
            open_hours=48,
            anonymous=True,
        )
        item = PulseItem(survey_id=survey.id, key="energy", position=0, kind="scale", text={})
        session.add(item)
        await session.flush()
        ids = {"kari": kari.id, "sam": sam.id, "item": item.id}
    clock = sunday_noon(date(2027, 3, 22))
    report = await tick(sessions, clock, OPTIONS)
    assert (report.pulse_rounds_created, report.pulse_deliveries) == (1, 2)
    async with sessions() as session:
        [pulse_round] = (await session.scalars(select(PulseRound))).all()
    assert pulse_round.status == "scheduled"
    assert (pulse_round.opens_at, pulse_round.closes_at) == (
        utc(2027, 3, 22, 8),
        utc(2027, 3, 24, 8),
    )
    rows = await deliveries(sessions, kind="pulse")
    assert [(r.person_id, r.due_at, r.key) for r in rows] == [
        (ids["kari"], utc(2027, 3, 22, 8), f"pulse:{pulse_round.id}:person:{ids['kari']}"),
        (ids["sam"], utc(2027, 3, 22, 13), f"pulse:{pulse_round.id}:person:{ids['sam']}"),
    ]
    clock.current = utc(2027, 3, 22, 8, 1)
    assert (await tick(sessions, clock, OPTIONS)).pulse_rounds_opened == 1
    async with sessions() as session, session.begin():
        opened = await session.get(PulseRound, pulse_round.id)
        assert opened is not None and opened.status == "open"
        session.add_all(
            PulseResponse(
                round_id=pulse_round.id,
                item_id=ids["item"],
                slot=f"abc{n}",
                day=date(2027, 3, 22),
                value_int=7,
            )
            for n in range(5)
        )
    clock.current = utc(2027, 3, 24, 8)
    assert (await tick(sessions, clock, OPTIONS)).pulse_rounds_closed == 1
    async with sessions() as session:
        closed = await session.get(PulseRound, pulse_round.id)
        slots = list(await session.scalars(select(PulseResponse.slot)))
    assert closed is not None
    assert closed.status == "closed"
    assert slots == [None] * 5
    assert (await tick(sessions, clock, OPTIONS)).pulse_rounds_closed == 0


async def test_peer_rounds_are_created_once_and_reported_due_after_their_start(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        kari = await add_person(session, "kari")
        cohort = await add_cohort(session, "leaders-1", [kari])
        await add_series(
            session,
            cohort,
            weekdays="tue",
            local_time=time(10),
            start_date=date(2027, 3, 2),
            every_weeks=2,
        )
    clock = FrozenClock(utc(2027, 3, 15, 12))  # Monday; the series fires on Tuesday 16 March
    assert (await tick(sessions, clock, OPTIONS)).peer_rounds_created == 1
    assert (await tick(sessions, clock, OPTIONS)).peer_rounds_created == 0
    async with sessions() as session:
        [peer_round] = (await session.scalars(select(PeerRound))).all()
        assert (peer_round.number, peer_round.local_date, peer_round.status) == (
            2,
            date(2027, 3, 16),
            "scheduled",
        )
        assert await due_peer_rounds(session, clock.now()) == []
        due = await due_peer_rounds(session, utc(2027, 3, 16, 9, 1))  # 10:01 Oslo
    assert [r.id for r in due] == [peer_round.id]


async def test_a_monday_morning_tick_queues_each_coachs_digest_once(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        cohort, _ = await factories.cohort_with_group(session)
        await factories.join(session, await factories.person(session, role="coach"), cohort)
    options = TickOptions()
    sunday = await tick(sessions, FrozenClock(utc(2027, 3, 21, 12)), options)
    early = await tick(sessions, FrozenClock(utc(2027, 3, 22, 7, 30)), options)  # 08:30 Oslo
    monday = await tick(sessions, FrozenClock(utc(2027, 3, 22, 8, 30)), options)
    again = await tick(sessions, FrozenClock(utc(2027, 3, 22, 9)), options)
    assert [r.digests for r in (sunday, early, monday, again)] == [0, 0, 1, 0]
