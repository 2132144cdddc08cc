"""Reflection prompts in Telegram DMs: delivered by the outbox, answered by replying."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.core import button_codec
from storage.models import Answer, Delivery, Identity, ProcessedEvent
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser
from tests.telegram.harness import SECRET, Harness, due_prompt, linked_leader

KARI = FakeUser(7101, "Kari", language_code="en")


async def answers(harness: Harness) -> list[Answer]:
    """Return every stored answer."""
    async with harness.sessions() as session:
        return list(await session.scalars(select(Answer).order_by(Answer.id)))


async def delivered_prompt(harness: Harness) -> tuple[Delivery, dict[str, object]]:
    """Send one due prompt to Kari through the dispatcher; return the row and the message."""
    person = await linked_leader(harness.sessions, KARI)
    delivery = await due_prompt(harness.sessions, person)
    assert await harness.dispatcher().run_once() == 1
    async with harness.sessions() as session:
        sent = await session.get(Delivery, delivery.id)
    assert sent is not None and sent.status == "sent"
    return sent, harness.api.last_sent_to(KARI.id)


async def saved_answer(harness: Harness, text: str) -> dict[str, Any]:
    """Reply `text` to Kari's delivered prompt; return the confirmation with visibility buttons."""
    _, prompt_message = await delivered_prompt(harness)
    await harness.send(harness.api.text_update(KARI, text, reply_to=prompt_message))
    return harness.api.last_sent_to(KARI.id)


def visibility_data(api: FakeTelegramAPI, saved: dict[str, Any], visibility: str) -> str:
    """Return the callback data of the confirmation's button that chooses `visibility`."""
    [data] = [
        b["callback_data"]
        for b in api.buttons(saved)
        if button_codec.decode(SECRET, b["callback_data"])[1].endswith(f".{visibility}")
    ]
    return str(data)


async def test_a_scheduled_prompt_reaches_a_linked_leader_as_a_reply_request(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    delivery, message = await delivered_prompt(harness)

    assert delivery.platform == "telegram"
    assert delivery.message_ref == f"{KARI.id}:{message['message_id']}"
    assert "What did you learn this week?" in str(message["text"])
    assert "Reply to this message to answer." in str(message["text"])
    assert message["_sent_markup"] == {
        "force_reply": True,
        "input_field_placeholder": "Your reflection",
    }


async def test_a_reply_after_a_restart_stores_the_answer(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    delivery, prompt_message = await delivered_prompt(harness)

    await harness.restart()  # a new Application: nothing survives but the database
    reply = telegram_api.text_update(KARI, "I listened before deciding.", reply_to=prompt_message)
    await harness.send(reply)

    [answer] = await answers(harness)
    assert (answer.delivery_id, answer.text, answer.visibility, answer.platform) == (
        delivery.id,
        "I listened before deciding.",
        "coach",
        "telegram",
    )
    assert answer.source_ref == f"{KARI.id}:{reply['message']['message_id']}"
    saved = telegram_api.last_sent_to(KARI.id)
    assert saved["text"].startswith("Thank you, your reflection is saved.")
    visibility = [
        button_codec.decode(SECRET, b["callback_data"]) for b in telegram_api.buttons(saved)
    ]
    assert [action for action, _ in visibility] == ["vis", "vis", "vis"]
    edited = telegram_api.messages[(KARI.id, int(prompt_message["message_id"]))]  # type: ignore[call-overload]
    assert "Answered." in edited["text"]


async def test_a_plain_message_answers_the_open_prompt(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    delivery, _ = await delivered_prompt(harness)

    await harness.send(telegram_api.text_update(KARI, "Without replying to it."))

    [answer] = await answers(harness)
    assert (answer.delivery_id, answer.text) == (delivery.id, "Without replying to it.")


async def test_editing_the_message_in_telegram_updates_the_answer(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    _, prompt_message = await delivered_prompt(harness)
    reply = await harness.send(
        telegram_api.text_update(KARI, "First version.", reply_to=prompt_message)
    )

    await harness.send(telegram_api.edit_update(reply, "Second, better version."))

    [answer] = await answers(harness)
    assert (answer.text, answer.edits) == ("Second, better version.", 1)


async def test_a_visibility_button_stores_the_choice(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    saved = await saved_answer(harness, "Mine only.")
    private = visibility_data(telegram_api, saved, "private")

    await harness.send(telegram_api.click_update(KARI, saved, data=private))

    [answer] = await answers(harness)
    assert answer.visibility == "private"
    assert len(telegram_api.answers_to_callbacks()) == 1
    assert telegram_api.last_sent_to(KARI.id)["text"].endswith("Visible to: Only me.")


async def test_tampered_callback_data_changes_nothing_and_says_so(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    saved = await saved_answer(harness, "Coach may read.")
    genuine = visibility_data(telegram_api, saved, "coach")
    forged = genuine.replace(".coach:", ".private:")  # same signature, altered value

    await harness.send(telegram_api.click_update(KARI, saved, data=forged))

    [answer] = await answers(harness)
    assert answer.visibility == "coach"
    [notice] = telegram_api.answers_to_callbacks()
    assert notice["text"] == "This button is no longer valid."
    assert telegram_api.last_sent_to(KARI.id) == saved  # nothing edited, nothing sent


async def test_the_same_update_twice_stores_once(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    _, prompt_message = await delivered_prompt(harness)
    reply = telegram_api.text_update(KARI, "Only once, please.", reply_to=prompt_message)
    await harness.send(reply)
    sent_before = len(telegram_api.calls_to("sendMessage"))

    await harness.send(reply)  # Telegram redelivers the same update_id

    [answer] = await answers(harness)
    assert answer.edits == 0
    assert len(telegram_api.calls_to("sendMessage")) == sent_before
    events = await harness.count(ProcessedEvent, ProcessedEvent.platform == "telegram")
    assert events == 1


async def test_an_unknown_user_is_told_politely(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    stranger = FakeUser(7199, "Stranger", language_code="en")

    await harness.send(telegram_api.text_update(stranger, "hello"))

    # The router answers people it does not know in bokmål.
    assert "ikke med i et lederprogram" in telegram_api.last_sent_to(stranger.id)["text"]
    assert await harness.count(Identity) == 0
