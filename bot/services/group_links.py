"""Link a platform group chat to a peer group with a one-time code a coach redeems.

One code purpose serves every channel: a code issued for a peer group links whichever
chat (Telegram group, Teams channel, …) a coach redeems it in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.one_time_codes import (
    CodeProblem,
    claim_code,
    find_code,
    issue_code,
    problem_with,
)
from storage.models import AuditEntry, GroupChat, PeerGroup, Person

GROUP_LINK = "group_link"
GROUP_LINK_DAYS = 7
STAFF = ("coach", "admin")


class LinkRefusal(StrEnum):
    """Why a chat was not linked."""

    NOT_STAFF = "not_staff"
    UNKNOWN_CODE = CodeProblem.UNKNOWN.value
    USED_CODE = CodeProblem.USED.value
    EXPIRED_CODE = CodeProblem.EXPIRED.value


@dataclass(frozen=True)
class LinkOutcome:
    """The linked chat and its group, or why nothing was linked."""

    chat: GroupChat | None = None
    group: PeerGroup | None = None
    refusal: LinkRefusal | None = None


async def issue_group_link_code(
    session: AsyncSession, group: PeerGroup, now: datetime, days: int = GROUP_LINK_DAYS
) -> str:
    """Create a code that links one group chat to `group`; the caller commits."""
    return await issue_code(
        session, GROUP_LINK, now=now, ttl=timedelta(days=days), group_id=group.id
    )


async def link_group_chat(
    session: AsyncSession,
    person: Person,
    platform: str,
    chat_external_id: str,
    address: dict[str, Any],
    code: str,
    now: datetime,
) -> LinkOutcome:
    """Let a coach link a chat to the code's peer group; a refusal changes nothing.

    A chat linked before is moved to the new group. The caller commits.
    """
    if person.role not in STAFF:
        return LinkOutcome(refusal=LinkRefusal.NOT_STAFF)
    row = await find_code(session, GROUP_LINK, code) if code else None
    problem = problem_with(row, now)
    group = await session.get(PeerGroup, row.group_id) if row and row.group_id else None
    if problem is not None or row is None or group is None:
        return LinkOutcome(refusal=LinkRefusal(problem or CodeProblem.UNKNOWN))
    if not await claim_code(session, row, now):
        # Another redemption spent the code between our read and now.
        return LinkOutcome(refusal=LinkRefusal(problem_with(row, now) or CodeProblem.USED))
    chat = await session.scalar(
        select(GroupChat).where(
            GroupChat.platform == platform, GroupChat.external_id == chat_external_id
        )
    )
    if chat is None:
        chat = GroupChat(platform=platform, external_id=chat_external_id, group_id=group.id)
        session.add(chat)
    chat.group_id, chat.address, chat.linked_by_id = group.id, address, person.id
    session.add(
        AuditEntry(
            actor_id=person.id,
            action="group_chat.link",
            subject=f"group:{group.name}",
            detail={"platform": platform},
        )
    )
    await session.flush()
    return LinkOutcome(chat=chat, group=group)
