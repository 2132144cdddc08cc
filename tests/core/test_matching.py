"""Peer matching: no repeats over two years, hard manager rule, nobody left out."""

from __future__ import annotations

import random
from itertools import combinations

import pytest

from bot.core.matching import (
    Candidate,
    MixingRules,
    PairHistory,
    UnmatchedReason,
    group_sizes,
    match,
)


def manager_tree(count: int, seed: int, reports: int = 8) -> list[Candidate]:
    """Return leaders in a manager tree, one unit per second-level subtree."""
    rng = random.Random(seed)
    managers: list[int | None] = [None]
    units = ["top"]
    depth = [0]
    boss = 0
    while len(managers) < count:
        for _ in range(reports):
            if len(managers) == count:
                break
            i = len(managers)
            managers.append(boss)
            depth.append(depth[boss] + 1)
            units.append(f"unit-{i}" if depth[i] == 2 else units[boss])
        boss += 1
    ids = rng.sample(range(10_000, 99_999), count)
    return [
        Candidate(ids[i], units[i], "nb", ids[m] if (m := managers[i]) is not None else None)
        for i in range(count)
    ]


def pairs(groups: tuple[tuple[int, ...], ...]) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for g in groups for a, b in combinations(g, 2)}


def test_800_leaders_in_trios_for_52_rounds_never_repeat_nor_meet_their_manager() -> None:
    people = manager_tree(800, seed=3)
    everyone = {p.id for p in people}
    boss_pairs = {
        (min(p.id, p.manager_id), max(p.id, p.manager_id)) for p in people if p.manager_id
    }
    history = PairHistory()
    seen: set[tuple[int, int]] = set()
    for r in range(52):
        result = match(people, history, MixingRules(), group_size=3, seed=11, round_index=r)
        placed = [m for g in result.groups for m in g]
        assert sorted(placed) == sorted(everyone), f"round {r}: someone missing or doubled"
        assert {len(g) for g in result.groups} <= {3, 4}
        met = pairs(result.groups)
        assert not met & seen, f"round {r}: repeated pairs {sorted(met & seen)[:3]}"
        assert not met & boss_pairs, f"round {r}: manager with report"
        assert result.repeats == 0 and result.manager_pairs == 0 and not result.unmatched
        seen |= met
        history.record(result.groups, r)
    assert len(seen) == 52 * (264 * 3 + 2 * 6)  # 264 trios and 2 quartets a round


def test_same_seed_same_groups_and_other_seed_other_groups() -> None:
    people = manager_tree(60, seed=1)
    history = PairHistory()
    first = match(people, history, MixingRules(), 3, seed=5, round_index=0)
    again = match(list(reversed(people)), history, MixingRules(), 3, seed=5, round_index=0)
    other = match(people, history, MixingRules(), 3, seed=6, round_index=0)
    assert first == again
    assert first.groups != other.groups


@pytest.mark.parametrize(
    ("count", "size", "expected"),
    [
        (7, 2, [3, 2, 2]),
        (10, 3, [4, 3, 3]),
        (5, 3, [3, 2]),
        (11, 6, [6, 5]),
        (4, 4, [4]),
        (1, 2, []),
    ],
)
def test_group_sizes_give_the_odd_ones_out_a_seat(
    count: int, size: int, expected: list[int]
) -> None:
    assert group_sizes(count, size) == expected


def test_odd_person_out_joins_a_group_as_an_extra_member() -> None:
    people = [Candidate(i, unit=f"u{i % 3}") for i in range(1, 8)]
    result = match(people, PairHistory(), MixingRules(), 2, seed=1, round_index=0)
    assert sorted(len(g) for g in result.groups) == [2, 2, 3]
    assert sorted(m for g in result.groups for m in g) == list(range(1, 8))
    assert not result.unmatched


def test_lone_person_is_reported_not_silently_dropped() -> None:
    people = [Candidate(1, locale="nb"), Candidate(2, locale="nb"), Candidate(3, locale="en")]
    rules = MixingRules(same_language=True)
    result = match(people, PairHistory(), rules, 2, seed=1, round_index=0)
    assert result.groups == ((1, 2),)
    assert [(u.person_id, u.reason) for u in result.unmatched] == [(3, UnmatchedReason.ALONE)]


def test_opted_out_people_sit_the_round_out() -> None:
    people = [Candidate(i) for i in range(1, 10)]
    rules = MixingRules(opted_out=frozenset({4, 7}))
    result = match(people, PairHistory(), rules, 3, seed=2, round_index=0)
    placed = {m for g in result.groups for m in g}
    assert placed == set(range(1, 10)) - {4, 7}
    assert result.opted_out == (4, 7)


def test_manager_and_report_are_never_grouped_even_when_it_costs_a_repeat() -> None:
    # 1 manages 2 and 3; 4 has met 2 and 3 already. Pairs: only {1,4},{2,3} avoid the manager.
    people = [Candidate(1), Candidate(2, manager_id=1), Candidate(3, manager_id=1), Candidate(4)]
    history = PairHistory.from_rounds([(0, [(2, 3)]), (1, [(1, 4)])])
    for seed in range(20):
        result = match(people, history, MixingRules(), 2, seed=seed, round_index=2)
        assert pairs(result.groups).isdisjoint({(1, 2), (1, 3)})
        assert result.groups == ((1, 4), (2, 3))
        assert result.repeats == 2 and result.manager_pairs == 0


def test_manager_rule_can_be_switched_off() -> None:
    people = [Candidate(1), Candidate(2, manager_id=1)]
    result = match(people, PairHistory(), MixingRules(avoid_manager=False), 2, 1, 0)
    assert result.groups == ((1, 2),) and result.manager_pairs == 1


def test_manager_and_only_report_cannot_be_matched_and_say_so() -> None:
    people = [Candidate(1), Candidate(2, manager_id=1)]
    result = match(people, PairHistory(), MixingRules(), 2, seed=1, round_index=0)
    assert result.groups == ()
    assert [(u.person_id, u.reason) for u in result.unmatched] == [
        (1, UnmatchedReason.NO_ALLOWED_GROUP),
        (2, UnmatchedReason.NO_ALLOWED_GROUP),
    ]


def test_same_language_is_a_hard_partition() -> None:
    people = [Candidate(i, locale="nb" if i % 3 else "en") for i in range(1, 31)]
    locale = {p.id: p.locale for p in people}
    result = match(people, PairHistory(), MixingRules(same_language=True), 3, 4, 0)
    assert all(len({locale[m] for m in g}) == 1 for g in result.groups)
    assert sorted(m for g in result.groups for m in g) == list(range(1, 31))


def test_units_mix_when_they_can() -> None:
    people = [Candidate(i, unit=f"u{i % 4}") for i in range(40)]
    unit = {p.id: p.unit for p in people}
    result = match(people, PairHistory(), MixingRules(mix_units=True), 4, 9, 0)
    assert all(len({unit[m] for m in g}) == len(g) for g in result.groups)
    assert result.unit_clashes == 0


def test_when_repeats_are_unavoidable_the_oldest_acquaintances_meet_again() -> None:
    # Four people, pairs: every pairing has happened; {1,2},{3,4} met longest ago.
    history = PairHistory.from_rounds(
        [(0, [(1, 2), (3, 4)]), (1, [(1, 3), (2, 4)]), (2, [(1, 4), (2, 3)])]
    )
    people = [Candidate(i) for i in range(1, 5)]
    result = match(people, history, MixingRules(), 2, seed=3, round_index=3)
    assert result.groups == ((1, 2), (3, 4))
    assert result.repeats == 2


def test_group_size_outside_2_to_6_is_rejected() -> None:
    with pytest.raises(ValueError, match="2 to 6"):
        match([Candidate(1), Candidate(2)], PairHistory(), MixingRules(), 7, 1, 0)
