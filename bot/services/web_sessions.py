"""Server-side sessions of the dashboard and the web chat: start, check, renew, revoke.

A browser holds a random token (inside a signed cookie); the database holds only its
hash, the person, and when the session expires. Deleting the row signs the browser out
at its next request, which is how logout and removal from the roster take effect at
once. A session of a person who is deactivated, or no longer exists, is never accepted.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Person, WebSession

# Sliding sessions write their new expiry at most this often, not on every poll.
RENEW_EVERY = timedelta(minutes=10)


class SessionKind(StrEnum):
    """What a session signs in to."""

    DASHBOARD = "dashboard"
    WEBCHAT = "webchat"


@dataclass(frozen=True)
class FoundSession:
    """A live session: whose it is, until when, and whether this request renewed it."""

    person: Person
    expires_at: datetime
    renewed: bool


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_active(person: Person | None) -> bool:
    """Tell whether a person may be signed in at all (present and not deactivated)."""
    return person is not None and person.deactivated_at is None


async def start_session(
    session: AsyncSession, person: Person, kind: SessionKind, now: datetime, lifetime: timedelta
) -> str:
    """Store a new session for `person` and return its token (shown once, stored hashed)."""
    await session.execute(
        delete(WebSession).where(WebSession.person_id == person.id, WebSession.expires_at <= now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_hash(token),
            person_id=person.id,
            kind=kind.value,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return token


async def find_session(
    session: AsyncSession,
    token: str,
    kind: SessionKind,
    now: datetime,
    *,
    idle: timedelta | None = None,
) -> FoundSession | None:
    """Return the live session of a token, or None if it is unknown, expired or revoked.

    With `idle`, the session slides: using it pushes its expiry to `now + idle`. The caller
    commits the renewal.
    """
    row = await session.scalar(
        select(WebSession).where(WebSession.token_hash == _hash(token), WebSession.kind == kind)
    )
    if row is None or row.expires_at <= now or now < row.created_at - timedelta(minutes=5):
        return None
    person = await session.get(Person, row.person_id)
    if person is None or not is_active(person):
        return None
    if idle is None or now - row.last_seen_at < RENEW_EVERY:
        return FoundSession(person, row.expires_at, renewed=False)
    expires_at = now + idle
    await session.execute(
        update(WebSession)
        .where(WebSession.id == row.id)
        .values(last_seen_at=now, expires_at=expires_at)
        .execution_options(synchronize_session=False)
    )
    return FoundSession(person, expires_at, renewed=True)


async def end_session(session: AsyncSession, token: str) -> None:
    """Revoke one session (logout); the caller commits."""
    await session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))


async def end_sessions_of(session: AsyncSession, person_ids: Iterable[int]) -> None:
    """Revoke every session of these people, on the dashboard and in the web chat."""
    ids = list(person_ids)
    for start in range(0, len(ids), 500):
        await session.execute(
            delete(WebSession).where(WebSession.person_id.in_(ids[start : start + 500]))
        )
