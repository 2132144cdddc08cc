"""Pulse results per item: response rate, distribution, mean, eNPS, trend and cohort comparison.

Nothing here returns a number for a set of respondents that the anonymity rules withhold:
every result goes through `bot.core.anonymity` first and comes back as a `Withheld` marker
when it may not be shown (free-text lists included).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.core.anonymity import Split, Withheld, disclose
from bot.core.pulse_values import int_range
from bot.core.vocabulary import PulseItemKind

WHOLE = "all"
# Part key for respondents with no value for the split (no unit, no group): counted, never shown.
UNKNOWN_PART = "(none)"
PROMOTERS = range(9, 11)
DETRACTORS = range(0, 7)


class SplitBy(StrEnum):
    """Attributes a round's results can be split by."""

    COHORT = "cohort"
    UNIT = "unit"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """What results need to know about a pulse item."""

    key: str
    kind: PulseItemKind
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """One stored answer with the split attributes copied onto it (no person)."""

    item_key: str
    value_int: int | None = None
    value_choices: tuple[str, ...] | None = None
    value_text: str | None = None
    cohort: str | None = None
    unit: str | None = None
    group: str | None = None

    def part(self, split_by: SplitBy) -> str:
        """Return the key of the part of `split_by` this response falls in."""
        value = getattr(self, split_by.value)
        return UNKNOWN_PART if value is None else str(value)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What may be shown about one item for one set of respondents."""

    item_key: str
    kind: PulseItemKind
    respondents: int
    invited: int
    response_rate: float | None
    distribution: tuple[tuple[str, int], ...]
    mean: float | None = None
    enps: float | None = None
    texts: tuple[str, ...] = ()


Shown = ItemResult | Withheld


@dataclass(frozen=True, slots=True)
class ItemReport:
    """One item's result for the whole round and, when split, for each part."""

    item: ItemSpec
    whole: Shown
    parts: tuple[tuple[str, Shown], ...] = ()


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One round of a trend: the mean and eNPS, or Withheld."""

    round_number: int
    mean: float | Withheld | None
    enps: float | Withheld | None
    response_rate: float | Withheld | None


def enps(values: Iterable[int]) -> float | None:
    """Return promoters (9-10) minus detractors (0-6) as a percentage of all, or None."""
    scores = list(values)
    if not scores:
        return None
    promoters = sum(1 for v in scores if v in PROMOTERS)
    detractors = sum(1 for v in scores if v in DETRACTORS)
    return 100.0 * (promoters - detractors) / len(scores)


def summarise(item: ItemSpec, responses: Sequence[ResponseRecord], invited: int) -> ItemResult:
    """Return every figure for `responses` to `item`, ungated (callers gate it)."""
    mine = [r for r in responses if r.item_key == item.key]
    count = len(mine)
    rate = count / invited if invited > 0 else None
    bounds = int_range(item.kind)
    if bounds is not None:
        values = [r.value_int for r in mine if r.value_int is not None]
        counts = Counter(values)
        low, high = bounds
        return ItemResult(
            item_key=item.key,
            kind=item.kind,
            respondents=count,
            invited=invited,
            response_rate=rate,
            distribution=tuple((str(v), counts[v]) for v in range(low, high + 1)),
            mean=sum(values) / len(values) if values else None,
            enps=enps(values) if item.kind is PulseItemKind.SCALE else None,
        )
    if item.kind is PulseItemKind.TEXT:
        # Sorted, so the order of the list says nothing about who answered when.
        texts = tuple(sorted(r.value_text for r in mine if r.value_text))
        return ItemResult(item.key, item.kind, count, invited, rate, (), texts=texts)
    chosen = Counter(c for r in mine for c in (r.value_choices or ()))
    labels = list(item.options) + sorted(set(chosen) - set(item.options))
    distribution = tuple((o, chosen[o]) for o in labels)
    return ItemResult(item.key, item.kind, count, invited, rate, distribution)


def item_result(
    item: ItemSpec, responses: Sequence[ResponseRecord], invited: int, min_responses: int
) -> Shown:
    """Return the whole-round result of `item`, or Withheld below the threshold."""
    return item_report(item, responses, {WHOLE: invited}, min_responses).whole


def item_report(
    item: ItemSpec,
    responses: Sequence[ResponseRecord],
    invited: Mapping[str, int],
    min_responses: int,
    split_by: SplitBy | None = None,
) -> ItemReport:
    """Return `item`'s result for the whole round and each part of `split_by`, gated.

    `invited` maps WHOLE and each part key to how many people were asked.
    """
    mine = [r for r in responses if r.item_key == item.key]
    whole = summarise(item, mine, invited.get(WHOLE, 0))
    if split_by is None:
        verdict = disclose([Split(WHOLE, whole.respondents)], min_responses).verdict(WHOLE)
        return ItemReport(item, verdict or whole)
    by_part: dict[str, list[ResponseRecord]] = {}
    for r in mine:
        by_part.setdefault(r.part(split_by), []).append(r)
    names = sorted((set(by_part) | set(invited)) - {WHOLE, UNKNOWN_PART})
    splits = [Split(WHOLE, whole.respondents)]
    splits += [
        Split(n, len(by_part.get(n, ())), parent=WHOLE, partition=split_by.value) for n in names
    ]
    if UNKNOWN_PART in by_part:
        splits.append(
            Split(UNKNOWN_PART, len(by_part[UNKNOWN_PART]), WHOLE, partition=split_by.value)
        )
    disclosure = disclose(splits, min_responses, requested=[WHOLE, *names])
    parts = tuple(
        (
            n,
            disclosure.verdict(n) or summarise(item, by_part.get(n, []), invited.get(n, 0)),
        )
        for n in names
    )
    return ItemReport(item, disclosure.verdict(WHOLE) or whole, parts)


def round_results(
    items: Sequence[ItemSpec],
    responses: Sequence[ResponseRecord],
    invited: Mapping[str, int],
    min_responses: int,
    split_by: SplitBy | None = None,
) -> tuple[ItemReport, ...]:
    """Return one gated report per item of a round."""
    return tuple(item_report(i, responses, invited, min_responses, split_by) for i in items)


def trend(results: Sequence[tuple[int, Shown]]) -> tuple[TrendPoint, ...]:
    """Return one point per round (round number, gated whole result), oldest first."""
    points = []
    for number, result in sorted(results, key=lambda pair: pair[0]):
        if isinstance(result, Withheld):
            points.append(TrendPoint(number, result, result, result))
        else:
            points.append(TrendPoint(number, result.mean, result.enps, result.response_rate))
    return tuple(points)


def compare_cohorts(
    item: ItemSpec,
    responses: Sequence[ResponseRecord],
    invited: Mapping[str, int],
    min_responses: int,
) -> tuple[tuple[str, Shown], ...]:
    """Return `item` side by side per cohort, each gated as a part of the whole round.

    Gating the cohorts as parts of the whole (which the round's results show anyway) keeps
    a small cohort from being derived as the whole minus the others.
    """
    return item_report(item, responses, invited, min_responses, SplitBy.COHORT).parts
