"""Linking a group chat to a peer group: the service and the router's `link` command."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.core.conversation import Policy
from bot.core.messages import Interaction, InteractionKind
from bot.handlers.context import Reply
from bot.handlers.registry import build_router
from bot.i18n import gettext_for
from bot.services.group_links import (
    GROUP_LINK_DAYS,
    LinkRefusal,
    issue_group_link_code,
    link_group_chat,
)
from bot.services.one_time_codes import find_code
from storage.models import AuditEntry, GroupChat, OneTimeCode, PeerGroup
from tests import factories

Sessions = async_sessionmaker[AsyncSession]
NOW = factories.T0 + timedelta(hours=1)
CHAT = "-1001200300"
ADDRESS = {"chat_id": -1001200300}


async def handle(sessions: Sessions, interaction: Interaction) -> list[Reply]:
    return await build_router(sessions, FrozenClock(NOW), factories.SECRET, Policy()).handle(
        interaction
    )


def link(user: str, code: str | None, platform: str = "telegram", **extra: Any) -> Interaction:
    values: dict[str, Any] = {
        "chat": CHAT,
        "is_group_chat": True,
        "fields": {"chat_address": ADDRESS},
    }
    values.update(extra)
    return Interaction(
        platform=platform,
        external_user=user,
        kind=InteractionKind.COMMAND,
        command="link",
        args=(code,) if code is not None else (),
        **values,
    )


async def member(sessions: Sessions, role: str, platform: str = "telegram", **identity: Any) -> str:
    """Create an English-speaking person with a linked account; return its external id."""
    async with sessions.begin() as session:
        who = await factories.person(session, role=role, locale="en")
        row = await factories.identity(session, who, platform, **identity)
        return row.external_id


async def group_and_code(
    sessions: Sessions, name: str = "kull-1-gruppe-1", issued: Any = NOW
) -> tuple[int, str]:
    async with sessions.begin() as session:
        _, group = await factories.cohort_with_group(session, cohort=f"{name}-kull", group=name)
        return group.id, await issue_group_link_code(session, group, issued)


async def chats(sessions: Sessions) -> list[GroupChat]:
    async with sessions() as session:
        return list(await session.scalars(select(GroupChat)))


async def count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def text_of(replies: list[Reply]) -> str:
    [reply] = replies
    assert reply.message.tag == "group_link" and not reply.ephemeral
    return reply.message.text


@pytest.mark.parametrize("platform", ["telegram", "teams"])
async def test_a_coach_links_the_chat_with_a_valid_code(sessions: Sessions, platform: str) -> None:
    coach = await member(sessions, "coach", platform)
    group_id, code = await group_and_code(sessions)

    replies = await handle(sessions, link(coach, code, platform, event_id="E1"))

    assert text_of(replies).startswith("This chat is now linked to the peer group kull-1-gruppe-1.")
    [chat] = await chats(sessions)
    async with sessions() as session:
        audit = await session.scalar(select(AuditEntry))
        row = await find_code(session, "group_link", code)
    assert (chat.platform, chat.external_id, chat.group_id, chat.address) == (
        platform,
        CHAT,
        group_id,
        ADDRESS,
    )
    assert chat.linked_by_id is not None
    assert audit is not None and audit.actor_id == chat.linked_by_id
    assert (audit.action, audit.subject, audit.detail) == (
        "group_chat.link",
        "group:kull-1-gruppe-1",
        {"platform": platform},
    )
    assert row is not None and row.used_at is not None
    # The platform redelivers the same event: nothing happens twice.
    assert await handle(sessions, link(coach, code, platform, event_id="E1")) == []


async def test_a_participant_is_refused_and_the_code_stays_usable(sessions: Sessions) -> None:
    leader = await member(sessions, "participant")
    coach = await member(sessions, "coach")
    _, code = await group_and_code(sessions)

    refused = await handle(sessions, link(leader, code))

    assert text_of(refused) == "Only a coach can link a group chat to a peer group."
    assert await chats(sessions) == [] and await count(sessions, AuditEntry) == 0
    assert "now linked" in text_of(await handle(sessions, link(coach, code)))


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("unknown", "This code is not valid. Please ask your programme coordinator for a new one."),
        ("missing", "This code is not valid. Please ask your programme coordinator for a new one."),
        (
            "used",
            "This code has already been used. Please ask your programme coordinator for a new one.",
        ),
        ("expired", "This code has expired. Please ask your programme coordinator for a new one."),
    ],
)
async def test_a_bad_code_is_refused_and_nothing_is_stored(
    sessions: Sessions, problem: str, message: str
) -> None:
    coach = await member(sessions, "coach")
    issued = NOW - timedelta(days=GROUP_LINK_DAYS, seconds=1) if problem == "expired" else NOW
    _, code = await group_and_code(sessions, issued=issued)
    if problem == "used":
        async with sessions.begin() as session:
            await session.execute(update(OneTimeCode).values(used_at=NOW))
    sent = {"unknown": "made-up-code", "missing": None}.get(problem, code)

    replies = await handle(sessions, link(coach, sent))

    assert text_of(replies) == message
    assert await chats(sessions) == [] and await count(sessions, AuditEntry) == 0


async def test_relinking_a_chat_moves_it_to_the_other_group(sessions: Sessions) -> None:
    coach = await member(sessions, "coach")
    _, first = await group_and_code(sessions, "gruppe-1")
    second_id, second = await group_and_code(sessions, "gruppe-2")

    await handle(sessions, link(coach, first))
    replies = await handle(sessions, link(coach, second))

    assert "peer group gruppe-2" in text_of(replies)
    [chat] = await chats(sessions)
    assert chat.group_id == second_id
    assert await count(sessions, AuditEntry) == 2


async def test_outside_a_group_chat_the_command_explains_where_to_use_it(
    sessions: Sessions,
) -> None:
    coach = await member(sessions, "coach")
    _, code = await group_and_code(sessions)

    replies = await handle(sessions, link(coach, code, is_group_chat=False))

    assert text_of(replies) == "Write /link with your code in the group chat you want to link."
    assert await chats(sessions) == []


TELEGRAM_HINT = "Only a linked coach can link this chat. Open your invite link first."


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Only a linked coach can link this chat. Write to me in a 1:1 chat first."),
        ({"not_linked_text": TELEGRAM_HINT}, TELEGRAM_HINT),
    ],
)
async def test_someone_not_linked_is_told_how_to_link_in_the_channels_words(
    sessions: Sessions, fields: dict[str, str], message: str
) -> None:
    pending = await member(sessions, "coach", status="pending")
    _, code = await group_and_code(sessions)

    unknown = await handle(sessions, link("stranger", code, fields={**fields}))
    not_consented = await handle(sessions, link(pending, code, fields={**fields}))

    # A stranger has no language of their own yet, so they are answered in bokmål.
    assert text_of(unknown) == gettext_for("nb").gettext(message) != message
    assert text_of(not_consented) == message
    assert await chats(sessions) == []


async def test_the_service_refuses_a_participant_without_touching_the_code(
    rollback_session: AsyncSession,
) -> None:
    leader = await factories.person(rollback_session, role="participant")
    _, group = await factories.cohort_with_group(rollback_session)
    code = await issue_group_link_code(rollback_session, group, NOW)

    outcome = await link_group_chat(rollback_session, leader, "teams", "19:x", {}, code, NOW)

    row = await find_code(rollback_session, "group_link", code)
    assert outcome.refusal is LinkRefusal.NOT_STAFF and outcome.chat is None
    assert row is not None and row.used_at is None
    assert await rollback_session.get(PeerGroup, group.id) is not None
