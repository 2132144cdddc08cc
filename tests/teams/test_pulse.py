"""Pulse items on Teams: Adaptive Card buttons, a response anonymous where the round is."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.channels.teams.cards import TOKEN
from bot.core import button_codec
from bot.core.compose_pulse import PULSE_VALUE
from storage.models import Delivery, PulseItem, PulseReceipt, PulseResponse, PulseRound, PulseSurvey
from tests.fakes.teams_connector import FakeConnector
from tests.teams.world import NOW, SECRET, TeamsWorld, actions, card_of, install, texts


async def delivered_pulse(world: TeamsWorld, *, anonymous: bool) -> tuple:
    """Open a one-item round, send Kari's pulse card; return the user, person and the post."""
    user, person = await install(world, "Kari Nordmann")
    async with world.runtime.sessions() as session, session.begin():
        survey = PulseSurvey(key="puls", anonymous=anonymous, start_date=date(2027, 3, 1))
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
    await world.dispatch_all()
    [post] = world.connector.sent(user.chat)
    return user, person, post


def value_action(card: dict, value: str) -> dict:
    """Return the Action.Submit that answers `value`."""
    for action in actions(card):
        name, ref = button_codec.decode(SECRET, action["data"][TOKEN])
        if name == PULSE_VALUE and ref.endswith(f".{value}"):
            return action
    raise AssertionError(f"no button for {value}")


@pytest.mark.parametrize("anonymous", [True, False], ids=["anonymous", "named"])
async def test_a_pulse_submit_stores_a_response_anonymous_where_the_round_is(
    world: TeamsWorld, connector: FakeConnector, anonymous: bool
) -> None:
    user, person, post = await delivered_pulse(world, anonymous=anonymous)
    card = card_of(post.body)
    assert "How is your energy this week?" in "\n".join(texts(card))

    action = value_action(card, "4")
    await world.post(world.submit(user, action["data"], reply_to=post.answer["id"]))

    async with world.runtime.sessions() as session:
        [response] = list(await session.scalars(select(PulseResponse)))
        [receipt] = list(await session.scalars(select(PulseReceipt)))
    assert response.value_int == 4
    assert response.person_id == (None if anonymous else person.id)
    assert receipt.person_id == person.id
    assert [u.path for u in connector.updates()] == [
        f"/v3/conversations/{user.chat}/activities/{post.answer['id']}"
    ]
