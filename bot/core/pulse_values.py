"""Check a raw pulse answer against its item kind and turn it into a stored value.

Likert items take a whole number 1-5, scale items 0-10, single choice one option key,
multiple choice one or more distinct option keys, and text items a non-empty text that is
cut to `max_text_length` by rule: at the last word break in the final fifth of the room
(else mid-word), followed by an ellipsis, so the stored text never exceeds the limit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.problems import InvalidInput, Problem
from bot.core.vocabulary import PulseItemKind

LIKERT_RANGE = (1, 5)
SCALE_RANGE = (0, 10)
DEFAULT_MAX_TEXT_LENGTH = 500
ELLIPSIS = "…"

RawValue = str | int | Sequence[str]


@dataclass(frozen=True, slots=True)
class PulseValue:
    """A checked answer, in the column it is stored in."""

    value_int: int | None = None
    value_choices: tuple[str, ...] | None = None
    value_text: str | None = None
    truncated: bool = False


class InvalidPulseValue(InvalidInput):
    """An answer that does not fit its item; the message says what would."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__([Problem(where, what)])
        self.where = where
        self.what = what


def int_range(kind: PulseItemKind) -> tuple[int, int] | None:
    """Return the (low, high) range of a numeric item kind, or None."""
    if kind is PulseItemKind.LIKERT:
        return LIKERT_RANGE
    if kind is PulseItemKind.SCALE:
        return SCALE_RANGE
    return None


def validate(
    kind: PulseItemKind | str,
    raw: RawValue,
    options: Sequence[str] = (),
    *,
    where: str = "value",
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH,
) -> PulseValue:
    """Return `raw` checked for an item of `kind` (option keys in `options`)."""
    kind = PulseItemKind(kind)
    bounds = int_range(kind)
    if bounds is not None:
        return PulseValue(value_int=_whole_number(raw, bounds, where))
    if kind is PulseItemKind.SINGLE:
        return PulseValue(value_choices=(_one_choice(raw, options, where),))
    if kind is PulseItemKind.MULTI:
        return PulseValue(value_choices=_many_choices(raw, options, where))
    text, truncated = _text(raw, max_text_length, where)
    return PulseValue(value_text=text, truncated=truncated)


def _whole_number(raw: RawValue, bounds: tuple[int, int], where: str) -> int:
    low, high = bounds
    expected = f"a whole number from {low} to {high}"
    if isinstance(raw, bool):
        raise InvalidPulseValue(where, f"expected {expected}, got {raw!r}")
    if isinstance(raw, int):
        number = raw
    elif isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d{1,6}\s*", raw):
        number = int(raw)
    else:
        raise InvalidPulseValue(where, f"expected {expected}, got {_show(raw)}")
    if not low <= number <= high:
        raise InvalidPulseValue(where, f"{number} is out of range: expected {expected}")
    return number


def _one_choice(raw: RawValue, options: Sequence[str], where: str) -> str:
    if isinstance(raw, str):
        choice = raw.strip()
    elif not isinstance(raw, int) and len(raw) == 1 and isinstance(raw[0], str):
        choice = raw[0].strip()
    else:
        raise InvalidPulseValue(
            where, f"expected exactly one of {_list(options)}, got {_show(raw)}"
        )
    if choice not in options:
        raise InvalidPulseValue(
            where, f"{choice!r} is not an option: expected one of {_list(options)}"
        )
    return choice


def _many_choices(raw: RawValue, options: Sequence[str], where: str) -> tuple[str, ...]:
    if isinstance(raw, int):
        raise InvalidPulseValue(where, f"expected options from {_list(options)}, got {raw!r}")
    picked = [c.strip() for c in raw.split(",")] if isinstance(raw, str) else list(raw)
    picked = [c for c in picked if c]
    if not picked:
        raise InvalidPulseValue(where, f"choose at least one of {_list(options)}")
    unknown = [c for c in picked if c not in options]
    if unknown:
        raise InvalidPulseValue(
            where, f"not an option: {', '.join(map(repr, unknown))}; expected {_list(options)}"
        )
    # Stored in the item's own order, once each: the order of clicks tells nothing.
    chosen = set(picked)
    return tuple(o for o in options if o in chosen)


def _text(raw: RawValue, max_length: int, where: str) -> tuple[str, bool]:
    if not isinstance(raw, str):
        raise InvalidPulseValue(where, "expected a text answer")
    text = raw.strip()
    if not text:
        raise InvalidPulseValue(where, "the answer is empty")
    if len(text) <= max_length:
        return text, False
    return truncate(text, max_length), True


def truncate(text: str, max_length: int) -> str:
    """Cut `text` to at most `max_length` characters, at a word break where one is near."""
    if max_length < 2:
        raise ValueError("max_length must leave room for at least one character and '…'")
    if len(text) <= max_length:
        return text
    room = max_length - len(ELLIPSIS)
    head = text[:room]
    cut = max(head.rfind(" "), head.rfind("\n"))
    if cut >= room - room // 5 and cut > 0:
        head = head[:cut]
    return head.rstrip() + ELLIPSIS


def _list(options: Sequence[str]) -> str:
    return ", ".join(options) if options else "(no options)"


def _show(raw: RawValue) -> str:
    shown = repr(raw)
    return shown if len(shown) <= 40 else shown[:37] + "..."
