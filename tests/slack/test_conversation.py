"""The conversation in Slack DMs: commands in three languages, the menu, expiry, edit, undo."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.slack.channel import SlackChannel
from bot.clock import FrozenClock
from bot.core import button_codec, compose
from storage.models import Answer, Person
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.conftest import SECRET, signed_app
from tests.slack.test_scenarios import Harness
from tests.slack.world import AFTER_FIRING, World, buttons
from tests.typed_commands import EXPIRED, MENU, TYPED, reply_of, say

USERS = {"nb": "U1", "nn": "U2", "en": "U3"}
_ts = itertools.count(1)


@pytest.fixture
async def harness(
    sessions: async_sessionmaker[AsyncSession], slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> AsyncIterator[Harness]:
    clock = FrozenClock(AFTER_FIRING)
    async with signed_app(sessions, slack_channel, clock) as (inbound, slack):
        yield Harness(slack_api, slack_channel, inbound, slack, sessions, clock)


async def dm(harness: Harness, user: str, text: str) -> str:
    """Write `text` in the user's DM with the bot; return everything the bot said back."""
    before = len(harness.api.calls)
    event = {
        "type": "message",
        "channel": "D" + user[1:],
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": f"1800000000.{next(_ts):06d}",
    }
    assert (await harness.slack.event(event)).status_code == 200
    await harness.inbound.drain()
    said = [
        c.args
        for c in harness.api.calls[before:]
        if c.method in ("chat.postMessage", "chat.postEphemeral")
    ]
    return json.dumps(said, ensure_ascii=False)


def action_of(button: dict[str, Any]) -> str:
    """Return the action of a button's signed value (a modal opener wraps it in JSON)."""
    value = str(button["value"])
    data = json.loads(value)["d"] if value.startswith("{") else value
    return button_codec.decode(SECRET, data)[0]


async def click(harness: Harness, user: str, ref: str, action: str) -> None:
    channel, ts = ref.split(":", 1)
    blocks = harness.api.messages[(channel, ts)]["blocks"]
    [button] = [b for b in buttons(blocks) if action_of(b) == action]
    assert (await harness.slack.interact(harness.slack.click(user, ref, button))).status_code == 200
    await harness.inbound.drain()


def last_posted(harness: Harness, user: str) -> tuple[str, dict[str, Any]]:
    channel = "D" + user[1:]
    ts = max(ts for (c, ts) in harness.api.messages if c == channel)
    return f"{channel}:{ts}", harness.api.messages[(channel, ts)]


async def answers(harness: Harness) -> list[tuple[str, str]]:
    async with harness.sessions() as session:
        rows = await session.scalars(select(Answer).order_by(Answer.id))
        return [(a.stage, a.text) for a in rows]


@pytest.mark.parametrize("locale", ["nb", "nn", "en"])
async def test_each_command_works_in_each_language(
    harness: Harness, world: World, locale: str
) -> None:
    user = USERS[locale]
    async with harness.sessions.begin() as session:
        await session.execute(
            update(Person).where(Person.id == world.people[user]).values(role="coach")
        )
    await harness.deliver_occurrence()  # a prompt awaits: commands must still win
    for command, words in TYPED:
        said = await dm(harness, user, words[locale])
        assert reply_of(command, locale) in said, (command, said)
    assert await answers(harness) == []


async def test_text_while_nothing_awaits_gets_the_menu(harness: Harness, world: World) -> None:
    said = await dm(harness, "U1", "Hei")
    assert say(MENU, "nb") in said and "/help" not in said
    assert await answers(harness) == []


async def test_an_expired_prompt_is_not_answered_by_plain_text(
    harness: Harness, world: World
) -> None:
    await harness.deliver_occurrence()
    harness.clock.advance(hours=25)
    said = await dm(harness, "U3", "Much later")
    assert say(MENU, "en") in said
    assert await answers(harness) == []


async def test_an_expired_edit_stores_nothing(harness: Harness, world: World) -> None:
    await harness.deliver_occurrence()
    ref, _ = await harness.prompt_for("U3")
    await dm(harness, "U3", "First")
    await click(harness, "U3", ref, compose.EDIT)
    harness.clock.advance(minutes=30)
    said = await dm(harness, "U3", "Not an edit any more")
    assert say(EXPIRED, "en") in said
    assert await answers(harness) == [("main", "First")]


async def test_an_edit_then_undo(harness: Harness, world: World) -> None:
    await harness.deliver_occurrence()
    ref, _ = await harness.prompt_for("U1")
    await dm(harness, "U1", "Første versjon")
    await click(harness, "U1", ref, compose.EDIT)
    said = await dm(harness, "U1", "Andre versjon")
    assert "Før: «Første versjon»" in said and "Nå: «Andre versjon»" in said
    assert await answers(harness) == [("main", "Andre versjon")]
    said = await dm(harness, "U1", "angre")
    assert "Angret" in said
    assert await answers(harness) == [("main", "Første versjon")]


async def test_a_command_typed_while_an_answer_awaits(harness: Harness, world: World) -> None:
    await harness.deliver_occurrence()
    said = await dm(harness, "U2", "hjelp")
    assert "Svaret ditt går til: «Kva lærte du denne veka?»" in said
    await dm(harness, "U2", "Eg lytta meir")
    assert await answers(harness) == [("main", "Eg lytta meir")]
