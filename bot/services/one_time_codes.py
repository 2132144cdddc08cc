"""Single-use, expiring codes for invites and login links; only their hashes are stored.

A code is spent by one conditional UPDATE (`used_at IS NULL AND expires_at > now`) whose
row count says whether this caller won: two simultaneous redemptions cannot both succeed,
on SQLite or PostgreSQL, whatever either of them read before.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, select, update
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


async def _claim(session: AsyncSession, which: ColumnElement[bool], now: datetime) -> bool:
    """Mark the matching unused, unexpired code used; tell whether this call did it."""
    result = await session.execute(
        update(OneTimeCode)
        .where(which, OneTimeCode.used_at.is_(None), OneTimeCode.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return cast("CursorResult[Any]", result).rowcount == 1


async def claim_code(session: AsyncSession, row: OneTimeCode, now: datetime) -> bool:
    """Spend a code already looked up; False if it was used or expired meanwhile."""
    claimed = await _claim(session, OneTimeCode.id == row.id, now)
    await session.refresh(row)
    return claimed


async def redeem_code(
    session: AsyncSession, purpose: str, code: str, now: datetime
) -> OneTimeCode | CodeProblem:
    """Use a code once: return its row (now marked used) or why it was refused."""
    claimed = await _claim(
        session,
        (OneTimeCode.code_hash == hash_code(code)) & (OneTimeCode.purpose == purpose),
        now,
    )
    row = await session.scalar(
        select(OneTimeCode)
        .where(OneTimeCode.code_hash == hash_code(code), OneTimeCode.purpose == purpose)
        .execution_options(populate_existing=True)
    )
    if not claimed or row is None:
        return problem_with(row, now) or CodeProblem.USED
    return row
