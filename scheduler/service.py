"""The in-process scheduler: contend for leadership, and tick while leading.

APScheduler only keeps time here (in-memory job store); the schedules live in our tables.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from bot.runtime import Runtime
from scheduler.leadership import Leadership
from scheduler.tick import tick
from scheduler.tick_memo import TickMemo
from scheduler.timing import TickOptions

log = logging.getLogger(__name__)

TICK_JOB = "tick"
LEADERSHIP_JOB = "leadership"


async def run_tick_if_leader(
    runtime: Runtime, leadership: Leadership, options: TickOptions, memo: TickMemo | None = None
) -> None:
    """Tick once, if this instance leads; a failed tick is logged and retried next time."""
    memo = memo if memo is not None else TickMemo()
    if not leadership.is_leader:
        memo.forget()  # another instance ticks now; what it did is not in this memo
        return
    try:
        report = await tick(runtime.sessions, runtime.clock, options, memo)
    except asyncio.CancelledError:
        # Shutdown cancels a tick in progress; its transaction rolled back, and the next
        # leader repeats it. Ending quietly keeps a normal stop from logging an error.
        memo.forget()
        log.info("tick interrupted by shutdown")
        return
    except Exception:
        memo.forget()
        log.exception("tick failed")
        return
    log.debug("tick", extra={"tick": report.as_dict()})


async def start_scheduler(
    runtime: Runtime,
    *,
    leadership: Leadership | None = None,
    options: TickOptions | None = None,
) -> AsyncIOScheduler:
    """Start contending for leadership and ticking; return the running scheduler."""
    settings = runtime.settings
    leadership = leadership or Leadership(
        runtime.engine, runtime.instance, lease_seconds=settings.lease_seconds
    )
    options = options or TickOptions.from_settings(settings)
    if options.secret is None and (settings.secret_key is not None or settings.demo_mode):
        # Closing anonymous rounds maps their slots with the app's key.
        options = replace(options, secret=runtime.secret)
    await leadership.try_acquire()
    scheduler = AsyncIOScheduler()
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    scheduler.add_job(
        leadership.try_acquire,
        IntervalTrigger(seconds=leadership.retry_seconds),
        id=LEADERSHIP_JOB,
        **common,
    )
    scheduler.add_job(
        run_tick_if_leader,
        IntervalTrigger(seconds=settings.tick_seconds),
        id=TICK_JOB,
        args=[runtime, leadership, options, TickMemo()],
        **common,
    )
    scheduler.start()
    return scheduler


async def stop_scheduler(scheduler: AsyncIOScheduler) -> None:
    """Stop the jobs and hand leadership over at once."""
    job = scheduler.get_job(TICK_JOB)
    scheduler.shutdown(wait=False)
    if job is not None:
        leadership = job.args[1]
        assert isinstance(leadership, Leadership)
        await leadership.release()
