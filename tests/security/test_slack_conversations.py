"""A Slack payload cannot point one person's messages into another person's DM.

Attacker: whoever can get a block_actions payload to us whose user is not the owner of the
DM it names (genuine Slack never sends one; a bug, a replay or a forged signature could).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.slack.blocks import BUTTON_PREFIX
from bot.channels.slack.channel import SlackChannel
from bot.clock import FrozenClock
from bot.core.messages import OutMessage
from storage.models import Identity
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.conftest import signed_app
from tests.slack.world import AFTER_FIRING, build_world

BUTTON = {
    "action_id": f"{BUTTON_PREFIX}pick",
    "value": "not-a-signed-value",
    "text": {"type": "plain_text", "text": "Go"},
}


async def address_of(sessions: async_sessionmaker[AsyncSession], user: str) -> dict[str, object]:
    """Return the stored Slack address of `user`."""
    async with sessions() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == user))
    assert identity is not None
    return dict(identity.address)


async def test_a_click_claiming_another_persons_dm_never_stores_that_dm(
    sessions: async_sessionmaker[AsyncSession],
    slack_api: FakeSlackApi,
    slack_channel: SlackChannel,
) -> None:
    await build_world(sessions, slack_api)
    victim_dm = "D1"  # the fake opens D<n> as the DM of U<n>
    async with signed_app(sessions, slack_channel, FrozenClock(AFTER_FIRING)) as (_, slack):
        # U2's click, but in U1's DM.
        answered = await slack.interact(slack.click("U2", f"{victim_dm}:1700000000.000100", BUTTON))
        assert answered.status_code == 200
    assert (await address_of(sessions, "U2")).get("channel") == "D2"
    # Whatever the bot said back to U2 went to U2's own DM, nothing into U1's.
    posts = slack_api.calls_to("chat.postMessage") + slack_api.calls_to("chat.postEphemeral")
    assert posts, "the bot answered the click"
    assert all(call["channel"] != victim_dm for call in posts)

    # The next message to U2 goes where U2 is, not to U1.
    before = len(slack_api.calls_to("chat.postMessage"))
    address = await address_of(sessions, "U2")
    await slack_channel.send(address, OutMessage(text="Your next pulse", locale="en"))
    sent = slack_api.calls_to("chat.postMessage")[before:]
    assert [call["channel"] for call in sent] == ["D2"]


async def test_a_click_in_ones_own_dm_still_stores_it(
    sessions: async_sessionmaker[AsyncSession],
    slack_api: FakeSlackApi,
    slack_channel: SlackChannel,
) -> None:
    await build_world(sessions, slack_api)
    async with signed_app(sessions, slack_channel, FrozenClock(AFTER_FIRING)) as (_, slack):
        await slack.interact(slack.click("U1", "D1:1700000000.000100", BUTTON))
    assert (await address_of(sessions, "U1")).get("channel") == "D1"
