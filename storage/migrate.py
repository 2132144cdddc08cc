"""Run Alembic programmatically, and refuse to serve an out-of-date schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutOfDate(RuntimeError):
    """The database is not at the newest migration."""


def alembic_config(url: str) -> Config:
    """Build the Alembic configuration for a database URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` up to `revision` (blocking; call from a thread in async code)."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """Return the newest migration's revision id."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the revision the database is at, or None for an empty one."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


async def require_current_schema(engine: AsyncEngine) -> None:
    """Raise SchemaOutOfDate, naming the command to run, unless the schema is at head."""
    current, head = await current_revision(engine), head_revision()
    if current != head:
        found = current or "an empty database"
        raise SchemaOutOfDate(
            f"the database schema is at {found}, but this version needs {head}; "
            "run `tenkepause db upgrade`"
        )
