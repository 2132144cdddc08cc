"""The home view: next prompt, pause from a button, language and time zone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.core.conversation import Policy
from bot.core.messages import Interaction, InteractionKind
from bot.handlers import home
from bot.handlers.registry import build_router
from storage.models import Delivery, Person
from tests import factories

Sessions = async_sessionmaker[AsyncSession]


async def leader_with_queued_prompt(sessions: Sessions) -> int:
    async with sessions.begin() as session:
        leader = await factories.person(session, locale="en", timezone="Europe/Oslo")
        await factories.identity(session, leader, external_id="U1")
        queued = await factories.sent_delivery(session, leader, await factories.prompt(session))
        queued.status, queued.due_at = "pending", factories.T0 + timedelta(days=3)
        return leader.id


def act(kind: InteractionKind, **values: object) -> Interaction:
    return Interaction("slack", "U1", kind, **values)  # type: ignore[arg-type]


async def test_home_shows_the_next_prompt_in_local_time(sessions: Sessions) -> None:
    await leader_with_queued_prompt(sessions)
    router = build_router(sessions, FrozenClock(factories.T0), factories.SECRET, Policy())
    replies = await router.handle(act(InteractionKind.COMMAND, command="home"))
    message = replies[0].message
    assert "Next question: 2027-03-04 08:30 (Europe/Oslo)." in message.text
    assert {b.action for b in message.buttons} == {home.PAUSE, home.LANGUAGE}


async def test_pause_button_pauses_and_skips_queued_prompts(sessions: Sessions) -> None:
    person_id = await leader_with_queued_prompt(sessions)
    router = build_router(sessions, FrozenClock(factories.T0), factories.SECRET, Policy())
    replies = await router.handle(act(InteractionKind.BUTTON, action=home.PAUSE, value="1w"))
    async with sessions() as session:
        person = await session.get(Person, person_id)
        statuses = list(await session.scalars(select(Delivery.status)))
    assert person is not None and person.paused_until is not None
    assert statuses == ["skipped"]
    assert replies[0].message.buttons[0].action == home.RESUME


async def test_language_and_time_zone_from_home(sessions: Sessions) -> None:
    person_id = await leader_with_queued_prompt(sessions)
    router = build_router(sessions, FrozenClock(factories.T0), factories.SECRET, Policy())
    await router.handle(act(InteractionKind.BUTTON, action=home.LANGUAGE, value="nn"))
    refused = await router.handle(
        act(InteractionKind.SUBMIT, action=home.TIMEZONE, value="1", text="Mars/Olympus")
    )
    await router.handle(
        act(InteractionKind.SUBMIT, action=home.TIMEZONE, value="1", text="America/New_York")
    )
    async with sessions() as session:
        person = await session.get(Person, person_id)
    assert person is not None and (person.locale, person.timezone) == ("nn", "America/New_York")
    assert "Mars/Olympus" in refused[0].message.text
