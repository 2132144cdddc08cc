"""Pulse cards in Slack: sent by the dispatcher as blocks, answered and changed with buttons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.slack.api import METHOD_SCOPES
from bot.channels.slack.app import SlackInbound
from bot.channels.slack.channel import SlackChannel
from bot.clock import FrozenClock
from bot.services.pulse_messages import pulse_card
from bot.services.render import OutboxRenderer
from scheduler.dispatcher import Dispatcher
from scheduler.tick import tick
from storage.models import Audience, Cohort, Delivery, PulseReceipt, PulseResponse, PulseRound
from tests import factories
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.conftest import SECRET, signed_app
from tests.slack.world import (
    AFTER_FIRING,
    MONDAY,
    SlackClient,
    World,
    block_text,
    build_world,
    buttons,
    delivered,
)

LEADER = "U3"  # writes English
OPENS = datetime(2025, 3, 3, 7, 30, tzinfo=UTC)  # Monday 08:30 in Oslo, the survey's time


@dataclass
class Pulse:
    """The Slack app, the fake API and the database of one pulse scenario."""

    api: FakeSlackApi
    inbound: SlackInbound
    slack: SlackClient
    sessions: async_sessionmaker[AsyncSession]
    world: World

    async def send_round(
        self, *, anonymous: bool, ahead: bool = False
    ) -> tuple[str, list[dict[str, Any]]]:
        """Open a one-question pulse round, dispatch it, and return the leader's card.

        `ahead`: the tick runs 90 minutes before the round opens, as in production, and the
        dispatcher sends the card the moment it is due, before any tick has opened it.
        """
        async with self.sessions() as session, session.begin():
            cohort = await session.scalar(select(Cohort))
            assert cohort is not None
            survey, _ = await factories.pulse_survey(
                session,
                key="energy",
                text={"en": "I had energy for my team this week.", "nb": "Jeg hadde energi."},
                position=1,
                title={"en": "Monday pulse", "nb": "Mandagspuls"},
                anonymous=anonymous,
                min_responses=3,
                open_hours=48,
                weekdays="mon",
                local_time=time(8, 30),
                start_date=MONDAY,
            )
            audience = Audience(owner_kind="pulse_survey", owner_id=survey.id, cohort_id=cohort.id)
            session.add(audience)
        clock = FrozenClock(OPENS - timedelta(minutes=90) if ahead else AFTER_FIRING)
        await tick(self.sessions, clock)
        if ahead:
            clock.current = OPENS
        await self.dispatch(clock)
        return await delivered(self.sessions, self.api, LEADER, "pulse")

    async def dispatch(self, clock: FrozenClock) -> None:
        """Send one batch of what is due through the Slack channel."""
        channel = self.inbound.channel
        await Dispatcher(self.sessions, {"slack": channel}, OutboxRenderer(), clock).run_once()

    async def click(self, ref: str, blocks: list[dict[str, Any]], label: str) -> None:
        """Click the card's button whose label starts with `label`."""
        button = next(b for b in buttons(blocks) if b["text"]["text"].startswith(label))
        response = await self.slack.interact(self.slack.click(LEADER, ref, button))
        assert response.status_code == 200
        await self.inbound.drain()

    def shown(self, ref: str) -> list[dict[str, Any]]:
        """Return the card's blocks as Slack now shows them."""
        channel_id, ts = ref.split(":")
        blocks: list[dict[str, Any]] = self.api.messages[(channel_id, ts)]["blocks"]
        return blocks

    async def responses(self) -> list[PulseResponse]:
        async with self.sessions() as session:
            return list(await session.scalars(select(PulseResponse)))


@pytest.fixture
async def pulse(
    sessions: async_sessionmaker[AsyncSession], slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> AsyncIterator[Pulse]:
    async with signed_app(sessions, slack_channel, FrozenClock(AFTER_FIRING)) as (inbound, slack):
        world = await build_world(sessions, slack_api)
        yield Pulse(slack_api, inbound, slack, sessions, world)
    assert set(slack_api.methods()) <= set(METHOD_SCOPES)


def primary_labels(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in buttons(blocks) if b.get("style") == "primary"]


async def test_a_pulse_card_is_answered_with_a_click_and_changed_with_a_second(
    pulse: Pulse,
) -> None:
    ref, blocks = await pulse.send_round(anonymous=False)
    assert [b["type"] for b in blocks] == ["header", "section", "context", "actions"]
    assert blocks[0]["text"]["text"] == "Monday pulse"
    assert blocks[1]["text"]["text"] == "I had energy for my team this week."
    labels = [b["text"]["text"] for b in buttons(blocks)]
    likert = ["1 Strongly disagree", "2 Disagree", "3 Neutral", "4 Agree", "5 Strongly agree"]
    assert labels == likert
    assert primary_labels(blocks) == []
    assert "Anonymous" not in block_text(blocks)

    await pulse.click(ref, blocks, "4 ")
    (response,) = await pulse.responses()
    assert (response.value_int, response.person_id) == (4, pulse.world.people[LEADER])
    (update,) = pulse.api.calls_to("chat.update")
    assert f"{update['channel']}:{update['ts']}" == ref
    assert primary_labels(pulse.shown(ref)) == ["4 Agree"]
    assert "Your answers: 1: 4 Agree" in block_text(pulse.shown(ref))

    await pulse.click(ref, pulse.shown(ref), "2 ")
    (changed,) = await pulse.responses()
    assert (changed.id, changed.value_int) == (response.id, 2)
    assert len(pulse.api.calls_to("chat.update")) == 2
    shown = block_text(pulse.shown(ref))
    assert primary_labels(pulse.shown(ref)) == ["2 Disagree"]
    assert "Your earlier answer was changed." in shown
    assert pulse.api.calls_to("chat.postEphemeral") == []


async def test_an_anonymous_round_says_so_and_stores_no_person_id(pulse: Pulse) -> None:
    ref, blocks = await pulse.send_round(anonymous=True)
    context = next(b for b in blocks if b["type"] == "context")
    notes = [element["text"] for element in context["elements"]]
    assert any(
        note.startswith("Anonymous: your answer is stored without your name") for note in notes
    )

    await pulse.click(ref, blocks, "5 ")
    await pulse.click(ref, pulse.shown(ref), "3 ")

    (response,) = await pulse.responses()
    assert (factories.opened(response, SECRET).value_int, response.person_id) == (3, None)
    assert response.value_int is None  # sealed until the round closes
    async with pulse.sessions() as session:
        receipts = list(await session.scalars(select(PulseReceipt)))
    assert [r.person_id for r in receipts] == [pulse.world.people[LEADER]]  # that, not what
    # The Slack message was updated to say "registered", with no value and no marked button.
    updated = pulse.api.calls_to("chat.update")[-1]
    assert f"{updated['channel']}:{updated['ts']}" == ref
    shown = block_text(pulse.shown(ref))
    assert primary_labels(pulse.shown(ref)) == []
    assert "Your answers: 1: registered" in shown and "Your answers: 1: 3" not in shown
    assert "Anonymous: your answer is stored without your name" in shown


async def test_someone_elses_pulse_button_stores_nothing(pulse: Pulse) -> None:
    _, blocks = await pulse.send_round(anonymous=True)
    button = next(b for b in buttons(blocks) if b["text"]["text"].startswith("4 "))
    # U1 replays U3's genuinely signed button.
    response = await pulse.slack.interact(pulse.slack.click("U1", "D1:1.1", button))
    assert response.status_code == 200
    await pulse.inbound.drain()

    assert await pulse.responses() == []
    assert pulse.api.calls_to("chat.update") == []
    assert [e["user"] for e in pulse.api.calls_to("chat.postEphemeral")] == ["U1"]


async def test_a_pulse_scheduled_ahead_arrives_open_the_moment_it_is_due(pulse: Pulse) -> None:
    ref, blocks = await pulse.send_round(anonymous=True, ahead=True)
    assert buttons(blocks), block_text(blocks)

    await pulse.click(ref, blocks, "4 ")

    (response,) = await pulse.responses()
    assert factories.opened(response, SECRET).value_int == 4


async def test_a_card_sent_before_its_round_opened_is_redrawn_with_buttons(pulse: Pulse) -> None:
    ref, _ = await pulse.send_round(anonymous=True)
    async with pulse.sessions() as session, session.begin():
        # As a dispatcher that ran ahead of the tick left it: round not open, card closed.
        pulse_round = await session.scalar(select(PulseRound))
        card = await session.scalar(select(Delivery).where(Delivery.kind == "pulse"))
        assert pulse_round is not None and card is not None
        pulse_round.status = "scheduled"
        message = (await pulse_card(session, card, "en")).message
    await pulse.inbound.channel.update(ref, message)
    assert not buttons(pulse.shown(ref))

    assert await factories.open_due_rounds(pulse.sessions, AFTER_FIRING) == 1
    clock = FrozenClock(AFTER_FIRING)
    await Dispatcher(
        pulse.sessions, {"slack": pulse.inbound.channel}, OutboxRenderer(), clock
    ).run_once()

    redrawn = pulse.shown(ref)
    assert buttons(redrawn), block_text(redrawn)
    await pulse.click(ref, redrawn, "2 ")
    (response,) = await pulse.responses()
    assert factories.opened(response, SECRET).value_int == 2
