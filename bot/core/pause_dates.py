"""Read "pause until" answers the way people write them."""

from __future__ import annotations

import re
from datetime import date, timedelta

_RELATIVE = re.compile(r"^(\d{1,3})\s*([dwm])$", re.IGNORECASE)
_NORWEGIAN = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
MAX_PAUSE_DAYS = 366
DEFAULT_PAUSE_DAYS = 7


class BadDate(ValueError):
    """The text is not a date we understand, or not a sensible pause."""


def parse_until(text: str, today: date) -> date:
    """Return the last paused day from "2027-05-01", "1.5.2027", "10d", "2w" or "1m".

    An empty text pauses for a week. Dates in the past or more than a year ahead are refused.
    """
    text = text.strip()
    if not text:
        return today + timedelta(days=DEFAULT_PAUSE_DAYS)
    if match := _RELATIVE.match(text):
        amount, unit = int(match.group(1)), match.group(2).lower()
        days = amount * {"d": 1, "w": 7, "m": 30}[unit]
        until = today + timedelta(days=days)
    elif match := _NORWEGIAN.match(text):
        day, month, year = (int(part) for part in match.groups())
        until = _date(year, month, day, text)
    else:
        try:
            until = date.fromisoformat(text)
        except ValueError as error:
            raise BadDate(text) from error
    if until < today or until > today + timedelta(days=MAX_PAUSE_DAYS):
        raise BadDate(text)
    return until


def _date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError as error:
        raise BadDate(text) from error
