"""The conversation in Teams: commands in three languages, the menu, expiry, edit and undo."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.channels.teams.cards import TOKEN
from bot.core import button_codec, compose
from storage.models import Answer
from tests.fakes.teams_connector import FakeConnector
from tests.teams.world import (
    SECRET,
    TeamsUser,
    TeamsWorld,
    actions,
    card_of,
    install,
    scheduled_occurrence,
)
from tests.typed_commands import EXPIRED, LOCALES, MENU, TYPED, reply_of, say


async def prompted(
    world: TeamsWorld, name: str, locale: str = "en", role: str = "participant"
) -> tuple[TeamsUser, str]:
    """Install one leader and deliver one prompt card; return the user and the card's id."""
    user, person = await install(world, name, locale=locale, role=role)
    await scheduled_occurrence(world.runtime.sessions, [person])
    await world.dispatch_all()
    call = world.connector.sent(user.chat)[-1]
    return user, str(call.answer["id"])


async def type_text(world: TeamsWorld, user: TeamsUser, text: str) -> str:
    """Type `text` in the 1:1 chat; return everything the bot posted back."""
    before = len(world.connector.sent(user.chat))
    assert (await world.post(world.message(user, text))).status_code == 202
    return json.dumps(
        [c.body for c in world.connector.sent(user.chat)[before:]], ensure_ascii=False
    )


async def press(world: TeamsWorld, user: TeamsUser, card_id: str, action: str) -> None:
    """Press the button of the bot's current card `card_id` whose action is `action`."""
    updates = [u for u in world.connector.updates() if u.path.endswith(f"/{card_id}")]
    card = card_of(updates[-1].body)
    [data] = [
        a["data"]
        for a in actions(card)
        if button_codec.decode(SECRET, a["data"][TOKEN])[0] == action
    ]
    await world.post(world.submit(user, data, reply_to=card_id))


def buttons_of(world: TeamsWorld, user: TeamsUser) -> list[dict[str, Any]]:
    return actions(card_of(world.connector.sent(user.chat)[-1].body))


async def answers(world: TeamsWorld) -> list[tuple[str, str]]:
    async with world.runtime.sessions() as session:
        rows = await session.scalars(select(Answer).order_by(Answer.id))
        return [(a.stage, a.text) for a in rows]


@pytest.mark.parametrize("locale", LOCALES)
async def test_each_command_works_in_each_language(world: TeamsWorld, locale: str) -> None:
    user, _ = await prompted(world, f"Kari {locale}", locale, role="coach")
    for command, words in TYPED:
        said = await type_text(world, user, words[locale])
        assert reply_of(command, locale) in said, (command, said)
    assert await answers(world) == []


async def test_text_while_nothing_awaits_gets_the_menu(world: TeamsWorld) -> None:
    user, _ = await install(world, "Nils Nynorsk", locale="nn")
    said = await type_text(world, user, "Hei")
    assert say(MENU, "nn") in said and "/help" not in said
    assert await answers(world) == []


async def test_an_expired_follow_up_stores_nothing(
    world: TeamsWorld, connector: FakeConnector
) -> None:
    user, card_id = await prompted(world, "Eva English")
    await type_text(world, user, "Main answer")
    await press(world, user, card_id, compose.FOLLOW_UP)
    world.clock.advance(hours=24)
    said = await type_text(world, user, "A day later")
    assert say(EXPIRED, "en") in said
    assert await answers(world) == [("main", "Main answer")]


async def test_an_edit_then_undo(world: TeamsWorld) -> None:
    user, card_id = await prompted(world, "Berit Bokmål", "nb")
    await type_text(world, user, "Første versjon")
    await press(world, user, card_id, compose.EDIT)
    said = await type_text(world, user, "Andre versjon")
    assert "Før: «Første versjon»" in said and "Nå: «Andre versjon»" in said
    assert await answers(world) == [("main", "Andre versjon")]
    [undo] = [
        a["data"]
        for a in buttons_of(world, user)
        if button_codec.decode(SECRET, a["data"][TOKEN])[0] == compose.UNDO
    ]
    edited_id = str(world.connector.sent(user.chat)[-1].answer["id"])
    await world.post(world.submit(user, undo, reply_to=edited_id))
    assert await answers(world) == [("main", "Første versjon")]


async def test_a_command_typed_while_an_answer_awaits(world: TeamsWorld) -> None:
    user, _ = await prompted(world, "Ola English")
    said = await type_text(world, user, "help")
    assert "Your answer goes to: «What did you learn this week?»" in said
    await type_text(world, user, "My answer")
    assert await answers(world) == [("main", "My answer")]
