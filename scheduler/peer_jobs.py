"""Peer work for the tick: match the rounds that are due, then introduce and follow up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.peer_rounds import queue_introductions
from bot.services.peers import match_round
from scheduler.rounds import due_peer_rounds
from scheduler.timing import TickOptions


@dataclass(frozen=True)
class PeerJobReport:
    """What one run of the peer jobs did."""

    matched_rounds: int = 0
    matches: int = 0
    intros: int = 0
    checks: int = 0


async def run_peer_jobs(
    session: AsyncSession, now: datetime, options: TickOptions | None = None
) -> PeerJobReport:
    """Match every peer round whose start has passed, and queue its intros and checks.

    A matched round leaves the "scheduled" state, so a second run matches nothing again;
    intros and checks have unique keys, so they are queued once.
    """
    options = options or TickOptions()
    rounds = matches = intros = checks = 0
    for peer_round in await due_peer_rounds(session, now, options):
        matching = await match_round(session, peer_round.id, now=now)
        queued = await queue_introductions(session, matching, now, options.quiet_hours)
        rounds += 1
        matches += len(matching.matches)
        intros += queued.intros
        checks += queued.checks
    return PeerJobReport(rounds, matches, intros, checks)
