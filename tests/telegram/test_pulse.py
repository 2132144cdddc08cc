"""Pulse items on Telegram: inline keyboards with signed callback data, anonymous storage."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.core import button_codec
from bot.core.compose_pulse import PULSE_VALUE
from storage.models import PulseReceipt, PulseResponse
from tests import factories
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser
from tests.telegram.harness import SECRET, Harness, linked_leader

KARI = FakeUser(7501, "Kari", language_code="en")


async def delivered_pulse(harness: Harness) -> dict[str, object]:
    """Open an anonymous one-item round, send Kari's pulse card, and return the message."""
    person = await linked_leader(harness.sessions, KARI)
    async with harness.sessions() as session, session.begin():
        await factories.open_pulse(session, [person.id])
    assert await harness.dispatcher().run_once() == 1
    return harness.api.last_sent_to(KARI.id)


def value_button(api: FakeTelegramAPI, card: dict[str, object], value: str) -> str:
    """Return the callback data of the button that answers `value`."""
    for button in api.buttons(card):
        action, ref = button_codec.decode(SECRET, button["callback_data"])
        if action == PULSE_VALUE and ref.endswith(f".{value}"):
            return str(button["callback_data"])
    raise AssertionError(f"no button for {value}")


async def test_a_pulse_button_stores_an_anonymous_response(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    card = await delivered_pulse(harness)
    assert "How is your energy this week?" in str(card["text"])
    for button in telegram_api.buttons(card):
        assert len(button["callback_data"].encode()) <= 64

    await harness.send(
        telegram_api.click_update(KARI, card, data=value_button(telegram_api, card, "4"))
    )

    async with harness.sessions() as session:
        [response] = list(await session.scalars(select(PulseResponse)))
        [receipt] = list(await session.scalars(select(PulseReceipt)))
    # Anonymous by construction, and sealed until the round closes.
    assert (factories.opened(response, SECRET).value_int, response.person_id) == (4, None)
    assert response.value_int is None
    assert receipt.person_id is not None
    assert len(telegram_api.answers_to_callbacks()) == 1
    # The Telegram message itself was edited to say "registered", never the value.
    edited = str(telegram_api.messages[(KARI.id, int(card["message_id"]))]["text"])  # type: ignore[call-overload]
    assert "Your answers: 1: registered" in edited
    assert "Your answers: 1: 4" not in edited


async def test_tampered_pulse_data_changes_nothing_and_the_user_is_told(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    card = await delivered_pulse(harness)
    genuine = value_button(telegram_api, card, "2")
    forged = genuine.replace(".2:", ".5:", 1)
    assert forged != genuine

    await harness.send(telegram_api.click_update(KARI, card, data=forged))

    assert await harness.count(PulseResponse) == 0
    assert await harness.count(PulseReceipt) == 0
    [notice] = telegram_api.answers_to_callbacks()
    assert notice["text"] == "This button is no longer valid."
    assert telegram_api.messages[(KARI.id, int(card["message_id"]))] == card  # type: ignore[call-overload]


async def test_a_pulse_due_the_moment_its_round_opens_arrives_open(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    person = await linked_leader(harness.sessions, KARI)
    async with harness.sessions() as session, session.begin():
        # Scheduled ahead: the tick has not opened the round, and the card is due now.
        await factories.open_pulse(
            session, [person.id], opens_at=harness.clock.now(), status="scheduled"
        )
    assert await harness.dispatcher().run_once() == 1
    card = telegram_api.last_sent_to(KARI.id)
    assert telegram_api.buttons(card), card["text"]

    await harness.send(
        telegram_api.click_update(KARI, card, data=value_button(telegram_api, card, "4"))
    )

    assert await harness.count(PulseResponse) == 1


async def test_a_card_sent_before_its_round_opened_is_redrawn_with_buttons(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    person = await linked_leader(harness.sessions, KARI)
    opens = harness.clock.now() + timedelta(hours=1)
    async with harness.sessions() as session, session.begin():
        _, [delivery] = await factories.open_pulse(
            session, [person.id], opens_at=opens, status="scheduled"
        )
    assert harness.plugin is not None
    ref = await factories.send_closed_card(
        harness.sessions, harness.plugin.channel, delivery.id, {"chat_id": KARI.id}
    )
    key = (KARI.id, int(ref.rpartition(":")[2]))
    assert not telegram_api.buttons(telegram_api.messages[key])

    harness.clock.advance(hours=1)
    assert await factories.open_due_rounds(harness.sessions, harness.clock.now()) == 1
    assert await harness.dispatcher().run_once() == 1

    card = telegram_api.messages[key]
    assert "edit_date" in card and telegram_api.buttons(card)
    await harness.send(
        telegram_api.click_update(KARI, card, data=value_button(telegram_api, card, "2"))
    )
    assert await harness.count(PulseResponse) == 1
