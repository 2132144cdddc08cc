"""The web chat as a leader uses it: a link, a prompt, an answer, a visibility choice."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.services.chat_links import chat_link
from bot.services.render import render
from storage.models import Answer, Delivery
from tests import factories
from tests.webchat.conftest import ChatWorld, open_link


async def signed_in_leader_with_prompt(world: ChatWorld) -> tuple[int, int]:
    """Create a leader, sign them in through a link, and send them one prompt."""
    sessions = world.runtime.sessions
    async with sessions.begin() as session:
        leader = await factories.person(session, name="Åse Ødegård", locale="nb")
        link = await chat_link(session, leader.email, "http://testserver", world.clock.now())
    response = await open_link(world.client, link.removeprefix("http://testserver"))
    assert response.status_code == 303 and "tenkepause_chat" in response.cookies
    async with sessions.begin() as session:
        delivery = await factories.sent_delivery(
            session, leader, await factories.prompt(session), platform="webchat"
        )
        message = await render(session, delivery)
    channel = world.runtime.channels["webchat"]
    ref = await channel.send({"person_id": leader.id}, message)
    async with sessions.begin() as session:
        (await session.get(Delivery, delivery.id)).message_ref = ref  # type: ignore[union-attr]
    return leader.id, delivery.id


async def csrf(world: ChatWorld) -> str:
    page = await world.client.get("/chat/")
    assert page.status_code == 200
    match = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
    assert match is not None
    return match.group(1)


async def test_leader_answers_a_prompt_in_the_web_chat(chat_world: ChatWorld) -> None:
    _, delivery_id = await signed_in_leader_with_prompt(chat_world)
    messages = (await chat_world.client.get("/chat/api/messages")).json()["messages"]
    prompt = messages[-1]
    assert prompt["title"] == "En tenkepause" and prompt["ask"]["default"] == "coach"
    response = await chat_world.client.post(
        "/chat/api/act",
        json={
            "type": "submit",
            "data": prompt["ask"]["data"],
            "text": "Jeg spurte teamet først.",
            "visibility": "group",
            "message": prompt["id"],
        },
        headers={"X-CSRF-Token": await csrf(chat_world)},
    )
    assert response.status_code == 200
    async with chat_world.runtime.sessions() as session:
        answer = await session.scalar(select(Answer))
    assert answer is not None and answer.delivery_id == delivery_id
    assert (answer.text, answer.visibility, answer.platform) == (
        "Jeg spurte teamet først.",
        "group",
        "webchat",
    )
    after = (await chat_world.client.get("/chat/api/messages")).json()["messages"]
    updated = next(m for m in after if m["id"] == prompt["id"])
    assert updated["tag"] == "answered" and "ask" not in updated
    assert after[-1]["tag"] == "saved"


async def test_typed_message_answers_the_open_prompt(chat_world: ChatWorld) -> None:
    await signed_in_leader_with_prompt(chat_world)
    await chat_world.client.post(
        "/chat/api/act",
        json={"type": "text", "text": "Kort svar"},
        headers={"X-CSRF-Token": await csrf(chat_world)},
    )
    async with chat_world.runtime.sessions() as session:
        texts = list(await session.scalars(select(Answer.text)))
    assert texts == ["Kort svar"]


async def test_post_without_csrf_token_is_rejected(chat_world: ChatWorld) -> None:
    await signed_in_leader_with_prompt(chat_world)
    response = await chat_world.client.post("/chat/api/act", json={"type": "text", "text": "Hei"})
    assert response.status_code == 403
    async with chat_world.runtime.sessions() as session:
        assert await session.scalar(select(Answer)) is None


async def test_tampered_button_changes_nothing(chat_world: ChatWorld) -> None:
    await signed_in_leader_with_prompt(chat_world)
    messages = (await chat_world.client.get("/chat/api/messages")).json()["messages"]
    forged = messages[-1]["ask"]["data"].replace("ans:", "ans:9")
    await chat_world.client.post(
        "/chat/api/act",
        json={"type": "submit", "data": forged, "text": "x", "message": messages[-1]["id"]},
        headers={"X-CSRF-Token": await csrf(chat_world)},
    )
    async with chat_world.runtime.sessions() as session:
        assert await session.scalar(select(Answer)) is None


async def test_a_used_link_and_a_random_link_are_refused(chat_world: ChatWorld) -> None:
    async with chat_world.runtime.sessions.begin() as session:
        leader = await factories.person(session)
        link = await chat_link(session, leader.email, "", chat_world.clock.now())
    assert (await open_link(chat_world.client, link)).status_code == 303
    chat_world.client.cookies.clear()
    used = await chat_world.client.get(link)
    assert used.status_code == 410 and "allerede brukt" in used.text
    assert "tenkepause chat-link" in used.text
    assert (await chat_world.client.get("/chat/login/not-a-code")).status_code == 410
    assert (await chat_world.client.get("/chat/")).status_code == 401
