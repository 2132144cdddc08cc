"""Overwrite the bytes of erased rows, so a copy of the database files cannot bring them back.

Deleting a row leaves its bytes behind: on SQLite in free pages and in the `-wal` file, on
PostgreSQL as dead tuples. Closing an anonymous pulse round erases the slots that linked
answers to people, so afterwards `overwrite_erased` is run outside any transaction:

- SQLite: `secure_delete` (set on every connection, see `storage.engine`) zeroes deleted
  content in the pages; a `wal_checkpoint(TRUNCATE)` then writes those pages into the main
  file and truncates the `-wal` to zero bytes, so older page versions are gone too.
- PostgreSQL: `VACUUM FULL` rewrites the table and its indexes into new files. A plain
  `VACUUM` is not enough: it frees the dead tuples' space but leaves their bytes in the
  pages until something overwrites them. The rewrite holds an exclusive lock on the table
  for its (short) duration; answers wait for it. See docs/privacy.md for what stays in
  older backups and WAL archives.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.engine import is_sqlite

log = logging.getLogger(__name__)

CHECKPOINT_ATTEMPTS = 20
CHECKPOINT_PAUSE = 0.05  # seconds between attempts while a reader holds the WAL


async def overwrite_erased(engine: AsyncEngine, table: str) -> bool:
    """Make erased rows of `table` unrecoverable from the files; True when it fully worked."""
    if is_sqlite(engine.url.render_as_string()):
        return await _checkpoint_sqlite(engine)
    if not table.isidentifier():
        raise ValueError(f"not a table name: {table!r}")
    async with engine.connect() as connection:
        # VACUUM cannot run inside a transaction block.
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        quiet = await _older_transactions_done(autocommit)
        await autocommit.exec_driver_sql(f"VACUUM FULL {table}")
    if not quiet:
        log.warning("a transaction older than the erasure was still open: bytes may remain")
    return quiet


async def _older_transactions_done(connection: AsyncConnection) -> bool:
    """Wait for transactions begun before now to end; True unless that timed out.

    VACUUM FULL copies a deleted row that some open snapshot could still see, so the
    erased rows would move into the new files instead of disappearing.
    """
    started = await connection.scalar(text("SELECT clock_timestamp()"))
    for _attempt in range(CHECKPOINT_ATTEMPTS * 10):
        older = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL) "
                "AND xact_start < :started"
            ),
            {"started": started},
        )
        if not older:
            return True
        await asyncio.sleep(CHECKPOINT_PAUSE)
    return False


async def _checkpoint_sqlite(engine: AsyncEngine) -> bool:
    for _attempt in range(CHECKPOINT_ATTEMPTS):
        async with engine.connect() as connection:
            result = await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = result.scalar()
            await connection.rollback()
        if not busy:
            return True
        await asyncio.sleep(CHECKPOINT_PAUSE)
    log.warning("the WAL could not be truncated: a reader kept it busy")
    return False
