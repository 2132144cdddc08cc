"""Link platform accounts to roster people and find who is talking to us."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Identity, Person


async def find_identity(session: AsyncSession, platform: str, external_id: str) -> Identity | None:
    """Return the identity for a platform account, with its person loaded."""
    return await session.scalar(
        select(Identity).where(Identity.platform == platform, Identity.external_id == external_id)
    )


async def link_identity(
    session: AsyncSession,
    platform: str,
    external_id: str,
    *,
    email: str | None = None,
    address: dict[str, Any] | None = None,
    status: str = "active",
) -> Identity | None:
    """Link a platform account to the roster person with this email (or Slack id).

    Returns None when nobody in the roster matches. An existing link is refreshed.
    """
    existing = await find_identity(session, platform, external_id)
    if existing is not None:
        if address:
            existing.address = {**existing.address, **address}
        return existing
    person = None
    if email:
        person = await session.scalar(
            select(Person).where(func.lower(Person.email) == email.strip().lower())
        )
    if person is None and platform == "slack":
        person = await session.scalar(select(Person).where(Person.slack_id == external_id))
    if person is None:
        return None
    old = await session.scalar(
        select(Identity).where(Identity.person_id == person.id, Identity.platform == platform)
    )
    if old is not None:
        # The person re-linked from another account: move the link rather than keep two.
        old.external_id, old.address, old.status, old.status_reason = (
            external_id,
            address or {},
            status,
            None,
        )
        return old
    identity = Identity(
        person_id=person.id,
        platform=platform,
        external_id=external_id,
        address=address or {},
        status=status,
    )
    session.add(identity)
    await session.flush()
    return identity
