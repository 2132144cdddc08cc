"""Open the configured database for the app and the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.settings import Settings
from storage.engine import make_engine, make_sessionmaker
from storage.migrate import require_current_schema


@asynccontextmanager
async def open_database(
    settings: Settings, *, check_schema: bool = True
) -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    """Yield an engine and session factory; refuse an out-of-date schema."""
    engine = make_engine(settings.database_url)
    try:
        if check_schema:
            await require_current_schema(engine)
        yield engine, make_sessionmaker(engine)
    finally:
        await engine.dispose()
