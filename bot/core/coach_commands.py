"""Read the arguments of a coach's `prompt` command."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


class BadPromptCommand(ValueError):
    """The `prompt` command's arguments could not be read; the message says why."""


@dataclass(frozen=True, slots=True)
class PromptCommand:
    """Post `text` (or a bank prompt key) to `group`, now or at a local time."""

    group: str
    text: str
    at_local: datetime | None


def _when(words: list[str], now_local: datetime) -> tuple[datetime, int]:
    """Read `HH:MM` or `YYYY-MM-DD HH:MM` after `at`; return the local time and words used."""
    if len(words) >= 2:
        try:
            day = date.fromisoformat(words[0])
        except ValueError:
            day = None
        if day is not None and (clock := _CLOCK.match(words[1])):
            moment = datetime.combine(day, time(int(clock[1]), int(clock[2])))
            return moment.replace(tzinfo=now_local.tzinfo), 2
    if words and (clock := _CLOCK.match(words[0])):
        hour, minute = int(clock[1]), int(clock[2])
        if hour > 23 or minute > 59:
            raise BadPromptCommand(f"{words[0]} is not a time of day")
        moment = now_local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if moment <= now_local:
            moment += timedelta(days=1)
        return moment, 1
    raise BadPromptCommand("after `at`, give HH:MM or YYYY-MM-DD HH:MM")


def parse_prompt_command(args: tuple[str, ...], now_local: datetime) -> PromptCommand:
    """Parse `GROUP [at WHEN] TEXT…`; `now_local` is the coach's local time."""
    words = list(args)
    if len(words) < 2:
        raise BadPromptCommand("write: prompt GROUP [at HH:MM] TEXT")
    group, rest = words[0], words[1:]
    at_local = None
    if rest and rest[0].lower() in ("at", "kl", "kl."):
        at_local, used = _when(rest[1:], now_local)
        if at_local <= now_local:
            raise BadPromptCommand("that time has already passed")
        rest = rest[1 + used :]
    text = " ".join(rest).strip()
    if not text:
        raise BadPromptCommand("the prompt has no text")
    return PromptCommand(group, text, at_local)
