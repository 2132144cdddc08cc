"""The conversation in the web chat: commands, the menu, expiry, edit and undo."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.services.chat_links import chat_link
from bot.services.render import render
from storage.models import Answer, Delivery, Person
from tests import factories
from tests.typed_commands import EXPIRED, LOCALES, MENU, TYPED, reply_of, say
from tests.webchat.conftest import ChatWorld, open_link
from tests.webchat.test_webchat import csrf


async def signed_in(world: ChatWorld, locale: str, role: str = "participant") -> int:
    async with world.runtime.sessions.begin() as session:
        leader = await factories.person(session, locale=locale, role=role)
        link = await chat_link(session, leader.email, "http://testserver", world.clock.now())
    response = await open_link(world.client, link.removeprefix("http://testserver"))
    assert response.status_code == 303
    return leader.id


async def send_prompt(world: ChatWorld, person_id: int) -> int:
    async with world.runtime.sessions.begin() as session:
        leader = await session.get(Person, person_id)
        delivery = await factories.sent_delivery(
            session,
            leader,
            await factories.prompt(session),
            platform="webchat",
            sent_at=world.clock.now(),
        )
        message = await render(session, delivery)
    ref = await world.runtime.channels["webchat"].send({"person_id": person_id}, message)
    async with world.runtime.sessions.begin() as session:
        (await session.get(Delivery, delivery.id)).message_ref = ref  # type: ignore[union-attr]
    return delivery.id


async def messages(world: ChatWorld) -> list[dict[str, Any]]:
    return list((await world.client.get("/chat/api/messages")).json()["messages"])


async def type_text(world: ChatWorld, text: str) -> dict[str, Any]:
    """Type `text` in the composer; return the bot's last message after it."""
    response = await world.client.post(
        "/chat/api/act",
        json={"type": "text", "text": text},
        headers={"X-CSRF-Token": await csrf(world)},
    )
    assert response.status_code == 200
    return (await messages(world))[-1]


async def press(world: ChatWorld, message: dict[str, Any], label: str) -> dict[str, Any]:
    [button] = [b for row in message["rows"] for b in row if b["label"] == label]
    response = await world.client.post(
        "/chat/api/act",
        json={"type": "button", "data": button["data"], "message": message["id"]},
        headers={"X-CSRF-Token": await csrf(world)},
    )
    assert response.status_code == 200
    return (await messages(world))[-1]


async def answers(world: ChatWorld) -> list[tuple[str, str]]:
    async with world.runtime.sessions() as session:
        return [
            (a.stage, a.text) for a in await session.scalars(select(Answer).order_by(Answer.id))
        ]


@pytest.mark.parametrize("locale", LOCALES)
async def test_each_command_works_in_each_language(chat_world: ChatWorld, locale: str) -> None:
    person_id = await signed_in(chat_world, locale, role="coach")
    await send_prompt(chat_world, person_id)  # an answer awaits: commands must still win
    for command, words in TYPED:
        reply = await type_text(chat_world, words[locale])
        assert reply_of(command, locale) in reply["text"], (command, reply["text"])
    assert await answers(chat_world) == []


async def test_slash_help_answers_with_help_not_a_loop(chat_world: ChatWorld) -> None:
    await signed_in(chat_world, "nb")
    reply = await type_text(chat_world, "/help")
    assert reply["tag"] == "help" and "/help" not in reply["text"]


async def test_text_while_nothing_awaits_gets_the_menu(chat_world: ChatWorld) -> None:
    await signed_in(chat_world, "nn")
    reply = await type_text(chat_world, "Hei på deg")
    assert reply["tag"] == "menu" and say(MENU, "nn") in reply["text"]
    assert "hald fram" in reply["text"] and "/help" not in reply["text"]
    assert await answers(chat_world) == []


async def test_an_expired_edit_stores_nothing(chat_world: ChatWorld) -> None:
    person_id = await signed_in(chat_world, "en")
    await send_prompt(chat_world, person_id)
    await type_text(chat_world, "First answer")
    answered = next(m for m in await messages(chat_world) if m["tag"] == "answered")
    await press(chat_world, answered, "Edit")
    chat_world.clock.advance(minutes=31)  # edits wait 30 minutes
    reply = await type_text(chat_world, "Too late to count as an edit")
    assert reply["tag"] == "menu" and say(EXPIRED, "en") in reply["text"]
    assert await answers(chat_world) == [("main", "First answer")]


async def test_an_edit_then_undo(chat_world: ChatWorld) -> None:
    person_id = await signed_in(chat_world, "nb")
    await send_prompt(chat_world, person_id)
    await type_text(chat_world, "Første versjon")
    answered = next(m for m in await messages(chat_world) if m["tag"] == "answered")
    offer = await press(chat_world, answered, "Endre")
    assert offer["tag"] == "edit" and "«Første versjon»" in offer["text"]
    edited = await type_text(chat_world, "Andre versjon")
    assert edited["tag"] == "edited"
    assert "Før: «Første versjon»" in edited["text"] and "Nå: «Andre versjon»" in edited["text"]
    assert await answers(chat_world) == [("main", "Andre versjon")]
    undone = await type_text(chat_world, "angre")
    assert undone["tag"] == "undone"
    assert await answers(chat_world) == [("main", "Første versjon")]


async def test_a_command_typed_while_an_answer_awaits(chat_world: ChatWorld) -> None:
    person_id = await signed_in(chat_world, "nb")
    await send_prompt(chat_world, person_id)
    reply = await type_text(chat_world, "hjelp")
    assert reply["tag"] == "help"
    assert "Svaret ditt går til: «Beskriv en konkret situasjon.»" in reply["text"]
    await type_text(chat_world, "Svaret mitt")
    assert await answers(chat_world) == [("main", "Svaret mitt")]
