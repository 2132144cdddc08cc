"""The conversation model: what a person's next free text answers, and which text is a command.

Pure: the caller passes in the stored state, the facts it found and the time. Every channel
goes through the same three steps: a command is recognised first (`parse_command`), then
the one thing the text may answer is picked (`route`), and only an explicit edit may
replace a stored answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Purpose(StrEnum):
    """What a person's next free text is taken as."""

    ANSWER = "answer"  # the first answer to a reflection prompt
    FOLLOW_UP = "follow_up"  # the answer to the prompt's follow-up question
    EDIT = "edit"  # a new version of an answer the person chose to edit
    PULSE_TEXT = "pulse"  # the text item a pulse card shows


@dataclass(frozen=True, slots=True)
class Policy:
    """How long each kind of waiting lasts; edits wait shorter than answers."""

    answer_window: timedelta = timedelta(hours=24)
    edit_window: timedelta = timedelta(minutes=30)
    undo_window: timedelta = timedelta(minutes=10)

    def window(self, purpose: Purpose) -> timedelta:
        """Return how long a state of this purpose waits for text."""
        return self.edit_window if purpose is Purpose.EDIT else self.answer_window


@dataclass(frozen=True, slots=True)
class Awaiting:
    """The one thing a person's next free text answers, from `since` until `until`."""

    purpose: Purpose
    delivery_id: int
    since: datetime
    until: datetime

    def live(self, now: datetime) -> bool:
        """Tell whether the state still waits at `now`."""
        return self.since <= now < self.until


def expect(purpose: Purpose, delivery_id: int, now: datetime, policy: Policy) -> Awaiting:
    """Return the state that waits for text of `purpose` for `delivery_id` from now on."""
    return Awaiting(purpose, delivery_id, now, now + policy.window(purpose))


@dataclass(frozen=True, slots=True)
class OpenPrompt:
    """The newest prompt sent to a person that they have not answered yet."""

    delivery_id: int
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class AnswerTo:
    """Take the text as `purpose` for `delivery_id`."""

    purpose: Purpose
    delivery_id: int
    implicit: bool = False  # chosen because it is the open prompt, not a stored state


@dataclass(frozen=True, slots=True)
class ShowMenu:
    """Nothing waits for text: say so, store nothing, and show what the bot can do."""

    expired: bool = False  # something waited, but its time ran out
    open_delivery_id: int | None = None  # an older prompt the person may still answer


Decision = AnswerTo | ShowMenu


def route(
    awaiting: Awaiting | None, open_prompt: OpenPrompt | None, now: datetime, policy: Policy
) -> Decision:
    """Pick the one thing free text answers now; the newest thing asked wins."""
    state = awaiting if awaiting is not None and awaiting.live(now) else None
    fresh = open_prompt
    if fresh is not None and now - fresh.sent_at >= policy.answer_window:
        fresh = None
    if fresh is not None and (state is None or fresh.sent_at > state.since):
        return AnswerTo(Purpose.ANSWER, fresh.delivery_id, implicit=True)
    if state is not None:
        return AnswerTo(state.purpose, state.delivery_id)
    old = open_prompt.delivery_id if open_prompt is not None else None
    return ShowMenu(expired=awaiting is not None, open_delivery_id=old)


# -- commands -----------------------------------------------------------------------------

HELP = "help"
PAUSE = "pause"
RESUME = "resume"
LANGUAGE = "language"
MINE = "mine"
DASHBOARD = "dashboard"
STOP = "stop"
UNDO = "undo"
EDIT = "edit"
CANCEL = "cancel"
TIMEZONE = "timezone"
HOME = "home"

# Every word (or two-word phrase) that names a command, in bokmål, nynorsk and English.
WORDS: dict[str, str] = {
    "help": HELP,
    "hjelp": HELP,
    "hjelpe": HELP,
    "start": HELP,
    "meny": HELP,
    "menu": HELP,
    "pause": PAUSE,
    "resume": RESUME,
    "fortsett": RESUME,
    "fortset": RESUME,
    "gjenoppta": RESUME,
    "hald fram": RESUME,
    "language": LANGUAGE,
    "språk": LANGUAGE,
    "sprak": LANGUAGE,
    "mine": MINE,
    "mine svar": MINE,
    "svarene mine": MINE,
    "svara mine": MINE,
    "my answers": MINE,
    "dashboard": DASHBOARD,
    "dashbord": DASHBOARD,
    "stop": STOP,
    "stopp": STOP,
    "undo": UNDO,
    "angre": UNDO,
    "edit": EDIT,
    "endre": EDIT,
    "rediger": EDIT,
    "cancel": CANCEL,
    "avbryt": CANCEL,
    "timezone": TIMEZONE,
    "tidssone": TIMEZONE,
    "home": HOME,
    "hjem": HOME,
    "heim": HOME,
}
# How many words may follow a typed command word; more words make it a sentence, not a command.
MAX_ARGS: dict[str, int] = {PAUSE: 2, LANGUAGE: 1, TIMEZONE: 1}


@dataclass(frozen=True, slots=True)
class Command:
    """A command the person typed, with its arguments."""

    name: str
    args: tuple[str, ...] = ()
    slash: bool = False


def canonical(name: str) -> str:
    """Return the command a (possibly translated) command word names, or the word itself."""
    word = name.strip().lower()
    return WORDS.get(word, word)


def parse_command(text: str) -> Command | None:
    """Return the command `text` is, or None when it is free text to route as an answer.

    Anything starting with `/` is a command. Otherwise a command word (or phrase) counts
    only on its own or with the few arguments its command takes, so a sentence that starts
    with "Pause" is still a reflection.
    """
    stripped = text.strip()
    if stripped.startswith("/"):
        head, *rest = stripped[1:].split() or [""]
        name = head.partition("@")[0]
        return Command(canonical(name) if name else HELP, tuple(rest), slash=True)
    words = stripped.rstrip(".!?").split()
    if not words:
        return Command(HELP) if stripped.startswith("?") else None
    lowered = [w.lower() for w in words]
    for size in (2, 1):
        phrase = " ".join(lowered[:size])
        if len(lowered) >= size and phrase in WORDS:
            name, given = WORDS[phrase], tuple(words[size:])
            if len(given) <= MAX_ARGS.get(name, 0):
                return Command(name, given)
    return None
