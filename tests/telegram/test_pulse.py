"""Pulse items on Telegram: inline keyboards with signed callback data, anonymous storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.core import button_codec
from bot.core.compose_pulse import PULSE_VALUE
from storage.models import Delivery, PulseItem, PulseReceipt, PulseResponse, PulseRound, PulseSurvey
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser
from tests.telegram.conftest import SECRET
from tests.telegram.harness import NOW, Harness, linked_leader

KARI = FakeUser(7501, "Kari", language_code="en")


@pytest.fixture
async def harness(
    telegram_api: FakeTelegramAPI, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Harness]:
    """The Telegram plugin polling the fake API."""
    harness = Harness(telegram_api, engine, sessions)
    await harness.start()
    yield harness
    await harness.stop()


async def delivered_pulse(harness: Harness) -> dict[str, object]:
    """Open an anonymous one-item round, send Kari's pulse card, and return the message."""
    person = await linked_leader(harness.sessions, KARI)
    async with harness.sessions() as session, session.begin():
        survey = PulseSurvey(key="puls", anonymous=True, start_date=date(2027, 3, 1))
        session.add(survey)
        await session.flush()
        session.add(
            PulseItem(
                survey_id=survey.id,
                key="energy",
                position=0,
                kind="likert",
                text={"en": "How is your energy this week?"},
            )
        )
        pulse_round = PulseRound(
            survey_id=survey.id,
            number=1,
            local_date=date(2027, 3, 1),
            opens_at=NOW,
            closes_at=NOW + timedelta(days=3),
            status="open",
        )
        session.add(pulse_round)
        await session.flush()
        session.add(
            Delivery(
                key="pulse:1",
                kind="pulse",
                person_id=person.id,
                pulse_round_id=pulse_round.id,
                due_at=NOW,
                next_attempt_at=NOW,
                expires_at=NOW + timedelta(days=3),
                payload={},
            )
        )
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
    assert (response.value_int, response.person_id) == (4, None)  # anonymous by construction
    assert receipt.person_id is not None
    assert len(telegram_api.answers_to_callbacks()) == 1


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
