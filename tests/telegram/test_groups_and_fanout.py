"""Peer groups in Telegram group chats, and a fan-out with one user who blocked the bot."""

from __future__ import annotations

from sqlalchemy import select

from bot.services.group_links import issue_group_link_code
from storage.models import Answer, Delivery, GroupChat, Identity, PeerGroup, Person
from tests import factories
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser
from tests.telegram.harness import NOW, Harness, due_prompt, linked_leader

COACH = FakeUser(7201, "Coach", language_code="en")
KARI = FakeUser(7202, "Kari", language_code="en")
GROUP_CHAT = -1001200300


async def peer_group(harness: Harness) -> tuple[Person, Person, PeerGroup, str]:
    """Create a coach and a leader in one peer group, both on Telegram, and a link code."""
    coach = await linked_leader(harness.sessions, COACH, role="coach")
    leader = await linked_leader(harness.sessions, KARI)
    async with harness.sessions() as session, session.begin():
        cohort, group = await factories.cohort_with_group(session)
        await factories.join(session, coach, cohort, group)
        await factories.join(session, leader, cohort, group)
        code = await issue_group_link_code(session, group, NOW)
    return coach, leader, group, code


async def linked_chats(harness: Harness) -> list[GroupChat]:
    """Return every linked group chat."""
    async with harness.sessions() as session:
        return list(await session.scalars(select(GroupChat)))


async def test_a_group_prompt_and_its_answer_in_a_linked_group_are_group_visible(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    coach, leader, group, code = await peer_group(harness)
    chat = telegram_api.group_chat(GROUP_CHAT, "Kull 1, gruppe 1")
    await harness.send(telegram_api.text_update(COACH, f"/link {code}", chat=chat))
    [linked] = await linked_chats(harness)
    assert (linked.group_id, linked.address, linked.linked_by_id) == (
        group.id,
        {"chat_id": GROUP_CHAT},
        coach.id,
    )
    assert "now linked to the peer group" in telegram_api.last_sent_to(GROUP_CHAT)["text"]

    async with harness.sessions() as session, session.begin():
        posted = await factories.group_prompt(
            session, coach, group, "What surprised you this month?"
        )
    assert posted.to_chat
    assert await harness.dispatcher().run_once() == 1
    prompt_message = telegram_api.last_sent_to(GROUP_CHAT)
    assert "What surprised you this month?" in prompt_message["text"]
    assert "visible to your peer group" in prompt_message["text"]

    await harness.send(
        telegram_api.text_update(
            KARI, "That we share the same worries.", chat=chat, reply_to=prompt_message
        )
    )

    async with harness.sessions() as session:
        [answer] = list(await session.scalars(select(Answer)))
        delivery = await session.get(Delivery, answer.delivery_id)
    assert (answer.person_id, answer.visibility, answer.group_id) == (leader.id, "group", group.id)
    assert delivery is not None and delivery.kind == "group_prompt"
    # The confirmation is personal, so it goes to Kari's private chat, not the group.
    assert telegram_api.last_sent_to(KARI.id)["text"].startswith("Thank you, your reflection")


async def test_group_chatter_that_answers_nothing_is_ignored(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    await peer_group(harness)
    chat = telegram_api.group_chat(GROUP_CHAT)

    await harness.send(telegram_api.text_update(KARI, "Coffee at ten?", chat=chat))

    assert telegram_api.sent_to(GROUP_CHAT) == []
    assert await harness.count(Answer) == 0


async def test_only_a_coach_with_a_valid_code_links_a_group(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    _, _, _, code = await peer_group(harness)
    chat = telegram_api.group_chat(GROUP_CHAT)

    await harness.send(telegram_api.text_update(KARI, f"/link {code}", chat=chat))
    assert "Only a coach" in telegram_api.last_sent_to(GROUP_CHAT)["text"]
    await harness.send(telegram_api.text_update(COACH, "/link made-up-code", chat=chat))
    assert "not valid" in telegram_api.last_sent_to(GROUP_CHAT)["text"]
    await harness.send(telegram_api.text_update(COACH, f"/link {code}"))  # in a private chat
    assert "in the group chat" in telegram_api.last_sent_to(COACH.id)["text"]

    assert await linked_chats(harness) == []


async def test_one_blocked_user_in_ten_is_unreachable_and_nine_are_delivered(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    users = [FakeUser(7300 + n, f"Leder {n}", language_code="en") for n in range(10)]
    blocked = users[3]
    telegram_api.block(blocked.id)
    for user in users:
        person = await linked_leader(harness.sessions, user)
        await due_prompt(harness.sessions, person)

    dispatcher = harness.dispatcher()
    while await dispatcher.run_once():
        pass

    async with harness.sessions() as session:
        rows = list(await session.scalars(select(Delivery)))
        identities = {
            i.external_id: i
            for i in await session.scalars(select(Identity).where(Identity.platform == "telegram"))
        }
    assert sorted(r.status for r in rows) == ["failed"] + ["sent"] * 9
    [failed] = [r for r in rows if r.status == "failed"]
    assert failed.error == "Forbidden: bot was blocked by the user"
    assert identities[str(blocked.id)].status == "unreachable"
    assert [i.status for k, i in identities.items() if k != str(blocked.id)] == ["active"] * 9
    for user in users:
        assert len(telegram_api.sent_to(user.id)) == (0 if user is blocked else 1)
    # A permanent failure is not retried.
    attempts = [c for c in telegram_api.calls if c.params.get("chat_id") == blocked.id]
    assert len(attempts) == 1
