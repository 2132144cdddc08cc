"""Benchmark peer matching: 800 leaders in trios for 52 fortnightly rounds (two years).

Prints the time per round and the repeats, manager-report pairs and people left out, for
Tenkepause's matcher and for a random-shuffle baseline (what simple pairing bots do) on the
same input, and judges the targets: under 1 s per round, zero repeats.

Run: .venv/bin/python bench/matching.py [--leaders 800] [--rounds 52] [--size 3] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core.matching import Candidate, MixingRules, PairHistory, group_sizes, match

TARGET_SECONDS = 1.0
REPORTS_PER_MANAGER = 8


def leaders(count: int, seed: int) -> list[Candidate]:
    """Return `count` leaders in a manager tree (8 reports each), units under the 2nd level."""
    rng = random.Random(seed)
    manager: list[int | None] = [None]
    depth = [0]
    unit = ["Rådmann"]
    next_manager = 0
    while len(manager) < count:
        for _ in range(REPORTS_PER_MANAGER):
            if len(manager) >= count:
                break
            i = len(manager)
            manager.append(next_manager)
            depth.append(depth[next_manager] + 1)
            unit.append(f"Unit {i}" if depth[i] == 2 else unit[next_manager])
        next_manager += 1
    locales = ["nb"] * 8 + ["nn", "en"]
    ids = list(range(1001, 1001 + count))
    rng.shuffle(ids)  # ids unrelated to tree position, as in a real roster
    return [
        Candidate(
            id=ids[i],
            unit=unit[i],
            locale=rng.choice(locales),
            manager_id=ids[m] if (m := manager[i]) is not None else None,
        )
        for i in range(count)
    ]


def shuffle_baseline(
    people: Sequence[Candidate], group_size: int, seed: int, round_index: int
) -> list[tuple[int, ...]]:
    """Shuffle and cut into groups, as simple pairing bots do."""
    rng = random.Random(seed * 7919 + round_index)
    ids = [p.id for p in people]
    rng.shuffle(ids)
    groups: list[tuple[int, ...]] = []
    start = 0
    for size in group_sizes(len(ids), group_size):
        groups.append(tuple(ids[start : start + size]))
        start += size
    return groups


@dataclass
class Figures:
    """What one strategy did over all rounds."""

    name: str
    seconds: list[float]
    repeats: int
    manager_pairs: int
    left_out: int
    unit_clashes: int


def run(
    name: str,
    people: Sequence[Candidate],
    rounds: int,
    strategy: Callable[[PairHistory, int], list[tuple[int, ...]]],
) -> Figures:
    """Play `rounds` rounds with one strategy and count what went wrong."""
    by_id = {p.id: p for p in people}
    history = PairHistory()
    figures = Figures(name, [], 0, 0, 0, 0)
    for r in range(rounds):
        started = time.perf_counter()
        groups = strategy(history, r)
        figures.seconds.append(time.perf_counter() - started)
        placed = [m for g in groups for m in g]
        figures.left_out += len(by_id) - len(set(placed))
        for g in groups:
            for i, a in enumerate(g):
                for b in g[i + 1 :]:
                    figures.repeats += history.last(a, b) is not None
                    pa, pb = by_id[a], by_id[b]
                    figures.manager_pairs += pa.manager_id == b or pb.manager_id == a
                    figures.unit_clashes += pa.unit == pb.unit
        history.record(groups, r)
    return figures


def main() -> int:
    """Run both strategies and print the figures and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaders", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=52)
    parser.add_argument("--size", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    people = leaders(args.leaders, args.seed)
    rules = MixingRules(mix_units=True, same_language=False, avoid_manager=True)

    def ours(history: PairHistory, r: int) -> list[tuple[int, ...]]:
        return list(match(people, history, rules, args.size, args.seed, r).groups)

    def baseline(history: PairHistory, r: int) -> list[tuple[int, ...]]:
        return shuffle_baseline(people, args.size, args.seed, r)

    print(
        f"{args.leaders} leaders, groups of {args.size}, {args.rounds} rounds, "
        f"{len({p.unit for p in people})} units, manager tree of {REPORTS_PER_MANAGER} reports"
    )
    print(
        f"{'strategy':<16}{'mean s':>9}{'max s':>9}{'repeats':>9}"
        f"{'mgr-rep':>9}{'left out':>10}{'unit pairs':>12}"
    )
    results = [run("tenkepause", people, args.rounds, ours)]
    results.append(run("random shuffle", people, args.rounds, baseline))
    for f in results:
        print(
            f"{f.name:<16}{statistics.mean(f.seconds):>9.3f}{max(f.seconds):>9.3f}"
            f"{f.repeats:>9}{f.manager_pairs:>9}{f.left_out:>10}{f.unit_clashes:>12}"
        )
    ours_f, base_f = results
    checks = [
        ("max time per round < 1 s", max(ours_f.seconds) < TARGET_SECONDS),
        ("repeated pairs == 0", ours_f.repeats == 0),
        ("manager-report pairs == 0", ours_f.manager_pairs == 0),
        ("people left out == 0", ours_f.left_out == 0),
    ]
    print(f"baseline repeats / ours: {base_f.repeats} / {ours_f.repeats}")
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
