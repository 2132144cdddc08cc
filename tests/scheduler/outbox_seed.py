"""Fill the outbox in bulk: people, one identity each, one pending delivery each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import Delivery, Identity, Person


async def seed_outbox(
    engine: AsyncEngine,
    count: int,
    due: datetime,
    platform: str = "telegram",
    prefix: str = "p",
    expires_at: datetime | None = None,
) -> list[int]:
    """Create `count` reachable people with one due delivery each; return the delivery ids.

    Person n has chat ``{prefix}{n}`` and a delivery keyed ``{prefix}:{n}``.
    """
    async with engine.begin() as connection:
        await connection.execute(
            insert(Person),
            [{"email": f"{prefix}{n}@kommune.example", "name": f"Leder {n}"} for n in range(count)],
        )
        ids = dict(
            (
                await connection.execute(
                    select(Person.email, Person.id).where(
                        Person.email.like(f"{prefix}%@kommune.example")
                    )
                )
            ).all()
        )
        person = [ids[f"{prefix}{n}@kommune.example"] for n in range(count)]
        await connection.execute(
            insert(Identity),
            [
                {
                    "person_id": person[n],
                    "platform": platform,
                    "external_id": f"{prefix}{n}",
                    "address": {"chat": f"{prefix}{n}"},
                }
                for n in range(count)
            ],
        )
        rows: list[dict[str, Any]] = [
            {
                "key": f"{prefix}:{n}",
                "kind": "prompt",
                "person_id": person[n],
                "payload": {},
                "due_at": due,
                "next_attempt_at": due,
                "expires_at": expires_at,
            }
            for n in range(count)
        ]
        await connection.execute(insert(Delivery), rows)
        result = await connection.execute(
            select(Delivery.id).where(Delivery.key.like(f"{prefix}:%")).order_by(Delivery.id)
        )
        return list(result.scalars())
