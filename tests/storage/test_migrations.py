"""The schema is made by migrations only, and they match the models."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import make_engine
from storage.migrate import SchemaOutOfDate, head_revision, require_current_schema, upgrade
from storage.models import Base


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_diff)
    assert differences == []


async def test_upgrade_twice_changes_nothing(db_url: str, engine: AsyncEngine) -> None:
    await asyncio.to_thread(upgrade, db_url)
    await require_current_schema(engine)
    async with engine.connect() as connection:
        version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    assert version == [(head_revision(),)]


async def test_app_refuses_empty_schema_and_names_the_command(tmp_path: object) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    try:
        with pytest.raises(SchemaOutOfDate, match="tenkepause db upgrade"):
            await require_current_schema(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
        foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
    assert (journal, foreign_keys) == ("wal", 1)
