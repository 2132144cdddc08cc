"""Pulse work for the tick: close rounds that are due, summarise them, and remind.

Call `run_pulse_jobs` before `scheduler.rounds.run_pulse_rounds` in a tick, so that rounds
are closed here through `close_round` (which also rewrites the anonymous rows in random
order) rather than by the plain status update there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.pulse_closing import close_due_rounds, queue_coach_summaries, recently_closed
from scheduler.rounds import create_pulse_reminders
from scheduler.timing import TickOptions


@dataclass(frozen=True)
class PulseJobReport:
    """What one run of the pulse jobs did."""

    closed: int = 0
    summaries: int = 0
    reminders: int = 0


async def run_pulse_jobs(
    session: AsyncSession, now: datetime, options: TickOptions | None = None
) -> PulseJobReport:
    """Close due rounds, queue coach summaries of recently closed ones, and queue reminders.

    Idempotent: every row it queues has a unique key (`pulseresults:{round}:coach:{coach}`,
    `pulserem:{pulse delivery}`), so running it twice, or beside the tick, adds nothing.
    """
    options = options or TickOptions()
    closed = await close_due_rounds(session, now, secret=options.secret)
    summaries = await queue_coach_summaries(session, await recently_closed(session, now), now)
    reminders = await create_pulse_reminders(session, now, options)
    return PulseJobReport(len(closed), summaries, reminders)
