"""Which instances are alive: each one beats a row in `scheduler_leases` every few seconds.

A restarted process has a new name (host:pid), so it cannot recognise the claims its dead
predecessor left. Instead, any instance returns the claims of an instance whose heartbeat
has lapsed; the claim timeout stays as a last resort for an instance that beats but hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, not_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from scheduler.leadership import CONNECTION_ERRORS
from storage.models import Delivery, SchedulerLease

log = logging.getLogger(__name__)

PREFIX = "alive:"
MISSED_BEATS = 3  # an instance silent this many beats is taken for dead


def lease_name(instance: str) -> str:
    """Return the lease row name of an instance (names are longer than the key allows)."""
    return PREFIX + hashlib.blake2b(instance.encode(), digest_size=8).hexdigest()


class Heartbeat:
    """Keep this instance's row alive, and find claims held by instances that are not."""

    def __init__(
        self, engine: AsyncEngine, instance: str, clock: Clock, *, seconds: float = 3.0
    ) -> None:
        """Beat as `instance` every `seconds`."""
        self._engine = engine
        self.instance = instance
        self._clock = clock
        self.seconds = seconds
        self.ttl = timedelta(seconds=seconds * MISSED_BEATS)

    async def beat(self) -> None:
        """Write that this instance is alive until three beats from now."""
        values = {
            "name": lease_name(self.instance),
            "holder": self.instance,
            "expires_at": self._clock.now() + self.ttl,
        }
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        upsert: Any = dialect.insert(SchedulerLease).values(**values)
        upsert = upsert.on_conflict_do_update(
            index_elements=[SchedulerLease.name],
            set_={"holder": values["holder"], "expires_at": values["expires_at"]},
        )
        async with self._engine.begin() as connection:
            await connection.execute(upsert)

    async def run(self, stop: asyncio.Event) -> None:
        """Beat until `stop` is set, then remove the row so others need not wait it out."""
        while not stop.is_set():
            try:
                await self.beat()
            except CONNECTION_ERRORS:
                log.warning("heartbeat failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.seconds)
        await self.forget()

    async def forget(self) -> None:
        """Delete this instance's row (a graceful stop)."""
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    delete(SchedulerLease).where(SchedulerLease.name == lease_name(self.instance))
                )
        except CONNECTION_ERRORS:
            log.warning("could not remove the heartbeat row", exc_info=True)


def release_orphaned_claims(now: datetime, grace: timedelta, me: str) -> Any:
    """Return an UPDATE that puts back claims whose instance has no live heartbeat.

    `grace` spares claims younger than a heartbeat's lifetime, so an instance that claims
    in the same moment it first beats is never robbed; `me` is never robbed at all: this
    process is alive, even if a busy database kept its heartbeat from being written.
    """
    alive = select(SchedulerLease.holder).where(
        SchedulerLease.name.like(f"{PREFIX}%"), SchedulerLease.expires_at > now
    )
    return (
        update(Delivery)
        .where(
            Delivery.status == "claimed",
            Delivery.claimed_at < now - grace,
            Delivery.claimed_by != me,
            not_(Delivery.claimed_by.in_(alive)),
        )
        .values(status="pending", claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
