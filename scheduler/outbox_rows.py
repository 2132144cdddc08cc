"""New outbox rows: their columns, why one is skipped, and an insert that never duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Delivery, Person
from storage.queries.inserts import insert_ignoring_conflicts

# Keeps each statement under the bound-parameter limits of SQLite and asyncpg.
INSERT_CHUNK = 500


def skip_reason(person: Person, local_day: date, *, attention_counts: bool = True) -> str | None:
    """Return why a person gets nothing on `local_day` (left, paused, attention), or None."""
    if person.deactivated_at is not None:
        return "left"
    if person.paused_until is not None and person.paused_until >= local_day:
        return "paused"
    if attention_counts and person.needs_attention_since is not None:
        return "attention"
    return None


def outbox_row(
    *,
    key: str,
    kind: str,
    person_id: int | None,
    due_at: datetime,
    expires_at: datetime | None,
    status: str = "pending",
    payload: dict[str, Any] | None = None,
    **links: int | None,
) -> dict[str, Any]:
    """Return the column values of one new outbox row; `links` are the *_id columns."""
    row: dict[str, Any] = {
        "key": key,
        "kind": kind,
        "person_id": person_id,
        "group_id": None,
        "occurrence_id": None,
        "pulse_round_id": None,
        "match_id": None,
        "parent_id": None,
        "prompt_id": None,
        "payload": payload or {},
        "status": status,
        "due_at": due_at,
        "expires_at": expires_at,
        "next_attempt_at": due_at,
        "attempts": 0,
    }
    row.update(links)
    return row


async def insert_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Insert outbox rows unless their key exists; return the statuses of those inserted."""
    statuses: list[str] = []
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = list(rows[start : start + INSERT_CHUNK])
        insert = insert_ignoring_conflicts(session, Delivery).values(chunk)
        result = await session.execute(insert.returning(Delivery.status))
        statuses.extend(result.scalars())
    return statuses
