"""The App Home: the router's `home` rendered natively, its buttons and the time zone input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.slack.app import SlackInbound
from bot.channels.slack.blocks import ANSWER_ACTION, HOME_ASK_INPUT, HOME_ASK_SAVE
from bot.channels.slack.channel import SlackChannel
from bot.clock import FrozenClock
from storage.models import Answer, AuditEntry, Delivery, Person, Prompt
from tests.fakes.slack_api import TEAM, FakeSlackApi
from tests.slack.conftest import signed_app
from tests.slack.world import AFTER_FIRING, SlackClient, World, block_text, build_world

_ids = count(1)


class Home:
    """Drive the App Home of one workspace through the real bolt app."""

    def __init__(
        self, api: FakeSlackApi, inbound: SlackInbound, slack: SlackClient, sessions: Any
    ) -> None:
        self.api = api
        self.inbound = inbound
        self.slack = slack
        self.sessions: async_sessionmaker[AsyncSession] = sessions

    async def open(self, user: str) -> dict[str, Any]:
        """Open the Home tab as `user` and return the published view."""
        event = {"type": "app_home_opened", "user": user, "channel": f"D{user[1:]}", "tab": "home"}
        assert (await self.slack.event(event)).status_code == 200
        await self.inbound.drain()
        return self.latest(user)

    def latest(self, user: str) -> dict[str, Any]:
        """Return the view most recently published for `user`."""
        published = [c for c in self.api.calls_to("views.publish") if c["user_id"] == user]
        assert published, "no home was published"
        view: dict[str, Any] = published[-1]["view"]
        return view

    async def act(
        self, user: str, view: dict[str, Any], action: dict[str, Any], typed: str | None = None
    ) -> None:
        """Send the block_actions of `user` acting in their published home `view`."""
        n = next(_ids)
        values: dict[str, Any] = {}
        if typed is not None:
            field = next(b for b in view["blocks"] if b["type"] == "input")
            values[field["block_id"]] = {
                HOME_ASK_INPUT: {"type": "plain_text_input", "value": typed}
            }
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "api_app_id": "A0000001",
            "team": {"id": TEAM, "domain": "fake"},
            "container": {"type": "view", "view_id": f"VHOME{n}"},
            "trigger_id": f"{n}.home.trigger",
            "view": {**view, "id": f"VHOME{n}", "state": {"values": values}},
            "actions": [{**action, "action_ts": f"{1_700_000_000 + n}.{n:06d}"}],
        }
        assert (await self.slack.interact(payload)).status_code == 200
        await self.inbound.drain()

    async def press(self, user: str, label: str) -> None:
        """Press the home button labelled `label`."""
        view = self.latest(user)
        button = next(b for b in home_buttons(view) if b["text"]["text"] == label)
        await self.act(user, view, {"type": "button", "block_id": "b", **button})

    async def save_timezone(self, user: str, typed: str, *, enter: bool = False) -> None:
        """Type a time zone and press Save (or Enter, which the input dispatches itself)."""
        view = self.latest(user)
        field = next(b for b in view["blocks"] if b["type"] == "input")
        if enter:
            action = {
                "type": "plain_text_input",
                "action_id": HOME_ASK_INPUT,
                "block_id": field["block_id"],
                "value": typed,
            }
            await self.act(user, view, action)
        else:
            save = next(b for b in home_buttons(view) if b["action_id"] == HOME_ASK_SAVE)
            await self.act(user, view, {"type": "button", "block_id": "s", **save}, typed)

    async def person(self, person_id: int) -> Person:
        async with self.sessions() as session:
            person = await session.get(Person, person_id)
        assert person is not None
        return person


def home_buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every button of a home view."""
    return [
        element
        for block in view["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["type"] == "button"
    ]


@pytest.fixture
async def home(
    sessions: async_sessionmaker[AsyncSession], slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> AsyncIterator[Home]:
    async with signed_app(sessions, slack_channel, FrozenClock(AFTER_FIRING)) as (inbound, slack):
        yield Home(slack_api, inbound, slack, sessions)


async def test_the_home_shows_settings_as_buttons_and_the_time_zone_as_an_input(
    home: Home, world: World
) -> None:
    view = await home.open("U3")  # an English-speaking leader

    labels = [b["text"]["text"] for b in home_buttons(view)]
    assert labels == ["Pause 1 week", "Pause 4 weeks", "Bokmål", "Nynorsk", "English", "Save"]
    assert ANSWER_ACTION not in [b["action_id"] for b in home_buttons(view)]
    (field,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert field["label"]["text"] == "Time zone"
    assert field["element"]["initial_value"] == "Europe/Oslo"
    assert field["dispatch_action"] is True  # Enter saves too
    assert "Next question" in block_text(view["blocks"])


async def test_a_pause_click_in_the_home_pauses_and_refreshes_the_home(
    home: Home, world: World
) -> None:
    await home.open("U1")
    await home.press("U1", "Pause i 1 uke")

    person = await home.person(world.people["U1"])
    assert person.paused_until == date(2025, 3, 10)
    view = home.latest("U1")
    assert "Start igjen" in [b["text"]["text"] for b in home_buttons(view)]
    assert "2025-03-10" in block_text(view["blocks"])
    assert home.api.calls_to("chat.postMessage") == []  # the home changes, no DM is sent

    await home.press("U1", "Start igjen")
    assert (await home.person(world.people["U1"])).paused_until is None
    assert "Pause i 1 uke" in [b["text"]["text"] for b in home_buttons(home.latest("U1"))]


async def test_a_language_click_switches_the_home_language(home: Home, world: World) -> None:
    await home.open("U1")
    await home.press("U1", "English")

    assert (await home.person(world.people["U1"])).locale == "en"
    view = home.latest("U1")
    assert "Pause 1 week" in [b["text"]["text"] for b in home_buttons(view)]
    english = next(b for b in home_buttons(view) if b["text"]["text"] == "English")
    assert english.get("style") == "primary"


async def test_the_time_zone_is_saved_with_save_or_enter_and_a_bad_one_is_explained(
    home: Home, world: World
) -> None:
    await home.open("U3")
    await home.save_timezone("U3", "America/New_York")
    assert (await home.person(world.people["U3"])).timezone == "America/New_York"
    field = next(b for b in home.latest("U3")["blocks"] if b["type"] == "input")
    assert field["element"]["initial_value"] == "America/New_York"

    await home.save_timezone("U3", "Asia/Tokyo", enter=True)
    assert (await home.person(world.people["U3"])).timezone == "Asia/Tokyo"

    await home.save_timezone("U3", "Mars/Olympus")
    assert (await home.person(world.people["U3"])).timezone == "Asia/Tokyo"
    view = home.latest("U3")
    text = block_text(view["blocks"])
    assert "Mars/Olympus is not a time zone I know" in text
    assert text.index("Mars/Olympus") < text.index("Time zone")  # the notice sits above
    assert home.api.calls_to("chat.postMessage") == []


async def test_a_tampered_home_button_changes_nothing(home: Home, world: World) -> None:
    view = await home.open("U1")
    pause = next(b for b in home_buttons(view) if b["text"]["text"] == "Pause i 4 uker")
    data = pause["value"]
    forged = {**pause, "value": data[:-2] + ("AA" if not data.endswith("AA") else "BB")}
    await home.act("U1", view, {"type": "button", "block_id": "b", **forged})

    assert (await home.person(world.people["U1"])).paused_until is None
    assert len(home.api.calls_to("views.publish")) == 2  # refreshed, with the error above
    refreshed = block_text(home.latest("U1")["blocks"])
    assert refreshed.index("Denne knappen") < refreshed.index("Pause i 4 uker")


async def test_linking_takes_the_slack_time_zone_only_for_untouched_people_without_answers(
    home: Home,
) -> None:
    world = await build_world(home.sessions, home.api, link=False)
    for user in ("U1", "U2", "U3", "U9"):
        home.api.users[user].tz = "Europe/London"
        home.api.add_channel(f"D{user[1:]}")
    async with home.sessions() as session, session.begin():
        explicit = await session.get(Person, world.people["U3"])
        assert explicit is not None
        explicit.timezone = "Europe/Berlin"  # the roster set one on purpose
        prompt = await session.scalar(select(Prompt))
        assert prompt is not None
        delivery = Delivery(
            key="earlier:u2",
            kind="prompt",
            person_id=world.people["U2"],
            prompt_id=prompt.id,
            status="sent",
            due_at=AFTER_FIRING,
            next_attempt_at=AFTER_FIRING,
        )
        session.add(delivery)
        await session.flush()
        session.add(
            Answer(
                delivery_id=delivery.id,
                person_id=world.people["U2"],
                text="Et tidligere svar.",
                visibility="coach",
                platform="slack",
            )
        )
    home.api.users["U9"].tz = "Europe/Oslo"  # Slack agrees with the roster

    for user in ("U1", "U2", "U3", "U9"):
        event = {"type": "message", "channel": f"D{user[1:]}", "user": user, "text": "hei"}
        await home.slack.event({**event, "channel_type": "im"})
    await home.inbound.drain()

    zones = {user: (await home.person(world.people[user])).timezone for user in world.people}
    assert zones == {
        "U1": "Europe/London",  # default zone, nothing answered: Slack knows better
        "U2": "Europe/Oslo",  # has answered: their rhythm stays
        "U3": "Europe/Berlin",  # set by the roster
        "U9": "Europe/Oslo",  # no difference
    }
    async with home.sessions() as session:
        audit = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "person.timezone_from_slack")
            )
        )
    assert [(a.subject, a.detail) for a in audit] == [
        (f"person:{world.people['U1']}", {"from": "Europe/Oslo", "to": "Europe/London"})
    ]
