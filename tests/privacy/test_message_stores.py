"""Attack: find an anonymous pulse answer in what we store under the person who gave it.

A leader answers every item of an anonymous pulse in the web chat, the free-text item by
typing a chat message. Then the attacker reads everything kept under that person: their
web chat conversation (cards kept for editing, their own messages), their deliveries,
identities and reflections. The values and the text are in the anonymous response rows,
and nowhere under the person.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bot.core.compose_pulse import anonymity_notice
from bot.i18n import gettext_for
from bot.services.render import OutboxRenderer
from scheduler.dispatcher import Dispatcher
from storage.models import Answer, Delivery, Identity, PulseResponse, WebChatMessage
from tests import factories
from tests.flows.test_webchat_flow import csrf, latest, press, sign_in
from tests.privacy import world as pw
from tests.webchat.conftest import ChatWorld, chat_world

__all__ = ["chat_world"]
NOTE = "MY-ANONYMOUS-NOTE-4711 about my manager"


async def test_answers_typed_and_tapped_are_kept_nowhere_under_the_person(
    chat_world: ChatWorld,
) -> None:
    world = chat_world
    sessions = world.runtime.sessions
    programme = await pw.build_programme(sessions)
    leader = programme.leaders_a[0]
    await sign_in(world, leader.id)  # links the web chat identity
    async with sessions.begin() as session:
        session.add(
            Delivery.owed(
                key=f"pulse:{programme.round_id}:person:{leader.id}",
                kind="pulse",
                due_at=world.clock.now(),
                expires_at=world.clock.now() + timedelta(days=3),
                person_id=leader.id,
                pulse_round_id=programme.round_id,
            )
        )
    dispatcher = Dispatcher(
        sessions, world.runtime.channels, OutboxRenderer(), clock=world.clock, instance="t"
    )
    while await dispatcher.run_once():
        pass

    card = await latest(world, "pulse")
    for label in ("4 Agree", "9", "walk", "B", "C", "Done"):
        await press(world, card, label)
        card = await latest(world, "pulse", card["id"])
    assert card["text"] == "Question about note" and card.get("ask")
    typed = await world.client.post(
        "/chat/api/act",
        json={"type": "text", "text": NOTE},
        headers={"X-CSRF-Token": await csrf(world)},
    )
    assert typed.status_code == 200

    async with sessions() as session:
        stored = list(await session.scalars(select(PulseResponse)))
        chat = list(
            await session.scalars(
                select(WebChatMessage).where(WebChatMessage.person_id == leader.id)
            )
        )
        deliveries = list(
            await session.scalars(select(Delivery).where(Delivery.person_id == leader.id))
        )
        identities = list(
            await session.scalars(select(Identity).where(Identity.person_id == leader.id))
        )
        reflections = list(
            await session.scalars(select(Answer).where(Answer.person_id == leader.id))
        )
    # The answers were recorded: the scan below would find them if they were misplaced.
    values = [factories.opened(r, world.runtime.secret) for r in stored]
    assert {v.value_text for v in values} >= {NOTE}
    assert {v.value_int for v in values} >= {4, 9}
    assert all(r.person_id is None for r in stored)

    under_person = json.dumps(
        [m.body for m in chat]
        + [d.payload for d in deliveries]
        + [i.address for i in identities]
        + [a.text for a in reflections],
        ensure_ascii=False,
    )
    assert NOTE not in under_person and "4711" not in under_person
    assert not [m for m in chat if m.sender == "person"]  # the typed answer was not echoed
    assert reflections == []  # nor taken for a reflection
    cards = [m.body for m in chat if m.body.get("tag", "").startswith("pulse")]
    assert cards
    for body in cards:
        marked = [b["label"] for row in body["rows"] for b in row if b.get("style")]
        assert marked in ([], ["Done"]), marked  # no chosen value is marked
        notes = " ".join(body["context"])
        for value in ("4 Agree", "Agree", ": 9", "walk", ": B", "C,"):
            assert value not in notes, (value, notes)
    assert (
        "Your answers: 1: registered · 2: registered · 3: registered · 4: registered · "
        "5: registered" in cards[-1]["context"]
    )
    assert anonymity_notice(gettext_for("en"), pw.K) in cards[-1]["context"]
