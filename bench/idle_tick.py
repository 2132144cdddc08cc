"""Benchmark the idle tick: what a tick costs when nothing new has come due.

It builds a database through the real CLI (the soak's roster of --people and a programme
whose campaigns and pulses fire over the next half hour), runs one tick that materialises
everything in the look-ahead window, then times --ticks further ticks 5 s apart on the
injected clock. Every one of those finds nothing to do. Judged by: the mean idle tick
under 0.2 s for 2,000 people (the scale issue sets the 14,000 target).

Run: .venv/bin/python bench/idle_tick.py [--people 2000] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import soak_world as world
from bench.soak import cli, database
from bot.clock import FrozenClock
from scheduler.tick import TickMemo, tick
from scheduler.timing import TickOptions
from storage.engine import make_engine, make_sessionmaker

TARGET_SECONDS = 0.2


async def measure(args: argparse.Namespace) -> list[float]:
    """Return the seconds of each idle tick."""
    leaders = world.make_leaders(args.people, responders=0.0, seed=7)
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    with tempfile.TemporaryDirectory(prefix="tenkepause-idle-") as name:
        folder = Path(name)
        async with database(args.backend, folder, args.postgres_url) as url:
            environment = {**os.environ, "TENKEPAUSE_DATABASE_URL": url}
            (folder / "roster.csv").write_text(world.roster_csv(leaders))
            programme = world.programme_yaml(world.cohorts_of(leaders), start, 30, 3, 5)
            (folder / "programme.yaml").write_text(programme)
            cli(environment, "db", "upgrade")
            cli(environment, "roster", "import", str(folder / "roster.csv"), "--create-cohorts")
            cli(environment, "programme", "apply", str(folder / "programme.yaml"))
            engine = make_engine(url)
            sessions = make_sessionmaker(engine)
            clock = FrozenClock(start)
            options = TickOptions(quiet_hours=None)
            memo = TickMemo()
            first = time.perf_counter()
            report = await tick(sessions, clock, options, memo)
            print(
                f"first tick: {time.perf_counter() - first:.2f} s, "
                f"{report.deliveries} prompts and {report.pulse_deliveries} pulses owed"
            )
            seconds = []
            for _ in range(args.ticks):
                clock.advance(seconds=5)
                began = time.perf_counter()
                idle = await tick(sessions, clock, options, memo)
                seconds.append(time.perf_counter() - began)
                assert idle.deliveries == idle.pulse_deliveries == 0, idle.as_dict()
            await engine.dispose()
    return seconds


def main() -> int:
    """Print the idle tick's figures and whether they meet the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--ticks", type=int, default=10)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("TENKEPAUSE_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    seconds = asyncio.run(measure(args))
    mean, worst = statistics.mean(seconds), max(seconds)
    target = TARGET_SECONDS
    ok = mean < target
    print(
        f"idle tick, {args.people} people on {args.backend}: mean {mean:.3f} s, "
        f"max {worst:.3f} s (target mean < {target:.2f} s) {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
