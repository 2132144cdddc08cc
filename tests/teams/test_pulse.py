"""Pulse items on Teams: Adaptive Card buttons, a response anonymous where the round is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.channels.teams.cards import TOKEN
from bot.core import button_codec
from bot.core.compose_pulse import PULSE_VALUE
from storage.models import Identity, PulseReceipt, PulseResponse
from tests import factories
from tests.fakes.teams_connector import FakeConnector
from tests.teams.world import SECRET, TeamsWorld, actions, card_of, install, texts


async def delivered_pulse(world: TeamsWorld, *, anonymous: bool) -> tuple:
    """Open a one-item round, send Kari's pulse card; return the user, person and the post."""
    user, person = await install(world, "Kari Nordmann")
    async with world.runtime.sessions() as session, session.begin():
        await factories.open_pulse(session, [person.id], anonymous=anonymous)
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
    assert factories.opened(response, SECRET).value_int == 4
    assert (response.sealed is not None) == anonymous  # sealed until the round closes
    assert response.person_id == (None if anonymous else person.id)
    assert receipt.person_id == person.id
    assert [u.path for u in connector.updates()] == [
        f"/v3/conversations/{user.chat}/activities/{post.answer['id']}"
    ]
    # The Teams message was updated: an anonymous card says "registered", never the value.
    shown = "\n".join(texts(card_of(connector.updates()[-1].body)))
    if anonymous:
        assert "Your answers: 1: registered" in shown and "4 Agree" not in shown
    else:
        assert "Your answers: 1: 4 Agree" in shown


async def test_a_pulse_due_the_moment_its_round_opens_arrives_open(
    world: TeamsWorld, connector: FakeConnector
) -> None:
    user, person = await install(world, "Kari Nordmann")
    async with world.runtime.sessions() as session, session.begin():
        await factories.open_pulse(
            session, [person.id], opens_at=world.clock.now(), status="scheduled"
        )
    await world.dispatch_all()
    [post] = connector.sent(user.chat)
    card = card_of(post.body)
    await world.post(
        world.submit(user, value_action(card, "4")["data"], reply_to=post.answer["id"])
    )

    assert await world.count(PulseResponse) == 1


async def test_a_card_sent_before_its_round_opened_is_redrawn_with_buttons(
    world: TeamsWorld, connector: FakeConnector
) -> None:
    user, person = await install(world, "Kari Nordmann")
    async with world.runtime.sessions() as session, session.begin():
        _, [delivery] = await factories.open_pulse(
            session,
            [person.id],
            opens_at=world.clock.now() + timedelta(hours=1),
            status="scheduled",
        )
        identity = await session.scalar(select(Identity).where(Identity.person_id == person.id))
        assert identity is not None
        address = dict(identity.address)
    ref = await factories.send_closed_card(
        world.runtime.sessions, world.plugin.channel, delivery.id, address
    )
    [post] = connector.sent(user.chat)
    assert not actions(card_of(post.body))

    world.clock.advance(hours=1)
    assert await factories.open_due_rounds(world.runtime.sessions, world.clock.now()) == 1
    await world.dispatch_all()

    [update] = connector.updates()
    assert update.path.endswith(f"/activities/{post.answer['id']}"), ref
    card = card_of(update.body)
    await world.post(
        world.submit(user, value_action(card, "2")["data"], reply_to=post.answer["id"])
    )
    assert await world.count(PulseResponse) == 1
