"""The injected clock: the only place that reads the time outside tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tell the current time, always aware and in UTC."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


@dataclass
class FrozenClock:
    """A clock that only moves when told to: for tests and the accelerated demo."""

    current: datetime

    def now(self) -> datetime:
        """Return the frozen time."""
        return self.current

    def advance(self, **delta: float) -> datetime:
        """Move forward by a timedelta's keyword arguments and return the new time."""
        self.current += timedelta(**delta)
        return self.current
