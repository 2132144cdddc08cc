"""Answering in Teams: a card submit with a visibility, a plain reply, duplicates, tampering."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.channels.teams.cards import TOKEN
from bot.core.messages import Interaction
from bot.handlers.context import Reply
from storage.models import Answer, ProcessedEvent
from tests.fakes.teams_connector import FakeConnector
from tests.teams.world import (
    TeamsWorld,
    card_of,
    install,
    scheduled_occurrence,
    submit_action,
    texts,
)


async def prompted(world: TeamsWorld, name: str = "Kari Nordmann") -> tuple:
    """Install one leader and deliver one reflection prompt card; return user, person, call."""
    user, person = await install(world, name)
    await scheduled_occurrence(world.runtime.sessions, [person])
    await world.dispatch_all()
    [call] = world.connector.sent(user.chat)
    return user, person, call


async def answers(world: TeamsWorld) -> list[Answer]:
    async with world.runtime.sessions() as session:
        return list(await session.scalars(select(Answer).order_by(Answer.id)))


async def test_a_card_submit_stores_the_answer_with_its_visibility_and_updates_the_card(
    world: TeamsWorld, connector: FakeConnector
) -> None:
    user, person, call = await prompted(world)
    card = card_of(call.body)
    submit = submit_action(card)
    inputs = {e["id"]: e for e in card["body"] if e["type"].startswith("Input.")}
    assert inputs["answer"]["isMultiline"] is True
    assert inputs["visibility"]["value"] == "coach"  # the campaign's default
    assert [c["value"] for c in inputs["visibility"]["choices"]] == ["private", "coach", "group"]

    activity = world.submit(
        user,
        submit["data"],
        reply_to=call.answer["id"],
        answer="I listened before I answered.",
        visibility="private",
    )
    assert (await world.post(activity)).status_code == 202

    [answer] = await answers(world)
    assert (answer.person_id, answer.text, answer.visibility, answer.platform) == (
        person.id,
        "I listened before I answered.",
        "private",
        "teams",
    )
    [update] = connector.updates()
    assert update.path == f"/v3/conversations/{user.chat}/activities/{call.answer['id']}"
    answered = card_of(update.body)
    assert any("Answered. Visible to: Only me." in t for t in texts(answered))
    assert not [e for e in answered["body"] if e["type"].startswith("Input.")]
    # The confirmation, with buttons to change who can see it, goes to the same chat.
    saved = connector.sent(user.chat)[-1]
    assert texts(card_of(saved.body))[0].startswith("Thank you, your reflection is saved.")


async def test_the_same_activity_posted_twice_stores_once(
    world: TeamsWorld, connector: FakeConnector
) -> None:
    user, _, call = await prompted(world)
    card = card_of(call.body)
    submit = submit_action(card)
    activity = world.submit(
        user, submit["data"], reply_to=call.answer["id"], answer="Once.", visibility="coach"
    )

    first = await world.post(activity)
    second = await world.post(activity)

    assert (first.status_code, second.status_code) == (202, 202)
    assert [a.text for a in await answers(world)] == ["Once."]
    assert len(connector.updates()) == 1
    assert await world.count(ProcessedEvent, ProcessedEvent.event_id == activity["id"]) == 1


async def test_a_plain_reply_answers_the_open_prompt(
    world: TeamsWorld, connector: FakeConnector
) -> None:
    user, person, _ = await prompted(world)

    await world.post(world.message(user, "Set aside time for one-to-ones."))

    [answer] = await answers(world)
    assert (answer.person_id, answer.text, answer.visibility) == (
        person.id,
        "Set aside time for one-to-ones.",
        "coach",
    )


async def test_a_tampered_button_changes_nothing(
    world: TeamsWorld, connector: FakeConnector
) -> None:
    user, _, call = await prompted(world)
    card = card_of(call.body)
    submit = submit_action(card)
    forged = {**submit["data"], TOKEN: submit["data"][TOKEN].replace("ans:", "ans:9", 1)}

    await world.post(world.submit(user, forged, reply_to=call.answer["id"], answer="Sneaky."))

    assert await answers(world) == []
    assert connector.updates() == []
    assert connector.sent(user.chat)[-1].body["text"] == "This button is no longer valid."


async def test_teams_gets_its_answer_before_the_slow_work_runs(
    world: TeamsWorld, connector: FakeConnector
) -> None:
    user, _, _ = await prompted(world)
    inbound = world.plugin.inbound
    release = asyncio.Event()
    real_handle = inbound.handle

    async def slow_handle(interaction: Interaction) -> list[Reply]:
        await release.wait()  # stands in for anything slower than Teams' 15 s
        return await real_handle(interaction)

    inbound.handle = slow_handle
    response = await world.client.post(
        "/teams/messages", json=world.message(user, "An answer that takes long to store.")
    )

    assert response.status_code == 202
    assert await answers(world) == []
    release.set()
    await inbound.drain()
    assert [a.text for a in await answers(world)] == ["An answer that takes long to store."]
