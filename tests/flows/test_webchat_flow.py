"""Pulses and peer rounds through the real web chat app, its signed buttons and its channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.core.messages import Interaction, InteractionKind
from bot.services.chat_links import chat_link
from bot.services.peers import meeting_rate
from bot.services.render import OutboxRenderer
from scheduler.dispatcher import Dispatcher
from scheduler.peer_jobs import run_peer_jobs
from scheduler.pulse_jobs import run_pulse_jobs
from scheduler.tick import tick
from storage.models import Identity, PeerRound, Person, PulseResponse
from tests import factories
from tests.flows.conftest import OPTIONS, seed_programme
from tests.webchat.conftest import ChatWorld, open_link
from tests.webchat.test_webchat import csrf


async def sign_in(world: ChatWorld, person_id: int) -> None:
    """Open the chat as this person through a one-time link."""
    async with world.runtime.sessions.begin() as session:
        person = await session.get(Person, person_id)
        assert person is not None
        link = await chat_link(session, person.email, "http://testserver", world.clock.now())
    world.client.cookies.clear()
    response = await open_link(world.client, link.removeprefix("http://testserver"))
    assert response.status_code == 303


async def messages(world: ChatWorld) -> list[dict[str, Any]]:
    response = await world.client.get("/chat/api/messages")
    return list(response.json()["messages"])


async def press(world: ChatWorld, message: dict[str, Any], label: str) -> None:
    """Tap a button of a chat message, sending its signed data as the page does."""
    data = next(b["data"] for row in message["rows"] for b in row if b["label"] == label)
    response = await world.client.post(
        "/chat/api/act",
        json={"type": "button", "data": data, "message": message["id"]},
        headers={"X-CSRF-Token": await csrf(world)},
    )
    assert response.status_code == 200


async def latest(world: ChatWorld, tag: str, message_id: int | None = None) -> dict[str, Any]:
    shown = await messages(world)
    if message_id is not None:
        return next(m for m in shown if m["id"] == message_id)
    return [m for m in shown if m["tag"] == tag][-1]


async def test_pulse_and_peer_round_through_the_web_chat(chat_world: ChatWorld) -> None:
    world = chat_world
    sessions = world.runtime.sessions
    async with sessions.begin() as session:
        programme = await seed_programme(session, 3, identities=False)
    people = list(programme.people.values())
    for person_id in [*people, programme.coach_id]:
        await sign_in(world, person_id)  # links the web chat identity
    dispatcher = Dispatcher(
        sessions, world.runtime.channels, OutboxRenderer(), clock=world.clock, instance="web"
    )

    await tick(sessions, world.clock, OPTIONS)
    async with sessions.begin() as session:
        await run_peer_jobs(session, world.clock.now(), OPTIONS)
    while await dispatcher.run_once():
        pass

    for n, person_id in enumerate(people):
        await sign_in(world, person_id)
        card = await latest(world, "pulse")
        assert any(line.startswith("Anonymous: your answer is") for line in card["context"])
        await press(world, card, f"{n + 3} " + ["Neutral", "Agree", "Strongly agree"][n])
        card = await latest(world, "pulse", card["id"])
        assert card["text"] == "Question about recommend"
        await press(world, card, "9")
        card = await latest(world, "pulse", card["id"])
        assert [b["label"] for row in card["rows"] for b in row if b["style"] == "primary"] == []
        assert "Your answers: 1: registered · 2: registered" in card["context"]
        intro = await latest(world, "peer_intro")
        assert "A question to start with:" in intro["text"]

    world.clock.advance(hours=49)
    async with sessions.begin() as session:
        keyed = replace(OPTIONS, secret=world.runtime.secret)  # the key the slots were made with
        assert (await run_pulse_jobs(session, world.clock.now(), keyed)).closed == 1
    async with sessions() as session:
        stored = list(await session.scalars(select(PulseResponse)))
    assert sorted(r.value_int for r in stored if r.value_int is not None) == [3, 4, 5, 9, 9, 9]
    assert all(r.person_id is None for r in stored)

    [reply] = await world.runtime.router.handle(  # type: ignore[union-attr]
        Interaction(
            platform="webchat",
            external_user=f"person-{programme.coach_id}",
            kind=InteractionKind.COMMAND,
            command="results",
            event_id="coach-results",
        )
    )
    assert "Answered: 3 of 3 (100 %)" in reply.message.text
    assert "Distribution: 1: 0 · 2: 0 · 3: 1 · 4: 1 · 5: 1" in reply.message.text
    assert "mean 4.0" in reply.message.text and "eNPS +100" in reply.message.text

    world.clock.advance(days=6)
    while await dispatcher.run_once():
        pass
    for person_id in people[:2]:
        await sign_in(world, person_id)
        check = await latest(world, "meeting_check")
        await press(world, check, "Yes, we met")
        answered = await latest(world, "", check["id"])
        assert answered["tag"] == "meeting_answered"
    async with sessions() as session:
        round_id = await session.scalar(select(PeerRound.id))
        assert round_id is not None
        rate = await meeting_rate(session, round_id)
    assert (rate.matches, rate.met, rate.rate) == (1, 1, 1.0)
    assert rate.answers["yes"] == 2 and rate.answers["unanswered"] == 1


async def webchat_leader(world: ChatWorld) -> tuple[int, dict[str, Any]]:
    """Create a leader signed in to the web chat; return their id and web chat address."""
    async with world.runtime.sessions.begin() as session:
        person_id = (await factories.person(session, locale="en")).id
    await sign_in(world, person_id)
    async with world.runtime.sessions() as session:
        identity = await session.scalar(select(Identity).where(Identity.person_id == person_id))
        assert identity is not None
        return person_id, dict(identity.address)


def dispatcher_of(world: ChatWorld) -> Dispatcher:
    """Return the real dispatcher sending through the web chat channel."""
    channels = world.runtime.channels
    return Dispatcher(world.runtime.sessions, channels, OutboxRenderer(), clock=world.clock)


async def test_a_pulse_due_the_moment_its_round_opens_arrives_open(chat_world: ChatWorld) -> None:
    world = chat_world
    person_id, _ = await webchat_leader(world)
    async with world.runtime.sessions.begin() as session:
        await factories.open_pulse(
            session, [person_id], opens_at=world.clock.now(), status="scheduled"
        )
    assert await dispatcher_of(world).run_once() == 1

    card = await latest(world, "pulse")
    await press(world, card, "4 Agree")

    async with world.runtime.sessions() as session:
        [response] = list(await session.scalars(select(PulseResponse)))
    assert factories.opened(response, world.runtime.secret).value_int == 4


async def test_a_card_sent_before_its_round_opened_is_redrawn_with_buttons(
    chat_world: ChatWorld,
) -> None:
    world = chat_world
    person_id, address = await webchat_leader(world)
    async with world.runtime.sessions.begin() as session:
        opens = world.clock.now() + timedelta(hours=1)
        _, [delivery] = await factories.open_pulse(
            session, [person_id], opens_at=opens, status="scheduled"
        )
    channel = world.runtime.channels["webchat"]
    await factories.send_closed_card(world.runtime.sessions, channel, delivery.id, address)
    closed = await latest(world, "pulse_closed")
    assert closed["rows"] == []

    world.clock.advance(hours=1)
    assert await factories.open_due_rounds(world.runtime.sessions, world.clock.now()) == 1
    assert await dispatcher_of(world).run_once() == 1

    card = await latest(world, "pulse", closed["id"])
    await press(world, card, "2 Disagree")
    async with world.runtime.sessions() as session:
        [response] = list(await session.scalars(select(PulseResponse)))
    assert factories.opened(response, world.runtime.secret).value_int == 2
