"""The conversation on Telegram: commands in three languages, the menu, expiry, edit and undo."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import select

from bot.core import button_codec, compose
from storage.models import Answer
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser
from tests.telegram.harness import SECRET, Harness, due_prompt, linked_leader
from tests.typed_commands import EXPIRED, LOCALES, MENU, TYPED, reply_of, say

_ids = itertools.count(7600)


def someone(locale: str = "en") -> FakeUser:
    return FakeUser(next(_ids), "Kari", language_code=locale)


async def prompted(harness: Harness, user: FakeUser, **values: Any) -> dict[str, Any]:
    """Link `user`, deliver one prompt to them, and return the prompt message."""
    person = await linked_leader(harness.sessions, user, **values)
    await due_prompt(harness.sessions, person)
    assert await harness.dispatcher().run_once() == 1
    return harness.api.last_sent_to(user.id)


async def answers(harness: Harness) -> list[tuple[str, str]]:
    async with harness.sessions() as session:
        rows = await session.scalars(select(Answer).order_by(Answer.id))
        return [(a.stage, a.text) for a in rows]


async def type_text(harness: Harness, user: FakeUser, text: str) -> str:
    await harness.send(harness.api.text_update(user, text))
    return str(harness.api.last_sent_to(user.id)["text"])


def button(api: FakeTelegramAPI, message: dict[str, Any], action: str) -> str:
    for candidate in api.buttons(message):
        if button_codec.decode(SECRET, candidate["callback_data"])[0] == action:
            return str(candidate["callback_data"])
    raise AssertionError(f"no {action} button")


@pytest.mark.parametrize("locale", LOCALES)
async def test_each_command_works_in_each_language(harness: Harness, locale: str) -> None:
    user = someone(locale)
    await prompted(harness, user, locale=locale, role="coach")
    for command, words in TYPED:
        text = await type_text(harness, user, words[locale])
        assert reply_of(command, locale) in text, (command, text)
    assert await answers(harness) == []


async def test_slash_commands_in_norwegian_work_too(harness: Harness) -> None:
    user = someone("nb")
    await prompted(harness, user, locale="nb")
    assert reply_of("help", "nb") in await type_text(harness, user, "/hjelp")
    assert reply_of("mine", "nb") in await type_text(harness, user, "/mine")
    assert await answers(harness) == []


async def test_text_while_nothing_awaits_gets_the_menu(harness: Harness) -> None:
    user = someone("nb")
    await linked_leader(harness.sessions, user, locale="nb")
    text = await type_text(harness, user, "Hei")
    assert say(MENU, "nb") in text and "/help" not in text
    assert await answers(harness) == []


async def test_an_expired_prompt_is_not_answered_by_plain_text(harness: Harness) -> None:
    user = someone()
    await prompted(harness, user)
    harness.clock.advance(hours=24)
    text = await type_text(harness, user, "A day too late")
    assert say(MENU, "en") in text and await answers(harness) == []
    # The menu offers the open prompt; a reply to the prompt itself still answers it.
    assert "Answer: «What did you learn this week?»" in str(
        harness.api.last_sent_to(user.id)["reply_markup"]
    )


async def test_an_expired_follow_up_stores_nothing(harness: Harness) -> None:
    user = someone()
    prompt = await prompted(harness, user)
    await type_text(harness, user, "Main answer")
    answered = harness.api.messages[(user.id, int(prompt["message_id"]))]
    await harness.send(
        harness.api.click_update(user, answered, data=button(harness.api, answered, "fup"))
    )
    harness.clock.advance(hours=24, seconds=1)
    text = await type_text(harness, user, "Follow-up a day later")
    assert say(EXPIRED, "en") in text
    assert await answers(harness) == [("main", "Main answer")]


async def test_an_edit_then_undo(harness: Harness) -> None:
    user = someone("nn")
    prompt = await prompted(harness, user, locale="nn")
    await type_text(harness, user, "Fyrste versjon")
    answered = harness.api.messages[(user.id, int(prompt["message_id"]))]
    await harness.send(
        harness.api.click_update(user, answered, data=button(harness.api, answered, compose.EDIT))
    )
    assert "«Fyrste versjon»" in harness.api.last_sent_to(user.id)["text"]
    edited = await type_text(harness, user, "Andre versjon")
    assert "Før: «Fyrste versjon»" in edited and "No: «Andre versjon»" in edited
    assert await answers(harness) == [("main", "Andre versjon")]
    undone_with = harness.api.last_sent_to(user.id)
    await harness.send(
        harness.api.click_update(user, undone_with, data=button(harness.api, undone_with, "undo"))
    )
    assert await answers(harness) == [("main", "Fyrste versjon")]
    harness.clock.advance(minutes=11)
    await type_text(harness, user, "angre")
    assert await answers(harness) == [("main", "Fyrste versjon")]


async def test_a_command_typed_while_an_answer_awaits(harness: Harness) -> None:
    user = someone()
    await prompted(harness, user)
    text = await type_text(harness, user, "help")
    assert "Your answer goes to: «What did you learn this week?»" in text
    harness.clock.advance(minutes=5)
    await type_text(harness, user, "My real answer")
    assert await answers(harness) == [("main", "My real answer")]
