"""What the roster tests share: the example file and a picture of the tables an import writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.engine import make_engine
from storage.models import Base

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roster.csv"
TABLES = (
    "people",
    "identities",
    "cohorts",
    "peer_groups",
    "cohort_memberships",
    "group_memberships",
)


async def contents(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
    """Return every row (every column) of the tables a roster import writes."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    for name in TABLES:
        table = Base.metadata.tables[name]
        rows = await session.execute(select(table).order_by(table.c.id))
        found[name] = [tuple(row) for row in rows]
    return found


async def contents_at(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Open `url` and return `contents` of it."""
    engine = make_engine(url)
    try:
        async with async_sessionmaker(engine)() as session:
            return await contents(session)
    finally:
        await engine.dispose()
