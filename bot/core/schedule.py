"""Schedule maths: which local dates a weekly schedule fires on, and when that is in UTC.

Pure: every function takes the dates and instants it needs; nothing reads the clock.

Daylight-saving rules (documented in docs/scheduling.md):
- a local time that does not exist (the spring gap, e.g. 02:30 on the last Sunday of
  March in Europe/Oslo) moves forward to the first valid instant after the gap (03:00);
- a local time that happens twice (the autumn fold) is taken at its first occurrence
  (the earlier, summer-time instant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAY_COUNTRY = "NO"


@dataclass(frozen=True)
class ScheduleSpec:
    """A weekly schedule: weekdays (0 = Monday) at a local wall-clock time."""

    weekdays: frozenset[int]
    local_time: time
    start: date
    end: date | None = None
    every_weeks: int = 1
    skip_holidays: bool = True

    def __post_init__(self) -> None:
        """Refuse schedules that could never make sense."""
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError(f"weekdays must be a non-empty subset of 0..6, got {self.weekdays}")
        if self.every_weeks < 1:
            raise ValueError(f"every_weeks must be at least 1, got {self.every_weeks}")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")


def parse_weekdays(text: str) -> frozenset[int]:
    """Return weekday numbers from a comma-separated list such as ``"mon,thu"``."""
    days: set[int] = set()
    for raw in text.split(","):
        token = raw.strip().lower()
        if not token:
            continue
        if token not in WEEKDAY_NAMES:
            raise ValueError(f"unknown weekday {raw.strip()!r}; use {', '.join(WEEKDAY_NAMES)}")
        days.add(WEEKDAY_NAMES.index(token))
    if not days:
        raise ValueError("no weekday given; use e.g. 'mon' or 'mon,thu'")
    return frozenset(days)


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> frozenset[date]:
    # Sundays are not "holidays" here: a schedule only fires on the weekdays it names.
    found = holidays.country_holidays(HOLIDAY_COUNTRY, years=year, include_sundays=False)
    return frozenset(found.keys())


def is_public_holiday(day: date) -> bool:
    """Tell whether `day` is a Norwegian public holiday (17 May, Easter Monday, ...)."""
    return day in _holidays_of(day.year)


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def fires_on(spec: ScheduleSpec, day: date) -> bool:
    """Tell whether the schedule fires on the local date `day`."""
    if day < spec.start or (spec.end is not None and day > spec.end):
        return False
    if day.weekday() not in spec.weekdays:
        return False
    weeks = (_week_start(day) - _week_start(spec.start)).days // 7
    if weeks % spec.every_weeks:
        return False
    return not (spec.skip_holidays and is_public_holiday(day))


def fire_dates(spec: ScheduleSpec, first: date, last: date) -> list[date]:
    """Return the local dates in ``[first, last]`` the schedule fires on, in order."""
    begin = max(first, spec.start)
    finish = last if spec.end is None else min(last, spec.end)
    days: list[date] = []
    day = begin
    while day <= finish:
        if fires_on(spec, day):
            days.append(day)
        day += timedelta(days=1)
    return days


@lru_cache(maxsize=4096)
def firing_index(spec: ScheduleSpec, day: date) -> int:
    """Return how many times the schedule fired before `day` (0 for the first firing)."""
    return len(fire_dates(spec, spec.start, day - timedelta(days=1)))


def _local_wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def due_instant(local_date: date, local_time: time, tz_name: str) -> datetime:
    """Return the UTC instant of a local wall-clock time in the zone `tz_name`.

    A time in the spring gap moves forward to the first valid instant (the end of the
    gap); a time in the autumn fold takes its first occurrence.
    """
    zone = ZoneInfo(tz_name)
    wall = datetime.combine(local_date, local_time.replace(tzinfo=None))
    # fold=0 picks the first occurrence of an ambiguous time.
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _local_wall(first, zone) == wall:
        return first
    return _end_of_gap(wall, zone)


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    # Inside a gap, fold=1 applies the offset after the change and fold=0 the one before,
    # so the transition lies between the two readings. Bisect to the first instant
    # whose local wall time is past `wall`: that is the first valid instant.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if low > high:
        low, high = high, low
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _local_wall(middle, zone) > wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


@dataclass(frozen=True)
class QuietHours:
    """Local hours in which nothing is delivered; `start` > `end` wraps past midnight."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        """Tell whether a local wall-clock time falls in the quiet hours."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


def parse_quiet_hours(text: str) -> QuietHours | None:
    """Return quiet hours from ``"21:00-07:00"``; an empty text means none."""
    cleaned = text.strip()
    if not cleaned:
        return None
    parts = cleaned.split("-")
    if len(parts) != 2:
        raise ValueError(f"quiet hours {text!r} must look like 21:00-07:00")
    try:
        start, end = (time.fromisoformat(part.strip()) for part in parts)
    except ValueError as error:
        raise ValueError(f"quiet hours {text!r} must look like 21:00-07:00: {error}") from None
    return QuietHours(start, end)


def after_quiet_hours(instant: datetime, tz_name: str, quiet: QuietHours | None) -> datetime:
    """Return `instant` (UTC), or the next allowed local instant if it falls in quiet hours."""
    if quiet is None:
        return instant
    zone = ZoneInfo(tz_name)
    local = _local_wall(instant, zone)
    if not quiet.contains(local.time()):
        return instant
    end_date = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        end_date += timedelta(days=1)
    return due_instant(end_date, quiet.end, tz_name)


def personal_due(
    local_date: date, local_time: time, tz_name: str, quiet: QuietHours | None
) -> datetime:
    """Return when a firing on `local_date` is due for someone in `tz_name`, in UTC."""
    return after_quiet_hours(due_instant(local_date, local_time, tz_name), tz_name, quiet)


def expires_at(due: datetime, max_lateness: timedelta) -> datetime:
    """Return the instant after which a delivery due at `due` must not be sent."""
    return due + max_lateness


def local_date_of(instant: datetime, tz_name: str) -> date:
    """Return the local calendar date of a UTC instant in the zone `tz_name`."""
    return instant.astimezone(ZoneInfo(tz_name)).date()


def candidate_dates(spec: ScheduleSpec, window_start: datetime, window_end: datetime) -> list[date]:
    """Return the fire dates whose local times could fall in a UTC window, in any zone.

    Time zones run from UTC-12 to UTC+14 and quiet hours can push a time to the next
    morning, so two days of margin on each side cover every person.
    """
    margin = timedelta(days=2)
    return fire_dates(spec, (window_start - margin).date(), (window_end + margin).date())
