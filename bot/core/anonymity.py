"""Anonymity rules for pulse results: the threshold, differencing and complementary splits.

A split is any set of respondents a result is computed over: the whole round, one cohort,
one unit, one peer group, or "everyone but unit X". Splits form a tree through `parent`
(a child's respondents are a subset of its parent's). Children of one parent that share a
`partition` name together cover the parent exactly (every unit of a round, including the
people without a unit); callers list every part, even those nobody asked to see, because
their counts decide what the others give away.

Rules, applied until nothing changes:
1. A split with fewer than `min_responses` respondents is withheld.
2. Differencing: when a shown parent and a shown child differ by 1 to `min_responses - 1`
   respondents, the child (the smaller) is withheld; otherwise subtracting one from the
   other would describe that handful of people.
3. Complementary splits: when the hidden parts of a shown parent's partition hold 1 to
   `min_responses - 1` respondents together, the smallest shown part is withheld too;
   otherwise the hidden part could be derived as the parent minus the shown ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from bot.core.problems import InvalidInput, Problem

DEFAULT_MIN_RESPONSES = 5
MIN_RESPONSES_FLOOR = 3


class WithheldReason(StrEnum):
    """Why a result is not shown."""

    TOO_FEW = "too_few"  # fewer respondents than the threshold
    DIFFERENCING = "differencing"  # too close to a shown parent: the difference would leak
    COMPLEMENT = "complement"  # the hidden parts could be derived from the shown ones
    ROUND_OPEN = "round_open"  # the round is open: only the response rate is shown


@dataclass(frozen=True, slots=True)
class Withheld:
    """A result that is not shown, and why; it never carries the numbers."""

    reason: WithheldReason
    min_responses: int

    def explain(self) -> str:
        """Return an English sentence saying why (callers translate it)."""
        if self.reason is WithheldReason.TOO_FEW:
            return f"Hidden: fewer than {self.min_responses} people answered."
        if self.reason is WithheldReason.ROUND_OPEN:
            return "Hidden: the round is still open; results are shown when it closes."
        if self.reason is WithheldReason.DIFFERENCING:
            return (
                f"Hidden: it differs from a larger group by fewer than {self.min_responses} "
                "people, so comparing the two would reveal their answers."
            )
        return (
            "Hidden: together with the other groups shown it would reveal a group of fewer "
            f"than {self.min_responses} people."
        )


def check_min_responses(value: int, where: str = "min_responses") -> int:
    """Return `value` if it is an allowed threshold; raise InvalidInput naming `where`."""
    if value < MIN_RESPONSES_FLOOR:
        raise InvalidInput(
            [
                Problem(
                    where,
                    f"min_responses must be at least {MIN_RESPONSES_FLOOR} to keep answers "
                    f"anonymous (got {value})",
                )
            ]
        )
    return value


def effective_min_responses(value: int | None) -> int:
    """Return the threshold to apply: the default when unset, never below the floor."""
    if value is None:
        return DEFAULT_MIN_RESPONSES
    return max(MIN_RESPONSES_FLOOR, value)


@dataclass(frozen=True, slots=True)
class Split:
    """A set of respondents a result could be shown for."""

    key: str
    respondents: int
    parent: str | None = None
    partition: str | None = None


@dataclass(frozen=True, slots=True)
class Disclosure:
    """Which requested splits may be shown, and why the others may not."""

    shown: frozenset[str]
    withheld: dict[str, Withheld]

    def verdict(self, key: str) -> Withheld | None:
        """Return None if `key` may be shown, else its Withheld marker."""
        return None if key in self.shown else self.withheld.get(key)


def disclose(
    splits: Sequence[Split],
    min_responses: int,
    requested: Collection[str] | None = None,
) -> Disclosure:
    """Decide which of the `requested` splits (default: all) may be shown."""
    k = effective_min_responses(min_responses)
    by_key = {s.key: s for s in splits}
    if len(by_key) != len(splits):
        raise ValueError("split keys must be unique")
    for s in splits:
        if s.parent is not None and s.parent not in by_key:
            raise ValueError(f"split {s.key!r} names an unknown parent {s.parent!r}")
    wanted = set(by_key) if requested is None else set(requested)
    unknown = wanted - set(by_key)
    if unknown:
        raise ValueError(f"unknown splits requested: {sorted(unknown)}")

    withheld: dict[str, Withheld] = {}
    shown = {key for key in wanted if by_key[key].respondents >= k}
    for key in wanted - shown:
        withheld[key] = Withheld(WithheldReason.TOO_FEW, k)

    children = _children(splits)
    changed = True
    while changed:
        changed = False
        for parent in sorted(shown):
            p = by_key[parent]
            for child in sorted(children.get(parent, ())):
                c = by_key[child]
                if child in shown and 0 < p.respondents - c.respondents < k:
                    shown.discard(child)
                    withheld[child] = Withheld(WithheldReason.DIFFERENCING, k)
                    changed = True
            for parts in _partitions(children.get(parent, ()), by_key):
                changed |= _protect_complement(parts, shown, withheld, k)
    return Disclosure(frozenset(shown), withheld)


def _children(splits: Iterable[Split]) -> dict[str, list[str]]:
    children: dict[str, list[str]] = {}
    for s in splits:
        if s.parent is not None:
            children.setdefault(s.parent, []).append(s.key)
    return children


def _partitions(keys: Iterable[str], by_key: dict[str, Split]) -> list[list[Split]]:
    groups: dict[str, list[Split]] = {}
    for key in keys:
        s = by_key[key]
        if s.partition is not None:
            groups.setdefault(s.partition, []).append(s)
    return [groups[name] for name in sorted(groups)]


def _protect_complement(
    parts: list[Split], shown: set[str], withheld: dict[str, Withheld], k: int
) -> bool:
    """Withhold shown parts until the hidden ones hold none or at least `k`; True if any."""
    changed = False
    while True:
        hidden = sum(p.respondents for p in parts if p.key not in shown)
        visible = [p for p in parts if p.key in shown]
        if not 0 < hidden < k or not visible:
            return changed
        smallest = min(visible, key=lambda p: (p.respondents, p.key))
        shown.discard(smallest.key)
        withheld[smallest.key] = Withheld(WithheldReason.COMPLEMENT, k)
        changed = True


Value = TypeVar("Value", bound=Hashable)


def coarsen(
    rows: Sequence[tuple[Value | None, ...]], min_responses: int
) -> list[tuple[Value | None, ...]]:
    """Blank attribute values until every combination holds at least `min_responses` rows.

    Each row is one respondent's attributes, coarsest first (e.g. cohort, unit, group);
    None means unknown, and a blanked value becomes None. Attribute by attribute, within
    each combination of the ones before it, a value held by fewer than `min_responses` rows
    is blanked, and while the blanked rows are 1 to `min_responses - 1` the smallest value
    left is blanked too. Every combination of the values kept, over any subset of the
    attributes, then holds `min_responses` rows or more, provided the rows do together.
    """
    k = effective_min_responses(min_responses)
    result = [list(row) for row in rows]
    width = len(result[0]) if result else 0
    for column in range(width):
        groups: dict[tuple[Value | None, ...], list[list[Value | None]]] = {}
        for row in result:
            groups.setdefault(tuple(row[:column]), []).append(row)
        for members in groups.values():
            _blank_small(members, column, k)
    return [tuple(row) for row in result]


def _blank_small(members: list[list[Value | None]], column: int, k: int) -> None:
    counts = Counter(row[column] for row in members)
    kept = {value for value, count in counts.items() if value is not None and count >= k}
    blanked = len(members) - sum(counts[value] for value in kept)
    # Blanked rows fewer than k could be told apart as "the others": blank more.
    while 0 < blanked < k and kept:
        smallest = min(kept, key=lambda value: (counts[value], repr(value)))
        kept.discard(smallest)
        blanked += counts[smallest]
    for row in members:
        if row[column] not in kept:
            row[column] = None
