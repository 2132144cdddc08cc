"""Coaches post prompts to a peer group: in its linked chat, or to each member."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.compose import MAX_ANSWER_LENGTH
from storage.models import (
    AuditEntry,
    Delivery,
    GroupChat,
    GroupMembership,
    Occurrence,
    PeerGroup,
    Person,
    Prompt,
)


@dataclass(frozen=True)
class PostedPrompt:
    """What a coach's post created."""

    occurrence_id: int
    deliveries: int
    to_chat: bool


async def resolve_prompt(
    session: AsyncSession, text_or_key: str, locale: str, author: Person
) -> Prompt:
    """Use a prompt by key if one exists, otherwise store the text as a new prompt."""
    existing = await session.scalar(select(Prompt).where(Prompt.key == text_or_key.strip()))
    if existing is not None:
        return existing
    prompt = Prompt(
        key=f"coach-{author.id}-{secrets.token_hex(4)}",
        theme="",
        text={locale: text_or_key.strip()[:MAX_ANSWER_LENGTH]},
    )
    session.add(prompt)
    await session.flush()
    return prompt


async def post_group_prompt(
    session: AsyncSession,
    coach: Person,
    group: PeerGroup,
    text_or_key: str,
    *,
    send_at: datetime,
    max_lateness_minutes: int = 240,
) -> PostedPrompt:
    """Queue a prompt for a group; its answers are visible to the group by definition."""
    prompt = await resolve_prompt(session, text_or_key, coach.locale, coach)
    occurrence = Occurrence(
        prompt_id=prompt.id, group_id=group.id, posted_by_id=coach.id, send_at=send_at
    )
    session.add(occurrence)
    await session.flush()
    expires_at = send_at + timedelta(minutes=max_lateness_minutes)

    def owed(key: str, payload: dict[str, str | int], person_id: int | None = None) -> Delivery:
        return Delivery.owed(
            key=key,
            kind="group_prompt",
            due_at=send_at,
            expires_at=expires_at,
            person_id=person_id,
            group_id=group.id,
            occurrence_id=occurrence.id,
            prompt_id=prompt.id,
            payload=payload,
        )

    chats = list(await session.scalars(select(GroupChat).where(GroupChat.group_id == group.id)))
    rows: list[Delivery] = []
    if chats:
        chat = chats[0]
        payload: dict[str, str | int] = {
            "group_chat_id": chat.id,
            "visibility": "group",
            "locale": coach.locale,
        }
        rows.append(owed(f"grp:{occurrence.id}:chat:{chat.id}", payload))
    else:
        members = await session.scalars(
            select(GroupMembership.person_id).where(GroupMembership.group_id == group.id)
        )
        for person_id in members:
            rows.append(
                owed(f"grp:{occurrence.id}:person:{person_id}", {"visibility": "group"}, person_id)
            )
    session.add_all(rows)
    session.add(
        AuditEntry(
            actor_id=coach.id,
            action="group_prompt.post",
            subject=f"group:{group.name}",
            detail={"occurrence_id": occurrence.id, "deliveries": len(rows)},
        )
    )
    await session.flush()
    return PostedPrompt(occurrence.id, len(rows), bool(chats))
