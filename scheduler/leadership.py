"""Leadership: exactly one instance ticks.

PostgreSQL: a session-level advisory lock held on a dedicated connection. When the leader
dies its connection closes and the server frees the lock, so a standby retrying every
lease/3 seconds takes over within the lease. The holder is also written to
`scheduler_leases` so that /healthz can show it.

SQLite (one instance): a row in `scheduler_leases` with an expiry, renewed every lease/3.
"""

from __future__ import annotations

import logging
import zlib
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.clock import Clock, SystemClock
from storage.models import SchedulerLease

log = logging.getLogger(__name__)

LEASE_NAME = "tick"
CONNECTION_ERRORS = (DBAPIError, InterfaceError, OperationalError, OSError, ConnectionError)


def advisory_key(name: str) -> int:
    """Return the advisory-lock key of a lease name (stable across processes)."""
    return zlib.crc32(f"tenkepause:scheduler:{name}".encode())


class Leadership:
    """Win, keep and give up the right to tick."""

    def __init__(
        self,
        engine: AsyncEngine,
        holder: str,
        *,
        lease_seconds: float = 30.0,
        clock: Clock | None = None,
        name: str = LEASE_NAME,
    ) -> None:
        """Prepare to contend for the lease `name` as `holder`."""
        self._engine = engine
        self.holder = holder
        self.lease = timedelta(seconds=lease_seconds)
        self._clock = clock or SystemClock()
        self.name = name
        self._postgres = engine.dialect.name == "postgresql"
        self._connection: AsyncConnection | None = None
        self._leader = False
        self._expires_at: datetime | None = None

    @property
    def retry_seconds(self) -> float:
        """Return how often to call `try_acquire`: a third of the lease."""
        return self.lease.total_seconds() / 3

    @property
    def is_leader(self) -> bool:
        """Tell whether this instance may tick now."""
        if not self._leader:
            return False
        if self._postgres:
            return True
        return self._expires_at is not None and self._clock.now() < self._expires_at

    async def try_acquire(self) -> bool:
        """Take or renew leadership; return whether this instance leads."""
        was_leader = self._leader
        try:
            if self._postgres:
                self._leader = await self._hold_advisory_lock()
            else:
                self._leader = await self._take_lease_row()
        except CONNECTION_ERRORS:
            log.warning("leadership check failed", exc_info=True)
            await self._drop_connection()
            self._leader = False
        if self._leader != was_leader:
            log.info(
                "leadership changed",
                extra={"holder": self.holder, "leader": self._leader, "lease": self.name},
            )
        return self._leader

    async def release(self) -> None:
        """Give up leadership so that a standby takes over at once."""
        self._leader = False
        await self._drop_connection()
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    delete(SchedulerLease).where(
                        SchedulerLease.name == self.name, SchedulerLease.holder == self.holder
                    )
                )
        except CONNECTION_ERRORS:
            log.warning("could not clear the lease row", exc_info=True)

    async def _hold_advisory_lock(self) -> bool:
        if self._connection is not None:
            try:
                await self._connection.execute(text("SELECT 1"))
            except CONNECTION_ERRORS:
                await self._drop_connection()
        if self._connection is None:
            connection = await self._engine.connect()
            # Autocommit: a session-level lock needs no transaction, and none is left open.
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(self.name)}
            )
            if not got:
                await connection.close()
                return False
            self._connection = connection
        await self._write_holder()
        return True

    async def _write_holder(self) -> None:
        now = self._clock.now()
        self._expires_at = now + self.lease
        values = {"name": self.name, "holder": self.holder, "expires_at": self._expires_at}
        upsert = postgresql.insert(SchedulerLease).values(**values)
        upsert = upsert.on_conflict_do_update(
            index_elements=[SchedulerLease.name],
            set_={"holder": upsert.excluded.holder, "expires_at": upsert.excluded.expires_at},
        )
        async with self._engine.begin() as connection:
            await connection.execute(upsert)

    async def _take_lease_row(self) -> bool:
        now = self._clock.now()
        expires_at = now + self.lease
        async with self._engine.begin() as connection:
            renewed = await connection.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == self.name,
                    or_(SchedulerLease.holder == self.holder, SchedulerLease.expires_at <= now),
                )
                .values(holder=self.holder, expires_at=expires_at)
            )
            won = bool(renewed.rowcount)
            if not won:
                inserted = await connection.execute(
                    sqlite.insert(SchedulerLease)
                    .values(name=self.name, holder=self.holder, expires_at=expires_at)
                    .on_conflict_do_nothing()
                )
                won = bool(inserted.rowcount)
        self._expires_at = expires_at if won else None
        return won

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            # Closing the DBAPI connection for real (not back to the pool) frees the lock.
            await connection.invalidate()
            await connection.close()
        except CONNECTION_ERRORS:
            log.debug("closing the leadership connection failed", exc_info=True)
