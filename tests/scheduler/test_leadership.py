"""Only one instance ticks; a standby takes over within the lease when the leader dies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.runtime import Runtime
from bot.settings import Settings
from scheduler.leadership import Leadership
from scheduler.service import LEADERSHIP_JOB, TICK_JOB, start_scheduler, stop_scheduler
from scheduler.tick import tick
from scheduler.timing import TickOptions
from storage.engine import make_engine, make_sessionmaker
from storage.models import SchedulerLease
from tests.scheduler.campaign_seed import add_campaign, add_cohort, add_person, deliveries

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2.0

# The leader: win leadership, tick once well before the firing, say so, then hold on.
LEADER_SCRIPT = """
import asyncio, sys
from datetime import datetime, timedelta
from bot.clock import FrozenClock
from scheduler.leadership import Leadership
from scheduler.tick import tick
from scheduler.timing import TickOptions
from storage.engine import make_engine, make_sessionmaker

async def main() -> None:
    engine = make_engine(sys.argv[1])
    leadership = Leadership(engine, "first", lease_seconds=float(sys.argv[2]))
    if not await leadership.try_acquire():
        print("STANDBY", flush=True)
        return
    clock = FrozenClock(datetime.fromisoformat(sys.argv[3]))
    options = TickOptions(look_ahead=timedelta(minutes=1))
    report = await tick(make_sessionmaker(engine), clock, options)
    print("LEADER", report.deliveries, flush=True)
    while True:
        await asyncio.sleep(leadership.retry_seconds)
        await leadership.try_acquire()

asyncio.run(main())
"""


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def holder(sessions: async_sessionmaker[AsyncSession]) -> str | None:
    async with sessions() as session:
        return await session.scalar(select(SchedulerLease.holder))


async def test_a_second_contender_waits_until_the_leader_releases(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = Leadership(engine, "first", lease_seconds=LEASE_SECONDS)
    second = Leadership(engine, "second", lease_seconds=LEASE_SECONDS)
    assert await first.try_acquire()
    assert first.is_leader
    assert await holder(sessions) == "first"
    assert not await second.try_acquire()
    assert not second.is_leader
    assert await first.try_acquire()  # renewing keeps it
    await first.release()
    assert not first.is_leader
    assert await second.try_acquire()
    assert await holder(sessions) == "second"
    await second.release()


async def test_an_sqlite_lease_lapses_when_not_renewed(backend: str, engine: AsyncEngine) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL leadership is the advisory lock, not the lease row")
    clock = FrozenClock(utc(2027, 3, 22, 8))
    first = Leadership(engine, "first", lease_seconds=30, clock=clock)
    second = Leadership(engine, "second", lease_seconds=30, clock=clock)
    assert await first.try_acquire()
    clock.advance(seconds=20)
    assert not await second.try_acquire()
    assert await first.try_acquire()  # renewed at +20 s: now good until +50 s
    clock.advance(seconds=29)
    assert first.is_leader
    assert not await second.try_acquire()
    clock.advance(seconds=2)  # +51 s: the first instance stopped renewing
    assert not first.is_leader
    assert await second.try_acquire()
    assert not await first.try_acquire()


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """Return the next line the process prints, failing after `timeout` seconds."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    os.set_blocking(process.stdout.fileno(), False)
    buffer = ""
    while time.monotonic() < deadline:
        chunk = process.stdout.readline()
        buffer += chunk
        if buffer.endswith("\n"):
            return buffer.strip()
        if process.poll() is not None and not chunk:
            break
        time.sleep(0.05)
    stderr = process.stderr.read() if process.stderr else ""
    raise AssertionError(f"no line from the leader within {timeout}s: {buffer!r} {stderr}")


async def test_a_standby_takes_over_within_the_lease_after_sigkill_and_misses_nothing(
    backend: str, db_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    if backend != "postgres":
        pytest.skip("several instances need PostgreSQL")
    async with sessions() as session, session.begin():
        kari = await add_person(session, "kari", "Europe/Oslo")
        cohort = await add_cohort(session, "leaders-1", [kari])
        await add_campaign(session, cohort, start=date(2027, 3, 1), skip_holidays=False)
    firing = utc(2027, 3, 22, 7, 30)  # Monday 08:30 Oslo
    options = TickOptions(look_ahead=timedelta(minutes=1))
    leader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            LEADER_SCRIPT,
            db_url,
            str(LEASE_SECONDS),
            (firing - timedelta(minutes=10)).isoformat(),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The leader ticked ten minutes before the firing: nothing was due yet.
        assert read_line(leader, timeout=30) == "LEADER 0"
        standby = Leadership(engine, "second", lease_seconds=LEASE_SECONDS)
        assert not await standby.try_acquire()
        leader.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        leader.wait(timeout=10)
        took_over = False
        while time.monotonic() - killed_at < LEASE_SECONDS:
            if await standby.try_acquire():
                took_over = True
                break
            await asyncio.sleep(0.1)
        waited = time.monotonic() - killed_at
        print(f"standby took over {waited:.2f} s after SIGKILL (lease {LEASE_SECONDS} s)")
        assert took_over, f"no takeover within the {LEASE_SECONDS} s lease"
        assert await holder(sessions) == "second"
        # The new leader ticks after the firing (and within its lateness): it is created.
        report = await tick(sessions, FrozenClock(firing + timedelta(minutes=5)), options)
        assert report.deliveries == 1
        rows = await deliveries(sessions, kind="prompt")
        assert [(r.person_id, r.due_at, r.status) for r in rows] == [(kari.id, firing, "pending")]
        await standby.release()
    finally:
        if leader.poll() is None:
            leader.kill()
            leader.wait(timeout=10)


async def test_the_service_contends_and_ticks_only_while_leading(db_url: str) -> None:
    settings = Settings(database_url=db_url, lease_seconds=LEASE_SECONDS, tick_seconds=3600)
    engine = make_engine(db_url)
    clock = FrozenClock(utc(2027, 3, 21, 12))
    runtime = Runtime(settings, engine, make_sessionmaker(engine), clock=clock, instance="one")
    async with runtime.sessions() as session, session.begin():
        kari = await add_person(session, "kari")
        cohort = await add_cohort(session, "leaders-1", [kari])
        await add_campaign(session, cohort, start=date(2027, 3, 1))
    rival = Leadership(engine, "rival", lease_seconds=LEASE_SECONDS)
    assert await rival.try_acquire()
    scheduler = await start_scheduler(runtime)
    try:
        assert {job.id for job in scheduler.get_jobs()} == {TICK_JOB, LEADERSHIP_JOB}
        job = scheduler.get_job(TICK_JOB)
        ours = job.args[1]
        assert not ours.is_leader
        await job.func(*job.args)  # a standby's tick does nothing
        assert await deliveries(runtime.sessions) == []
        await rival.release()
        assert await ours.try_acquire()
        await job.func(*job.args)
        assert len(await deliveries(runtime.sessions)) == 1
    finally:
        await stop_scheduler(scheduler)
        await engine.dispose()
    assert not ours.is_leader
