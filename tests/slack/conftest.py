"""Fixtures for the Slack tests: the fake Web API and a channel on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.channels.slack.channel import SlackChannel, make_client
from tests.fakes.slack_api import FakeSlackApi

SECRET = "test-instance-secret"
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


@pytest.fixture
async def slack_api() -> AsyncIterator[FakeSlackApi]:
    """Serve the fake Slack Web API on a free loopback port."""
    api = FakeSlackApi()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
def slack_channel(slack_api: FakeSlackApi) -> SlackChannel:
    """A SlackChannel whose client talks to the fake API."""
    return SlackChannel(make_client(BOT_TOKEN, slack_api.url), SECRET)
