"""The one conversation model behind every channel, driven through the real router."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.core import compose, compose_pulse
from bot.core.conversation import Policy
from bot.core.messages import Interaction, InteractionKind
from bot.handlers.context import Reply
from bot.handlers.registry import build_router
from bot.handlers.router import Router
from scheduler.tick import tick
from storage.models import Answer, ConversationState, Delivery, Person, PulseResponse
from tests import factories

Sessions = async_sessionmaker[AsyncSession]

# Each command as typed in bokmål, nynorsk and English, and the tag of the reply it gets.
COMMANDS = {
    "nb": ["hjelp", "pause", "fortsett", "språk", "mine svar", "dashboard", "stopp"],
    "nn": ["hjelp", "pause", "hald fram", "språk", "svara mine", "dashboard", "stopp"],
    "en": ["help", "pause", "resume", "language", "my answers", "dashboard", "stop"],
}
TAGS = ["help", "paused", "resumed", "language", "mine", "dashboard_link", "stop_confirm"]


class Chat:
    """One person's DM with the bot, on a frozen clock."""

    def __init__(self, sessions: Sessions, user: str = "U1") -> None:
        self.sessions, self.user = sessions, user
        self.clock = FrozenClock(factories.T0 + timedelta(hours=1))
        self.router: Router = build_router(sessions, self.clock, factories.SECRET, Policy())

    async def say(self, text: str, **extra: object) -> list[Reply]:
        return await self.router.handle(
            Interaction("slack", self.user, InteractionKind.TEXT, text=text, **extra)  # type: ignore[arg-type]
        )

    async def press(self, action: str, value: str) -> list[Reply]:
        return await self.router.handle(
            Interaction("slack", self.user, InteractionKind.BUTTON, action=action, value=value)
        )

    async def answers(self) -> list[tuple[str, str, str]]:
        async with self.sessions() as session:
            rows = await session.scalars(select(Answer).order_by(Answer.id))
            return [(a.stage, a.text, a.visibility) for a in rows]


async def leader(sessions: Sessions, locale: str = "nb", role: str = "participant") -> int:
    async with sessions.begin() as session:
        who = await factories.person(session, locale=locale, role=role)
        await factories.identity(session, who, external_id="U1")
        return who.id


async def prompt_for(sessions: Sessions, person_id: int, **values: object) -> Delivery:
    async with sessions.begin() as session:
        who = await session.get(Person, person_id)
        return await factories.sent_delivery(
            session, who, await factories.prompt(session), **values
        )


def tags(replies: list[Reply]) -> list[str]:
    return [r.message.tag for r in replies]


@pytest.mark.parametrize("locale", ["nb", "nn", "en"])
async def test_each_command_works_in_each_language_and_none_is_stored(
    sessions: Sessions, locale: str
) -> None:
    person_id = await leader(sessions, locale, role="coach")
    await prompt_for(sessions, person_id)  # an answer awaits throughout
    chat = Chat(sessions)
    for word, tag in zip(COMMANDS[locale], TAGS, strict=True):
        replies = await chat.say(word)
        assert tag in tags(replies), (word, tags(replies))
    assert await chat.answers() == []


async def test_text_while_nothing_awaits_gets_the_menu_not_a_loop(sessions: Sessions) -> None:
    await leader(sessions, "nb")
    chat = Chat(sessions)
    [menu] = await chat.say("Hei, hva nå?")
    assert menu.message.tag == "menu" and "/help" not in menu.message.text
    assert "ble ikke lagret" in menu.message.text
    assert "hjelp · pause · fortsett · språk · mine svar · stopp" in menu.message.text
    [help_] = await chat.say("/help")
    assert help_.message.tag == "help"
    assert await chat.answers() == []


async def test_an_expired_prompt_gets_the_menu_with_a_button_to_answer_it(
    sessions: Sessions,
) -> None:
    person_id = await leader(sessions, "en")
    delivery = await prompt_for(sessions, person_id)
    chat = Chat(sessions)
    chat.clock.advance(hours=24)  # the prompt was sent 25 hours ago
    [menu] = await chat.say("Late thoughts")
    assert menu.message.tag == "menu" and await chat.answers() == []
    [answer_button] = menu.message.buttons
    assert answer_button.action == compose.AWAIT and answer_button.value == str(delivery.id)
    [goes_to] = await chat.press(answer_button.action, answer_button.value)
    assert goes_to.message.text.startswith("Your answer goes to: «Describe a case.»")
    await chat.say("Late thoughts, now on purpose")
    assert await chat.answers() == [("main", "Late thoughts, now on purpose", "coach")]


async def test_an_expired_follow_up_state_stores_nothing(sessions: Sessions) -> None:
    person_id = await leader(sessions, "en")
    delivery = await prompt_for(sessions, person_id)
    chat = Chat(sessions)
    await chat.say("Main answer")
    [follow_up] = await chat.press(compose.FOLLOW_UP, str(delivery.id))
    assert "Your answer goes to: «What next?»" in follow_up.message.context
    chat.clock.advance(hours=24, seconds=1)
    [menu] = await chat.say("Too late")
    assert menu.message.tag == "menu"
    assert "waited too long" in menu.message.text
    assert await chat.answers() == [("main", "Main answer", "coach")]


async def test_a_command_typed_while_an_answer_awaits_keeps_it_waiting(sessions: Sessions) -> None:
    person_id = await leader(sessions, "nb")
    delivery = await prompt_for(sessions, person_id)
    chat = Chat(sessions)
    await chat.say("Hovedsvar")
    await chat.press(compose.FOLLOW_UP, str(delivery.id))
    [help_] = await chat.say("hjelp")
    assert "Svaret ditt går til: «Hva ville du gjort annerledes?»" in help_.message.text
    await chat.say("Oppfølgingen")
    assert await chat.answers() == [
        ("main", "Hovedsvar", "coach"),
        ("follow_up", "Oppfølgingen", "coach"),
    ]


async def test_an_edit_shows_before_and_after_and_undo_restores_it(sessions: Sessions) -> None:
    person_id = await leader(sessions, "nb")
    delivery = await prompt_for(sessions, person_id)
    chat = Chat(sessions)
    await chat.say("Første versjon")
    [offer] = await chat.press(compose.EDIT, str(delivery.id))
    assert "Refleksjonen din nå: «Første versjon»" in offer.message.text
    replies = await chat.say("Andre versjon")
    [edited] = [r for r in replies if r.message.tag == "edited"]
    assert "Før: «Første versjon»" in edited.message.text
    assert "Nå: «Andre versjon»" in edited.message.text
    assert await chat.answers() == [("main", "Andre versjon", "coach")]
    [undone] = [r for r in await chat.say("angre") if r.message.tag == "undone"]
    assert "«Første versjon»" in undone.message.text
    assert await chat.answers() == [("main", "Første versjon", "coach")]
    [again] = await chat.say("angre")
    assert again.message.tag == "undo_refused"


async def test_undo_expires_after_ten_minutes(sessions: Sessions) -> None:
    person_id = await leader(sessions, "en")
    delivery = await prompt_for(sessions, person_id)
    chat = Chat(sessions)
    await chat.say("One")
    await chat.press(compose.EDIT, str(delivery.id))
    replies = await chat.say("Two")
    [undo_button] = [b for r in replies for b in r.message.buttons if b.action == compose.UNDO]
    chat.clock.advance(minutes=10)
    [refused] = await chat.press(undo_button.action, undo_button.value)
    assert refused.message.tag == "undo_refused"
    assert await chat.answers() == [("main", "Two", "coach")]
    async with sessions() as session:
        state = await session.get(ConversationState, person_id)
    assert state is not None and state.undo_text is None  # the old version is gone


async def test_typed_text_never_replaces_an_answer_without_an_edit(sessions: Sessions) -> None:
    person_id = await leader(sessions, "en")
    delivery = await prompt_for(sessions, person_id)
    chat = Chat(sessions)
    await chat.say("The answer")
    [menu] = await chat.say("Something else entirely")
    assert menu.message.tag == "menu"
    [kept] = await chat.say("In the thread", reply_to=delivery.message_ref)
    assert kept.message.tag == "already_answered"
    assert await chat.answers() == [("main", "The answer", "coach")]


async def test_after_edit_a_newer_prompt_wins_and_the_old_answer_stays(sessions: Sessions) -> None:
    person_id = await leader(sessions, "nb")
    old = await prompt_for(sessions, person_id)
    chat = Chat(sessions)
    await chat.say("Gammel refleksjon")
    await chat.press(compose.EDIT, str(old.id))
    new = await prompt_for(sessions, person_id, sent_at=chat.clock.now() + timedelta(minutes=1))
    chat.clock.advance(minutes=2)
    replies = await chat.say("Svar på det nye spørsmålet")
    [saved] = [r for r in replies if r.message.tag == "saved"]
    assert "Svaret ditt gikk til: «Beskriv en konkret situasjon.»" in saved.message.context
    # The edit was superseded: a second message must not fall back to replacing the old one.
    [menu] = await chat.say("Og en ting til")
    assert menu.message.tag == "menu"
    async with sessions() as session:
        by_delivery = {a.delivery_id: a.text for a in await session.scalars(select(Answer))}
    assert by_delivery == {old.id: "Gammel refleksjon", new.id: "Svar på det nye spørsmålet"}


async def test_cancel_stops_waiting(sessions: Sessions) -> None:
    person_id = await leader(sessions, "en")
    delivery = await prompt_for(sessions, person_id)
    chat = Chat(sessions)
    await chat.say("Answer")
    await chat.press(compose.EDIT, str(delivery.id))
    [cancelled] = await chat.say("cancel")
    assert cancelled.message.tag == "cancelled"
    [menu] = await chat.say("Not an edit any more")
    assert menu.message.tag == "menu"
    assert await chat.answers() == [("main", "Answer", "coach")]


async def test_after_a_pulse_typing_help_does_not_replace_its_free_text(sessions: Sessions) -> None:
    person_id = await leader(sessions, "nb")
    async with sessions.begin() as session:
        _, [delivery] = await factories.open_pulse(session, [person_id], kind="text")
        delivery.status, delivery.platform, delivery.message_ref = "sent", "slack", "D1:1.0"
        delivery.sent_at = factories.T0
    chat = Chat(sessions)
    shown = await chat.press(compose_pulse.PULSE_GOTO, f"{delivery.id}.0")
    assert shown[0].message.ask is not None
    await chat.say("Mer tid til refleksjon")
    for typed in ("hjelp", "/help", "/start", "Takk!", "ok"):
        await chat.say(typed)
    async with sessions() as session:
        texts = [
            factories.opened(r, factories.SECRET).value_text
            for r in await session.scalars(select(PulseResponse))
        ]
        states = await session.scalar(
            select(func.count())
            .select_from(ConversationState)
            .where(ConversationState.purpose.is_not(None))
        )
    assert texts == ["Mer tid til refleksjon"]
    assert states == 0  # the answered text item no longer waits for text


async def test_the_tick_erases_an_old_version_once_it_can_no_longer_be_undone(
    sessions: Sessions,
) -> None:
    person_id = await leader(sessions, "en")
    delivery = await prompt_for(sessions, person_id)
    chat = Chat(sessions)
    await chat.say("Something I regret writing")
    await chat.press(compose.EDIT, str(delivery.id))
    await chat.say("Better")
    await tick(sessions, chat.clock)
    async with sessions() as session:
        kept = await session.get(ConversationState, person_id)
        assert kept is not None and kept.undo_text == "Something I regret writing"
    chat.clock.advance(minutes=10)
    report = await tick(sessions, chat.clock)
    async with sessions() as session:
        texts = list(await session.scalars(select(ConversationState.undo_text)))
    assert report.old_versions_erased == 1 and texts == []


async def test_a_command_in_a_group_thread_is_neither_run_nor_stored(sessions: Sessions) -> None:
    person_id = await leader(sessions, "en")
    delivery = await prompt_for(sessions, person_id)
    chat = Chat(sessions)
    for word in ("stop", "help", "pause"):
        [notice] = await chat.say(word, reply_to=delivery.message_ref, is_group_chat=True)
        assert notice.message.tag == "group_command" and notice.ephemeral
    assert await chat.say("stop", is_group_chat=True) == []
    assert await chat.answers() == []
    async with sessions() as session:
        who = await session.get(Person, person_id)
        assert who is not None and who.paused_until is None and who.identities


async def test_stop_asks_first_and_unlinks_only_when_confirmed(sessions: Sessions) -> None:
    person_id = await leader(sessions, "nb")
    chat = Chat(sessions)
    [question] = await chat.say("stopp")
    no, yes = sorted(question.message.buttons, key=lambda b: b.value)
    [kept] = await chat.press(no.action, no.value)
    assert kept.message.tag == "stop_kept"
    async with sessions() as session:
        assert (await session.get(Person, person_id)).identities  # type: ignore[union-attr]
    [stopped] = await chat.press(yes.action, yes.value)
    assert stopped.message.tag == "stopped"
    async with sessions() as session:
        who = await session.get(Person, person_id)
        assert who is not None
        await session.refresh(who, ["identities"])
        assert who.identities == []


async def test_a_reminder_opens_the_answer_window_again(sessions: Sessions) -> None:
    person_id = await leader(sessions, "en")
    delivery = await prompt_for(sessions, person_id)
    chat = Chat(sessions)
    chat.clock.advance(days=2)
    async with sessions.begin() as session:
        who = await session.get(Person, person_id)
        prompt = await session.get(Delivery, delivery.id)
        assert prompt is not None
        await factories.sent_delivery(
            session,
            who,
            await factories.prompt(session),
            kind="reminder",
            parent_id=delivery.id,
            sent_at=chat.clock.now() - timedelta(hours=1),
        )
    replies = await chat.say("Answered after the reminder")
    assert "saved" in tags(replies)
    async with sessions() as session:
        answer = await session.scalar(select(Answer))
    assert answer is not None and answer.delivery_id == delivery.id
