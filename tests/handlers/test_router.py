"""The platform-neutral router: answers, duplicates, authorisation, coach commands."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.core import compose
from bot.core.conversation import Policy
from bot.core.messages import TAMPERED, Interaction, InteractionKind
from bot.handlers.registry import build_router
from storage.models import Answer, Delivery, Person
from tests import factories

Sessions = async_sessionmaker[AsyncSession]


def router(sessions: Sessions) -> object:
    return build_router(
        sessions, FrozenClock(factories.T0 + timedelta(hours=1)), factories.SECRET, Policy()
    )


async def leader_with_prompt(sessions: Sessions, locale: str = "nb") -> tuple[int, int, str]:
    async with sessions.begin() as session:
        who = await factories.person(session, locale=locale)
        await factories.identity(session, who, external_id="U1")
        delivery = await factories.sent_delivery(session, who, await factories.prompt(session))
        return who.id, delivery.id, str(delivery.message_ref)


async def count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def submit(value: str, text: str, **extra: object) -> Interaction:
    return Interaction(
        platform="slack",
        external_user="U1",
        kind=InteractionKind.SUBMIT,
        action=compose.ANSWER,
        value=value,
        text=text,
        fields={"visibility": "private"},
        **extra,  # type: ignore[arg-type]
    )


async def test_submit_stores_answer_with_chosen_visibility_and_updates_prompt(
    sessions: Sessions,
) -> None:
    _, delivery_id, ref = await leader_with_prompt(sessions)
    replies = await router(sessions).handle(submit(str(delivery_id), "Jeg lyttet mer."))
    async with sessions() as session:
        answer = await session.scalar(select(Answer))
        delivery = await session.get(Delivery, delivery_id)
    assert answer is not None and (answer.text, answer.visibility) == ("Jeg lyttet mer.", "private")
    assert delivery is not None and delivery.answered_at is not None
    assert replies[0].replace == ref and replies[0].message.tag == "answered"
    assert "Kun meg" in replies[0].message.context[0] or "Only me" in replies[0].message.context[0]


async def test_same_event_three_times_stores_once(sessions: Sessions) -> None:
    _, delivery_id, _ = await leader_with_prompt(sessions)
    handler = router(sessions)
    results = [
        await handler.handle(submit(str(delivery_id), "Svar", event_id="Ev1")) for _ in range(3)
    ]
    assert await count(sessions, Answer) == 1
    assert [bool(r) for r in results] == [True, False, False]


async def test_an_answer_that_meets_a_busy_database_is_handled_again_and_kept_once(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    _, delivery_id, _ = await leader_with_prompt(sessions)
    busy = [OperationalError("INSERT", {}, Exception("database is locked"))]

    def locked_once(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if busy and statement.startswith("INSERT INTO processed_events"):
            raise busy.pop()

    event.listen(engine.sync_engine, "before_cursor_execute", locked_once)
    try:
        replies = await router(sessions).handle(submit(str(delivery_id), "Svar", event_id="Ev9"))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", locked_once)

    assert busy == [] and replies  # it failed once, then went through
    assert await count(sessions, Answer) == 1


async def test_someone_elses_delivery_stores_nothing(sessions: Sessions) -> None:
    await leader_with_prompt(sessions)
    async with sessions.begin() as session:
        other = await factories.person(session)
        foreign = await factories.sent_delivery(session, other, await factories.prompt(session))
    replies = await router(sessions).handle(submit(str(foreign.id), "Not mine"))
    assert await count(sessions, Answer) == 0
    assert replies[0].message.tag == "notice"


async def test_tampered_button_is_refused_and_changes_nothing(sessions: Sessions) -> None:
    await leader_with_prompt(sessions)
    tampered = Interaction("slack", "U1", InteractionKind.BUTTON, action=TAMPERED)
    replies = await router(sessions).handle(tampered)
    assert replies[0].ephemeral and await count(sessions, Answer) == 0


async def test_reply_in_thread_answers_that_prompt(sessions: Sessions) -> None:
    _, delivery_id, ref = await leader_with_prompt(sessions)
    reply = Interaction("slack", "U1", InteractionKind.TEXT, text="Tråd-svar", reply_to=ref)
    await router(sessions).handle(reply)
    async with sessions() as session:
        answer = await session.scalar(select(Answer))
    assert answer is not None and answer.delivery_id == delivery_id
    assert answer.visibility == "coach"  # the campaign default


async def test_plain_message_answers_the_open_prompt_and_edit_updates_it(
    sessions: Sessions,
) -> None:
    await leader_with_prompt(sessions)
    handler = router(sessions)
    fields = {"message_ref": "D1:55"}
    await handler.handle(Interaction("slack", "U1", InteractionKind.TEXT, text="v1", fields=fields))
    await handler.handle(Interaction("slack", "U1", InteractionKind.EDIT, text="v2", fields=fields))
    async with sessions() as session:
        answers = list(await session.scalars(select(Answer)))
    assert [(a.text, a.edits) for a in answers] == [("v2", 1)]


async def test_unknown_user_gets_a_polite_message(sessions: Sessions) -> None:
    hello = Interaction("slack", "UNKNOWN", InteractionKind.TEXT, text="hei")
    replies = await router(sessions).handle(hello)
    assert replies[0].message.tag == "unknown_user"


async def test_pause_sets_date_and_resume_clears_it(sessions: Sessions) -> None:
    person_id, _, _ = await leader_with_prompt(sessions)
    handler = router(sessions)
    pause = Interaction("slack", "U1", InteractionKind.COMMAND, command="pause", args=("2w",))
    await handler.handle(pause)
    async with sessions() as session:
        paused = (await session.get(Person, person_id)).paused_until  # type: ignore[union-attr]
    await handler.handle(Interaction("slack", "U1", InteractionKind.COMMAND, command="resume"))
    async with sessions() as session:
        resumed = (await session.get(Person, person_id)).paused_until  # type: ignore[union-attr]
    assert paused is not None and resumed is None


async def test_coach_posts_group_prompt_and_participant_is_refused(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        cohort, group = await factories.cohort_with_group(session)
        coach = await factories.person(session, role="coach")
        await factories.identity(session, coach, external_id="UCOACH")
        await factories.join(session, coach, cohort)
        for _ in range(3):
            member = await factories.person(session)
            await factories.join(session, member, cohort, group)
        participant = await factories.person(session)
        await factories.identity(session, participant, external_id="UPART")
    args = ("kull-1-gruppe-1", "Hva", "lærte", "dere?")
    handler = router(sessions)
    refused = await handler.handle(
        Interaction("slack", "UPART", InteractionKind.COMMAND, command="prompt", args=args)
    )
    assert refused[0].message.tag == "refused" and await count(sessions, Delivery) == 0
    posted = await handler.handle(
        Interaction("slack", "UCOACH", InteractionKind.COMMAND, command="prompt", args=args)
    )
    assert posted[0].message.tag == "posted"
    async with sessions() as session:
        kinds = list(await session.scalars(select(Delivery.kind)))
    assert kinds == ["group_prompt"] * 3


async def test_group_chat_text_that_replies_to_nothing_of_ours_is_ignored(
    sessions: Sessions,
) -> None:
    await leader_with_prompt(sessions)  # the leader has an open personal prompt
    chatter = Interaction(
        "slack", "U1", InteractionKind.TEXT, text="Lunsj?", reply_to="C9:1.0", is_group_chat=True
    )
    assert await router(sessions).handle(chatter) == []
    assert await count(sessions, Answer) == 0


async def test_edit_command_offers_the_newest_answer_and_the_reply_replaces_it(
    sessions: Sessions,
) -> None:
    _, delivery_id, _ = await leader_with_prompt(sessions)
    handler = router(sessions)
    await handler.handle(submit(str(delivery_id), "Første versjon"))
    offer = await handler.handle(
        Interaction("slack", "U1", InteractionKind.COMMAND, command="edit")
    )
    assert offer[0].message.ask is not None
    assert offer[0].message.ask.initial_text == "Første versjon"
    await handler.handle(Interaction("slack", "U1", InteractionKind.TEXT, text="Andre versjon"))
    async with sessions() as session:
        texts = list(await session.scalars(select(Answer.text)))
    assert texts == ["Andre versjon"]
