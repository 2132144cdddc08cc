"""Overwrite the bytes of erased rows, so a copy of the database files cannot bring them back.

Deleting a row leaves its bytes behind: on SQLite in free pages and in the `-wal` file, on
PostgreSQL as dead tuples. Closing an anonymous pulse round erases the slots that linked
answers to people, so afterwards `overwrite_erased` is run outside any transaction:

- SQLite: `secure_delete` (set on every connection, see `storage.engine`) zeroes deleted
  content in the pages; a `wal_checkpoint(TRUNCATE)` then writes those pages into the main
  file and truncates the `-wal` to zero bytes, so older page versions are gone too.
- PostgreSQL: `VACUUM` removes the table's dead tuples, so they can no longer be read back
  through the database; see docs/privacy.md for what stays in older backups and WAL archives.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

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
        await autocommit.exec_driver_sql(f"VACUUM {table}")
    return True


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
