"""Peer matching: pairs, trios and circles that rotate without repeats.

The matcher is pure and deterministic for a given seed and round. It splits people into
language partitions (a hard rule), builds groups greedily in a seeded random order, then
improves them by swapping members between groups. Costs rank what matters: a manager with
their own report is forbidden outright, a repeat costs far more the more recent it was, and
two people from the same unit cost a little (when units should mix).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

MIN_GROUP_SIZE = 2
MAX_GROUP_SIZE = 6

# Weights: any forbidden pair outweighs every repeat, any repeat outweighs every unit clash.
FORBIDDEN_COST = 10**15
REPEAT_COST = 10**6
# Added to REPEAT_COST, divided by the rounds since the pair last met: recent repeats cost more.
RECENCY_COST = 10**9
UNIT_COST = 1

# Greedy: stop looking for a better candidate after this many, once one without repeats is seen.
_SCAN_LIMIT = 48
# Local search: passes over the groups, and swap attempts per pass, per partition.
_MAX_PASSES = 6
_MAX_UNIT_ATTEMPTS = 4000


@dataclass(frozen=True, slots=True)
class Candidate:
    """A person who can be matched."""

    id: int
    unit: str = ""
    locale: str = ""
    manager_id: int | None = None


@dataclass(frozen=True, slots=True)
class MixingRules:
    """What a series asks of its groups."""

    mix_units: bool = True
    same_language: bool = False
    avoid_manager: bool = True
    opted_out: frozenset[int] = frozenset()


class UnmatchedReason(StrEnum):
    """Why a person is not in any group this round (said out loud, never silent)."""

    ALONE = "alone"  # the only person in their language partition
    NO_ALLOWED_GROUP = "no_allowed_group"  # every group holds their manager or a report


@dataclass(frozen=True, slots=True)
class Unmatched:
    """A person the matcher could not place, and why."""

    person_id: int
    reason: UnmatchedReason


@dataclass(frozen=True, slots=True)
class Matching:
    """The groups of one round, with what the coach should know about them."""

    groups: tuple[tuple[int, ...], ...]
    unmatched: tuple[Unmatched, ...] = ()
    opted_out: tuple[int, ...] = ()
    repeats: int = 0
    unit_clashes: int = 0
    manager_pairs: int = 0


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


@dataclass(slots=True)
class PairHistory:
    """For each pair of people, the last round index in which they were in a group together."""

    last_met: dict[tuple[int, int], int] = field(default_factory=dict)

    def last(self, a: int, b: int) -> int | None:
        """Return the last round index `a` and `b` met in, or None."""
        return self.last_met.get(_pair(a, b))

    def record(self, groups: Iterable[Sequence[int]], round_index: int) -> None:
        """Remember that the members of each group met in `round_index`."""
        for group in groups:
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    key = _pair(a, b)
                    if self.last_met.get(key, round_index - 1) < round_index:
                        self.last_met[key] = round_index

    @classmethod
    def from_rounds(cls, rounds: Iterable[tuple[int, Iterable[Sequence[int]]]]) -> PairHistory:
        """Build a history from (round index, groups) of earlier rounds."""
        history = cls()
        for round_index, groups in rounds:
            history.record(groups, round_index)
        return history


def group_sizes(count: int, group_size: int) -> list[int]:
    """Return the sizes of the groups for `count` people: extras join groups as size+1.

    When there are more people left over than groups to take them (a few people, big
    circles), one more group is formed and sizes are spread evenly instead.
    """
    if count < MIN_GROUP_SIZE:
        return []
    groups, rest = divmod(count, group_size)
    if rest > groups:
        groups += 1
    base, extra = divmod(count, groups)
    return [base + 1] * extra + [base] * (groups - extra)


def check_group_size(group_size: int) -> None:
    """Raise ValueError unless `group_size` is a pair, a trio or a circle of 4-6."""
    if not MIN_GROUP_SIZE <= group_size <= MAX_GROUP_SIZE:
        raise ValueError(
            f"group size must be {MIN_GROUP_SIZE} to {MAX_GROUP_SIZE} people (got {group_size})"
        )


class _Partition:
    """One language partition, as dense indices with precomputed pair costs."""

    def __init__(
        self,
        people: Sequence[Candidate],
        history: PairHistory,
        rules: MixingRules,
        round_index: int,
    ) -> None:
        self.ids = [p.id for p in people]
        index = {pid: i for i, pid in enumerate(self.ids)}
        units: dict[str, int] = {}
        # -1 means "no unit": never a clash, and every person has their own.
        self.unit = [
            units.setdefault(p.unit, len(units)) if rules.mix_units and p.unit else -1 - i
            for i, p in enumerate(people)
        ]
        self.forbidden: list[set[int]] = [set() for _ in people]
        if rules.avoid_manager:
            for i, p in enumerate(people):
                m = index.get(p.manager_id) if p.manager_id is not None else None
                if m is not None and m != i:
                    self.forbidden[i].add(m)
                    self.forbidden[m].add(i)
        self.repeat: list[dict[int, int]] = [{} for _ in people]
        for (a, b), last in history.last_met.items():
            ia, ib = index.get(a), index.get(b)
            if ia is None or ib is None or last >= round_index:
                continue
            cost = REPEAT_COST + RECENCY_COST // (round_index - last)
            self.repeat[ia][ib] = cost
            self.repeat[ib][ia] = cost

    def cost(self, a: int, b: int) -> int:
        """Return what putting `a` and `b` in one group costs."""
        if b in self.forbidden[a]:
            return FORBIDDEN_COST
        return self.repeat[a].get(b, 0) + (UNIT_COST if self.unit[a] == self.unit[b] else 0)

    def cost_with(self, person: int, members: Iterable[int]) -> int:
        """Return what adding `person` to `members` costs."""
        forbidden, repeat, unit = self.forbidden[person], self.repeat[person], self.unit[person]
        total = 0
        for m in members:
            if m in forbidden:
                total += FORBIDDEN_COST
            else:
                total += repeat.get(m, 0) + (UNIT_COST if unit == self.unit[m] else 0)
        return total

    def group_cost(self, group: Sequence[int]) -> int:
        """Return the cost of a whole group."""
        return sum(self.cost_with(a, group[i + 1 :]) for i, a in enumerate(group))


class _Solver:
    """Greedy construction then swap-based local search for one partition."""

    def __init__(self, part: _Partition, sizes: list[int], rng: random.Random) -> None:
        self.part = part
        self.rng = rng
        self.groups = self._greedy(sizes)
        self.where = [0] * len(part.ids)
        for g, members in enumerate(self.groups):
            for m in members:
                self.where[m] = g
        self.costs = [part.group_cost(g) for g in self.groups]

    def _greedy(self, sizes: list[int]) -> list[list[int]]:
        part = self.part
        # Most constrained people first (most history), seeded order among equals.
        order = list(range(len(part.ids)))
        self.rng.shuffle(order)
        order.sort(key=lambda i: -(len(part.repeat[i]) + len(part.forbidden[i])))
        remaining = order
        groups: list[list[int]] = []
        for size in sizes:
            group = [remaining.pop(0)]
            while len(group) < size:
                best_pos, best_cost = 0, -1
                for pos, candidate in enumerate(remaining):
                    c = part.cost_with(candidate, group)
                    if best_cost < 0 or c < best_cost:
                        best_pos, best_cost = pos, c
                    if c == 0 or (pos >= _SCAN_LIMIT and best_cost < REPEAT_COST):
                        break
                group.append(remaining.pop(best_pos))
            groups.append(group)
        return groups

    def _swap_delta(self, a: int, b: int) -> int:
        part = self.part
        ga, gb = self.where[a], self.where[b]
        rest_a = [m for m in self.groups[ga] if m != a]
        rest_b = [m for m in self.groups[gb] if m != b]
        return (
            part.cost_with(b, rest_a)
            + part.cost_with(a, rest_b)
            - part.cost_with(a, rest_a)
            - part.cost_with(b, rest_b)
        )

    def _swap(self, a: int, b: int, delta_a: int, delta_b: int) -> None:
        ga, gb = self.where[a], self.where[b]
        group_a, group_b = self.groups[ga], self.groups[gb]
        group_a[group_a.index(a)] = b
        group_b[group_b.index(b)] = a
        self.where[a], self.where[b] = gb, ga
        self.costs[ga] += delta_a
        self.costs[gb] += delta_b

    def _try_improve(self, a: int, threshold: int) -> bool:
        """Swap `a` with someone elsewhere if that lowers the total cost; True if swapped."""
        part = self.part
        ga = self.where[a]
        rest_a = [m for m in self.groups[ga] if m != a]
        own = part.cost_with(a, rest_a)
        if own < threshold:
            return False
        people = list(range(len(part.ids)))
        self.rng.shuffle(people)
        best: tuple[int, int, int, int] | None = None
        for b in people:
            gb = self.where[b]
            if gb == ga:
                continue
            gain_a = part.cost_with(b, rest_a) - own
            if gain_a >= 0:
                continue
            rest_b = [m for m in self.groups[gb] if m != b]
            delta_b = part.cost_with(a, rest_b) - part.cost_with(b, rest_b)
            delta = gain_a + delta_b
            if delta < 0 and (best is None or delta < best[0]):
                best = (delta, b, gain_a, delta_b)
                if gain_a + own == 0 and delta_b <= 0:
                    break
        if best is None:
            return False
        _, b, delta_a, delta_b = best
        self._swap(a, b, delta_a, delta_b)
        return True

    def improve(self) -> None:
        """Remove forbidden pairs and repeats first, then unit clashes, within fixed bounds."""
        for _ in range(_MAX_PASSES):
            bad = [m for g, c in enumerate(self.costs) if c >= REPEAT_COST for m in self.groups[g]]
            if not bad:
                break
            changed = False
            for a in bad:
                if self.costs[self.where[a]] >= REPEAT_COST:
                    changed |= self._try_improve(a, REPEAT_COST)
            if not changed:
                break
        attempts = 0
        for _ in range(_MAX_PASSES):
            clashing = [m for g, c in enumerate(self.costs) if c > 0 for m in self.groups[g]]
            changed = False
            for a in clashing:
                if attempts >= _MAX_UNIT_ATTEMPTS:
                    return
                if self.costs[self.where[a]] > 0:
                    attempts += 1
                    changed |= self._try_improve(a, UNIT_COST)
            if not changed:
                break

    def rescue_forbidden(self) -> list[int]:
        """Move people out of groups holding their manager or report; return who fits nowhere."""
        part = self.part
        stranded: list[int] = []
        for g in range(len(self.groups)):
            while self.costs[g] >= FORBIDDEN_COST:
                group = self.groups[g]
                a = max(group, key=lambda m: len(part.forbidden[m] & set(group)))
                group.remove(a)
                self.costs[g] = part.group_cost(group)
                if not self._rehome(a, g):
                    stranded.append(a)
        # Someone left alone by those moves is not a group: seat them elsewhere or say so.
        for g, group in enumerate(self.groups):
            if len(group) == 1:
                a = group.pop()
                self.costs[g] = 0
                if not self._rehome(a, g):
                    stranded.append(a)
        return stranded

    def _rehome(self, a: int, away_from: int) -> bool:
        """Add `a` to the cheapest other group that holds neither manager nor report."""
        part = self.part
        homes = [
            h
            for h, other in enumerate(self.groups)
            if h != away_from and other and part.cost_with(a, other) < FORBIDDEN_COST
        ]
        if not homes:
            return False
        h = min(homes, key=lambda h: (part.cost_with(a, self.groups[h]), h))
        self.costs[h] += part.cost_with(a, self.groups[h])
        self.groups[h].append(a)
        self.where[a] = h
        return True


def _partitions(people: Sequence[Candidate], rules: MixingRules) -> list[list[Candidate]]:
    if not rules.same_language:
        return [list(people)]
    by_locale: dict[str, list[Candidate]] = {}
    for p in people:
        by_locale.setdefault(p.locale, []).append(p)
    return [by_locale[k] for k in sorted(by_locale)]


def match(
    people: Sequence[Candidate],
    history: PairHistory,
    rules: MixingRules,
    group_size: int,
    seed: int,
    round_index: int,
) -> Matching:
    """Put everyone who has not opted out into groups of `group_size` (extras make size+1)."""
    check_group_size(group_size)
    ids = [p.id for p in people]
    if len(set(ids)) != len(ids):
        raise ValueError("each candidate may appear only once")
    rng = random.Random(seed * 1_000_003 + round_index)
    present = sorted((p for p in people if p.id not in rules.opted_out), key=lambda p: p.id)
    opted_out = tuple(sorted(p.id for p in people if p.id in rules.opted_out))
    groups: list[tuple[int, ...]] = []
    unmatched: list[Unmatched] = []
    for members in _partitions(present, rules):
        sizes = group_sizes(len(members), group_size)
        if not sizes:
            unmatched.extend(Unmatched(p.id, UnmatchedReason.ALONE) for p in members)
            continue
        part = _Partition(members, history, rules, round_index)
        solver = _Solver(part, sizes, rng)
        solver.improve()
        stranded = solver.rescue_forbidden()
        unmatched.extend(Unmatched(part.ids[i], UnmatchedReason.NO_ALLOWED_GROUP) for i in stranded)
        groups.extend(tuple(sorted(part.ids[m] for m in g)) for g in solver.groups if g)
    groups.sort()
    return _summarise(groups, unmatched, opted_out, people, history, rules, round_index)


def _summarise(
    groups: list[tuple[int, ...]],
    unmatched: list[Unmatched],
    opted_out: tuple[int, ...],
    people: Sequence[Candidate],
    history: PairHistory,
    rules: MixingRules,
    round_index: int,
) -> Matching:
    by_id: Mapping[int, Candidate] = {p.id: p for p in people}
    repeats = clashes = forbidden = 0
    for group in groups:
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                last = history.last(a, b)
                repeats += last is not None and last < round_index
                pa, pb = by_id[a], by_id[b]
                clashes += rules.mix_units and bool(pa.unit) and pa.unit == pb.unit
                forbidden += pa.manager_id == b or pb.manager_id == a
    return Matching(
        groups=tuple(groups),
        unmatched=tuple(sorted(unmatched, key=lambda u: u.person_id)),
        opted_out=opted_out,
        repeats=repeats,
        unit_clashes=clashes,
        manager_pairs=forbidden,
    )
