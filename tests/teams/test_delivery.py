"""Proactive delivery to Teams: a scheduled occurrence, a group prompt, and a 403."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.services.group_links import issue_group_link_code
from storage.models import Answer, Delivery, GroupChat, Identity, Person
from tests import factories
from tests.fakes.teams_connector import Call, FakeConnector
from tests.teams.world import (
    NOW,
    TENANT,
    TeamsUser,
    TeamsWorld,
    card_of,
    install,
    roster_member,
    scheduled_occurrence,
    submit_action,
    texts,
)

BASE_CHANNEL = "19:kull1gruppe1@thread.tacv2"
CHANNEL = f"{BASE_CHANNEL};messageid=1712000000001"


def texts_of(call: Call) -> str:
    """Return everything a posted activity says, card or plain text."""
    body: dict[str, Any] = call.body
    if body.get("attachments"):
        return "\n".join(texts(card_of(body)))
    return str(body.get("text", ""))


async def met_in_channel(world: TeamsWorld, name: str) -> tuple[TeamsUser, Person]:
    """Create a roster leader who has written to the bot only in a team channel."""
    user, person = await roster_member(world, name)
    await world.post(world.mention(user, "hello", CHANNEL))
    return user, person


async def test_a_scheduled_occurrence_reaches_three_leaders_as_proactive_cards(
    world: TeamsWorld, connector: FakeConnector
) -> None:
    leaders = [await install(world, name) for name in ("Kari Nordmann", "Ola Hansen", "Siri Berg")]

    async with world.runtime.sessions() as session:
        identities = list(await session.scalars(select(Identity)))
    assert sorted(i.external_id for i in identities) == sorted(u.aad for u, _ in leaders)
    assert all(i.status == "active" and i.platform == "teams" for i in identities)

    await scheduled_occurrence(world.runtime.sessions, [person for _, person in leaders])
    await world.dispatch_all()

    async with world.runtime.sessions() as session:
        rows = list(await session.scalars(select(Delivery)))
    assert [r.status for r in rows] == ["sent"] * 3
    for user, person in leaders:
        [call] = connector.sent(user.chat)
        assert call.path == f"/v3/conversations/{user.chat}/activities"
        card = card_of(call.body)
        assert card["type"] == "AdaptiveCard"
        assert "What did you learn this week?" in [b.get("text") for b in card["body"]]
        [row] = [r for r in rows if r.person_id == person.id]
        assert row.platform == "teams"
        assert row.message_ref == f"{user.chat}|{call.answer['id']}"


async def test_a_leader_whose_connector_answers_403_is_unreachable_and_the_rest_delivered(
    world: TeamsWorld, connector: FakeConnector
) -> None:
    leaders = [await install(world, name) for name in ("Kari Nordmann", "Ola Hansen", "Siri Berg")]
    blocked, _ = leaders[1]
    connector.fail(blocked.chat, 403, "Forbidden: the bot is blocked by the user")

    await scheduled_occurrence(world.runtime.sessions, [person for _, person in leaders])
    await world.dispatch_all()
    await world.dispatch_all()  # nothing is retried

    async with world.runtime.sessions() as session:
        rows = {r.person_id: r for r in await session.scalars(select(Delivery))}
        identities = {i.external_id: i for i in await session.scalars(select(Identity))}
    for user, person in leaders:
        expected = "failed" if user is blocked else "sent"
        assert rows[person.id].status == expected
        assert identities[user.aad].status == ("unreachable" if user is blocked else "active")
        assert len(connector.sent(user.chat)) == 1
    assert rows[leaders[1][1].id].error == "teams 403: Forbidden: the bot is blocked by the user"
    assert rows[leaders[1][1].id].attempts == 1


async def test_a_429_holds_the_delivery_back_for_retry_after(
    world: TeamsWorld, connector: FakeConnector
) -> None:
    user, person = await install(world, "Kari Nordmann")
    connector.fail(user.chat, 429, "Too many requests", retry_after=30, times=1)

    await scheduled_occurrence(world.runtime.sessions, [person])
    await world.dispatch_all()

    async with world.runtime.sessions() as session:
        [row] = list(await session.scalars(select(Delivery)))
    assert (row.status, row.throttles) == ("pending", 1)
    assert row.next_attempt_at >= NOW + timedelta(seconds=30)
    world.clock.advance(seconds=31)
    await world.dispatch_all()
    async with world.runtime.sessions() as session:
        [row] = list(await session.scalars(select(Delivery)))
    assert row.status == "sent"
    assert [c.status for c in connector.sent(user.chat)] == [429, 201]


async def test_a_leader_met_only_in_a_channel_gets_a_new_one_to_one_chat(
    secured: TeamsWorld, connector: FakeConnector
) -> None:
    world = secured
    user, person = await met_in_channel(world, "Per Olsen")

    await scheduled_occurrence(world.runtime.sessions, [person])
    await world.dispatch_all()

    [create] = connector.created()
    assert create.body["members"] == [{"id": user.id}]
    assert create.body["tenantId"] == TENANT
    personal = create.answer["id"]
    assert len(connector.sent(personal)) == 1
    assert connector.sent(BASE_CHANNEL) == []
    async with world.runtime.sessions() as session:
        identity = await session.scalar(select(Identity))
    assert identity is not None
    stored = identity.address["conversation"]["conversation_reference"]["conversation"]
    assert stored["id"] == personal  # created once, reused next time


async def test_a_leader_who_has_not_installed_the_app_is_unreachable(
    secured: TeamsWorld, connector: FakeConnector
) -> None:
    world = secured
    _, person = await met_in_channel(world, "Per Olsen")
    connector.fail("*new*", 403, "Bot is not installed in user's personal scope")

    await scheduled_occurrence(world.runtime.sessions, [person])
    await world.dispatch_all()

    async with world.runtime.sessions() as session:
        [row] = list(await session.scalars(select(Delivery)))
        identity = await session.scalar(select(Identity))
    assert row.status == "failed"
    assert identity is not None and identity.status == "unreachable"
    # The SDK drops the body of a failed create_conversation, so only the status is known.
    assert identity.status_reason == "teams 403: Forbidden"


async def test_a_group_prompt_goes_to_the_channel_a_coach_linked(
    world: TeamsWorld, connector: FakeConnector
) -> None:
    coach_user, coach = await install(world, "Coach Cecilie", role="coach")
    leader_user, leader = await install(world, "Kari Nordmann")
    async with world.runtime.sessions() as session, session.begin():
        cohort, group = await factories.cohort_with_group(session)
        await factories.join(session, coach, cohort, group)
        await factories.join(session, leader, cohort, group)
        code = await issue_group_link_code(session, group, NOW)

    await world.post(world.mention(leader_user, f"link {code}", CHANNEL))
    assert await world.count(GroupChat) == 0
    assert "Only a coach" in texts_of(connector.sent(CHANNEL)[-1])
    await world.post(world.mention(coach_user, f"link {code}", CHANNEL))

    async with world.runtime.sessions() as session:
        [chat] = list(await session.scalars(select(GroupChat)))
    assert (chat.platform, chat.external_id, chat.group_id, chat.linked_by_id) == (
        "teams",
        BASE_CHANNEL,
        group.id,
        coach.id,
    )
    assert "now linked to the peer group" in texts_of(connector.sent(CHANNEL)[-1])

    async with world.runtime.sessions() as session, session.begin():
        posted = await factories.group_prompt(
            session, coach, group, "What surprised you this month?"
        )
    assert posted.to_chat
    await world.dispatch_all()

    [post] = connector.sent(BASE_CHANNEL)
    assert post.path == f"/v3/conversations/{BASE_CHANNEL}/activities"
    card = card_of(post.body)
    assert "What surprised you this month?" in texts(card)
    assert len(connector.sent(leader_user.chat)) == 0  # not to each member: to the chat

    # Kari answers with the card in the channel; the answer is visible to the group.
    submit = submit_action(card)
    thread = f"{BASE_CHANNEL};messageid={post.answer['id']}"
    await world.post(
        world.submit(
            leader_user,
            submit["data"],
            reply_to=post.answer["id"],
            conversation=thread,
            answer="That we share the same worries.",
        )
    )
    async with world.runtime.sessions() as session:
        [answer] = list(await session.scalars(select(Answer)))
    assert (answer.person_id, answer.visibility, answer.group_id) == (leader.id, "group", group.id)
