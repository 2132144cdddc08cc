"""Single-use, expiring codes for invites and login links; only their hashes are stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OneTimeCode


class CodeProblem(StrEnum):
    """Why a code was refused."""

    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


def new_code() -> str:
    """Return an unguessable, URL- and deep-link-safe code (128 bits)."""
    return secrets.token_urlsafe(16)


def hash_code(code: str) -> str:
    """Return the stored form of a code."""
    return hashlib.sha256(code.encode()).hexdigest()


async def issue_code(
    session: AsyncSession,
    purpose: str,
    *,
    now: datetime,
    ttl: timedelta,
    person_id: int | None = None,
    group_id: int | None = None,
) -> str:
    """Create a code for `purpose` and return it; it is shown once and never stored."""
    code = new_code()
    session.add(
        OneTimeCode(
            code_hash=hash_code(code),
            purpose=purpose,
            person_id=person_id,
            group_id=group_id,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return code


async def find_code(session: AsyncSession, purpose: str, code: str) -> OneTimeCode | None:
    """Return the row for a code of this purpose, used or not."""
    return await session.scalar(
        select(OneTimeCode).where(
            OneTimeCode.code_hash == hash_code(code), OneTimeCode.purpose == purpose
        )
    )


def problem_with(row: OneTimeCode | None, now: datetime) -> CodeProblem | None:
    """Say why a code cannot be used now, or None if it can."""
    if row is None:
        return CodeProblem.UNKNOWN
    if row.used_at is not None:
        return CodeProblem.USED
    if row.expires_at <= now:
        return CodeProblem.EXPIRED
    return None


async def redeem_code(
    session: AsyncSession, purpose: str, code: str, now: datetime
) -> OneTimeCode | CodeProblem:
    """Use a code once: return its row (now marked used) or why it was refused."""
    row = await find_code(session, purpose, code)
    problem = problem_with(row, now)
    if problem is not None:
        return problem
    assert row is not None
    row.used_at = now
    await session.flush()
    return row
