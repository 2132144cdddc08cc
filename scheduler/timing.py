"""The window a tick looks through, and the options it runs with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.schedule import QuietHours, ScheduleSpec, parse_quiet_hours, parse_weekdays
from bot.settings import Settings
from storage.models.schedule import ScheduleColumns

DEFAULT_TIMEZONE = "Europe/Oslo"


@dataclass(frozen=True)
class TickOptions:
    """What a tick needs from the settings."""

    # Far enough ahead that every time zone's next firing exists before it is due.
    look_ahead: timedelta = timedelta(hours=26)
    quiet_hours: QuietHours | None = field(default_factory=lambda: parse_quiet_hours("21:00-07:00"))
    ignored_prompts_limit: int = 3
    # Zone of programme-wide instants: when a pulse round opens, when a peer round starts.
    default_timezone: str = DEFAULT_TIMEZONE
    pulse_max_lateness: timedelta = timedelta(hours=4)
    peer_catch_up: timedelta = timedelta(days=1)
    # Coaches' weekly digests, queued on Monday mornings.
    weekly_digests: bool = True
    # The app's secret key: closing an anonymous pulse round maps its slots with it.
    secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> TickOptions:
        """Build the options from the process settings."""
        return cls(
            quiet_hours=parse_quiet_hours(settings.quiet_hours),
            ignored_prompts_limit=settings.ignored_prompts_limit,
        )


@dataclass(frozen=True)
class Window:
    """A span of UTC instants, open at the start and closed at the end."""

    start: datetime
    end: datetime

    def contains(self, instant: datetime) -> bool:
        """Tell whether `instant` lies in the window."""
        return self.start < instant <= self.end


def tick_window(now: datetime, max_lateness: timedelta, look_ahead: timedelta) -> Window:
    """Return the window rows are created for: not stale yet, and not too far ahead."""
    return Window(now - max_lateness, now + look_ahead)


def spec_of(row: ScheduleColumns) -> ScheduleSpec:
    """Return the pure schedule of a campaign, survey or peer series row."""
    return ScheduleSpec(
        weekdays=parse_weekdays(row.weekdays),
        local_time=row.local_time,
        start=row.start_date,
        end=row.end_date,
        every_weeks=row.every_weeks,
        skip_holidays=row.skip_holidays,
    )


def zone_name(name: str | None, default: str = DEFAULT_TIMEZONE) -> str:
    """Return `name` if it is a known IANA zone, else the default zone."""
    if name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return default
        return name
    return default
