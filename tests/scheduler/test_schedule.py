"""The pure schedule maths: weekdays, fortnights, holidays, DST and quiet hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.core.schedule import (
    QuietHours,
    ScheduleSpec,
    after_quiet_hours,
    due_instant,
    expires_at,
    fire_dates,
    firing_index,
    is_public_holiday,
    parse_quiet_hours,
    parse_weekdays,
    personal_due,
)

MONDAY = 0


def mondays(skip_holidays: bool, start: date = date(2027, 1, 4)) -> ScheduleSpec:
    """Return "Mondays 08:30 local" from `start`."""
    return ScheduleSpec(
        weekdays=frozenset({MONDAY}),
        local_time=time(8, 30),
        start=start,
        end=None,
        every_weeks=1,
        skip_holidays=skip_holidays,
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_mondays_0830_oslo_across_the_march_2027_dst_change() -> None:
    spec = mondays(skip_holidays=False)
    days = fire_dates(spec, date(2027, 3, 15), date(2027, 4, 5))
    assert days == [date(2027, 3, 15), date(2027, 3, 22), date(2027, 3, 29), date(2027, 4, 5)]
    instants = [due_instant(day, spec.local_time, "Europe/Oslo") for day in days]
    # CET (UTC+1) until Sunday 28 March 2027, CEST (UTC+2) after.
    assert instants == [
        utc(2027, 3, 15, 7, 30),
        utc(2027, 3, 22, 7, 30),
        utc(2027, 3, 29, 6, 30),
        utc(2027, 4, 5, 6, 30),
    ]


def test_mondays_0830_oslo_across_the_october_2027_dst_change() -> None:
    spec = mondays(skip_holidays=False)
    days = fire_dates(spec, date(2027, 10, 18), date(2027, 11, 8))
    instants = [due_instant(day, spec.local_time, "Europe/Oslo") for day in days]
    # CEST until Sunday 31 October 2027, CET after.
    assert instants == [
        utc(2027, 10, 18, 6, 30),
        utc(2027, 10, 25, 6, 30),
        utc(2027, 11, 1, 7, 30),
        utc(2027, 11, 8, 7, 30),
    ]


def test_mondays_0830_new_york_follow_the_us_dst_dates() -> None:
    spec = mondays(skip_holidays=False)
    # The US changes on 14 March and 7 November 2027, not on the European dates.
    cases = {
        date(2027, 3, 8): utc(2027, 3, 8, 13, 30),
        date(2027, 3, 15): utc(2027, 3, 15, 12, 30),
        date(2027, 11, 1): utc(2027, 11, 1, 12, 30),
        date(2027, 11, 8): utc(2027, 11, 8, 13, 30),
    }
    for day, expected in cases.items():
        assert due_instant(day, spec.local_time, "America/New_York") == expected


def test_holiday_skipping_drops_17_may_and_easter_monday_2027() -> None:
    spring = (date(2027, 3, 22), date(2027, 5, 31))
    with_holidays = fire_dates(mondays(skip_holidays=False), *spring)
    without = fire_dates(mondays(skip_holidays=True), *spring)
    assert date(2027, 3, 29) in with_holidays
    assert date(2027, 5, 17) in with_holidays
    assert set(with_holidays) - set(without) == {date(2027, 3, 29), date(2027, 5, 17)}
    assert date(2027, 5, 24) in without  # an ordinary Monday stays


def test_norwegian_public_holidays_are_known() -> None:
    for day in (date(2027, 5, 17), date(2027, 3, 29), date(2027, 5, 6), date(2027, 12, 25)):
        assert is_public_holiday(day), day
    assert not is_public_holiday(date(2027, 5, 18))
    assert not is_public_holiday(date(2027, 5, 23))  # an ordinary Sunday is no holiday here


def test_every_weeks_counts_whole_weeks_from_the_week_of_start() -> None:
    # Start on a Wednesday: that week is week 0, so its Monday (before start) is skipped
    # and the first fortnightly Monday is in week 2.
    spec = ScheduleSpec(frozenset({MONDAY}), time(9), date(2027, 1, 6), None, 2, False)
    assert fire_dates(spec, date(2027, 1, 1), date(2027, 2, 15)) == [
        date(2027, 1, 18),
        date(2027, 2, 1),
        date(2027, 2, 15),
    ]


def test_end_date_and_several_weekdays() -> None:
    spec = ScheduleSpec(
        parse_weekdays("mon, thu"), time(9), date(2027, 1, 4), date(2027, 1, 14), 1, False
    )
    assert fire_dates(spec, date(2027, 1, 1), date(2027, 12, 31)) == [
        date(2027, 1, 4),
        date(2027, 1, 7),
        date(2027, 1, 11),
        date(2027, 1, 14),
    ]


def test_firing_index_counts_earlier_firings_skipping_holidays() -> None:
    spec = mondays(skip_holidays=True, start=date(2027, 3, 1))
    # 1, 8, 15, 22 March fire; 29 March is Easter Monday; 5 April is the fifth firing.
    assert firing_index(spec, date(2027, 3, 1)) == 0
    assert firing_index(spec, date(2027, 3, 22)) == 3
    assert firing_index(spec, date(2027, 4, 5)) == 4


def test_a_time_in_the_spring_gap_moves_to_the_first_valid_instant() -> None:
    # 02:30 does not exist in Oslo on 28 March 2027: clocks jump from 02:00 to 03:00.
    assert due_instant(date(2027, 3, 28), time(2, 30), "Europe/Oslo") == utc(2027, 3, 28, 1)
    assert due_instant(date(2027, 3, 14), time(2, 15), "America/New_York") == utc(2027, 3, 14, 7)


def test_an_ambiguous_autumn_time_takes_its_first_occurrence() -> None:
    # 02:30 happens twice in Oslo on 31 October 2027; the first is still summer time.
    assert due_instant(date(2027, 10, 31), time(2, 30), "Europe/Oslo") == utc(2027, 10, 31, 0, 30)


def test_quiet_hours_that_wrap_midnight_push_to_the_morning() -> None:
    quiet = parse_quiet_hours("21:00-07:00")
    assert quiet == QuietHours(time(21), time(7))
    # 22:00 Oslo on Monday 22 March -> 07:00 Tuesday.
    assert after_quiet_hours(utc(2027, 3, 22, 21), "Europe/Oslo", quiet) == utc(2027, 3, 23, 6)
    # 06:00 Oslo -> 07:00 the same day.
    assert after_quiet_hours(utc(2027, 3, 22, 5), "Europe/Oslo", quiet) == utc(2027, 3, 22, 6)
    # Noon is allowed; 07:00 itself is allowed; 21:00 itself is quiet.
    assert after_quiet_hours(utc(2027, 3, 22, 11), "Europe/Oslo", quiet) == utc(2027, 3, 22, 11)
    assert after_quiet_hours(utc(2027, 3, 22, 6), "Europe/Oslo", quiet) == utc(2027, 3, 22, 6)
    assert after_quiet_hours(utc(2027, 3, 22, 20), "Europe/Oslo", quiet) == utc(2027, 3, 23, 6)


def test_quiet_hours_within_one_day_and_none() -> None:
    lunch = parse_quiet_hours("11:30-12:30")
    assert lunch is not None
    assert after_quiet_hours(utc(2027, 1, 4, 11), "Europe/Oslo", lunch) == utc(2027, 1, 4, 11, 30)
    assert parse_quiet_hours("") is None
    assert after_quiet_hours(utc(2027, 1, 4, 23), "Europe/Oslo", None) == utc(2027, 1, 4, 23)


def test_personal_due_applies_quiet_hours_in_the_persons_zone() -> None:
    quiet = parse_quiet_hours("21:00-07:00")
    # 06:00 is quiet: Oslo gets 07:00 local; New York too, in its own zone.
    assert personal_due(date(2027, 1, 4), time(6), "Europe/Oslo", quiet) == utc(2027, 1, 4, 6)
    assert personal_due(date(2027, 1, 4), time(6), "America/New_York", quiet) == utc(2027, 1, 4, 12)


@pytest.mark.parametrize("text", ["21:00", "21:00-07:00-08:00", "9pm-7am"])
def test_bad_quiet_hours_name_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="quiet hours"):
        parse_quiet_hours(text)


def test_bad_weekdays_and_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="'mandag'"):
        parse_weekdays("mon,mandag")
    with pytest.raises(ValueError, match="no weekday"):
        parse_weekdays(" , ")
    with pytest.raises(ValueError, match="every_weeks"):
        ScheduleSpec(frozenset({0}), time(9), date(2027, 1, 4), None, 0, True)
    with pytest.raises(ValueError, match="before start"):
        ScheduleSpec(frozenset({0}), time(9), date(2027, 1, 4), date(2027, 1, 1), 1, True)


def test_expires_at_adds_the_maximum_lateness() -> None:
    due = utc(2027, 3, 22, 7, 30)
    assert expires_at(due, timedelta(hours=4)) == utc(2027, 3, 22, 11, 30)
