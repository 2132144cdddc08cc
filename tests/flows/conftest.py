"""A programme with a pulse survey and a peer series, the real tick, dispatcher and router,
and a recording channel that clicks buttons the way a channel does: encode, then decode."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.recording import RecordingChannel, Sent
from bot.clock import FrozenClock
from bot.core import button_codec
from bot.core.conversation import Policy
from bot.core.messages import Button, Interaction, InteractionKind, OutMessage
from bot.handlers.context import Reply
from bot.handlers.registry import build_router
from bot.handlers.router import Router
from bot.services.render import OutboxRenderer
from scheduler.dispatcher import Dispatcher
from scheduler.rate_limits import RateLimiter
from scheduler.timing import TickOptions
from storage.models import Audience, PeerSeries, PulseItem, PulseSurvey
from tests import factories
from tests.webchat.conftest import chat_world  # noqa: F401  (the real web chat app)

SECRET = "flow-secret"
# The recording channel stands in for a platform whose bots cannot open group chats
# (Telegram), so every member's messages arrive, and can be followed, one by one.
PLATFORM = "telegram"
OPTIONS = TickOptions(quiet_hours=None, weekly_digests=False, secret=SECRET)
ITEMS = {
    "energy": ("likert", []),
    "recommend": ("scale", []),
    "format": ("single", [{"key": "talk", "text": {"en": "Talk"}}, {"key": "walk", "text": {}}]),
    "topics": (
        "multi",
        [{"key": "a", "text": {"en": "Time"}}, {"key": "b", "text": {"en": "Trust"}}],
    ),
    "note": ("text", []),
}
_events = itertools.count(1)


@dataclass
class Programme:
    """The rows a flow starts from."""

    survey_id: int
    series_id: int
    coach_id: int
    people: dict[str, int]  # external id -> person id
    coach_user: str


@dataclass
class Flow:
    """The running parts and what the people see on their screens."""

    sessions: async_sessionmaker[AsyncSession]
    clock: FrozenClock
    channel: RecordingChannel
    router: Router
    dispatcher: Dispatcher
    screens: dict[str, OutMessage] = field(default_factory=dict)  # message ref -> shown now
    owners: dict[str, str] = field(default_factory=dict)  # message ref -> external user
    notices: list[tuple[str, OutMessage]] = field(default_factory=list)

    async def dispatch(self) -> list[Sent]:
        """Send whatever is due and put it on the recipients' screens."""
        before = len(self.channel.sent)
        while await self.dispatcher.run_once():
            pass
        new = self.channel.sent[before:]
        for sent in new:
            self.screens[sent.ref] = sent.message
            self.owners[sent.ref] = str(sent.address["user"])
        return new

    def cards(self, user: str, tag_prefix: str) -> list[str]:
        """Return the refs of the messages a user was sent whose tag starts with `tag_prefix`."""
        return [
            ref
            for ref, owner in self.owners.items()
            if owner == user and self.screens[ref].tag.startswith(tag_prefix)
        ]

    async def act(self, interaction: Interaction) -> list[Reply]:
        """Hand an interaction to the router and apply the replies as a channel would."""
        replies = await self.router.handle(interaction)
        for reply in replies:
            if reply.replace is not None:
                await self.channel.update(reply.replace, reply.message)
                self.screens[reply.replace] = reply.message
            else:
                self.notices.append((interaction.external_user, reply.message))
        return replies

    async def click(self, ref: str, pick: Callable[[Button], bool]) -> list[Reply]:
        """Press the first button on a screen that `pick` chooses, through the button codec."""
        button = next(b for b in self.screens[ref].buttons if pick(b))
        return await self.press(ref, button.action, button.value)

    async def press(self, ref: str, action: str, value: str) -> list[Reply]:
        """Press a button with this (signed) action and value on the message `ref`."""
        return await self.signed(ref, InteractionKind.BUTTON, action, value)

    async def submit(self, ref: str, text: str) -> list[Reply]:
        """Submit the free-text form of a screen."""
        ask = self.screens[ref].ask
        assert ask is not None
        return await self.signed(ref, InteractionKind.SUBMIT, ask.action, ask.value, text)

    async def signed(
        self, ref: str, kind: InteractionKind, action: str, value: str, text: str = ""
    ) -> list[Reply]:
        """Act on message `ref` with what a channel decodes after signing action and value."""
        data = button_codec.encode(SECRET, action, value)
        decoded_action, decoded_value = button_codec.decode(SECRET, data)
        return await self.act(
            Interaction(
                platform=PLATFORM,
                external_user=self.owners[ref],
                kind=kind,
                action=decoded_action,
                value=decoded_value,
                text=text,
                reply_to=ref,
                event_id=f"ev-{next(_events)}",
            )
        )

    async def command(self, user: str, *words: str) -> list[Reply]:
        """Run a chat command as `user`."""
        return await self.act(
            Interaction(
                platform=PLATFORM,
                external_user=user,
                kind=InteractionKind.COMMAND,
                command=words[0],
                args=tuple(words[1:]),
                event_id=f"ev-{next(_events)}",
            )
        )


async def seed_programme(
    session: AsyncSession,
    participants: int = 6,
    *,
    anonymous: bool = True,
    platform: str = PLATFORM,
    identities: bool = True,
) -> Programme:
    """Create a cohort with a coach, a Monday pulse survey of every item kind, and pairs."""
    cohort, group = await factories.cohort_with_group(
        session, f"kull-{next(_events)}", f"gruppe-{next(_events)}"
    )
    coach = await factories.person(session, name="Coach Cora", role="coach", locale="en")
    await factories.join(session, coach, cohort)
    people: dict[str, int] = {}
    for n in range(participants):
        who = await factories.person(session, name=f"Leader {n}", unit=f"unit-{n % 3}", locale="en")
        await factories.join(session, who, cohort, group)
        if identities:
            identity = await factories.identity(session, who, platform)
            people[identity.external_id] = who.id
        else:
            people[str(who.id)] = who.id
    coach_user = "coach"
    if identities:
        coach_user = (await factories.identity(session, coach, platform)).external_id
    survey = PulseSurvey(
        key=f"puls-{next(_events)}",
        title={"en": "Monday pulse", "nb": "Mandagspuls"},
        anonymous=anonymous,
        min_responses=3,
        open_hours=48,
        reminder_after_minutes=24 * 60,
        weekdays="mon",
        local_time=time(8, 30),
        start_date=factories.T0.date(),
    )
    series = PeerSeries(
        key=f"par-{next(_events)}",
        group_size=2,
        follow_up_days=7,
        weekdays="mon",
        local_time=time(8, 30),
        start_date=factories.T0.date(),
        every_weeks=2,
    )
    session.add_all([survey, series])
    await session.flush()
    session.add(Audience(owner_kind="pulse_survey", owner_id=survey.id, cohort_id=cohort.id))
    session.add(Audience(owner_kind="peer_series", owner_id=series.id, cohort_id=cohort.id))
    for position, (key, (kind, options)) in enumerate(ITEMS.items(), start=1):
        session.add(
            PulseItem(
                survey_id=survey.id,
                key=key,
                position=position,
                kind=kind,
                text={"en": f"Question about {key}"},
                options=options,
            )
        )
    await session.flush()
    return Programme(survey.id, series.id, coach.id, people, coach_user)


@pytest.fixture
def flow(sessions: async_sessionmaker[AsyncSession]) -> Flow:
    """The real router and dispatcher over a recording Slack-like channel."""
    clock = FrozenClock(factories.T0)
    channel = RecordingChannel(platform=PLATFORM)
    # No pacing: the clock is frozen, so a row put back until its chat is free would wait
    # for a time that never comes (pacing has its own tests in tests/scheduler).
    dispatcher = Dispatcher(
        sessions,
        {PLATFORM: channel},
        OutboxRenderer(),
        clock=clock,
        instance="flow",
        limiter=RateLimiter.off(),
    )
    return Flow(
        sessions, clock, channel, build_router(sessions, clock, SECRET, Policy()), dispatcher
    )
