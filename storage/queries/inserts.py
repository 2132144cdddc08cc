"""INSERT … ON CONFLICT DO NOTHING on either backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Base


def insert_ignoring_conflicts(session: AsyncSession, model: type[Base]) -> Insert:
    """Return an INSERT for `model` that skips rows violating a unique constraint."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(model).on_conflict_do_nothing()
    raise NotImplementedError(f"no conflict-ignoring insert for {dialect}")


async def insert_once(session: AsyncSession, model: type[Base], values: dict[str, Any]) -> bool:
    """Insert one row unless it conflicts; return whether it was inserted."""
    result = await session.execute(insert_ignoring_conflicts(session, model).values(**values))
    return bool(getattr(result, "rowcount", 0))


async def insert_many_once(
    session: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]]
) -> int:
    """Insert rows, skipping conflicting ones; return how many were inserted."""
    if not rows:
        return 0
    result = await session.execute(insert_ignoring_conflicts(session, model), list(rows))
    return int(getattr(result, "rowcount", 0) or 0)
