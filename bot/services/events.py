"""Inbound deduplication: each platform event id is handled once, across instances."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedEvent
from storage.queries.inserts import insert_once


async def first_time(session: AsyncSession, platform: str, event_id: str) -> bool:
    """Record an event id in this transaction; return False if it was recorded before."""
    return await insert_once(
        session, ProcessedEvent, {"platform": platform, "event_id": event_id[:200]}
    )
