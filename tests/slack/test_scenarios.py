"""Issue 4's must-show scenarios: the real bolt AsyncApp, signed requests, the fake Web API."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.slack.api import METHOD_SCOPES
from bot.channels.slack.app import SlackInbound
from bot.channels.slack.blocks import ANSWER_ACTION
from bot.channels.slack.channel import SlackChannel
from bot.clock import FrozenClock
from bot.services.render import OutboxRenderer
from scheduler.dispatcher import Dispatcher
from scheduler.tick import tick
from storage.models import Answer, Delivery, Identity, Occurrence, ProcessedEvent
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.conftest import signed_app
from tests.slack.world import (
    AFTER_FIRING,
    COACH,
    LEADERS,
    QUESTION,
    SlackClient,
    World,
    block_text,
    build_world,
    buttons,
    delivered,
)


@dataclass
class Harness:
    """Everything one scenario drives."""

    api: FakeSlackApi
    channel: SlackChannel
    inbound: SlackInbound
    slack: SlackClient
    sessions: async_sessionmaker[AsyncSession]
    clock: FrozenClock

    async def deliver_occurrence(self) -> None:
        """Run the scheduler tick and the outbox dispatcher once at the frozen time."""
        await tick(self.sessions, self.clock)
        dispatcher = Dispatcher(
            self.sessions, {"slack": self.channel}, OutboxRenderer(), self.clock
        )
        await dispatcher.run_once()

    async def prompt_for(self, user: str) -> tuple[str, list[dict[str, object]]]:
        """Return the message ref and blocks of the prompt the fake holds for `user`."""
        return await delivered(self.sessions, self.api, user, "prompt")  # type: ignore[return-value]

    async def count(self, model: type[object]) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def answers(self) -> list[Answer]:
        async with self.sessions() as session:
            return list(await session.scalars(select(Answer).order_by(Answer.id)))


def thread_reply(user: str, ref: str, text: str, *, ts: str) -> dict[str, str]:
    """Return the DM event of `user` writing `text` in the thread of our message `ref`."""
    channel, thread_ts = ref.split(":", 1)
    return {
        "type": "message",
        "channel": channel,
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
    }


@pytest.fixture
async def harness(
    sessions: async_sessionmaker[AsyncSession], slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> AsyncIterator[Harness]:
    clock = FrozenClock(AFTER_FIRING)
    async with signed_app(sessions, slack_channel, clock) as (inbound, slack):
        yield Harness(slack_api, slack_channel, inbound, slack, sessions, clock)
    # Whatever a scenario made the code call must be declared in the manifest.
    assert set(slack_api.methods()) <= set(METHOD_SCOPES)


async def test_a_scheduled_occurrence_reaches_three_leaders_in_their_languages(
    harness: Harness, world: World
) -> None:
    await harness.deliver_occurrence()

    posts = harness.api.calls_to("chat.postMessage")
    assert len(posts) == 3
    assert await harness.count(Occurrence) == 1
    answer_label = {"nb": "Svar", "nn": "Svar", "en": "Answer"}
    for user, locale in LEADERS:
        ref, blocks = await harness.prompt_for(user)
        assert ref.startswith(f"D{user[1:]}:")
        assert [b["type"] for b in blocks] == ["header", "section", "context", "actions"]
        assert blocks[1]["text"]["text"] == QUESTION[locale]  # type: ignore[index]
        (answer,) = buttons(blocks)  # type: ignore[arg-type]
        assert answer["action_id"] == ANSWER_ACTION
        assert answer["text"]["text"] == answer_label[locale]
    header = {user: (await harness.prompt_for(user))[1][0] for user, _ in LEADERS}
    assert header["U1"]["text"]["text"] != header["U3"]["text"]["text"]  # type: ignore[index]


async def test_answer_modal_submit_stores_the_answer_with_the_chosen_visibility(
    harness: Harness, world: World
) -> None:
    await harness.deliver_occurrence()
    ref, blocks = await harness.prompt_for("U3")
    (answer_button,) = buttons(blocks)  # type: ignore[arg-type]

    response = await harness.slack.interact(harness.slack.click("U3", ref, answer_button))
    assert response.status_code == 200
    await harness.inbound.drain()

    (opened,) = harness.api.calls_to("views.open")
    view = harness.api.views[next(iter(harness.api.views))]
    radio = view["blocks"][1]["element"]
    assert radio["initial_option"]["value"] == "coach"  # the campaign's default
    assert [o["value"] for o in radio["options"]] == ["private", "coach", "group"]
    assert opened["trigger_id"]

    values = {
        "answer": {"text": {"type": "plain_text_input", "value": "I listened more."}},
        "visibility": {
            "choice": {"type": "radio_buttons", "selected_option": {"value": "private"}}
        },
    }
    response = await harness.slack.interact(harness.slack.submission("U3", view, values))
    assert response.status_code == 200
    await harness.inbound.drain()

    (answer,) = await harness.answers()
    assert (answer.text, answer.visibility, answer.person_id) == (
        "I listened more.",
        "private",
        world.people["U3"],
    )
    (update,) = harness.api.calls_to("chat.update")
    assert f"{update['channel']}:{update['ts']}" == ref
    assert "Answered" in block_text(update["blocks"])
    assert "Only me" in block_text(update["blocks"])


async def test_a_thread_reply_stores_an_answer(harness: Harness, world: World) -> None:
    await harness.deliver_occurrence()
    ref, _ = await harness.prompt_for("U1")

    event = thread_reply("U1", ref, "Jeg delegerte mer.", ts="1800000000.000100")
    response = await harness.slack.event(event)
    assert response.status_code == 200
    await harness.inbound.drain()

    (answer,) = await harness.answers()
    assert (answer.text, answer.person_id, answer.visibility) == (
        "Jeg delegerte mer.",
        world.people["U1"],
        "coach",
    )
    assert [u["ts"] for u in harness.api.calls_to("chat.update")] == [event["thread_ts"]]


async def test_the_same_event_delivered_three_times_stores_once(
    harness: Harness, world: World
) -> None:
    await harness.deliver_occurrence()
    ref, _ = await harness.prompt_for("U2")
    event = thread_reply("U2", ref, "Eg spurde meir.", ts="1800000000.000200")
    for retry in (None, 1, 2):
        response = await harness.slack.event(event, event_id="EvSAME", retry_num=retry)
        assert response.status_code == 200
        await harness.inbound.drain()

    assert len(await harness.answers()) == 1
    assert len(harness.api.calls_to("chat.update")) == 1
    async with harness.sessions() as session:
        ids = list(await session.scalars(select(ProcessedEvent.event_id)))
    assert ids.count("EvSAME") == 1


async def test_forged_signature_and_stale_timestamp_get_401(harness: Harness, world: World) -> None:
    event = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": "x"}
    forged = await harness.slack.event(event, signing_secret="not-the-secret")
    stale = await harness.slack.event(event, timestamp=int(time.time()) - 5 * 60 - 5)
    assert (forged.status_code, stale.status_code) == (401, 401)
    await harness.inbound.drain()
    assert await harness.count(ProcessedEvent) == 0
    assert harness.api.calls_to("chat.postMessage") == []


async def test_a_button_naming_someone_elses_delivery_stores_nothing(
    harness: Harness, world: World
) -> None:
    await harness.deliver_occurrence()
    _, blocks_u1 = await harness.prompt_for("U1")
    (answer_button,) = buttons(blocks_u1)  # type: ignore[arg-type]
    # U2 replays U1's genuinely signed button from U2's own DM.
    ref_u2, _ = await harness.prompt_for("U2")
    await harness.slack.interact(harness.slack.click("U2", ref_u2, answer_button))
    await harness.inbound.drain()
    view = harness.api.views[next(iter(harness.api.views))]
    values = {"answer": {"text": {"type": "plain_text_input", "value": "Not mine to answer."}}}
    await harness.slack.interact(harness.slack.submission("U2", view, values))
    await harness.inbound.drain()

    assert await harness.answers() == []
    assert harness.api.calls_to("chat.update") == []
    refusals = harness.api.calls_to("chat.postEphemeral")
    assert [r["user"] for r in refusals] == ["U2"]


async def test_a_tampered_button_value_gets_an_error_and_changes_nothing(
    harness: Harness, world: World
) -> None:
    await harness.deliver_occurrence()
    ref, blocks = await harness.prompt_for("U1")
    (answer_button,) = buttons(blocks)  # type: ignore[arg-type]
    spec = json.loads(answer_button["value"])
    action, value, signature = spec["d"].split(":")
    delivery_id, _, offered = value.partition(".")  # the form value names its preselection
    spec["d"] = f"{action}:{int(delivery_id) + 1}.{offered}:{signature}"
    forged = {**answer_button, "value": json.dumps(spec)}

    response = await harness.slack.interact(harness.slack.click("U1", ref, forged))
    assert response.status_code == 200
    await harness.inbound.drain()

    assert harness.api.calls_to("views.open") == []
    (error,) = harness.api.calls_to("chat.postEphemeral")
    assert error["user"] == "U1"
    assert await harness.answers() == []


async def test_an_unknown_user_is_told_politely_and_a_roster_user_is_linked_by_email(
    harness: Harness,
) -> None:
    world = await build_world(harness.sessions, harness.api, link=False)
    harness.api.add_user("U7", "stranger@elsewhere.example")
    harness.api.add_channel("D7")
    harness.api.add_channel("D1")
    stranger = {
        "type": "message",
        "channel": "D7",
        "channel_type": "im",
        "user": "U7",
        "text": "hei",
    }
    leader = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": "hei"}
    await harness.slack.event(stranger)
    await harness.slack.event(leader)
    await harness.inbound.drain()

    posts = {p["channel"]: p["text"] for p in harness.api.calls_to("chat.postMessage")}
    assert "not part of a leadership programme" in posts["D7"] or "ikke" in posts["D7"]
    assert "D1" in posts and posts["D1"] != posts["D7"]
    async with harness.sessions() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == "U1"))
        stranger_identity = await session.scalar(
            select(Identity).where(Identity.external_id == "U7")
        )
    assert identity is not None and identity.person_id == world.people["U1"]
    assert identity.address == {"user": "U1", "channel": "D1"}
    assert stranger_identity is None
    assert {c["user"] for c in harness.api.calls_to("users.info")} == {"U1", "U7"}


async def test_a_coach_posts_a_group_prompt_and_a_participant_is_refused(
    harness: Harness, world: World
) -> None:
    harness.api.add_channel("C0GENERAL")
    response = await harness.slack.command(COACH, "prompt g1 Hva ga energi denne uka?")
    assert response.status_code == 200
    await harness.inbound.drain()
    refused = await harness.slack.command("U1", "prompt g1 Hei alle sammen")
    assert refused.status_code == 200
    await harness.inbound.drain()

    async with harness.sessions() as session:
        group_rows = list(
            await session.scalars(select(Delivery).where(Delivery.kind == "group_prompt"))
        )
    members = {world.people[user] for user, _ in LEADERS}
    assert sorted(r.person_id for r in group_rows) == sorted(members)  # none from U1's try
    ephemerals = {e["user"]: e["text"] for e in harness.api.calls_to("chat.postEphemeral")}
    assert set(ephemerals) == {COACH, "U1"}
    assert "g1" in ephemerals[COACH]
    assert "coach" in ephemerals["U1"].lower() and "g1" not in ephemerals["U1"]

    dispatcher = Dispatcher(
        harness.sessions, {"slack": harness.channel}, OutboxRenderer(), harness.clock
    )
    await dispatcher.run_once()
    posted = harness.api.calls_to("chat.postMessage")
    assert len(posted) == 3
    assert all("Hva ga energi denne uka?" in p["text"] for p in posted)


async def test_opening_the_app_home_publishes_what_the_router_shows_for_home(
    harness: Harness, world: World
) -> None:
    event = {"type": "app_home_opened", "user": "U3", "channel": "D3", "tab": "home"}
    messages_tab = {**event, "tab": "messages"}
    assert (await harness.slack.event(event)).status_code == 200
    assert (await harness.slack.event(messages_tab)).status_code == 200
    await harness.inbound.drain()

    (published,) = harness.api.calls_to("views.publish")
    assert published["user_id"] == "U3"
    assert published["view"]["type"] == "home"
    assert published["view"]["blocks"], "the home shows the router's content"
    assert harness.api.views[next(iter(harness.api.views))]["type"] == "home"
